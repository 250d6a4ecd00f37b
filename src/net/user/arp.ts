/**
 * ARP for the user-mode network (RFC 826), as slirp's arp_input: the virtual hosts (gateway,
 * DNS) answer requests for their own addresses; every request or reply the guest sends teaches
 * the table its MAC. The table is what the NAT uses to address frames to the guest; it is
 * bounded (ARP_TABLE_SIZE, oldest entry replaced, as slirp's fixed 16-entry table).
 */

import { ETHERTYPE_ARP, ETHERTYPE_IPV4, buildEthernet, slirpMac } from './ethernet.js';
import { readIpv4, writeIpv4 } from './ip-address.js';

export const ARP_TABLE_SIZE = 16;
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;

export interface ArpPacket {
  readonly op: number;
  readonly senderMac: Uint8Array;
  readonly senderIp: number;
  readonly targetMac: Uint8Array;
  readonly targetIp: number;
}

/** Ethernet/IPv4 ARP only (htype 1, ptype 0x0800, hlen 6, plen 4); anything else is undefined. */
export function parseArp(b: Uint8Array): ArpPacket | undefined {
  if (b.length < 28) return undefined;
  if (((b[0]! << 8) | b[1]!) !== 1 || ((b[2]! << 8) | b[3]!) !== ETHERTYPE_IPV4 || b[4] !== 6 || b[5] !== 4) return undefined;
  return {
    op: (b[6]! << 8) | b[7]!,
    senderMac: b.slice(8, 14),
    senderIp: readIpv4(b, 14),
    targetMac: b.slice(18, 24),
    targetIp: readIpv4(b, 24),
  };
}

export function buildArp(op: number, senderMac: Uint8Array, senderIp: number, targetMac: Uint8Array, targetIp: number): Uint8Array {
  const b = new Uint8Array(28);
  b.set([0, 1, 0x08, 0x00, 6, 4, 0, op]);
  b.set(senderMac, 8);
  writeIpv4(b, 14, senderIp);
  b.set(targetMac, 18);
  writeIpv4(b, 24, targetIp);
  return b;
}

/** The reply frame a virtual host sends for a request for `ip`. */
export function arpReplyFrame(req: ArpPacket, ip: number): Uint8Array {
  const mac = slirpMac(ip);
  return buildEthernet(req.senderMac, mac, ETHERTYPE_ARP, buildArp(ARPOP_REPLY, mac, ip, req.senderMac, req.senderIp));
}

export class ArpTable {
  private readonly entries: { ip: number; mac: Uint8Array }[] = [];

  add(ip: number, mac: Uint8Array): void {
    if (ip === 0 || (mac[0]! & 1) !== 0) return; // unconfigured sender or a multicast MAC
    const i = this.entries.findIndex((e) => e.ip === ip);
    if (i >= 0) this.entries.splice(i, 1);
    else if (this.entries.length >= ARP_TABLE_SIZE) this.entries.shift();
    this.entries.push({ ip, mac: mac.slice(0, 6) });
  }

  lookup(ip: number): Uint8Array | undefined {
    return this.entries.find((e) => e.ip === ip)?.mac;
  }
}
