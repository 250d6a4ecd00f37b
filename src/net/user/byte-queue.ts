/**
 * A FIFO of bytes kept as the chunks they arrived in: TCP's send buffer (bytes from the host
 * not yet acknowledged by the guest) without copying on every append or acknowledgement.
 */

export class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** Bytes already consumed from chunks[0]. */
  private headOffset = 0;
  length = 0;

  append(b: Uint8Array): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.length += b.length;
  }

  /** Drops the first `n` bytes. */
  consume(n: number): void {
    n = Math.min(n, this.length);
    this.length -= n;
    while (n > 0) {
      const head = this.chunks[0]!;
      const left = head.length - this.headOffset;
      if (n < left) {
        this.headOffset += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.headOffset = 0;
    }
  }

  /** A copy of `len` bytes starting `offset` bytes into the queue (clamped to what there is). */
  read(offset: number, len: number): Uint8Array {
    len = Math.max(0, Math.min(len, this.length - offset));
    const out = new Uint8Array(len);
    let skip = offset + this.headOffset;
    let w = 0;
    for (const c of this.chunks) {
      if (w >= len) break;
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      const n = Math.min(c.length - skip, len - w);
      out.set(c.subarray(skip, skip + n), w);
      w += n;
      skip = 0;
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.headOffset = 0;
    this.length = 0;
  }
}
