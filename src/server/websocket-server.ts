/**
 * The WebSocket server (`-websocket [HOST:]PORT[,token=SECRET]`), the browser's way in:
 *
 *   /monitor  HMP: each text frame is one command line (several lines run in turn); the reply
 *             is one text frame holding the output lines, each CRLF-terminated ('' when none).
 *   /qmp      QMP (QEMU docs/interop/qmp-spec.rst) over text frames: one JSON object per
 *             outgoing frame; incoming frames are fed to the session as a stream.
 *   /         the web console page (web-console.ts): COM1 and a monitor prompt in a browser.
 *   /serial   COM1's raw bytes. Guest output goes to every /serial client as binary frames.
 *             Input (binary or text frames, taken as bytes) is accepted from one writer at a
 *             time: the oldest connected client. The others are read-only and their input is
 *             dropped; when the writer leaves, the oldest remaining client becomes the writer.
 *             The handshake response says which with `X-Pcvm-Serial-Role: writer|reader`.
 *
 * Limits: binds 127.0.0.1 unless told otherwise and refuses a non-loopback address without a
 * token (see websocket-access.ts for the token, Host and Origin checks; a wrong token is closed
 * with 1008, a foreign Host or Origin refused with 403); frames above
 * MAX_PAYLOAD_BYTES close the connection (1009); at most MAX_CONNECTIONS clients (503 beyond);
 * a client that does not read — its `bufferedAmount` above MAX_BUFFERED_BYTES — is
 * disconnected rather than buffered for without bound (a console with silent gaps would mislead).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { ConfigError } from '../errors.js';
import type { Machine } from '../machine/machine.js';
import type { TeeCharBackend } from '../chardev/tee.js';
import { runHmpCommand } from '../monitor/hmp.js';
import { QmpSession } from '../monitor/qmp.js';
import { checkAccess, isLoopbackHost, type AccessPolicy } from './websocket-access.js';
import { WebConsoleFiles } from './web-console.js';

export const DEFAULT_WEBSOCKET_HOST = '127.0.0.1';
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Enough for a room of browsers and tools at once; each idle client costs a socket and a few KiB. */
export const MAX_CONNECTIONS = 128;
export const MAX_BUFFERED_BYTES = 1 << 20;

export interface WebSocketServerOptions {
  /** Absent: 127.0.0.1. */
  readonly host?: string;
  /** 0 picks a free port (see `port` after opening). */
  readonly port: number;
  readonly token?: string;
  readonly maxConnections?: number;
  readonly maxBufferedBytes?: number;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable',
};

export class PcvmWebSocketServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD_BYTES, perMessageDeflate: false });
  private readonly clients = new Set<WebSocket>();
  /** /serial clients, oldest first; the first is the writer. */
  private readonly serialClients: WebSocket[] = [];
  private readonly removeTap: (() => void) | undefined;
  private readonly maxConnections: number;
  private readonly maxBufferedBytes: number;
  private policy: AccessPolicy;
  private readonly page = new WebConsoleFiles();
  private closed = false;

  private constructor(
    private readonly machine: Machine,
    private readonly console: TeeCharBackend | undefined,
    private readonly http: Server,
    opts: WebSocketServerOptions,
    host: string,
  ) {
    this.maxConnections = opts.maxConnections ?? MAX_CONNECTIONS;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
    this.policy = { boundHost: host, port: opts.port, token: opts.token };
    this.removeTap = console?.addTap((data) => this.serialOutput(data));
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    http.on('request', (req: IncomingMessage, res: ServerResponse) => this.request(req, res));
    http.on('clientError', (_e, socket: Duplex) => socket.destroy());
  }

  /**
   * Listens on HOST:PORT. Throws ConfigError for a non-loopback address without a token or
   * when the address cannot be bound. `console` is COM1's tee (undefined: /serial is refused).
   */
  static async open(machine: Machine, console: TeeCharBackend | undefined, opts: WebSocketServerOptions): Promise<PcvmWebSocketServer> {
    const host = opts.host ?? DEFAULT_WEBSOCKET_HOST;
    if (!isLoopbackHost(host) && opts.token === undefined) {
      throw new ConfigError(`-websocket: refusing to listen on non-loopback address '${host}' without a token (add ,token=SECRET)`);
    }
    const http = createServer();
    await new Promise<void>((resolve, reject) => {
      http.once('error', (e) => reject(new ConfigError(`-websocket: cannot listen on ${host}:${opts.port}: ${e.message}`)));
      http.listen(opts.port, host, resolve);
    });
    const addr = http.address();
    const port = addr && typeof addr === 'object' ? addr.port : opts.port;
    return new PcvmWebSocketServer(machine, console, http, { ...opts, port }, host);
  }

  get port(): number {
    return this.policy.port;
  }

  get connectionCount(): number {
    return this.clients.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.removeTap?.();
    for (const ws of this.clients) ws.terminate();
    this.wss.close();
    this.http.close();
    this.http.closeAllConnections();
  }

  /** Plain HTTP: the web console's files; the WebSocket endpoints answer 426. */
  private request(req: IncomingMessage, res: ServerResponse): void {
    const plain = (status: number, text: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain', Connection: 'close', ...headers });
      res.end(`${text}\n`);
    };
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return plain(400, 'bad request target');
    }
    // The page is public (no token) but not to other sites: Host and Origin are checked.
    const refusal = checkAccess(req, url, { ...this.policy, token: undefined });
    if (refusal) return plain(refusal.status, refusal.reason);
    if (this.page.has(url.pathname)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return plain(405, 'method not allowed', { Allow: 'GET, HEAD' });
      return this.page.serve(url.pathname, req.method, res);
    }
    if (url.pathname === '/monitor' || url.pathname === '/qmp' || url.pathname === '/serial') {
      return plain(426, 'WebSocket endpoints: /monitor /qmp /serial', { Upgrade: 'websocket' });
    }
    plain(404, 'not found');
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const refuse = (status: number, reason: string) => {
      const body = `${reason}\n`;
      socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    if (this.closed) return void socket.destroy();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return refuse(400, 'bad request target');
    }
    const refusal = checkAccess(req, url, this.policy);
    // A foreign Host or Origin is refused before the handshake (DNS rebinding, cross-site pages).
    if (refusal && refusal.status !== 401) return refuse(refusal.status, refusal.reason);
    const path = url.pathname;
    if (path !== '/monitor' && path !== '/qmp' && path !== '/serial') return refuse(404, 'no such endpoint');
    if (path === '/serial' && !this.console) return refuse(404, 'no serial port to serve');
    if (refusal) {
      // A missing or wrong token: the handshake completes and the connection is closed at once
      // with 1008 (policy violation, RFC 6455 7.4.1), which a browser's onclose can show; a
      // refused handshake reaches page scripts only as an unexplained error. The connection
      // never counts against the cap and nothing is served on it.
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', () => {});
        ws.close(1008, 'invalid token');
      });
      return;
    }
    if (this.clients.size >= this.maxConnections) return refuse(503, 'too many connections');
    const role = path === '/serial' ? (this.serialClients.length === 0 ? 'writer' : 'reader') : undefined;
    const addRole = (headers: string[]) => {
      if (role) headers.push(`X-Pcvm-Serial-Role: ${role}`);
    };
    this.wss.once('headers', addRole);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.wss.off('headers', addRole);
      if (this.closed) return void ws.terminate();
      this.clients.add(ws);
      // ws closes the connection itself after a protocol error (e.g. 1009 for an oversized frame).
      ws.on('error', () => {});
      ws.once('close', () => this.clients.delete(ws));
      if (path === '/monitor') this.serveMonitor(ws);
      else if (path === '/qmp') this.serveQmp(ws);
      else this.serveSerial(ws);
    });
    // handleUpgrade may refuse the handshake (bad version/key) without calling back.
    this.wss.off('headers', addRole);
  }

  /** Sends unless the client is not reading; past the bound it is disconnected. */
  private send(ws: WebSocket, data: string | Buffer): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > this.maxBufferedBytes) {
      ws.terminate();
      return;
    }
    ws.send(data);
  }

  private serveMonitor(ws: WebSocket): void {
    ws.on('message', (data: RawData) => {
      const text = rawToBuffer(data).toString('utf8');
      const out: string[] = [];
      for (const line of text.split(/\r?\n/)) {
        if (line.trim() === '') continue;
        const reply = runHmpCommand(this.machine, line);
        if (reply !== '') out.push(...reply.split('\n').map((l) => `${l}\r\n`));
      }
      this.send(ws, out.join(''));
    });
  }

  private serveQmp(ws: WebSocket): void {
    const session = new QmpSession(this.machine, (text) => this.send(ws, text.replace(/\r\n$/, '')));
    ws.on('message', (data: RawData) => session.receive(rawToBuffer(data).toString('utf8')));
    ws.once('close', () => session.close());
    session.start();
  }

  private serveSerial(ws: WebSocket): void {
    this.serialClients.push(ws);
    ws.on('message', (data: RawData) => {
      if (this.serialClients[0] !== ws) return; // read-only until the writer leaves
      const b = rawToBuffer(data);
      this.console!.pushInput(new Uint8Array(b.buffer, b.byteOffset, b.length));
    });
    ws.once('close', () => {
      const i = this.serialClients.indexOf(ws);
      if (i >= 0) this.serialClients.splice(i, 1);
    });
  }

  private serialOutput(data: Uint8Array): void {
    if (this.serialClients.length === 0) return;
    const copy = Buffer.from(data); // the caller may reuse its buffer; ws keeps ours until sent
    for (const ws of [...this.serialClients]) this.send(ws, copy);
  }
}

function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
