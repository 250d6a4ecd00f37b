/**
 * The addresses and options of a `-netdev user` network, from its properties with QEMU's
 * defaults (net/slirp.c `net_slirp_init`): network 10.0.2.0/24, host (gateway) .2, DNS .3,
 * DHCP pool from .15.
 *
 * Options that configure something we do not model fail loudly with a ConfigError: tftp=,
 * bootfile=, smb=, guestfwd=, ipv4=off and the IPv6 addresses (IPv6 frames from the guest are
 * dropped; `ipv6=` itself is accepted).
 */

import { ConfigError } from '../../errors.js';
import type { HostForward } from '../../cli/netdev-spec.js';
import { parseIpv4 } from './ip-address.js';

export interface UserNetConfig {
  readonly id: string;
  readonly network: number;
  readonly netmask: number;
  readonly host: number;
  readonly dns: number;
  readonly dhcpStart: number;
  readonly restrict: boolean;
  readonly hostname: string | undefined;
  readonly domainName: string | undefined;
  readonly dnsSearch: readonly string[];
  readonly hostfwd: readonly HostForward[];
}

const UNSUPPORTED = ['tftp', 'tftp-server-name', 'bootfile', 'smb', 'smbserver', 'ipv6-net', 'ipv6-prefix', 'ipv6-prefixlen', 'ipv6-host', 'ipv6-dns'];

export function userNetConfig(id: string, props: Readonly<Record<string, string>>, hostfwd: readonly HostForward[], guestfwd: readonly string[]): UserNetConfig {
  const fail = (msg: string): ConfigError => new ConfigError(`-netdev user,id=${id}: ${msg}`);
  if (guestfwd.length > 0) throw fail('guestfwd= is not supported');
  for (const k of UNSUPPORTED) if (props[k] !== undefined) throw fail(`${k}= is not supported`);
  if (props.ipv4 !== undefined && /^(off|no|false)$/.test(props.ipv4)) throw fail('ipv4=off is not supported (there would be no network)');

  let network = 0x0a000200;
  let netmask = 0xffffff00;
  if (props.net !== undefined) {
    const [addr, mask] = props.net.split('/', 2) as [string, string | undefined];
    const a = parseIpv4(addr);
    if (a === undefined) throw fail(`invalid net= address '${props.net}'`);
    if (mask !== undefined) {
      if (/^[0-9]+$/.test(mask)) {
        const bits = Number(mask);
        if (bits < 1 || bits > 30) throw fail(`invalid netmask in '${props.net}'`);
        netmask = (0xffffffff << (32 - bits)) >>> 0;
      } else {
        const m = parseIpv4(mask);
        if (m === undefined || (~m >>> 0) & ((~m >>> 0) + 1)) throw fail(`invalid netmask in '${props.net}'`);
        netmask = m;
      }
    }
    network = (a & netmask) >>> 0;
  }
  const inNet = (key: string, dflt: number): number => {
    const text = props[key];
    if (text === undefined) return (network | dflt) >>> 0;
    const ip = parseIpv4(text);
    if (ip === undefined || ((ip & netmask) >>> 0) !== network) throw fail(`${key}= address '${text}' is not in the network`);
    return ip;
  };
  const host = inNet('host', 2);
  const dns = inNet('dns', 3);
  const dhcpStart = inNet('dhcpstart', 15);
  const restrict = props.restrict !== undefined && /^(on|yes|true|y)$/.test(props.restrict);
  const dnsSearch = props.dnssearch !== undefined ? props.dnssearch.split(',').filter((s) => s !== '') : [];
  return { id, network, netmask, host, dns, dhcpStart, restrict, hostname: props.hostname, domainName: props.domainname, dnsSearch, hostfwd };
}
