/**
 * `-netdev socket`: Ethernet frames over a TCP stream (`listen=`, `connect=`) or UDP datagrams
 * (`udp=...,localaddr=...`), as QEMU's net/socket.c.
 *
 * Stream mode frames each packet with a 4-byte big-endian length (stream-framing.ts). One peer
 * is served at a time, as QEMU: the listen side takes the next waiting client after the current
 * one disconnects (QEMU re-arms its accept handler then); the connect side connects once and
 * stays disconnected when the peer leaves (QEMU 7.2 does not reconnect). A length above
 * NET_BUFSIZE ends the connection, as QEMU's "bad state" path does.
 *
 * Bounded both ways: frames for the guest wait in a GuestFrameQueue and the socket is paused
 * while it is full; frames from the guest are dropped while the socket has more than
 * MAX_PENDING_OUTPUT_BYTES unsent.
 *
 * Not implemented: `mcast=` (refused with a ConfigError by open-netdev.ts), `fd=`.
 */

import { createConnection, createServer, isIPv6, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { ConfigError } from '../../errors.js';
import type { NetBackend, NetPeer } from '../net-backend.js';
import { NET_QUEUE_MAX_FRAMES } from '../net-backend.js';
import { GuestFrameQueue } from '../guest-queue.js';
import { encodeStreamFrame, StreamFrameDecoder } from './stream-framing.js';

/** Bytes written to the peer but not yet sent before guest frames are dropped (~1024 full frames). */
export const MAX_PENDING_OUTPUT_BYTES = NET_QUEUE_MAX_FRAMES * 1518;
/** Clients held while another is served (QEMU leaves them in the kernel's listen backlog). */
const MAX_WAITING_CLIENTS = 8;

export interface SocketNetdevOptions {
  readonly id: string;
  readonly mode: 'listen' | 'connect' | 'udp';
  readonly host: string;
  readonly port: number;
  /** `udp=` mode: the local `host:port` to bind. */
  readonly localAddr?: { host: string; port: number };
  readonly log: (line: string) => void;
}

export class SocketNetdev implements NetBackend {
  readonly id: string;
  /** Settles when the back end is usable: listening, connected (or failed to, logged), bound. Rejects with a ConfigError when QEMU would refuse to start. */
  readonly ready: Promise<void>;
  private readonly toGuest: GuestFrameQueue;
  private server: Server | undefined;
  private active: Socket | undefined;
  private readonly waiting: Socket[] = [];
  private udp: UdpSocket | undefined;
  private readonly decoder = new StreamFrameDecoder();
  /** The `info network` detail: "" when not connected, as QEMU 7.2 prints it. */
  private info = '';
  private closed = false;
  /** Guest frames dropped because the peer was absent or slow. */
  droppedToPeer = 0;

  constructor(private readonly opts: SocketNetdevOptions) {
    this.id = opts.id;
    this.toGuest = new GuestFrameQueue(NET_QUEUE_MAX_FRAMES, () => this.active?.isPaused() && this.active.resume());
    this.ready = opts.mode === 'listen' ? this.listen() : opts.mode === 'connect' ? this.connect() : this.bindUdp();
  }

  describe(): string {
    return `${this.id}: index=0,type=socket,${this.info}`;
  }

  /** The TCP port listened on (for `listen=:0`). */
  get listenPort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  /** The UDP port bound in `udp=` mode. */
  get udpPort(): number | undefined {
    return this.udp?.address().port;
  }

  get connected(): boolean {
    return this.active !== undefined;
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.udp) {
      this.udp.send(frame, this.opts.port, this.opts.host);
      return;
    }
    const sock = this.active;
    if (!sock || sock.writableLength > MAX_PENDING_OUTPUT_BYTES) {
      this.droppedToPeer++;
      return;
    }
    sock.write(encodeStreamFrame(frame));
  }

  attach(peer: NetPeer): void {
    this.toGuest.attach(peer);
  }

  receiveReady(): void {
    this.toGuest.flush();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.active?.destroy();
    this.active = undefined;
    for (const s of this.waiting.splice(0)) s.destroy();
    this.server?.close();
    this.udp?.close();
    this.toGuest.clear();
  }

  private listen(): Promise<void> {
    const srv = createServer((sock) => this.accept(sock));
    this.server = srv;
    return new Promise((resolve, reject) => {
      srv.once('error', (e: NodeJS.ErrnoException) => {
        reject(new ConfigError(`-netdev socket,id=${this.id},listen=${this.opts.host}:${this.opts.port}: can't bind ip=${this.opts.host || '0.0.0.0'} to socket: ${e.message}`));
      });
      srv.listen(this.opts.port, this.opts.host || '0.0.0.0', () => {
        srv.on('error', (e) => this.opts.log(`netdev ${this.id}: ${e.message}`));
        resolve();
      });
    });
  }

  private accept(sock: Socket): void {
    if (this.closed) {
      sock.destroy();
      return;
    }
    if (this.active) {
      if (this.waiting.length >= MAX_WAITING_CLIENTS) sock.destroy();
      else {
        sock.pause();
        sock.on('error', () => {});
        sock.on('close', () => {
          const i = this.waiting.indexOf(sock);
          if (i >= 0) this.waiting.splice(i, 1);
        });
        this.waiting.push(sock);
      }
      return;
    }
    const addr = sock.remoteAddress ?? '';
    this.serve(sock, `socket: connection from ${addr.replace(/^::ffff:/, '')}:${sock.remotePort ?? 0}`);
  }

  private connect(): Promise<void> {
    return new Promise((resolve) => {
      const sock = createConnection({ port: this.opts.port, host: this.opts.host || 'localhost' });
      const onError = (e: Error): void => {
        // QEMU 7.2 connects without blocking and stays up, unconnected, when it fails.
        this.opts.log(`netdev ${this.id}: connect to ${this.opts.host}:${this.opts.port} failed: ${e.message}`);
        resolve();
      };
      sock.once('error', onError);
      sock.once('connect', () => {
        sock.off('error', onError);
        this.serve(sock, `socket: connect to ${this.opts.host}:${this.opts.port}`);
        resolve();
      });
    });
  }

  private bindUdp(): Promise<void> {
    const local = this.opts.localAddr;
    if (!local) return Promise.reject(new ConfigError('localaddr= is mandatory with udp='));
    const sock = createSocket(isIPv6(local.host) ? 'udp6' : 'udp4');
    this.udp = sock;
    this.info = `socket: udp=${this.opts.host}:${this.opts.port}`;
    sock.on('message', (msg) => {
      if (msg.length > 0) this.toGuest.push(new Uint8Array(msg));
    });
    return new Promise((resolve, reject) => {
      sock.once('error', (e) => reject(new ConfigError(`-netdev socket,id=${this.id}: can't bind ip=${local.host} to socket: ${e.message}`)));
      sock.bind(local.port, local.host || '0.0.0.0', () => {
        sock.on('error', (e) => this.opts.log(`netdev ${this.id}: ${e.message}`));
        resolve();
      });
    });
  }

  private serve(sock: Socket, info: string): void {
    this.active = sock;
    this.info = info;
    this.decoder.reset();
    sock.setNoDelay(true);
    sock.on('data', (data: Buffer) => {
      if (this.active !== sock) return;
      const ok = this.decoder.push(data, (frame) => this.toGuest.push(frame));
      if (!ok) {
        this.opts.log(`netdev ${this.id}: ${this.decoder.error}; closing the connection`);
        sock.destroy();
        this.disconnected(sock);
        return;
      }
      if (!this.toGuest.hasRoom) sock.pause();
    });
    sock.on('error', () => {}); // 'close' follows
    sock.on('close', () => this.disconnected(sock));
    sock.resume();
  }

  private disconnected(sock: Socket): void {
    if (this.active !== sock) return;
    this.active = undefined;
    this.info = '';
    if (this.closed) return;
    const next = this.waiting.shift();
    if (next) this.accept(next);
  }
}
