/**
 * The DHCP server of the user-mode network (RFC 2131/2132), as slirp's bootp.c: addresses from
 * `dhcpstart` (16 leases keyed by MAC), server identifier and router = the virtual host, DNS =
 * the virtual DNS, 24-hour leases. DISCOVER → OFFER, REQUEST → ACK (or NAK for an address that
 * is not this client's to take), replies broadcast to port 68.
 *
 * Not implemented: BOOTP without DHCP options, TFTP boot file fields (`bootfile=` is refused at
 * configuration time), DHCPINFORM/DECLINE/RELEASE (ignored, as slirp does).
 */

import { readIpv4, writeIpv4 } from './ip-address.js';
import type { UserNetConfig } from './user-config.js';

export const BOOTP_SERVER_PORT = 67;
export const BOOTP_CLIENT_PORT = 68;
/** slirp's NB_BOOTP_CLIENTS. */
export const DHCP_LEASES = 16;
/** slirp's LEASE_TIME, seconds. */
export const DHCP_LEASE_SECONDS = 24 * 3600;

const BOOTREQUEST = 1;
const BOOTREPLY = 2;
const MAGIC = 0x63825363;
/** Fixed BOOTP header (RFC 2131 §2) before the magic cookie. */
const BOOTP_HLEN = 236;
/** slirp replies with a full `struct bootp_t`: the header plus 312 bytes of options. */
const BOOTP_REPLY_LEN = BOOTP_HLEN + 312;

export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPACK = 5;
export const DHCPNAK = 6;

const OPT_PAD = 0;
const OPT_SUBNET_MASK = 1;
const OPT_ROUTER = 3;
const OPT_DNS = 6;
const OPT_HOSTNAME = 12;
const OPT_DOMAIN_NAME = 15;
const OPT_REQUESTED_IP = 50;
const OPT_LEASE_TIME = 51;
const OPT_MSG_TYPE = 53;
const OPT_SERVER_ID = 54;
const OPT_MESSAGE = 56;
const OPT_DOMAIN_SEARCH = 119;
const OPT_END = 255;

export interface DhcpRequest {
  readonly xid: number;
  readonly flags: number;
  readonly clientMac: Uint8Array;
  readonly ciaddr: number;
  readonly msgType: number;
  readonly requestedIp: number | undefined;
}

/** Parses a BOOTREQUEST carrying DHCP options; undefined for anything malformed. */
export function parseDhcp(b: Uint8Array): DhcpRequest | undefined {
  if (b.length < BOOTP_HLEN + 4 || b[0] !== BOOTREQUEST || b[1] !== 1 || b[2] !== 6) return undefined;
  if (readIpv4(b, BOOTP_HLEN) !== MAGIC) return undefined;
  let msgType: number | undefined;
  let requestedIp: number | undefined;
  for (let i = BOOTP_HLEN + 4; i < b.length; ) {
    const code = b[i]!;
    if (code === OPT_END) break;
    if (code === OPT_PAD) {
      i++;
      continue;
    }
    if (i + 1 >= b.length) return undefined;
    const len = b[i + 1]!;
    if (i + 2 + len > b.length) return undefined;
    if (code === OPT_MSG_TYPE && len >= 1) msgType = b[i + 2]!;
    if (code === OPT_REQUESTED_IP && len >= 4) requestedIp = readIpv4(b, i + 2);
    i += 2 + len;
  }
  if (msgType === undefined) return undefined;
  return { xid: readIpv4(b, 4), flags: (b[10]! << 8) | b[11]!, clientMac: b.slice(28, 34), ciaddr: readIpv4(b, 12), msgType, requestedIp };
}

export interface DhcpReply {
  /** The BOOTP payload to send from the server port to 255.255.255.255:68. */
  readonly payload: Uint8Array;
  /** The address given (0 for a NAK). */
  readonly yiaddr: number;
}

export class DhcpServer {
  /** MAC of each lease, by pool index; undefined = free. Not persisted: a fresh guest asks again. */
  private readonly leases: (string | undefined)[] = new Array(DHCP_LEASES).fill(undefined);

  constructor(private readonly cfg: UserNetConfig) {}

  handle(req: DhcpRequest): DhcpReply | undefined {
    const mac = Array.from(req.clientMac).join(':');
    if (req.msgType === DHCPDISCOVER) {
      const ip = this.leaseFor(mac) ?? this.allocate(mac);
      if (ip === undefined) return undefined; // pool exhausted: slirp stays silent
      return { payload: this.reply(req, DHCPOFFER, ip), yiaddr: ip };
    }
    if (req.msgType === DHCPREQUEST) {
      const wanted = req.requestedIp ?? (req.ciaddr !== 0 ? req.ciaddr : undefined);
      let ip: number | undefined;
      if (wanted !== undefined) {
        const idx = (wanted - this.cfg.dhcpStart) >>> 0;
        if (idx < DHCP_LEASES && (this.leases[idx] === undefined || this.leases[idx] === mac)) {
          this.leases[idx] = mac;
          ip = wanted;
        }
      } else {
        // A client that remembers nothing asks without an address: give it its lease or a new one.
        ip = this.leaseFor(mac) ?? this.allocate(mac);
      }
      if (ip === undefined) return { payload: this.reply(req, DHCPNAK, 0), yiaddr: 0 };
      return { payload: this.reply(req, DHCPACK, ip), yiaddr: ip };
    }
    return undefined;
  }

  /** Leases held, for tests and diagnostics. */
  get leaseCount(): number {
    return this.leases.filter((l) => l !== undefined).length;
  }

  private leaseFor(mac: string): number | undefined {
    const i = this.leases.indexOf(mac);
    return i >= 0 ? (this.cfg.dhcpStart + i) >>> 0 : undefined;
  }

  private allocate(mac: string): number | undefined {
    const i = this.leases.indexOf(undefined);
    if (i < 0) return undefined;
    this.leases[i] = mac;
    return (this.cfg.dhcpStart + i) >>> 0;
  }

  private reply(req: DhcpRequest, type: number, yiaddr: number): Uint8Array {
    const b = new Uint8Array(BOOTP_REPLY_LEN);
    b[0] = BOOTREPLY;
    b[1] = 1;
    b[2] = 6;
    writeIpv4(b, 4, req.xid);
    b[10] = req.flags >>> 8;
    b[11] = req.flags & 0xff;
    writeIpv4(b, 16, yiaddr);
    writeIpv4(b, 20, this.cfg.host); // siaddr: next server
    b.set(req.clientMac, 28);
    writeIpv4(b, BOOTP_HLEN, MAGIC);
    let p = BOOTP_HLEN + 4;
    const opt = (code: number, data: Uint8Array): void => {
      if (p + 2 + data.length >= b.length) return; // no room: leave it out
      b[p] = code;
      b[p + 1] = data.length;
      b.set(data, p + 2);
      p += 2 + data.length;
    };
    const ipBytes = (ip: number): Uint8Array => {
      const x = new Uint8Array(4);
      writeIpv4(x, 0, ip);
      return x;
    };
    opt(OPT_MSG_TYPE, new Uint8Array([type]));
    opt(OPT_SERVER_ID, ipBytes(this.cfg.host));
    if (type === DHCPNAK) {
      opt(OPT_MESSAGE, new TextEncoder().encode('requested address not available'));
    } else {
      opt(OPT_LEASE_TIME, ipBytes(DHCP_LEASE_SECONDS));
      opt(OPT_SUBNET_MASK, ipBytes(this.cfg.netmask));
      opt(OPT_ROUTER, ipBytes(this.cfg.host));
      opt(OPT_DNS, ipBytes(this.cfg.dns));
      const text = (s: string): Uint8Array => new TextEncoder().encode(s).subarray(0, 255);
      if (this.cfg.hostname !== undefined) opt(OPT_HOSTNAME, text(this.cfg.hostname));
      if (this.cfg.domainName !== undefined) opt(OPT_DOMAIN_NAME, text(this.cfg.domainName));
      if (this.cfg.dnsSearch.length > 0) {
        const search = encodeDomainSearch(this.cfg.dnsSearch);
        if (search.length <= 255) opt(OPT_DOMAIN_SEARCH, search);
      }
    }
    b[p] = OPT_END;
    return b;
  }
}

/** RFC 3397 domain search list in uncompressed DNS wire format (labels, zero-terminated). */
export function encodeDomainSearch(names: readonly string[]): Uint8Array {
  const out: number[] = [];
  for (const name of names) {
    for (const label of name.split('.').filter((l) => l !== '')) {
      const bytes = new TextEncoder().encode(label).subarray(0, 63);
      out.push(bytes.length, ...bytes);
    }
    out.push(0);
  }
  return new Uint8Array(out);
}
