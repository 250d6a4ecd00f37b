/**
 * A minimal gdb-side client for the protocol tests: frames packets with their checksums
 * (computed here from the GDB manual's rule, not by the stub's code), acknowledges, and
 * hands back each reply payload in order.
 */
import { GdbSession } from '../../src/gdb/gdb-session.js';
import type { Machine } from '../../src/machine/machine.js';

export class GdbTestClient {
  readonly session: GdbSession;
  /** Raw bytes the stub sent, as latin1. */
  raw = '';
  private pos = 0;
  private waiters: (() => void)[] = [];
  noAck = false;

  constructor(machine: Machine) {
    this.session = new GdbSession(machine, (data) => {
      this.raw += Buffer.from(data).toString('latin1');
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Sends `$payload#cs`. */
  send(payload: string): void {
    let sum = 0;
    for (const c of Buffer.from(payload, 'latin1')) sum = (sum + c) & 0xff;
    this.session.receive(Buffer.from(`$${payload}#${sum.toString(16).padStart(2, '0')}`, 'latin1'));
  }

  sendRaw(bytes: string): void {
    this.session.receive(Buffer.from(bytes, 'latin1'));
  }

  /** The next reply packet's payload (skipping an ack before it), within `timeoutMs`. */
  async next(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.raw.slice(this.pos);
      const m = /^\+?\$([^#]*)#([0-9a-f]{2})/.exec(rest);
      if (m) {
        let sum = 0;
        for (const c of Buffer.from(m[1]!, 'latin1')) sum = (sum + c) & 0xff;
        if (sum !== parseInt(m[2]!, 16)) throw new Error(`bad checksum in ${m[0]}`);
        this.pos += m[0].length;
        // Undo the stub's escapes ('}' then the byte XOR 0x20).
        return m[1]!.replace(/\}(.)/g, (_, c: string) => String.fromCharCode(c.charCodeAt(0) ^ 0x20));
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply; got ${JSON.stringify(rest)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
  }

  /** Sends a packet and returns its reply; in ack mode the stub must acknowledge it first. */
  async ask(payload: string): Promise<string> {
    const start = this.pos;
    this.send(payload);
    const reply = await this.next();
    if (!this.noAck && this.raw[start] !== '+') throw new Error(`no ack for ${payload}`);
    return reply;
  }
}

/** Little-endian hex of a 32-bit value, as registers and memory travel. */
export function le32(v: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b.toString('hex');
}
