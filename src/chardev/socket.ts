/**
 * Socket character devices (`unix:PATH[,server][,wait=off]`, `tcp:HOST:PORT[,server][,wait=off]`):
 * a listening server or a connecting client. As QEMU's socket chardev, one peer is served at a
 * time; a server holds further clients until the current one leaves. Owners get the active
 * peer's bytes through `onData` and see `onConnect`/`onDisconnect`.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { SocketAddress } from '../cli/chardev-spec.js';
import { BufferedCharBackend } from './chardev.js';

export interface SocketPeerHandlers {
  onConnect(write: (data: Uint8Array | string) => void): void;
  onData(data: Buffer): void;
  onDisconnect(): void;
}

/** Bytes held for a slow peer before its output is dropped (a reader never grows memory unbounded). */
const MAX_PENDING_OUTPUT = 1 << 20;

export class SocketEndpoint {
  private server: Server | undefined;
  private active: Socket | undefined;
  private readonly waiting: Socket[] = [];
  private closed = false;
  private firstClient: (() => void) | undefined;

  private constructor(
    private readonly handlers: SocketPeerHandlers,
    readonly description: string,
    private readonly address: SocketAddress,
    private readonly isServer: boolean,
  ) {}

  /**
   * Listens (server) or connects (client). Resolves once listening, or — for a server with
   * `wait` — once the first client has connected, as QEMU blocks start-up for it.
   */
  static async open(address: SocketAddress, server: boolean, wait: boolean, handlers: SocketPeerHandlers): Promise<SocketEndpoint> {
    const where = address.type === 'unix' ? `unix:${address.path}` : address.type === 'inet' ? `tcp:${address.host}:${address.port}` : 'fd';
    if (address.type === 'fd') throw new ConfigError(`socket chardev ${where}: file descriptors are not supported`);
    const ep = new SocketEndpoint(handlers, where, address, server);
    if (!server) {
      const sock = address.type === 'unix' ? createConnection(address.path) : createConnection(address.port, address.host || 'localhost');
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', (e) => reject(new ConfigError(`Failed to connect to '${where}': ${e.message}`)));
      });
      ep.serve(sock);
      return ep;
    }
    const srv = createServer((sock) => ep.accept(sock));
    ep.server = srv;
    if (address.type === 'unix' && !address.abstract && existsSync(address.path) && lstatSync(address.path).isSocket()) {
      unlinkSync(address.path); // a stale socket from an earlier run, as QEMU removes it
    }
    await new Promise<void>((resolve, reject) => {
      srv.once('error', (e) => reject(new ConfigError(`Failed to bind socket ${where}: ${e.message}`)));
      if (address.type === 'unix') srv.listen(address.abstract ? `\0${address.path}` : address.path, resolve);
      else srv.listen(address.port, address.host || '0.0.0.0', resolve);
    });
    if (wait) {
      process.stderr.write(`pcvm: waiting for connection on: disconnected:${where},server=on\n`);
      await new Promise<void>((resolve) => {
        if (ep.active) resolve();
        else ep.firstClient = resolve;
      });
    }
    return ep;
  }

  /** The port a TCP server listens on (useful with port 0). */
  get port(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  /**
   * The filename QEMU's socket chardev shows in `info chardev` (char-socket.c): with a peer,
   * `qemu_chr_compute_filename` — `unix:PATH[,server=on]` (PATH is the local socket's name,
   * empty for a client) or `tcp:LOCAL:PORT[,server=on] <-> PEER:PORT` ([] around IPv6); without
   * one, `disconnected:` and the bound (server) or target (client) address.
   */
  qemuFilename(): string {
    const listen = this.isServer ? ',server=on' : '';
    const a = this.address;
    const sock = this.active;
    if (sock) {
      if (a.type === 'unix') return `unix:${this.isServer ? a.path : ''}${listen}`;
      const ip = (addr: string | undefined): string => (addr?.includes(':') ? `[${addr}]` : addr ?? '');
      return `tcp:${ip(sock.localAddress)}:${sock.localPort ?? 0}${listen} <-> ${ip(sock.remoteAddress)}:${sock.remotePort ?? 0}`;
    }
    if (a.type === 'unix') return `disconnected:unix:${a.path}${listen}`;
    if (a.type === 'fd') return `disconnected:fd:${a.fd}${listen}`;
    // A server shows the address it bound (QEMU updates its address after listen: `tcp::N`
    // shows 0.0.0.0, port 0 the port given by the host); a client the address it was given.
    const bound = this.server?.address();
    if (bound && typeof bound === 'object') return `disconnected:tcp:${bound.address}:${bound.port}${listen}`;
    return `disconnected:tcp:${a.host}:${a.port}${listen}`;
  }

  get connected(): boolean {
    return this.active !== undefined;
  }

  close(): void {
    this.closed = true;
    this.active?.destroy();
    for (const s of this.waiting.splice(0)) s.destroy();
    this.server?.close();
  }

  private accept(sock: Socket): void {
    if (this.closed) {
      sock.destroy();
      return;
    }
    if (this.active) {
      sock.pause();
      this.waiting.push(sock);
      sock.once('close', () => {
        const i = this.waiting.indexOf(sock);
        if (i >= 0) this.waiting.splice(i, 1);
      });
      return;
    }
    this.serve(sock);
  }

  private serve(sock: Socket): void {
    this.active = sock;
    this.firstClient?.();
    this.firstClient = undefined;
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => this.handlers.onData(d));
    sock.on('error', () => sock.destroy());
    sock.once('close', () => {
      if (this.active !== sock) return;
      this.active = undefined;
      this.handlers.onDisconnect();
      const next = this.waiting.shift();
      if (next && !this.closed) {
        next.resume();
        this.serve(next);
      }
    });
    this.handlers.onConnect((data) => {
      if (this.active !== sock || sock.destroyed) return;
      if (sock.writableLength > MAX_PENDING_OUTPUT) return; // slow reader: drop, never grow
      sock.write(data);
    });
  }
}

/** A serial port's back end on a socket: output is dropped while no peer is connected. */
export class SocketCharBackend extends BufferedCharBackend {
  private writer: ((data: Uint8Array) => void) | undefined;

  readonly handlers: SocketPeerHandlers = {
    onConnect: (write) => {
      this.writer = write;
    },
    onData: (d) => this.pushInput(new Uint8Array(d.buffer, d.byteOffset, d.length)),
    onDisconnect: () => {
      this.writer = undefined;
    },
  };

  write(data: Uint8Array): void {
    this.writer?.(Buffer.from(data));
  }
}
