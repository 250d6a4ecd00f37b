/**
 * A fake guest network stack for the user-mode network tests: it speaks raw Ethernet frames to a
 * NetBackend. Its packet code is written independently of src/net/user (its own checksum, its
 * own header layouts, RFC 791/793/768/2131), so that a shared mistake cannot hide.
 * Frames from the back end are processed asynchronously, as a real guest handles its NIC's
 * interrupts later, not inside the back end's call.
 */
import type { NetBackend, NetPeer } from '../../src/net/net-backend.js';

export const GUEST_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
export const ip = (s: string): number => s.split('.').reduce((a, p) => a * 256 + Number(p), 0);
export const ipStr = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

function csum(bytes: Uint8Array, extra = 0): number {
  let s = extra;
  for (let i = 0; i < bytes.length; i++) s += i % 2 === 0 ? bytes[i]! * 256 : bytes[i]!;
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return 0xffff - s;
}
const pseudo = (src: number, dst: number, proto: number, len: number): number =>
  Math.floor(src / 65536) + (src % 65536) + Math.floor(dst / 65536) + (dst % 65536) + proto + len;

export interface RxPacket {
  eth: { dst: number[]; src: number[]; type: number };
  raw: Uint8Array;
  ip?: { src: number; dst: number; proto: number; ttl: number; payload: Uint8Array; headerOk: boolean };
}

export interface TcpSeg { srcPort: number; dstPort: number; seq: number; ack: number; flags: number; window: number; mss?: number; data: Uint8Array; checksumOk: boolean }

export class FakeGuest implements NetPeer {
  myIp = 0;
  readonly inbox: RxPacket[] = [];
  /** Called for each packet as the guest "handles its interrupt". */
  onPacket: ((p: RxPacket) => void) | undefined;
  acceptFrames = true;
  private pending: Uint8Array[] = [];
  private scheduled = false;
  constructor(readonly net: NetBackend) {
    net.attach(this);
  }
  canReceive(): boolean {
    return this.acceptFrames;
  }
  receive(frame: Uint8Array): boolean {
    if (!this.acceptFrames) return false;
    this.pending.push(frame.slice());
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
    return true;
  }
  private drain(): void {
    this.scheduled = false;
    const frames = this.pending;
    this.pending = [];
    for (const f of frames) {
      const p = decode(f);
      this.inbox.push(p);
      this.onPacket?.(p);
    }
  }

  sendEth(dst: number[], type: number, payload: Uint8Array): void {
    const f = new Uint8Array(Math.max(60, 14 + payload.length));
    f.set(dst, 0);
    f.set(GUEST_MAC, 6);
    f[12] = type >> 8;
    f[13] = type & 255;
    f.set(payload, 14);
    this.net.send(f);
  }
  ipPacket(src: number, dst: number, proto: number, payload: Uint8Array, opts: { mf?: boolean } = {}): Uint8Array {
    const p = new Uint8Array(20 + payload.length);
    const v = new DataView(p.buffer);
    p[0] = 0x45;
    v.setUint16(2, p.length);
    v.setUint16(4, 0x1234);
    if (opts.mf) v.setUint16(6, 0x2000);
    p[8] = 64;
    p[9] = proto;
    v.setUint32(12, src);
    v.setUint32(16, dst);
    v.setUint16(10, csum(p.subarray(0, 20)));
    p.set(payload, 20);
    return p;
  }
  sendIp(dst: number, proto: number, payload: Uint8Array, src = this.myIp): void {
    this.sendEth([0x52, 0x55, 10, 0, 2, 2], 0x0800, this.ipPacket(src, dst, proto, payload));
  }
  udp(src: number, sport: number, dst: number, dport: number, data: Uint8Array): Uint8Array {
    const u = new Uint8Array(8 + data.length);
    const v = new DataView(u.buffer);
    v.setUint16(0, sport);
    v.setUint16(2, dport);
    v.setUint16(4, u.length);
    u.set(data, 8);
    v.setUint16(6, csum(u, pseudo(src, dst, 17, u.length)) || 0xffff);
    return u;
  }
  sendUdp(sport: number, dst: number, dport: number, data: Uint8Array, src = this.myIp): void {
    this.sendIp(dst, 17, this.udp(src, sport, dst, dport, data), src);
  }
  tcp(src: number, dst: number, s: Omit<TcpSeg, 'checksumOk' | 'data'> & { data?: Uint8Array }): Uint8Array {
    const opt = s.mss !== undefined ? 4 : 0;
    const data = s.data ?? new Uint8Array(0);
    const t = new Uint8Array(20 + opt + data.length);
    const v = new DataView(t.buffer);
    v.setUint16(0, s.srcPort);
    v.setUint16(2, s.dstPort);
    v.setUint32(4, s.seq >>> 0);
    v.setUint32(8, s.ack >>> 0);
    t[12] = ((20 + opt) / 4) << 4;
    t[13] = s.flags;
    v.setUint16(14, s.window);
    if (s.mss !== undefined) {
      t[20] = 2;
      t[21] = 4;
      v.setUint16(22, s.mss);
    }
    t.set(data, 20 + opt);
    v.setUint16(16, csum(t, pseudo(src, dst, 6, t.length)));
    return t;
  }
  sendTcp(dst: number, s: Omit<TcpSeg, 'checksumOk' | 'data'> & { data?: Uint8Array }): void {
    this.sendIp(dst, 6, this.tcp(this.myIp, dst, s));
  }
  async waitFor(pred: (p: RxPacket) => boolean, what: string, timeoutMs = 5000): Promise<RxPacket> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (Date.now() > end) throw new Error(`guest timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

export function decode(f: Uint8Array): RxPacket {
  const p: RxPacket = { eth: { dst: [...f.subarray(0, 6)], src: [...f.subarray(6, 12)], type: f[12]! * 256 + f[13]! }, raw: f };
  if (p.eth.type === 0x0800) {
    const b = f.subarray(14);
    const v = new DataView(b.buffer, b.byteOffset);
    const hl = (b[0]! & 15) * 4;
    const total = v.getUint16(2);
    p.ip = { src: v.getUint32(12), dst: v.getUint32(16), proto: b[9]!, ttl: b[8]!, payload: b.slice(hl, total), headerOk: csum(b.subarray(0, hl)) === 0 };
  }
  return p;
}

export function tcpOf(p: RxPacket): TcpSeg | undefined {
  if (!p.ip || p.ip.proto !== 6) return undefined;
  const t = p.ip.payload;
  const v = new DataView(t.buffer, t.byteOffset);
  const off = (t[12]! >> 4) * 4;
  let mss: number | undefined;
  if (off >= 24 && t[20] === 2) mss = v.getUint16(22);
  return {
    srcPort: v.getUint16(0), dstPort: v.getUint16(2), seq: v.getUint32(4), ack: v.getUint32(8), flags: t[13]!, window: v.getUint16(14),
    ...(mss !== undefined ? { mss } : {}), data: t.slice(off),
    checksumOk: csum(t, pseudo(p.ip.src, p.ip.dst, 6, t.length)) === 0,
  };
}

export function udpOf(p: RxPacket): { srcPort: number; dstPort: number; data: Uint8Array; checksumOk: boolean } | undefined {
  if (!p.ip || p.ip.proto !== 17) return undefined;
  const u = p.ip.payload;
  const v = new DataView(u.buffer, u.byteOffset);
  const sum = v.getUint16(6);
  return { srcPort: v.getUint16(0), dstPort: v.getUint16(2), data: u.slice(8, v.getUint16(4)), checksumOk: sum === 0 || csum(u, pseudo(p.ip.src, p.ip.dst, 17, u.length)) === 0 };
}

export const SYN = 2, ACK = 16, FIN = 1, RST = 4, PSH = 8;

/** A minimal TCP endpoint in the fake guest: one connection, in-order receive, immediate ACKs. */
export class GuestTcp {
  sndNxt: number;
  rcvNxt = 0;
  peerWindow = 0;
  received: Uint8Array[] = [];
  receivedBytes = 0;
  finReceived = false;
  rstReceived = false;
  window = 65535;
  established = false;
  /** Data segments the guest pretends were lost (by sequence number, once each). */
  readonly dropOnce = new Set<number>();
  readonly segments: TcpSeg[] = [];
  constructor(readonly g: FakeGuest, readonly localPort: number, readonly remoteIp: number, readonly remotePort: number, iss = 1000) {
    this.sndNxt = iss;
    const prev = g.onPacket;
    g.onPacket = (p) => {
      prev?.(p);
      const t = tcpOf(p);
      if (!t || t.dstPort !== localPort || t.srcPort !== remotePort || p.ip!.src !== remoteIp) return;
      this.segments.push(t);
      this.handle(t);
    };
  }
  private send(flags: number, data?: Uint8Array, seq = this.sndNxt): void {
    this.g.sendTcp(this.remoteIp, { srcPort: this.localPort, dstPort: this.remotePort, seq, ack: this.rcvNxt, flags, window: this.window, ...(data ? { data } : {}) });
  }
  connect(): void {
    this.g.sendTcp(this.remoteIp, { srcPort: this.localPort, dstPort: this.remotePort, seq: this.sndNxt, ack: 0, flags: SYN, window: this.window, mss: 1460 });
    this.sndNxt++;
  }
  /** Processes a segment (also used to hand over a SYN the test consumed itself). */
  handle(t: TcpSeg): void {
    if (t.flags & RST) {
      this.rstReceived = true;
      return;
    }
    if (t.flags & SYN) {
      this.rcvNxt = (t.seq + 1) >>> 0;
      this.peerWindow = t.window;
      if (t.flags & ACK) {
        this.established = true;
        this.send(ACK);
      } else {
        // passive side (hostfwd): SYN-ACK
        this.g.sendTcp(this.remoteIp, { srcPort: this.localPort, dstPort: this.remotePort, seq: this.sndNxt, ack: this.rcvNxt, flags: SYN | ACK, window: this.window, mss: 1460 });
        this.sndNxt++;
      }
      return;
    }
    if (t.flags & ACK) {
      this.peerWindow = t.window;
      this.established = true;
    }
    if (t.data.length > 0) {
      if (this.dropOnce.has(t.seq)) {
        this.dropOnce.delete(t.seq);
        return;
      }
      if (t.seq === this.rcvNxt && this.window > 0) {
        this.received.push(t.data);
        this.receivedBytes += t.data.length;
        this.rcvNxt = (this.rcvNxt + t.data.length) >>> 0;
      }
      this.send(ACK);
    }
    if (t.flags & FIN && ((t.seq + t.data.length) >>> 0) === this.rcvNxt) {
      this.rcvNxt = (this.rcvNxt + 1) >>> 0;
      this.finReceived = true;
      this.send(ACK);
    }
  }
  write(data: Uint8Array, mss = 1460): void {
    for (let i = 0; i < data.length; i += mss) {
      const chunk = data.subarray(i, i + mss);
      this.send(ACK | PSH, chunk);
      this.sndNxt = (this.sndNxt + chunk.length) >>> 0;
    }
  }
  close(): void {
    this.send(FIN | ACK);
    this.sndNxt++;
  }
  /** A window update (after the guest application read its data). */
  ack(): void {
    this.send(ACK);
  }
  data(): Buffer {
    return Buffer.concat(this.received);
  }
}
