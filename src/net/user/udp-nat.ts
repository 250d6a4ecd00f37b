/**
 * UDP through the user-mode network: each guest (address, port) that sends gets a host `dgram`
 * socket (slirp's udp socket per `so_laddr:so_lport`); datagrams out go to the real
 * destination, answers come back with the guest-visible source. Address translation as slirp:
 * the virtual DNS address means the host's resolver (port 53 → the resolver's port), any other
 * address in the virtual network means the host's loopback; answers from there appear to come
 * from the address the guest used. `hostfwd=udp:...` sockets are flows too (forwarded to a
 * fixed guest port, never expiring).
 *
 * Bounded: at most MAX_UDP_FLOWS sockets (the flow expiring first is closed for a new one);
 * a flow lives 240 s after its last datagram (10 s for DNS), timed on the NetClock; datagrams
 * for the guest go through the bounded guest queue.
 *
 * XXX: answers longer than one 1500-byte IP packet (1472 bytes of data) are dropped — slirp
 * would fragment them. Broadcasts other than DHCP are dropped, as slirp does.
 */

import { createSocket, Socket as DgramSocket, type Socket } from 'node:dgram';
import { DNS_FLOW_EXPIRE_NS, type HostResolver } from './dns-relay.js';
import { ipv4ToString, isLoopback, parseIpv4 } from './ip-address.js';
import type { UserNetConfig } from './user-config.js';
import type { NetClock } from '../net-clock.js';

export const MAX_UDP_FLOWS = 128;
export const UDP_FLOW_EXPIRE_NS = 240e9;
/** The largest datagram that fits one 1500-byte IPv4 packet. */
export const MAX_UDP_TO_GUEST = 1500 - 20 - 8;
/** Host-address → guest-visible-address pairs remembered per flow. */
const MAX_ALIASES = 16;

export interface UdpFlowInfo {
  readonly hostfwd: boolean;
  readonly expiresNs: number;
  readonly fd: number;
  readonly srcIp: string;
  readonly srcPort: number;
  readonly dstIp: string;
  readonly dstPort: number;
}

interface UdpFlow {
  readonly key: string;
  readonly guestIp: number;
  readonly guestPort: number;
  readonly socket: Socket;
  readonly hostfwd: boolean;
  /** For hostfwd: the host address it is bound to ('' = any). */
  readonly bindAddr: string;
  readonly hostPort: number;
  expiresNs: number;
  dns: boolean;
  /** Last destination, guest-visible (for `info usernet`). */
  lastDstIp: number;
  lastDstPort: number;
  /** `hostaddr:port` → the address the guest sent to. */
  readonly aliases: Map<string, number>;
}

export interface UdpNatDeps {
  readonly cfg: UserNetConfig;
  readonly clock: NetClock;
  readonly resolver: HostResolver;
  readonly log: (line: string) => void;
  /** A datagram for the guest. */
  toGuest(srcIp: number, srcPort: number, dstIp: number, dstPort: number, data: Uint8Array): void;
  /** The NAT needs `tick` called at `deadlineNs`. */
  requestTick(deadlineNs: number): void;
}

export class UdpNat {
  private readonly flows = new Map<string, UdpFlow>();
  private oversizeLogged = false;

  constructor(private readonly d: UdpNatDeps) {}

  get flowCount(): number {
    return this.flows.size;
  }

  /** A datagram from the guest. */
  fromGuest(srcIp: number, srcPort: number, dstIp: number, dstPort: number, data: Uint8Array): void {
    const { cfg } = this.d;
    const key = `${srcIp}:${srcPort}`;
    let flow = this.flows.get(key);
    if (cfg.restrict && !flow?.hostfwd) return; // restrict=on: nothing leaves the host but forwarded ports
    let hostAddr: string;
    let hostPort = dstPort;
    const inNet = ((dstIp & cfg.netmask) >>> 0) === cfg.network;
    if (inNet) {
      const bcast = (cfg.network | (~cfg.netmask >>> 0)) >>> 0;
      if (dstIp === bcast) return;
      if (dstIp === cfg.dns) {
        hostAddr = this.d.resolver.address;
        if (dstPort === 53) hostPort = this.d.resolver.port;
      } else {
        hostAddr = '127.0.0.1';
      }
    } else {
      if (dstIp === 0xffffffff || dstIp >>> 28 === 0xe || dstIp === 0) return; // broadcast, multicast
      hostAddr = ipv4ToString(dstIp);
    }
    if (!flow) {
      flow = this.open(key, srcIp, srcPort);
      if (!flow) return;
    }
    const now = this.d.clock.nowNs();
    flow.dns = dstIp === cfg.dns && dstPort === 53;
    if (!flow.hostfwd) {
      flow.expiresNs = now + (flow.dns ? DNS_FLOW_EXPIRE_NS : UDP_FLOW_EXPIRE_NS);
      this.d.requestTick(flow.expiresNs);
    }
    flow.lastDstIp = dstIp;
    flow.lastDstPort = dstPort;
    const aliasKey = `${hostAddr}:${hostPort}`;
    if (!flow.aliases.has(aliasKey)) {
      if (flow.aliases.size >= MAX_ALIASES) flow.aliases.delete(flow.aliases.keys().next().value!);
      flow.aliases.set(aliasKey, dstIp);
    }
    flow.socket.send(data, hostPort, hostAddr, (err) => {
      if (err) this.d.log(`netdev ${cfg.id}: udp to ${hostAddr}:${hostPort}: ${err.message}`);
    });
  }

  /** `hostfwd=udp:[addr]:hostport-[guestaddr]:guestport`: binds the host port. */
  forward(bindAddr: string, hostPort: number, guestIp: number, guestPort: number): Promise<void> {
    const key = `${guestIp}:${guestPort}`;
    const socket = createSocket('udp4');
    const flow: UdpFlow = {
      key, guestIp, guestPort, socket, hostfwd: true, bindAddr, hostPort, expiresNs: Infinity, dns: false,
      lastDstIp: 0, lastDstPort: 0, aliases: new Map(),
    };
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(hostPort, bindAddr || '0.0.0.0', () => {
        socket.off('error', reject);
        this.wire(flow);
        this.flows.get(key)?.socket.close();
        this.flows.set(key, flow);
        resolve();
      });
    });
  }

  /** Closes expired flows; returns the next expiry. */
  tick(nowNs: number): number {
    let next = Infinity;
    for (const flow of this.flows.values()) {
      if (flow.hostfwd) continue;
      if (flow.expiresNs <= nowNs) this.drop(flow);
      else next = Math.min(next, flow.expiresNs);
    }
    return next;
  }

  info(nowNs: number): UdpFlowInfo[] {
    // Guest flows newest first (slirp inserts at the head of its list), then forwarded ports in rule order.
    const all = [...this.flows.values()];
    return [...all.filter((f) => !f.hostfwd).reverse(), ...all.filter((f) => f.hostfwd)].map((f) => {
      const fd = socketFd(f.socket);
      if (f.hostfwd) {
        return { hostfwd: true, expiresNs: 0, fd, srcIp: f.bindAddr === '' || f.bindAddr === '0.0.0.0' ? '*' : f.bindAddr, srcPort: f.hostPort, dstIp: ipv4ToString(f.guestIp), dstPort: f.guestPort };
      }
      return { hostfwd: false, expiresNs: f.expiresNs - nowNs, fd, srcIp: ipv4ToString(f.guestIp), srcPort: f.guestPort, dstIp: ipv4ToString(f.lastDstIp), dstPort: f.lastDstPort };
    });
  }

  close(): void {
    for (const f of this.flows.values()) f.socket.close();
    this.flows.clear();
  }

  private open(key: string, guestIp: number, guestPort: number): UdpFlow | undefined {
    if (this.flows.size >= MAX_UDP_FLOWS) {
      let victim: UdpFlow | undefined;
      for (const f of this.flows.values()) if (!f.hostfwd && (!victim || f.expiresNs < victim.expiresNs)) victim = f;
      if (!victim) return undefined;
      this.drop(victim);
    }
    const flow: UdpFlow = {
      key, guestIp, guestPort, socket: createSocket('udp4'), hostfwd: false, bindAddr: '', hostPort: 0, expiresNs: 0, dns: false,
      lastDstIp: 0, lastDstPort: 0, aliases: new Map(),
    };
    this.wire(flow);
    this.flows.set(key, flow);
    return flow;
  }

  private wire(flow: UdpFlow): void {
    flow.socket.on('error', (e) => {
      this.d.log(`netdev ${this.d.cfg.id}: udp socket for ${ipv4ToString(flow.guestIp)}:${flow.guestPort}: ${e.message}`);
      if (!flow.hostfwd) this.drop(flow);
    });
    flow.socket.on('message', (msg, rinfo) => {
      if (this.flows.get(flow.key) !== flow) return;
      if (msg.length > MAX_UDP_TO_GUEST) {
        if (!this.oversizeLogged) this.d.log(`netdev ${this.d.cfg.id}: dropping a ${msg.length}-byte UDP datagram (no IP fragmentation toward the guest)`);
        this.oversizeLogged = true;
        return;
      }
      const host = parseIpv4(rinfo.address.replace(/^::ffff:/, ''));
      if (host === undefined) return;
      const alias = flow.aliases.get(`${ipv4ToString(host)}:${rinfo.port}`);
      let srcIp = alias ?? (isLoopback(host) ? this.d.cfg.host : host);
      let srcPort = rinfo.port;
      if (alias === this.d.cfg.dns && rinfo.port === this.d.resolver.port) srcPort = 53;
      if (flow.hostfwd && alias === undefined) {
        srcIp = isLoopback(host) ? this.d.cfg.host : host;
        flow.aliases.set(`${ipv4ToString(host)}:${rinfo.port}`, srcIp);
        if (flow.aliases.size > MAX_ALIASES) flow.aliases.delete(flow.aliases.keys().next().value!);
      }
      this.d.toGuest(srcIp, srcPort, flow.guestIp, flow.guestPort, new Uint8Array(msg));
    });
  }

  private drop(flow: UdpFlow): void {
    if (this.flows.get(flow.key) === flow) this.flows.delete(flow.key);
    try {
      flow.socket.close();
    } catch {
      // already closed
    }
  }
}

/** The host descriptor behind a Node socket when Node exposes it (shown in `info usernet`), else -1. */
export function socketFd(sock: unknown): number {
  const s = sock as { _handle?: { fd?: number }; [k: symbol]: unknown };
  if (!(sock instanceof DgramSocket)) return typeof s._handle?.fd === 'number' ? s._handle.fd : -1;
  for (const sym of Object.getOwnPropertySymbols(s)) {
    const st = s[sym] as { handle?: { fd?: number } } | undefined;
    if (st && typeof st === 'object' && typeof st.handle?.fd === 'number') return st.handle.fd;
  }
  return -1;
}
