/**
 * IPv4 headers (RFC 791 §3.1): validation of what the guest sends and construction of what the
 * virtual hosts answer.
 *
 * Dropped, never thrown: bad version, header length below 5 words, total length shorter than
 * the header or longer than the frame, a bad header checksum (slirp's ip_input checks all four),
 * and fragments. XXX: slirp reassembles fragments; we drop them (MF set or a non-zero offset) —
 * guests use path MTU discovery and the 1500-byte link, so TCP and DNS never fragment.
 */

import { internetChecksum } from './checksum.js';
import { readIpv4, writeIpv4 } from './ip-address.js';

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** slirp's IPDEFTTL. */
export const IP_DEFAULT_TTL = 64;
const IP_MF = 0x2000;
const IP_OFFMASK = 0x1fff;

export interface Ipv4Packet {
  readonly src: number;
  readonly dst: number;
  readonly protocol: number;
  readonly ttl: number;
  /** The header (with options), for ICMP errors that quote it. */
  readonly header: Uint8Array;
  /** Exactly `totalLength - headerLength` bytes (Ethernet padding removed). */
  readonly payload: Uint8Array;
}

export type Ipv4ParseResult = Ipv4Packet | { readonly error: string };

export function parseIpv4Packet(b: Uint8Array): Ipv4ParseResult {
  if (b.length < 20) return { error: 'truncated IPv4 header' };
  if (b[0]! >>> 4 !== 4) return { error: 'not IPv4' };
  const hlen = (b[0]! & 0x0f) * 4;
  if (hlen < 20 || hlen > b.length) return { error: 'bad IPv4 header length' };
  const total = (b[2]! << 8) | b[3]!;
  if (total < hlen || total > b.length) return { error: 'bad IPv4 total length' };
  if (internetChecksum(b.subarray(0, hlen)) !== 0) return { error: 'bad IPv4 header checksum' };
  const frag = (b[6]! << 8) | b[7]!;
  if (frag & (IP_MF | IP_OFFMASK)) return { error: 'IPv4 fragment' };
  return {
    src: readIpv4(b, 12),
    dst: readIpv4(b, 16),
    protocol: b[9]!,
    ttl: b[8]!,
    header: b.subarray(0, hlen),
    payload: b.subarray(hlen, total),
  };
}

/** Builds a 20-byte-header packet with its checksum; DF is not set, as slirp leaves it clear. */
export function buildIpv4Packet(src: number, dst: number, protocol: number, payload: Uint8Array, id: number): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  p[0] = 0x45;
  const total = p.length;
  p[2] = total >>> 8;
  p[3] = total & 0xff;
  p[4] = (id >>> 8) & 0xff;
  p[5] = id & 0xff;
  p[8] = IP_DEFAULT_TTL;
  p[9] = protocol;
  writeIpv4(p, 12, src);
  writeIpv4(p, 16, dst);
  const sum = internetChecksum(p.subarray(0, 20));
  p[10] = sum >>> 8;
  p[11] = sum & 0xff;
  p.set(payload, 20);
  return p;
}
