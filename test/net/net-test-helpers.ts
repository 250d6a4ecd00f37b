/** Small fakes for the network back-end tests: a NIC that records frames, polling waits, free ports. */
import type { NetPeer } from '../../src/net/net-backend.js';
export { freePort } from '../helpers/free-port.js';

export class RecordingNic implements NetPeer {
  readonly frames: Uint8Array[] = [];
  /** Whether the fake NIC has receive buffers. */
  ready = true;
  canReceive(): boolean {
    return this.ready;
  }
  receive(frame: Uint8Array): boolean {
    if (!this.ready) return false;
    this.frames.push(frame);
    return true;
  }
}

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An Ethernet frame with a recognisable payload. */
export function testFrame(n: number, size = 60): Uint8Array {
  const f = new Uint8Array(size);
  f.fill(0xff, 0, 6);
  f.set([0x52, 0x54, 0, 0x12, 0x34, 0x56], 6);
  f[12] = 0x88;
  f[13] = 0xb5; // local experimental ethertype
  new DataView(f.buffer).setUint32(14, n);
  return f;
}

export function frameNumber(f: Uint8Array): number {
  return new DataView(f.buffer, f.byteOffset).getUint32(14);
}
