/**
 * TCP through the user-mode network: the table of guest connections (slirp's `tcb` list), each
 * a TcpConnection toward the guest and a `net.Socket` toward the host.
 *
 * A guest SYN to address A, port P opens a host connection to A:P — with slirp's translation:
 * the virtual DNS address means the host's resolver, any other address of the virtual network
 * (the gateway 10.0.2.2 in particular) means the host's 127.0.0.1. Refused or failed host
 * connections answer the SYN with RST. `restrict=on` refuses every guest-initiated connection.
 * A segment for no connection gets an RST (RFC 793 §3.4 reset generation).
 *
 * Bounded: at most MAX_TCP_CONNECTIONS; beyond it SYNs are refused with RST and forwarded
 * clients are closed. Each connection bounds its own buffers (tcp-connection.ts).
 */

import { createConnection, type Socket } from 'node:net';
import type { NetClock } from '../net-clock.js';
import type { HostResolver } from './dns-relay.js';
import { ipv4ToString, isLoopback, parseIpv4 } from './ip-address.js';
import { TcpConnection, TcpState, type TcpHostEnd } from './tcp-connection.js';
import { buildTcp, seqAdd, TH_ACK, TH_FIN, TH_RST, TH_SYN, type TcpSegment, type TcpSegmentOut } from './tcp-segment.js';
import type { UserNetConfig } from './user-config.js';
import { socketFd } from './udp-nat.js';

export const MAX_TCP_CONNECTIONS = 256;
/** slirp's TCP_ISSINCR / 2: the step between initial sequence numbers. */
const ISS_STEP = (125 * 1024) / 2;

export interface TcpNatDeps {
  readonly cfg: UserNetConfig;
  readonly clock: NetClock;
  readonly resolver: HostResolver;
  readonly log: (line: string) => void;
  /** A TCP segment for the guest (IP and Ethernet are added by the caller). */
  sendToGuest(srcIp: number, dstIp: number, tcp: Uint8Array): void;
  canOutputData(): boolean;
  requestTick(deadlineNs: number): void;
}

export interface TcpConnectionInfo {
  readonly state: string;
  readonly fd: number;
  readonly srcIp: string;
  readonly srcPort: number;
  readonly dstIp: string;
  readonly dstPort: number;
  readonly recvQ: number;
  readonly sendQ: number;
}

interface Entry {
  readonly key: string;
  readonly conn: TcpConnection;
  readonly socket: Socket;
}

export class TcpNat {
  private readonly entries = new Map<string, Entry>();
  private readonly byConn = new Map<TcpConnection, Entry>();
  private nextIss = 1;

  constructor(private readonly d: TcpNatDeps) {}

  get connectionCount(): number {
    return this.entries.size;
  }

  /** A segment from the guest. */
  fromGuest(srcIp: number, dstIp: number, seg: TcpSegment): void {
    const key = `${srcIp}:${seg.srcPort}-${dstIp}:${seg.dstPort}`;
    const existing = this.entries.get(key);
    const isSyn = (seg.flags & (TH_SYN | TH_ACK | TH_RST)) === TH_SYN;
    if (existing && !(isSyn && existing.conn.state === TcpState.TimeWait)) {
      existing.conn.segment(seg);
      return;
    }
    if (existing) this.remove(existing, true); // a new connection reusing a TIME_WAIT pair
    if (seg.flags & TH_RST) return;
    if (!isSyn) return this.resetFor(srcIp, dstIp, seg);
    if (this.d.cfg.restrict || this.entries.size >= MAX_TCP_CONNECTIONS) return this.resetFor(srcIp, dstIp, seg);
    const { host, port } = this.hostAddress(dstIp, seg.dstPort);
    const conn = TcpConnection.fromGuestSyn(this.connDeps, seg, srcIp, dstIp, this.iss());
    const socket = createConnection({ host, port, allowHalfOpen: true });
    socket.pause();
    const entry: Entry = { key, conn, socket };
    this.add(entry);
    socket.once('connect', () => {
      if (this.entries.get(key) === entry) conn.hostConnected(hostEnd(socket));
    });
    this.wire(entry);
  }

  /** A client of a forwarded port (hostfwd.ts accepted it, paused). */
  acceptForwarded(socket: Socket, guestIp: number, guestPort: number): void {
    const client = parseIpv4((socket.remoteAddress ?? '').replace(/^::ffff:/, ''));
    const remoteIp = client === undefined || client === 0 || isLoopback(client) ? this.d.cfg.host : client;
    const remotePort = socket.remotePort ?? 0;
    const key = `${guestIp}:${guestPort}-${remoteIp}:${remotePort}`;
    if (this.entries.size >= MAX_TCP_CONNECTIONS || this.entries.has(key)) {
      socket.destroy();
      return;
    }
    const conn = TcpConnection.toGuest(this.connDeps, guestIp, guestPort, remoteIp, remotePort, this.iss(), hostEnd(socket));
    const entry: Entry = { key, conn, socket };
    this.add(entry);
    this.wire(entry);
  }

  /** Runs connection timers; returns the next deadline. */
  tick(nowNs: number): number {
    let next = Infinity;
    for (const e of [...this.entries.values()]) next = Math.min(next, e.conn.tick(nowNs));
    return next;
  }

  /** The guest path has room again: let connections send. */
  pump(): void {
    for (const e of this.entries.values()) {
      if (!this.d.canOutputData()) return;
      e.conn.pump();
    }
  }

  info(): TcpConnectionInfo[] {
    return [...this.entries.values()].reverse().map(({ conn, socket }) => {
      const guest = { ip: ipv4ToString(conn.guestIp), port: conn.guestPort };
      const src = conn.incoming ? { ip: (socket.localAddress ?? '').replace(/^::ffff:/, '') || '*', port: socket.localPort ?? 0 } : guest;
      const dst = conn.incoming ? guest : { ip: ipv4ToString(conn.remoteIp), port: conn.remotePort };
      return {
        state: conn.stateName, fd: socketFd(socket), srcIp: src.ip, srcPort: src.port, dstIp: dst.ip, dstPort: dst.port,
        recvQ: conn.sendBuf.length, sendQ: conn.hostPendingBytes,
      };
    });
  }

  close(): void {
    for (const e of this.entries.values()) {
      e.conn.abandon();
      e.socket.destroy();
    }
    this.entries.clear();
    this.byConn.clear();
  }

  private readonly connDeps = {
    now: () => this.d.clock.nowNs(),
    output: (conn: TcpConnection, seg: TcpSegmentOut) => this.d.sendToGuest(conn.remoteIp, conn.guestIp, buildTcp(conn.remoteIp, conn.guestIp, seg)),
    canOutputData: () => this.d.canOutputData(),
    requestTick: (deadlineNs: number) => this.d.requestTick(deadlineNs),
    finished: (conn: TcpConnection, reset: boolean) => {
      const e = this.byConn.get(conn);
      if (!e) return;
      if (reset) e.socket.resetAndDestroy();
      // else: both directions ended; the socket closes once its last bytes are written.
    },
    removed: (conn: TcpConnection) => {
      const e = this.byConn.get(conn);
      if (e) this.remove(e, false);
    },
  };

  private wire({ conn, socket, key }: Entry): void {
    const live = (): boolean => this.entries.get(key)?.conn === conn;
    socket.on('data', (data: Buffer) => live() && conn.hostData(data));
    socket.on('end', () => live() && conn.hostEnd());
    socket.on('drain', () => live() && conn.hostDrained());
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (!live()) return;
      if (conn.state === TcpState.SynRcvd && e.code !== 'ECONNREFUSED') {
        this.d.log(`netdev ${this.d.cfg.id}: tcp connect to ${ipv4ToString(conn.remoteIp)}:${conn.remotePort}: ${e.message}`);
      }
      conn.hostReset();
    });
  }

  private add(e: Entry): void {
    this.entries.set(e.key, e);
    this.byConn.set(e.conn, e);
  }

  private remove(e: Entry, destroy: boolean): void {
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
    this.byConn.delete(e.conn);
    e.conn.abandon();
    if (destroy || e.socket.connecting) e.socket.destroy();
  }

  private iss(): number {
    const iss = this.nextIss;
    this.nextIss = (this.nextIss + ISS_STEP) >>> 0;
    return iss;
  }

  /** slirp's sotranslate_out. */
  private hostAddress(dstIp: number, dstPort: number): { host: string; port: number } {
    const { cfg } = this.d;
    if (((dstIp & cfg.netmask) >>> 0) === cfg.network) {
      return dstIp === cfg.dns ? { host: this.d.resolver.address, port: dstPort } : { host: '127.0.0.1', port: dstPort };
    }
    return { host: ipv4ToString(dstIp), port: dstPort };
  }

  /** RFC 793 §3.4: the RST answering a segment that belongs to no connection. */
  private resetFor(srcIp: number, dstIp: number, seg: TcpSegment): void {
    const out: TcpSegmentOut = seg.flags & TH_ACK
      ? { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: seg.ack, ack: 0, flags: TH_RST, window: 0 }
      : {
          srcPort: seg.dstPort, dstPort: seg.srcPort, seq: 0, flags: TH_RST | TH_ACK, window: 0,
          ack: seqAdd(seg.seq, seg.data.length + (seg.flags & TH_SYN ? 1 : 0) + (seg.flags & TH_FIN ? 1 : 0)),
        };
    this.d.sendToGuest(dstIp, srcIp, buildTcp(dstIp, srcIp, out));
  }
}

function hostEnd(socket: Socket): TcpHostEnd {
  return {
    write: (data) => {
      if (!socket.destroyed && socket.writable) socket.write(Buffer.from(data)); // a copy: the NIC may reuse its frame buffer
    },
    end: () => {
      if (!socket.destroyed) socket.end();
    },
    get pendingBytes() {
      return socket.writableLength;
    },
    setReading: (on) => {
      if (on) socket.resume();
      else socket.pause();
    },
  };
}
