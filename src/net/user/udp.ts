/**
 * UDP datagrams (RFC 768): parsing what the guest sends and building replies, with the
 * pseudo-header checksum. A zero checksum means "none" and is accepted, as slirp's udp_input.
 */

import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum.js';
import { IPPROTO_UDP } from './ipv4.js';

export interface UdpDatagram {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly data: Uint8Array;
}

export function parseUdp(b: Uint8Array, src: number, dst: number): UdpDatagram | undefined {
  if (b.length < 8) return undefined;
  const len = (b[4]! << 8) | b[5]!;
  if (len < 8 || len > b.length) return undefined;
  const sum = (b[6]! << 8) | b[7]!;
  if (sum !== 0 && finishChecksum(sumWords(b.subarray(0, len), pseudoHeaderSum(src, dst, IPPROTO_UDP, len))) !== 0) return undefined;
  return { srcPort: (b[0]! << 8) | b[1]!, dstPort: (b[2]! << 8) | b[3]!, data: b.subarray(8, len) };
}

export function buildUdp(src: number, srcPort: number, dst: number, dstPort: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + data.length);
  b[0] = srcPort >>> 8;
  b[1] = srcPort & 0xff;
  b[2] = dstPort >>> 8;
  b[3] = dstPort & 0xff;
  b[4] = b.length >>> 8;
  b[5] = b.length & 0xff;
  b.set(data, 8);
  let sum = finishChecksum(sumWords(b, pseudoHeaderSum(src, dst, IPPROTO_UDP, b.length)));
  if (sum === 0) sum = 0xffff; // RFC 768: a computed zero is sent as all ones
  b[6] = sum >>> 8;
  b[7] = sum & 0xff;
  return b;
}
