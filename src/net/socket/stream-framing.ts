/**
 * QEMU's stream framing for `-netdev socket,listen=|connect=` (net/net.c `net_fill_rstate`):
 * each Ethernet frame is preceded by its length as a 4-byte big-endian number.
 *
 * QEMU reads into a NET_BUFSIZE buffer (4096 + 65536 bytes) and drops the connection when a
 * length exceeds it; so do we. Zero-length and runt records are consumed and ignored (QEMU
 * would pass an empty packet on; a NIC drops it anyway).
 */

/** QEMU's NET_BUFSIZE: the largest record a socket peer may send. */
export const NET_BUFSIZE = 4096 + 65536;

/** Prefixes a frame with its 4-byte big-endian length. */
export function encodeStreamFrame(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + frame.length);
  out.writeUInt32BE(frame.length, 0);
  out.set(frame, 4);
  return out;
}

/** Splits a byte stream into frames. */
export class StreamFrameDecoder {
  private header = Buffer.alloc(4);
  private headerFill = 0;
  private body: Uint8Array | undefined;
  private bodyFill = 0;
  /** Set once a bad length was seen; the owner closes the connection. */
  error: string | undefined;

  /**
   * Feeds bytes; calls `onFrame` for each complete frame. Returns false (and sets `error`) on
   * a length QEMU would refuse; the rest of the input is then ignored.
   */
  push(data: Uint8Array, onFrame: (frame: Uint8Array) => void): boolean {
    let i = 0;
    while (i < data.length) {
      if (this.error) return false;
      if (this.body === undefined) {
        const n = Math.min(4 - this.headerFill, data.length - i);
        this.header.set(data.subarray(i, i + n), this.headerFill);
        this.headerFill += n;
        i += n;
        if (this.headerFill < 4) break;
        this.headerFill = 0;
        const len = this.header.readUInt32BE(0);
        if (len > NET_BUFSIZE) {
          this.error = `frame length ${len} exceeds ${NET_BUFSIZE}`;
          return false;
        }
        this.body = new Uint8Array(len);
        this.bodyFill = 0;
      }
      const n = Math.min(this.body.length - this.bodyFill, data.length - i);
      this.body.set(data.subarray(i, i + n), this.bodyFill);
      this.bodyFill += n;
      i += n;
      if (this.bodyFill === this.body.length) {
        const frame = this.body;
        this.body = undefined;
        if (frame.length > 0) onFrame(frame);
      }
    }
    return this.error === undefined;
  }

  reset(): void {
    this.headerFill = 0;
    this.body = undefined;
    this.error = undefined;
  }
}
