/**
 * The DNS relay: the guest's resolver is the virtual DNS address (10.0.2.3), and slirp passes
 * its queries to the host's resolver and the answers back as if the virtual DNS sent them
 * (slirp's `sotranslate_out`/`sotranslate_in` and `get_dns_addr`). The UDP NAT does the
 * forwarding; this file finds the host's resolver and says how long a DNS flow lives.
 */

import { getServers } from 'node:dns';
import { isIPv4 } from 'node:net';

export interface HostResolver {
  readonly address: string;
  readonly port: number;
}

/** DNS flows expire after 10 s (slirp's SO_EXPIREFAST), other UDP flows after 240 s (SO_EXPIRE). */
export const DNS_FLOW_EXPIRE_NS = 10e9;

/**
 * The host's first IPv4 resolver, from /etc/resolv.conf as Node's resolver reads it; the
 * loopback address when there is none, as slirp falls back to it.
 */
export function hostResolver(): HostResolver {
  for (const s of getServers()) {
    const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(s);
    if (m && isIPv4(m[1]!)) return { address: m[1]!, port: m[2] !== undefined ? Number(m[2]) : 53 };
  }
  return { address: '127.0.0.1', port: 53 };
}
