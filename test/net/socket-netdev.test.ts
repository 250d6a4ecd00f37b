import { describe, expect, it, afterEach } from 'vitest';
import { connect, type Socket } from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { SocketNetdev } from '../../src/net/socket/socket-netdev.js';
import { encodeStreamFrame, NET_BUFSIZE, StreamFrameDecoder } from '../../src/net/socket/stream-framing.js';
import { NET_QUEUE_MAX_FRAMES } from '../../src/net/net-backend.js';
import { openNetdev } from '../../src/net/open-netdev.js';
import { parseNetdev } from '../../src/cli/netdev-spec.js';
import { parseKeyValueList } from '../../src/cli/keyval.js';
import { RecordingNic, waitFor, freePort, testFrame, frameNumber } from './net-test-helpers.js';

const opened: { close(): void }[] = [];
afterEach(() => {
  for (const o of opened.splice(0)) o.close();
});
function track<T extends { close(): void }>(o: T): T {
  opened.push(o);
  return o;
}
const logs: string[] = [];
const log = (l: string): void => void logs.push(l);

async function listener(): Promise<{ dev: SocketNetdev; nic: RecordingNic; port: number }> {
  const dev = track(new SocketNetdev({ id: 'l', mode: 'listen', host: '127.0.0.1', port: 0, log }));
  await dev.ready;
  const nic = new RecordingNic();
  dev.attach(nic);
  return { dev, nic, port: dev.listenPort! };
}

function rawClient(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
    opened.push({ close: () => s.destroy() });
  });
}

describe('QEMU stream framing', () => {
  it('reassembles frames split at every byte boundary and ignores empty records', () => {
    const frames = [testFrame(1), testFrame(2, 1514), new Uint8Array(0), testFrame(3, 18)];
    const stream = Buffer.concat(frames.map(encodeStreamFrame));
    expect(stream.readUInt32BE(0)).toBe(60); // big-endian length prefix
    for (const chunk of [1, 3, 7, 1000]) {
      const d = new StreamFrameDecoder();
      const got: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += chunk) expect(d.push(stream.subarray(i, i + chunk), (f) => got.push(f))).toBe(true);
      expect(got.map(frameNumber)).toEqual([1, 2, 3]);
      expect(got[1]!.length).toBe(1514);
    }
  });

  it('refuses a length above NET_BUFSIZE', () => {
    const d = new StreamFrameDecoder();
    const bad = Buffer.alloc(8);
    bad.writeUInt32BE(NET_BUFSIZE + 1);
    expect(d.push(bad, () => { throw new Error('no frame expected'); })).toBe(false);
    expect(d.error).toMatch(/exceeds/);
    const ok = Buffer.alloc(4);
    ok.writeUInt32BE(NET_BUFSIZE);
    expect(new StreamFrameDecoder().push(ok, () => {})).toBe(true);
  });
});

describe('-netdev socket between two pcvm back ends', () => {
  it('carries frames both ways and describes each side as QEMU 7.2 does', async () => {
    const { dev: l, nic: lnic, port } = await listener();
    expect(l.describe()).toBe('l: index=0,type=socket,');
    const c = track(new SocketNetdev({ id: 'c', mode: 'connect', host: '127.0.0.1', port, log }));
    await c.ready;
    const cnic = new RecordingNic();
    c.attach(cnic);
    expect(c.describe()).toBe(`c: index=0,type=socket,socket: connect to 127.0.0.1:${port}`);
    await waitFor(() => l.connected, 'accept');
    expect(l.describe()).toMatch(/^l: index=0,type=socket,socket: connection from 127\.0\.0\.1:\d+$/);
    for (let i = 0; i < 100; i++) c.send(testFrame(i, 60 + i * 10));
    for (let i = 0; i < 50; i++) l.send(testFrame(1000 + i));
    await waitFor(() => lnic.frames.length === 100 && cnic.frames.length === 50, 'frames');
    expect(lnic.frames.map(frameNumber)).toEqual([...Array(100).keys()]);
    expect(lnic.frames[99]!.length).toBe(60 + 990);
    expect(cnic.frames.map(frameNumber)).toEqual([...Array(50).keys()].map((i) => 1000 + i));
  });

  it('listen side accepts a new client after a disconnect; the connect side does not reconnect', async () => {
    const { dev: l, nic, port } = await listener();
    const c1 = new SocketNetdev({ id: 'c1', mode: 'connect', host: '127.0.0.1', port, log });
    await c1.ready;
    await waitFor(() => l.connected, 'first client');
    c1.close();
    await waitFor(() => !l.connected, 'disconnect seen');
    expect(l.describe()).toBe('l: index=0,type=socket,');
    const c2 = track(new SocketNetdev({ id: 'c2', mode: 'connect', host: '127.0.0.1', port, log }));
    await c2.ready;
    await waitFor(() => l.connected, 'second client');
    c2.send(testFrame(7));
    await waitFor(() => nic.frames.length === 1, 'frame from second client');
    l.close();
    await waitFor(() => !c2.connected, 'peer gone');
    expect(c2.describe()).toBe('c2: index=0,type=socket,');
  });

  it('holds a second client until the first leaves (one peer at a time)', async () => {
    const { dev: l, nic, port } = await listener();
    const a = await rawClient(port);
    await waitFor(() => l.connected, 'a');
    const b = await rawClient(port);
    b.write(encodeStreamFrame(testFrame(2)));
    a.write(encodeStreamFrame(testFrame(1)));
    await waitFor(() => nic.frames.length === 1, 'a frame');
    await new Promise((r) => setTimeout(r, 50));
    expect(nic.frames.map(frameNumber)).toEqual([1]);
    a.destroy();
    await waitFor(() => nic.frames.length === 2, 'b frame after a left');
    expect(frameNumber(nic.frames[1]!)).toBe(2);
  });

  it('closes a connection that sends a garbage length, without throwing, and accepts the next', async () => {
    const { dev: l, nic, port } = await listener();
    const a = await rawClient(port);
    let aClosed = false;
    a.on('close', () => (aClosed = true));
    const bad = Buffer.alloc(4);
    bad.writeUInt32BE(0xdeadbeef);
    a.write(Buffer.concat([encodeStreamFrame(testFrame(1)), bad, Buffer.alloc(100, 0x41)]));
    await waitFor(() => aClosed, 'connection closed');
    expect(nic.frames.map(frameNumber)).toEqual([1]);
    expect(logs.some((x) => x.includes('exceeds'))).toBe(true);
    const b = await rawClient(port);
    b.write(encodeStreamFrame(testFrame(5)));
    await waitFor(() => nic.frames.length === 2, 'next client frame');
    expect(l.connected).toBe(true);
  });

  it('bounds the queue toward a NIC without buffers and loses nothing once it has room', async () => {
    const { dev: l, nic, port } = await listener();
    nic.ready = false;
    const a = await rawClient(port);
    const total = 5000;
    const chunks: Buffer[] = [];
    for (let i = 0; i < total; i++) chunks.push(encodeStreamFrame(testFrame(i)));
    a.write(Buffer.concat(chunks));
    await new Promise((r) => setTimeout(r, 200));
    const queued = (l as unknown as { toGuest: { length: number } }).toGuest.length;
    expect(queued).toBeGreaterThan(0);
    expect(queued).toBeLessThanOrEqual(NET_QUEUE_MAX_FRAMES);
    nic.ready = true;
    while (nic.frames.length < total) {
      l.receiveReady();
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(nic.frames.map(frameNumber)).toEqual([...Array(total).keys()]);
  });

  it('drops guest frames while no peer is connected, and reports a busy port as QEMU', async () => {
    const { dev: l, port } = await listener();
    l.send(testFrame(1));
    expect(l.droppedToPeer).toBe(1);
    const dup = new SocketNetdev({ id: 'd', mode: 'listen', host: '127.0.0.1', port, log });
    await expect(dup.ready).rejects.toThrow(/can't bind ip=127\.0\.0\.1 to socket/);
    dup.close();
  });

  it('udp= mode sends one frame per datagram', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = track(new SocketNetdev({ id: 'a', mode: 'udp', host: '127.0.0.1', port: pb, localAddr: { host: '127.0.0.1', port: pa }, log }));
    const b = track(new SocketNetdev({ id: 'b', mode: 'udp', host: '127.0.0.1', port: pa, localAddr: { host: '127.0.0.1', port: pb }, log }));
    await Promise.all([a.ready, b.ready]);
    const nb = new RecordingNic();
    b.attach(nb);
    a.send(testFrame(9));
    await waitFor(() => nb.frames.length === 1, 'datagram');
    expect(frameNumber(nb.frames[0]!)).toBe(9);
    expect(b.describe()).toBe(`b: index=0,type=socket,socket: udp=127.0.0.1:${pa}`);
  });

  it('openNetdev builds it from the parsed -netdev option', async () => {
    const spec = parseNetdev('socket', parseKeyValueList('socket,id=s0,listen=127.0.0.1:0', 'type'));
    const dev = track(openNetdev(spec, { log }));
    await dev.ready;
    expect(dev.id).toBe('s0');
    expect(() => openNetdev(parseNetdev('socket', parseKeyValueList('socket,id=m,mcast=230.0.0.1:1234', 'type')), { log })).toThrow(/mcast/);
  });
});

const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
/** QEMU starting up on a loaded 2-core host has taken more than 5 s to pass the first frames. */
const QEMU_WAIT_MS = 20_000;

describe.skipIf(!haveQemu)('-netdev socket against QEMU 7.2', () => {
  let qemu: ChildProcess | undefined;
  afterEach(() => {
    qemu?.kill('SIGKILL');
    qemu = undefined;
  });

  it("QEMU's hub relays our framed frames between two of our connections, and closes on an oversized record", async () => {
    // Two `-net socket,listen=` on QEMU's hub 0 and no guest: QEMU parses our stream framing,
    // forwards each frame to the other port and re-frames it. `-M none` runs no CPU, but the
    // VM is in the running state, which QEMU requires before it passes packets.
    const [p1, p2] = [await freePort(), await freePort()];
    qemu = spawn('qemu-system-x86_64', ['-M', 'none', '-nographic', '-nodefaults',
      '-net', `socket,listen=127.0.0.1:${p1}`, '-net', `socket,listen=127.0.0.1:${p2}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    qemu.stderr!.on('data', (d) => (stderr += d));
    const connectWhenUp = async (id: string, port: number): Promise<SocketNetdev> => {
      for (;;) {
        const d = new SocketNetdev({ id, mode: 'connect', host: '127.0.0.1', port, log: () => {} });
        await d.ready;
        if (d.connected) return track(d);
        d.close();
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const a = await connectWhenUp('a', p1);
    const b = await connectWhenUp('b', p2);
    const [na, nb] = [new RecordingNic(), new RecordingNic()];
    a.attach(na);
    b.attach(nb);
    for (let i = 0; i < 20; i++) a.send(testFrame(i, 60 + 70 * i));
    b.send(testFrame(500, 1514));
    await waitFor(() => nb.frames.length === 20 && na.frames.length === 1, 'frames through the QEMU hub', QEMU_WAIT_MS);
    expect(nb.frames.map(frameNumber)).toEqual([...Array(20).keys()]);
    expect(nb.frames.map((f) => f.length)).toEqual([...Array(20).keys()].map((i) => 60 + 70 * i));
    expect(frameNumber(na.frames[0]!)).toBe(500);

    // A record longer than QEMU's NET_BUFSIZE: QEMU terminates that connection once the bytes
    // overflow its buffer ("serious error: oversized packet received").
    a.close(); // QEMU serves one client per port

    const c = await connectWhenUp('c', p1);
    const sockC = (c as unknown as { active: Socket }).active;
    const bad = Buffer.alloc(4);
    bad.writeUInt32BE(NET_BUFSIZE + 1000);
    sockC.write(Buffer.concat([bad, Buffer.alloc(NET_BUFSIZE + 1000, 0x55)]));
    await waitFor(() => !c.connected, 'QEMU closes the connection', QEMU_WAIT_MS);
    expect(stderr).toMatch(/oversized packet/);
    // ... and its listen side accepts a new client, whose frames flow again.
    const d = await connectWhenUp('d', p1);
    d.send(testFrame(77));
    await waitFor(() => nb.frames.length === 21, 'frame after reconnect', QEMU_WAIT_MS);
    expect(frameNumber(nb.frames[20]!)).toBe(77);
  }, 3 * QEMU_WAIT_MS + 30_000);
});
