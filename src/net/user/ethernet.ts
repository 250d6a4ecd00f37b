/**
 * Ethernet II framing for the user-mode network (IEEE 802.3 clause 3, without the FCS, which
 * the NIC contract leaves out) and the MAC addresses slirp gives its virtual hosts.
 */

export const ETH_HLEN = 14;
export const ETH_ALEN = 6;
/** Frames shorter than this are padded, as slirp pads its ARP replies (ETH_MINLEN, no FCS). */
export const ETH_MINLEN = 60;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

export const BROADCAST_MAC: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** slirp's `special_ethaddr`: the virtual hosts answer as 52:55 followed by their IPv4 address. */
export function slirpMac(ip: number): Uint8Array {
  return new Uint8Array([0x52, 0x55, ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff]);
}

export function macToString(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function isBroadcastOrMulticast(mac: Uint8Array): boolean {
  return (mac[0]! & 1) !== 0;
}

export interface EthernetFrame {
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly type: number;
  readonly payload: Uint8Array;
}

/** Splits a frame; undefined for a runt. 802.1Q-tagged frames are left to the caller (type 0x8100). */
export function parseEthernet(frame: Uint8Array): EthernetFrame | undefined {
  if (frame.length < ETH_HLEN) return undefined;
  return {
    dst: frame.subarray(0, 6),
    src: frame.subarray(6, 12),
    type: (frame[12]! << 8) | frame[13]!,
    payload: frame.subarray(ETH_HLEN),
  };
}

/** Builds a frame, zero-padded to ETH_MINLEN. */
export function buildEthernet(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(Math.max(ETH_MINLEN, ETH_HLEN + payload.length));
  f.set(dst.subarray(0, 6), 0);
  f.set(src.subarray(0, 6), 6);
  f[12] = type >>> 8;
  f[13] = type & 0xff;
  f.set(payload, ETH_HLEN);
  return f;
}
