/**
 * ICMP (RFC 792) in the user-mode network: echo replies from the virtual hosts, and the
 * destination-unreachable errors the NAT reports when a host socket cannot reach its peer
 * (slirp's icmp_send_error).
 *
 * XXX: echo requests to other addresses are not forwarded — slirp uses unprivileged ICMP
 * sockets for them, which Node does not offer; they are dropped and logged once.
 */

import { internetChecksum } from './checksum.js';

export const ICMP_ECHOREPLY = 0;
export const ICMP_UNREACH = 3;
export const ICMP_ECHO = 8;
export const ICMP_UNREACH_NET = 0;
export const ICMP_UNREACH_HOST = 1;
export const ICMP_UNREACH_PORT = 3;

/** The echo reply for an echo request (same id, sequence and data), or undefined if it is not a valid echo request. */
export function echoReply(icmp: Uint8Array): Uint8Array | undefined {
  if (icmp.length < 8 || icmp[0] !== ICMP_ECHO || internetChecksum(icmp) !== 0) return undefined;
  const r = icmp.slice();
  r[0] = ICMP_ECHOREPLY;
  r[1] = 0;
  r[2] = r[3] = 0;
  const sum = internetChecksum(r);
  r[2] = sum >>> 8;
  r[3] = sum & 0xff;
  return r;
}

/** A destination-unreachable message quoting the offending packet's header and 8 bytes of its data. */
export function unreachable(code: number, offendingHeader: Uint8Array, offendingPayload: Uint8Array): Uint8Array {
  const quoted = Math.min(8, offendingPayload.length);
  const m = new Uint8Array(8 + offendingHeader.length + quoted);
  m[0] = ICMP_UNREACH;
  m[1] = code;
  m.set(offendingHeader, 8);
  m.set(offendingPayload.subarray(0, quoted), 8 + offendingHeader.length);
  const sum = internetChecksum(m);
  m[2] = sum >>> 8;
  m[3] = sum & 0xff;
  return m;
}
