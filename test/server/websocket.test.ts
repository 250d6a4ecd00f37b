/**
 * The WebSocket server (`-websocket`): HMP, QMP and COM1 over WebSocket with a real `ws`
 * client, and the defences — token, Host and Origin checks, frame size, connection cap, slow
 * readers, non-loopback binds without a token.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { TeeCharBackend } from '../../src/chardev/tee.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { packageRoot } from '../../src/machine/default-firmware.js';
import { ConfigError } from '../../src/errors.js';
import { PcvmWebSocketServer, type WebSocketServerOptions } from '../../src/server/websocket-server.js';
import { freePort } from '../helpers/free-port.js';

let machine: Machine | undefined;
let server: PcvmWebSocketServer | undefined;
const sockets: WebSocket[] = [];
afterEach(() => {
  for (const ws of sockets.splice(0)) ws.terminate();
  server?.close();
  server = undefined;
  machine?.close();
  machine = undefined;
});

async function until(cond: () => boolean, what: () => string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function start(opts: Partial<WebSocketServerOptions> = {}, run = true) {
  const com1 = new MemoryCharBackend();
  const tee = new TeeCharBackend(com1);
  machine = new Machine(defaultMachineConfig({}), { serial: [tee], log: NULL_LOGGER });
  server = await PcvmWebSocketServer.open(machine, tee, { port: 0, ...opts });
  if (run) {
    machine.start();
    await until(() => com1.text().includes('pcvm> '), () => com1.text());
  }
  return { com1, tee, port: server.port };
}

interface Client {
  ws: WebSocket;
  frames: string[];
  text(): string;
  closed: Promise<number>;
}

/** Opens a client; resolves once open, or rejects with the HTTP status of a refused handshake. */
function connect(port: number, path: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, options);
    sockets.push(ws);
    const frames: string[] = [];
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.on('message', (d: Buffer) => frames.push(d.toString('latin1')));
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.on('error', (e) => reject(e));
    ws.once('open', () => resolve({ ws, frames, text: () => frames.join(''), closed }));
  });
}

async function reply(c: Client, send: string): Promise<string> {
  const n = c.frames.length;
  c.ws.send(send);
  await until(() => c.frames.length > n, () => `no reply to ${send}`);
  return c.frames[n]!;
}

describe('WebSocket server endpoints', () => {
  it('/monitor runs one HMP command line per text frame and answers with one frame', async () => {
    const { port } = await start();
    const c = await connect(port, '/monitor');
    expect(await reply(c, 'info status')).toBe('VM status: running\r\n');
    expect(await reply(c, 'stop')).toBe('');
    expect(await reply(c, 'info status')).toBe('VM status: paused\r\n');
    expect(await reply(c, 'frobnicate')).toBe("unknown command: 'frobnicate'\r\n");
  });

  it('/qmp speaks QMP: greeting, negotiation, query-status', async () => {
    const { port } = await start();
    const c = await connect(port, '/qmp');
    await until(() => c.frames.length > 0, () => 'no greeting');
    expect(JSON.parse(c.frames[0]!)).toMatchObject({ QMP: { capabilities: [] } });
    expect(JSON.parse(await reply(c, '{"execute":"query-status"}'))).toMatchObject({ error: { class: 'CommandNotFound' } });
    expect(JSON.parse(await reply(c, '{"execute":"qmp_capabilities"}'))).toEqual({ return: {} });
    expect(JSON.parse(await reply(c, '{"execute":"query-status","id":3}'))).toEqual({ return: { running: true, status: 'running' }, id: 3 });
    // Events reach the client as their own frames.
    expect(JSON.parse(await reply(c, '{"execute":"stop"}'))).toMatchObject({ event: 'STOP' });
  });

  it('/serial fans guest output out to every reader and takes input from the writer', async () => {
    const { com1, port } = await start();
    const writer = await connect(port, '/serial');
    const reader = await connect(port, '/serial');
    writer.ws.send(Buffer.from('echo hello-over-ws\r'));
    const answered = (t: string) => t.includes('hello-over-ws\r\n') && t.split('hello-over-ws').length >= 3;
    await until(() => answered(writer.text()) && answered(reader.text()), () => JSON.stringify([writer.text(), reader.text()]));
    // The normal back end still gets everything.
    expect(answered(com1.text())).toBe(true);
    // Both saw the same bytes (the prompt after the answer may reach one a moment later).
    await until(() => reader.text() === writer.text(), () => JSON.stringify([writer.text(), reader.text()]));
  });

  it('/serial ignores input from a second client until the writer leaves', async () => {
    const { com1, port } = await start();
    const writer = await connect(port, '/serial');
    const reader = await connect(port, '/serial');
    reader.ws.send('echo from-the-reader\r');
    writer.ws.send('echo from-the-writer\r');
    await until(() => com1.text().split('from-the-writer').length >= 3, () => com1.text());
    await until(() => com1.text().endsWith('pcvm> '), () => com1.text());
    expect(com1.text()).not.toContain('from-the-reader');

    writer.ws.close();
    await writer.closed;
    await until(() => server!.connectionCount === 1, () => 'writer still counted');
    reader.ws.send('echo promoted\r');
    await until(() => reader.text().split('promoted').length >= 3, () => reader.text());
  });

  it('the handshake tells a /serial client whether it is the writer', async () => {
    const { port } = await start({}, false);
    const role = () => new Promise<string | undefined>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/serial`);
      sockets.push(ws);
      ws.once('upgrade', (res) => resolve(res.headers['x-pcvm-serial-role'] as string | undefined));
      ws.once('error', reject);
    });
    expect(await role()).toBe('writer');
    expect(await role()).toBe('reader');
  });
});

describe('WebSocket server defences', () => {
  it('requires the token, by query, Authorization: Bearer or X-Pcvm-Token; a missing or wrong one is closed with 1008', async () => {
    const { port } = await start({ token: 's3cret' }, false);
    const refused = async (path: string, options: WebSocket.ClientOptions = {}) => {
      const c = await connect(port, path, options);
      const code = await c.closed;
      expect(c.frames).toEqual([]); // nothing served first (QMP would greet)
      return code;
    };
    expect(await refused('/monitor')).toBe(1008);
    expect(await refused('/monitor?token=wrong')).toBe(1008);
    expect(await refused('/qmp?token=s3cre')).toBe(1008);
    expect(await refused('/serial', { headers: { Authorization: 'Bearer nope' } })).toBe(1008);
    expect(server!.connectionCount).toBe(0);
    await connect(port, '/monitor?token=s3cret');
    await connect(port, '/monitor', { headers: { Authorization: 'Bearer s3cret' } });
    const c = await connect(port, '/monitor', { headers: { 'X-Pcvm-Token': 's3cret' } });
    expect(await reply(c, 'info status')).toBe('VM status: paused\r\n');
  });

  it('refuses a foreign Origin and a foreign Host (DNS rebinding) with 403', async () => {
    const { port } = await start({}, false);
    await expect(connect(port, '/monitor', { origin: 'http://evil.example' })).rejects.toThrow('HTTP 403');
    await expect(connect(port, '/monitor', { origin: `http://127.0.0.1:${port + 1}` })).rejects.toThrow('HTTP 403');
    await expect(connect(port, '/monitor', { origin: 'null' })).rejects.toThrow('HTTP 403');
    await expect(connect(port, '/monitor', { headers: { Host: `evil.example:${port}` } })).rejects.toThrow('HTTP 403');
    await expect(connect(port, '/monitor', { headers: { Host: `127.0.0.1:${port + 1}` } })).rejects.toThrow('HTTP 403');
    await connect(port, '/monitor', { origin: `http://127.0.0.1:${port}` });
    await connect(port, '/monitor', { origin: `http://localhost:${port}`, headers: { Host: `localhost:${port}` } });
  });

  it('refuses unknown paths with 404', async () => {
    const { port } = await start({}, false);
    await expect(connect(port, '/nope')).rejects.toThrow('HTTP 404');
  });

  it('closes a connection that sends a frame over 64 KiB (1009) and keeps serving', async () => {
    const { port } = await start({}, false);
    const c = await connect(port, '/monitor');
    c.ws.send('x'.repeat(64 * 1024 + 1));
    expect(await c.closed).toBe(1009);
    const d = await connect(port, '/monitor');
    expect(await reply(d, 'info status')).toBe('VM status: paused\r\n');
  });

  it('closes a connection that sends a 10 MB frame (1009), and serves on', async () => {
    const { port } = await start({}, false);
    const c = await connect(port, '/qmp');
    c.ws.send(Buffer.alloc(10 * 1024 * 1024, 0x7b));
    expect(await c.closed).toBe(1009);
    const d = await connect(port, '/monitor');
    expect(await reply(d, 'info status')).toBe('VM status: paused\r\n');
  });

  it('serves 100 concurrent clients: each gets its own answer', async () => {
    const { port } = await start({}, false);
    const clients = await Promise.all(Array.from({ length: 100 }, () => connect(port, '/monitor')));
    expect(server!.connectionCount).toBe(100);
    const answers = await Promise.all(clients.map((c, i) => reply(c, `p ${i} + 1`)));
    expect(answers).toEqual(clients.map((_, i) => `0x${(i + 1).toString(16)}\r\n`));
  });

  it('caps connections (503 beyond) and admits again when one leaves', async () => {
    const { port } = await start({ maxConnections: 16 }, false);
    const open: Client[] = [];
    for (let i = 0; i < 16; i++) open.push(await connect(port, i % 2 ? '/monitor' : '/serial'));
    await expect(connect(port, '/monitor')).rejects.toThrow('HTTP 503');
    open[0]!.ws.close();
    await open[0]!.closed;
    await until(() => server!.connectionCount === 15, () => 'not released');
    await connect(port, '/qmp');
  });

  it('drops a /serial reader that stops reading instead of buffering without bound', async () => {
    const { tee, port } = await start({}, false);
    const live = await connect(port, '/serial');
    const stuck = await connect(port, '/serial');
    let stuckClosed = false;
    void stuck.closed.then(() => (stuckClosed = true));
    (stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const chunk = new Uint8Array(256 * 1024).fill(0x41);
    let sent = 0;
    for (let i = 0; i < 400 && server!.connectionCount === 2; i++) {
      tee.write(chunk);
      sent += chunk.length;
      await new Promise((r) => setImmediate(r));
    }
    expect(server!.connectionCount).toBe(1);
    (stuck.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await until(() => stuckClosed, () => 'stuck reader not closed');
    await until(() => live.frames.reduce((n, f) => n + f.length, 0) === sent, () => 'live reader lost output');
  });

  it('refuses a non-loopback address without a token at startup', async () => {
    const m = new Machine(defaultMachineConfig({}), { serial: [new MemoryCharBackend()], log: NULL_LOGGER });
    machine = m;
    const err = await PcvmWebSocketServer.open(m, undefined, { host: '0.0.0.0', port: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe("-websocket: refusing to listen on non-loopback address '0.0.0.0' without a token (add ,token=SECRET)");
  });
});

describe('pcvm -websocket', () => {
  const CLI = join(packageRoot(), 'dist/src/cli/main.js');
  function run(args: string[]) {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('close', (s) => resolve(s)));
    return { child, exit, err: () => stderr };
  }
  it('refuses 0.0.0.0 without a token with one line', async () => {
    const vm = run(['-display', 'none', '-websocket', '0.0.0.0:8080']);
    expect(await vm.exit).toBe(1);
    expect(vm.err()).toBe("pcvm: -websocket: refusing to listen on non-loopback address '0.0.0.0' without a token (add ,token=SECRET)\n");
  });

  it('serves the monitor and COM1 on loopback; quit over /monitor ends pcvm with status 0', async () => {
    const port = await freePort();
    const vm = run(['-display', 'none', '-websocket', `${port}`]);
    try {
      let c: Client | undefined;
      for (let tries = 0; !c; tries++) {
        c = await connect(port, '/serial').catch((e: unknown) => {
          if (tries > 200) throw e;
          return new Promise<undefined>((r) => setTimeout(() => r(undefined), 25));
        });
      }
      c.ws.send('echo via-cli\r');
      await until(() => c!.text().split('via-cli').length >= 3, () => c!.text() + vm.err());
      const mon = await connect(port, '/monitor');
      mon.ws.send('quit');
      expect(await vm.exit).toBe(0);
    } finally {
      vm.child.kill('SIGKILL');
    }
  });
});
