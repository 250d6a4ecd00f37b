/**
 * Networking: the specs of `-netdev`, `-nic` and `-net`, the netdev type and `-netdev user`
 * key tables, and the `-netdev` and `hostfwd=` parsers (QEMU's `net_client_init`,
 * `slirp_hostfwd`).
 */

import { ConfigError } from '../errors.js';
import { checkKeys, optBool, parseHostPort, type KeyValueList } from './keyval.js';

/** `hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT`; '' addresses = default. */
export interface HostForward {
  readonly protocol: 'tcp' | 'udp';
  readonly hostAddr: string;
  readonly hostPort: number;
  readonly guestAddr: string;
  readonly guestPort: number;
}

/** `-netdev user,...` or `-netdev socket,...` (other types are not supported yet). */
export type NetdevSpec =
  | {
      readonly type: 'user';
      readonly id: string;
      readonly hostfwd: readonly HostForward[];
      readonly guestfwd: readonly string[];
      /** The other slirp options as given (net=, host=, dns=, restrict=, ...). */
      readonly props: Readonly<Record<string, string>>;
    }
  | {
      readonly type: 'socket';
      readonly id: string;
      readonly mode: 'listen' | 'connect' | 'mcast' | 'udp';
      readonly host: string;
      readonly port: number;
      readonly localAddr?: string;
    };

/** `-nic TYPE[,model=...,mac=...,netdev options]` and `-net TYPE,...`: kept generic. */
export interface NicSpec {
  readonly type: string;
  readonly options: KeyValueList;
}

export const NETDEV_TYPES = [
  'user', 'socket', 'tap', 'bridge', 'l2tpv3', 'vde', 'hubport', 'vhost-user', 'vhost-vdpa',
  'stream', 'dgram', 'netmap', 'vmnet-host', 'vmnet-shared', 'vmnet-bridged', 'af-xdp',
];
const NETDEV_USER_KEYS = [
  'type', 'id', 'ipv4', 'ipv6', 'net', 'host', 'ipv6-net', 'ipv6-prefix', 'ipv6-prefixlen',
  'ipv6-host', 'restrict', 'hostname', 'dhcpstart', 'dns', 'ipv6-dns', 'dnssearch', 'domainname',
  'tftp', 'tftp-server-name', 'bootfile', 'smb', 'smbserver', 'hostfwd', 'guestfwd',
];

/** `hostfwd=` as QEMU's `slirp_hostfwd` reads it, with its failure reasons. */
export function parseHostForward(rule: string): HostForward {
  const fail = (reason: string): ConfigError => new ConfigError(`Invalid host forwarding rule '${rule}' (${reason})`);
  const c1 = rule.indexOf(':');
  if (c1 < 0) throw fail('No : separators');
  const proto = rule.slice(0, c1);
  if (proto !== '' && proto !== 'tcp' && proto !== 'udp') throw fail('Bad protocol name');
  const rest = rule.slice(c1 + 1);
  const c2 = rest.indexOf(':');
  if (c2 < 0) throw fail('Missing : separator');
  const hostAddr = rest.slice(0, c2);
  if (hostAddr !== '' && !isIpv4(hostAddr)) throw fail('Bad host address');
  const afterHost = rest.slice(c2 + 1);
  const dash = afterHost.indexOf('-');
  if (dash < 0) throw fail('Missing - separator');
  const hostPort = Number(afterHost.slice(0, dash));
  if (!/^[0-9]+$/.test(afterHost.slice(0, dash)) || hostPort > 65535) throw fail('Bad host port');
  const guest = afterHost.slice(dash + 1);
  const c3 = guest.indexOf(':');
  if (c3 < 0) throw fail('Missing guest address');
  const guestAddr = guest.slice(0, c3);
  if (guestAddr !== '' && !isIpv4(guestAddr)) throw fail('Bad guest address');
  const guestPort = Number(guest.slice(c3 + 1));
  if (!/^[0-9]+$/.test(guest.slice(c3 + 1)) || guestPort < 1 || guestPort > 65535) throw fail('Bad guest port');
  return { protocol: proto === 'udp' ? 'udp' : 'tcp', hostAddr, hostPort, guestAddr, guestPort };
}

function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^[0-9]{1,3}$/.test(p) && Number(p) <= 255);
}

export function parseNetdev(type: string, kv: KeyValueList): NetdevSpec {
  if (!NETDEV_TYPES.includes(type)) throw new ConfigError(`Parameter 'type' does not accept value '${type}'`);
  const id = kv.get('id');
  if (id === undefined) throw new ConfigError("Parameter 'id' is missing");
  if (type === 'user') {
    checkKeys(kv, NETDEV_USER_KEYS);
    for (const k of ['ipv4', 'ipv6', 'restrict']) optBool(kv, k, true);
    const props: Record<string, string> = {};
    for (const { key, value } of kv.entries) if (!['type', 'id', 'hostfwd', 'guestfwd'].includes(key)) props[key] = value;
    return { type, id, hostfwd: kv.getAll('hostfwd').map(parseHostForward), guestfwd: kv.getAll('guestfwd'), props };
  }
  if (type === 'socket') {
    checkKeys(kv, ['type', 'id', 'fd', 'listen', 'connect', 'mcast', 'udp', 'localaddr']);
    const modes = (['listen', 'connect', 'mcast', 'udp'] as const).filter((m) => kv.has(m));
    if (modes.length !== 1 || kv.has('fd')) throw new ConfigError('exactly one of listen=, connect=, mcast= or udp= is required');
    const mode = modes[0]!;
    const { host, port } = parseHostPort(kv.get(mode)!, 'address');
    const localAddr = kv.get('localaddr');
    return { type, id, mode, host, port, ...(localAddr !== undefined ? { localAddr } : {}) };
  }
  throw new ConfigError(`netdev type '${type}' is not supported yet`);
}
