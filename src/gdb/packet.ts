/**
 * GDB remote serial protocol framing (GDB manual, "Remote Protocol" E.1 Overview):
 * `$payload#cs` with a two-digit hex checksum (sum of the payload bytes mod 256), `+`/`-`
 * acknowledgements until `QStartNoAckMode`, and a bare 0x03 byte for an interrupt (Ctrl-C).
 * Inside a payload `}` escapes the next byte (XOR 0x20); gdb never run-length encodes
 * what it sends, and neither do we.
 *
 * Payloads are handled as latin1 strings (one char per byte), so that binary `X` data survives.
 */

/** What the reader got from the peer. */
export type GdbInput =
  | { readonly kind: 'packet'; readonly payload: string }
  | { readonly kind: 'interrupt' }
  | { readonly kind: 'ack' }
  /** gdb's `-`: resend the last packet. */
  | { readonly kind: 'nack' }
  /** A packet that failed its checksum (or was too long): answer `-` so gdb resends it. */
  | { readonly kind: 'bad' };

/** Payloads longer than this are refused (gdb sends at most our advertised PacketSize). */
export const MAX_PACKET_BYTES = 0x10000;

const enum ReadState {
  Idle,
  Payload,
  Escape,
  Checksum1,
  Checksum2,
}

/** Splits the byte stream from gdb into packets, interrupts and acks. */
export class GdbPacketReader {
  private state = ReadState.Idle;
  private payload: number[] = [];
  private sum = 0;
  private csHigh = 0;

  /**
   * Feeds bytes; returns what they completed: packets that check out, `bad` for one that
   * does not.
   */
  push(data: Uint8Array): GdbInput[] {
    const out: GdbInput[] = [];
    for (const b of data) {
      switch (this.state) {
        case ReadState.Idle:
          if (b === 0x24) {
            this.state = ReadState.Payload;
            this.payload = [];
            this.sum = 0;
          } else if (b === 0x03) {
            out.push({ kind: 'interrupt' });
          } else if (b === 0x2b) {
            out.push({ kind: 'ack' });
          } else if (b === 0x2d) {
            out.push({ kind: 'nack' });
          }
          // Anything else between packets is noise and ignored.
          break;
        case ReadState.Payload:
          if (b === 0x23) {
            this.state = ReadState.Checksum1;
            break;
          }
          this.sum = (this.sum + b) & 0xff;
          if (b === 0x7d) this.state = ReadState.Escape;
          else this.add(b);
          break;
        case ReadState.Escape:
          this.sum = (this.sum + b) & 0xff;
          this.add(b ^ 0x20);
          this.state = ReadState.Payload;
          break;
        case ReadState.Checksum1:
          this.csHigh = hexDigit(b);
          this.state = ReadState.Checksum2;
          break;
        case ReadState.Checksum2: {
          const cs = (this.csHigh << 4) | hexDigit(b);
          this.state = ReadState.Idle;
          if (this.csHigh < 0 || hexDigit(b) < 0 || cs !== this.sum || this.payload.length > MAX_PACKET_BYTES) {
            out.push({ kind: 'bad' });
          } else {
            out.push({ kind: 'packet', payload: String.fromCharCode(...this.payload) });
          }
          this.payload = [];
          break;
        }
      }
    }
    return out;
  }

  private add(b: number): void {
    // Oversized packets keep being read (to find their end) but are refused at the checksum.
    if (this.payload.length <= MAX_PACKET_BYTES) this.payload.push(b);
  }
}

function hexDigit(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}

/** Frames a payload (latin1 string) as `$…#cs`, escaping `$`, `#`, `}` and `*`. */
export function framePacket(payload: string): Buffer {
  let body = '';
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    const c = payload.charCodeAt(i) & 0xff;
    if (c === 0x24 || c === 0x23 || c === 0x7d || c === 0x2a) {
      body += '}' + String.fromCharCode(c ^ 0x20);
      sum += 0x7d + (c ^ 0x20);
    } else {
      body += String.fromCharCode(c);
      sum += c;
    }
  }
  return Buffer.from(`$${body}#${(sum & 0xff).toString(16).padStart(2, '0')}`, 'latin1');
}

/** Bytes as lower-case hex (register and memory replies). */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Hex text to bytes; undefined when it is not an even number of hex digits. */
export function fromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Text to hex (the `O` console output packets, qRcmd replies). */
export function textToHex(text: string): string {
  return toHex(Buffer.from(text, 'utf8'));
}
