/**
 * `-netdev user`: the built-in NAT, QEMU's slirp. The guest sees a network (10.0.2.0/24 by
 * default) with a gateway that is also the host (10.0.2.2), a DNS server (10.0.2.3) and a DHCP
 * server handing out 10.0.2.15 onward; its TCP and UDP leave through host sockets.
 *
 * This file dispatches frames: Ethernet → ARP (arp.ts) or IPv4 (ipv4.ts) → ICMP (icmp.ts),
 * UDP (DHCP: dhcp-server.ts; else udp-nat.ts, DNS relay: dns-relay.ts), TCP (tcp-nat.ts);
 * `hostfwd=` is hostfwd.ts. It owns the one timer every protocol shares and the bounded queue
 * to the guest. Frames the guest sends are handled synchronously; nothing the guest sends can
 * throw out of `send` (malformed frames are dropped, unexpected errors are logged once).
 *
 * Frames to the guest come from slirp's MAC for the host address (52:55:0a:00:02:02); the
 * guest's MAC is learnt from its ARP, DHCP and IP traffic. A frame for an address with no MAC
 * yet waits (bounded) behind an ARP request.
 *
 * Not implemented: IPv6 (frames dropped, logged once), IP fragment reassembly, ICMP echo to
 * hosts other than the virtual ones, TFTP, SMB, guestfwd (refused in user-config.ts).
 */

import type { NetBackend, NetPeer } from '../net-backend.js';
import { NET_QUEUE_MAX_FRAMES } from '../net-backend.js';
import { GuestFrameQueue } from '../guest-queue.js';
import type { NetClock, NetTimer } from '../net-clock.js';
import { ARPOP_REPLY, ARPOP_REQUEST, ArpTable, arpReplyFrame, buildArp, parseArp } from './arp.js';
import { BOOTP_CLIENT_PORT, BOOTP_SERVER_PORT, DhcpServer, parseDhcp } from './dhcp-server.js';
import { hostResolver, type HostResolver } from './dns-relay.js';
import { BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, buildEthernet, parseEthernet, slirpMac } from './ethernet.js';
import { HostForwards } from './hostfwd.js';
import { echoReply } from './icmp.js';
import { formatUsernet } from './info-usernet.js';
import { ipv4ToString } from './ip-address.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, buildIpv4Packet, parseIpv4Packet } from './ipv4.js';
import { TcpNat } from './tcp-nat.js';
import { parseTcp } from './tcp-segment.js';
import { buildUdp, parseUdp } from './udp.js';
import { UdpNat } from './udp-nat.js';
import type { UserNetConfig } from './user-config.js';

/** Frames held while their destination's MAC is being resolved (slirp keeps them in its if queue). */
export const MAX_ARP_PENDING = 64;
/** Frame slots kept free of TCP data for ACKs, ARP and DHCP. */
const CONTROL_RESERVE = 64;

export interface UserNetdevOptions {
  readonly cfg: UserNetConfig;
  readonly clock: NetClock;
  readonly log: (line: string) => void;
  /** Where DNS queries to the virtual DNS go; the host's resolver by default. */
  readonly resolver?: HostResolver;
}

export class UserNetdev implements NetBackend {
  readonly id: string;
  /** Resolves once the hostfwd ports are bound; rejects with QEMU's message when one cannot be. */
  readonly ready: Promise<void>;
  readonly cfg: UserNetConfig;
  private readonly clock: NetClock;
  private readonly log: (line: string) => void;
  private readonly toGuest: GuestFrameQueue;
  private readonly arp = new ArpTable();
  private readonly dhcp: DhcpServer;
  readonly udp: UdpNat;
  readonly tcp: TcpNat;
  readonly forwards: HostForwards;
  private readonly timer: NetTimer;
  private timerDeadlineNs = Infinity;
  private arpPending: { ip: number; frame: Uint8Array }[] = [];
  private ipId = 0;
  private closed = false;
  private readonly loggedOnce = new Set<string>();
  /** Frames from the guest that were dropped as malformed, per reason (diagnostics, tests). */
  readonly dropped = new Map<string, number>();

  constructor(opts: UserNetdevOptions) {
    this.cfg = opts.cfg;
    this.id = opts.cfg.id;
    this.clock = opts.clock;
    this.log = opts.log;
    this.toGuest = new GuestFrameQueue(NET_QUEUE_MAX_FRAMES, () => this.tcp?.pump());
    this.dhcp = new DhcpServer(this.cfg);
    const resolver = opts.resolver ?? hostResolver();
    this.timer = this.clock.createTimer(`netdev ${this.id}`, (now) => this.tick(now));
    const requestTick = (deadlineNs: number): void => this.requestTick(deadlineNs);
    this.udp = new UdpNat({
      cfg: this.cfg, clock: this.clock, resolver, log: this.log, requestTick,
      toGuest: (src, sport, dst, dport, data) => this.sendIp(src, dst, IPPROTO_UDP, buildUdp(src, sport, dst, dport, data)),
    });
    this.tcp = new TcpNat({
      cfg: this.cfg, clock: this.clock, resolver, log: this.log, requestTick,
      sendToGuest: (src, dst, seg) => this.sendIp(src, dst, IPPROTO_TCP, seg),
      canOutputData: () => this.toGuest.length < NET_QUEUE_MAX_FRAMES - CONTROL_RESERVE,
    });
    this.forwards = new HostForwards(this.cfg, this.tcp, this.udp);
    this.ready = this.forwards.open(this.cfg.hostfwd);
    this.ready.catch(() => {});
  }

  describe(): string {
    return `${this.id}: index=0,type=user,net=${ipv4ToString(this.cfg.network)},restrict=${this.cfg.restrict ? 'on' : 'off'}`;
  }

  /** This network's part of `info usernet`. */
  infoUsernet(): string {
    return formatUsernet(this.id, [...this.tcp.info(), ...this.forwards.info()], this.udp.info(this.clock.nowNs()));
  }

  attach(peer: NetPeer): void {
    this.toGuest.attach(peer);
  }

  receiveReady(): void {
    this.toGuest.flush();
  }

  /** Frames waiting for the NIC. */
  get queuedToGuest(): number {
    return this.toGuest.length;
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    try {
      this.input(frame);
    } catch (e) {
      // A bug of ours, not the guest's: never let it reach the NIC.
      this.logOnce('internal', `netdev ${this.id}: dropped a frame: ${(e as Error).message}`);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timer.del();
    this.tcp.close();
    this.udp.close();
    this.forwards.close();
    this.toGuest.clear();
  }

  private input(frame: Uint8Array): void {
    const eth = parseEthernet(frame);
    if (!eth) return this.drop('runt frame');
    if (eth.type === ETHERTYPE_ARP) return this.arpInput(eth.payload);
    if (eth.type === ETHERTYPE_IPV6) {
      this.logOnce('ipv6', `netdev ${this.id}: IPv6 is not implemented; dropping IPv6 frames`);
      return;
    }
    if (eth.type !== ETHERTYPE_IPV4) return this.drop('unknown ethertype');
    const ip = parseIpv4Packet(eth.payload);
    if ('error' in ip) return this.drop(ip.error);
    if (this.inNet(ip.src) && ip.src !== this.cfg.host && ip.src !== this.cfg.dns) this.learn(ip.src, eth.src);
    switch (ip.protocol) {
      case IPPROTO_ICMP: {
        if (ip.dst !== this.cfg.host && ip.dst !== this.cfg.dns) {
          this.logOnce('icmp', `netdev ${this.id}: ICMP to ${ipv4ToString(ip.dst)} is not forwarded (only the virtual hosts answer pings)`);
          return;
        }
        const reply = echoReply(ip.payload);
        if (!reply) return this.drop('bad ICMP');
        return this.sendIp(ip.dst, ip.src, IPPROTO_ICMP, reply);
      }
      case IPPROTO_UDP: {
        const udp = parseUdp(ip.payload, ip.src, ip.dst);
        if (!udp) return this.drop('bad UDP');
        if (udp.dstPort === BOOTP_SERVER_PORT) return this.dhcpInput(udp.data, eth.src);
        if (ip.src === 0 || !this.inNet(ip.src)) return this.drop('UDP from outside the network');
        return this.udp.fromGuest(ip.src, udp.srcPort, ip.dst, udp.dstPort, udp.data);
      }
      case IPPROTO_TCP: {
        const seg = parseTcp(ip.payload, ip.src, ip.dst);
        if (!seg) return this.drop('bad TCP');
        if (!this.inNet(ip.src) || ip.dst === 0xffffffff) return this.drop('TCP from outside the network');
        return this.tcp.fromGuest(ip.src, ip.dst, seg);
      }
      default:
        return this.drop('unknown IP protocol');
    }
  }

  private arpInput(payload: Uint8Array): void {
    const arp = parseArp(payload);
    if (!arp) return this.drop('bad ARP');
    if (!this.inNet(arp.senderIp) || arp.senderIp === this.cfg.host || arp.senderIp === this.cfg.dns) {
      if (arp.senderIp !== 0) return this.drop('ARP from outside the network');
    } else {
      this.learn(arp.senderIp, arp.senderMac);
    }
    if (arp.op === ARPOP_REQUEST && (arp.targetIp === this.cfg.host || arp.targetIp === this.cfg.dns)) {
      this.toGuest.push(arpReplyFrame(arp, arp.targetIp));
    }
    void ARPOP_REPLY; // replies only teach the table
  }

  private dhcpInput(data: Uint8Array, srcMac: Uint8Array): void {
    const req = parseDhcp(data);
    if (!req) return this.drop('bad DHCP');
    const reply = this.dhcp.handle(req);
    if (!reply) return;
    if (reply.yiaddr !== 0) this.arp.add(reply.yiaddr, srcMac);
    const udp = buildUdp(this.cfg.host, BOOTP_SERVER_PORT, 0xffffffff, BOOTP_CLIENT_PORT, reply.payload);
    const ip = buildIpv4Packet(this.cfg.host, 0xffffffff, IPPROTO_UDP, udp, this.nextIpId());
    this.toGuest.push(buildEthernet(BROADCAST_MAC, slirpMac(this.cfg.host), ETHERTYPE_IPV4, ip));
  }

  /** An IP packet to the guest, behind ARP resolution. */
  private sendIp(src: number, dst: number, protocol: number, payload: Uint8Array): void {
    if (this.closed) return;
    const packet = buildIpv4Packet(src, dst, protocol, payload, this.nextIpId());
    const mac = this.arp.lookup(dst);
    const ourMac = slirpMac(this.cfg.host);
    if (mac) {
      this.toGuest.push(buildEthernet(mac, ourMac, ETHERTYPE_IPV4, packet));
      return;
    }
    if (this.arpPending.length >= MAX_ARP_PENDING) this.arpPending.shift();
    this.arpPending.push({ ip: dst, frame: packet });
    if (this.arpPending.filter((p) => p.ip === dst).length === 1) {
      this.toGuest.push(buildEthernet(BROADCAST_MAC, ourMac, ETHERTYPE_ARP, buildArp(ARPOP_REQUEST, ourMac, this.cfg.host, new Uint8Array(6), dst)));
    }
  }

  private learn(ip: number, mac: Uint8Array): void {
    const known = this.arp.lookup(ip);
    this.arp.add(ip, mac);
    if (known || this.arpPending.length === 0) return;
    const ready = this.arpPending.filter((p) => p.ip === ip);
    if (ready.length === 0) return;
    this.arpPending = this.arpPending.filter((p) => p.ip !== ip);
    const ourMac = slirpMac(this.cfg.host);
    for (const p of ready) this.toGuest.push(buildEthernet(mac, ourMac, ETHERTYPE_IPV4, p.frame));
  }

  private requestTick(deadlineNs: number): void {
    if (this.closed || deadlineNs >= this.timerDeadlineNs) return;
    this.timerDeadlineNs = deadlineNs;
    this.timer.modNs(deadlineNs);
  }

  private tick(nowNs: number): void {
    this.timerDeadlineNs = Infinity;
    if (this.closed) return;
    const next = Math.min(this.tcp.tick(nowNs), this.udp.tick(nowNs));
    if (next !== Infinity) this.requestTick(next);
  }

  private inNet(ip: number): boolean {
    return ((ip & this.cfg.netmask) >>> 0) === this.cfg.network;
  }

  private nextIpId(): number {
    this.ipId = (this.ipId + 1) & 0xffff;
    return this.ipId;
  }

  private drop(reason: string): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + 1);
  }

  private logOnce(key: string, line: string): void {
    if (this.loggedOnce.has(key)) return;
    this.loggedOnce.add(key);
    this.log(line);
  }
}
