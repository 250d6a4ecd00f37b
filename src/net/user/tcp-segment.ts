/**
 * TCP segments (RFC 793 §3.1): header parsing with the pseudo-header checksum and the MSS
 * option (RFC 879), and construction of the segments the NAT sends the guest. Sequence
 * numbers are unsigned 32-bit; `seqLt` and friends compare them modulo 2^32 (RFC 793 §3.3).
 */

import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum.js';
import { IPPROTO_TCP } from './ipv4.js';

export const TH_FIN = 0x01;
export const TH_SYN = 0x02;
export const TH_RST = 0x04;
export const TH_PSH = 0x08;
export const TH_ACK = 0x10;
export const TH_URG = 0x20;
const TCPOPT_EOL = 0;
const TCPOPT_NOP = 1;
const TCPOPT_MAXSEG = 2;

export interface TcpSegment {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  /** The MSS option, when present (SYN segments). */
  readonly mss: number | undefined;
  readonly data: Uint8Array;
}

export function parseTcp(b: Uint8Array, src: number, dst: number): TcpSegment | undefined {
  if (b.length < 20) return undefined;
  const off = (b[12]! >>> 4) * 4;
  if (off < 20 || off > b.length) return undefined;
  if (finishChecksum(sumWords(b, pseudoHeaderSum(src, dst, IPPROTO_TCP, b.length))) !== 0) return undefined;
  let mss: number | undefined;
  for (let i = 20; i < off; ) {
    const kind = b[i]!;
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= off) break;
    const len = b[i + 1]!;
    if (len < 2 || i + len > off) break;
    if (kind === TCPOPT_MAXSEG && len === 4) mss = (b[i + 2]! << 8) | b[i + 3]!;
    i += len;
  }
  return {
    srcPort: (b[0]! << 8) | b[1]!,
    dstPort: (b[2]! << 8) | b[3]!,
    seq: ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0,
    ack: ((b[8]! << 24) | (b[9]! << 16) | (b[10]! << 8) | b[11]!) >>> 0,
    flags: b[13]! & 0x3f,
    window: (b[14]! << 8) | b[15]!,
    mss,
    data: b.subarray(off),
  };
}

export interface TcpSegmentOut {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  readonly mss?: number;
  readonly data?: Uint8Array;
}

export function buildTcp(src: number, dst: number, s: TcpSegmentOut): Uint8Array {
  const optLen = s.mss !== undefined ? 4 : 0;
  const data = s.data ?? EMPTY;
  const b = new Uint8Array(20 + optLen + data.length);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, s.srcPort);
  dv.setUint16(2, s.dstPort);
  dv.setUint32(4, s.seq >>> 0);
  dv.setUint32(8, s.ack >>> 0);
  b[12] = ((20 + optLen) / 4) << 4;
  b[13] = s.flags;
  dv.setUint16(14, Math.max(0, Math.min(0xffff, s.window)));
  if (s.mss !== undefined) {
    b[20] = TCPOPT_MAXSEG;
    b[21] = 4;
    dv.setUint16(22, s.mss);
  }
  b.set(data, 20 + optLen);
  dv.setUint16(16, finishChecksum(sumWords(b, pseudoHeaderSum(src, dst, IPPROTO_TCP, b.length))));
  return b;
}

const EMPTY = new Uint8Array(0);

/** a - b as a signed 32-bit distance. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
export function seqLt(a: number, b: number): boolean {
  return seqDiff(a, b) < 0;
}
export function seqLeq(a: number, b: number): boolean {
  return seqDiff(a, b) <= 0;
}
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
