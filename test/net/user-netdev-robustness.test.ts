import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Socket } from 'node:net';
import { UserNetdev } from '../../src/net/user/user-netdev.js';
import { userNetConfig } from '../../src/net/user/user-config.js';
import { parseHostForward } from '../../src/cli/netdev-spec.js';
import type { NetClock, NetTimer } from '../../src/net/net-clock.js';
import { NET_QUEUE_MAX_FRAMES } from '../../src/net/net-backend.js';
import { MAX_TCP_CONNECTIONS } from '../../src/net/user/tcp-nat.js';
import { MAX_UDP_FLOWS } from '../../src/net/user/udp-nat.js';
import { SEND_BUF_BYTES, RTO_INITIAL_NS, MAX_RETRIES } from '../../src/net/user/tcp-connection.js';
import { FakeGuest, GuestTcp, ip, tcpOf, SYN, RST, ACK } from './fake-guest.js';
import { waitFor } from './net-test-helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A virtual clock the test moves by hand, as the machine's VirtualClock would. */
class ManualClock implements NetClock {
  now = 0;
  private timers: { deadline: number; cb: (n: number) => void }[] = [];
  nowNs(): number {
    return this.now;
  }
  createTimer(_name: string, cb: (n: number) => void): NetTimer {
    const t = { deadline: -1, cb };
    this.timers.push(t);
    return { modNs: (d) => void (t.deadline = d), del: () => void (t.deadline = -1) };
  }
  advance(ns: number): void {
    this.now += ns;
    for (const t of this.timers) if (t.deadline >= 0 && t.deadline <= this.now) {
      t.deadline = -1;
      t.cb(this.now);
    }
  }
}

const logs: string[] = [];
function user(clock: NetClock, hostfwd: string[] = []): UserNetdev {
  const dev = new UserNetdev({ cfg: userNetConfig('net0', {}, hostfwd.map(parseHostForward), []), clock, log: (l) => logs.push(l), resolver: { address: '127.0.0.1', port: 53 } });
  cleanups.push(() => dev.close());
  return dev;
}

async function hostServer(onConn: (s: Socket) => void): Promise<number> {
  const srv = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {}); // the NAT resets some of these connections on purpose
    onConn(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(() => srv.close());
  return (srv.address() as { port: number }).port;
}

describe('-netdev user: TCP timers on the injected clock', () => {
  it('retransmits an unacknowledged segment when the virtual clock passes the RTO, not before', async () => {
    const clock = new ManualClock();
    let hostSock: Socket | undefined;
    const port = await hostServer((s) => (hostSock = s));
    const dev = user(clock);
    const g = new FakeGuest(dev);
    g.myIp = ip('10.0.2.15');
    const c = new GuestTcp(g, 41000, ip('10.0.2.2'), port);
    c.connect();
    await waitFor(() => c.established && hostSock !== undefined, 'connection');
    const firstSeq = c.rcvNxt;
    c.dropOnce.add(firstSeq); // the guest "loses" the first data segment
    hostSock!.write('payload');
    await waitFor(() => c.segments.some((s) => s.data.length > 0), 'first transmission');
    await new Promise((r) => setTimeout(r, 30));
    expect(c.receivedBytes).toBe(0);
    clock.advance(RTO_INITIAL_NS - 1);
    await new Promise((r) => setTimeout(r, 30));
    expect(c.segments.filter((s) => s.data.length > 0)).toHaveLength(1);
    clock.advance(1);
    await waitFor(() => c.receivedBytes === 7, 'retransmission');
    const data = c.segments.filter((s) => s.data.length > 0);
    expect(data).toHaveLength(2);
    expect(data[1]!.seq).toBe(firstSeq);
    expect(c.data().toString()).toBe('payload');
  });

  it('resets the guest after MAX_RETRIES timeouts of a guest that never acknowledges', async () => {
    const clock = new ManualClock();
    let hostSock: Socket | undefined;
    let hostReset = false;
    const port = await hostServer((s) => {
      hostSock = s;
      s.on('error', () => (hostReset = true));
      s.on('close', () => (hostReset = true));
    });
    const dev = user(clock);
    const g = new FakeGuest(dev);
    g.myIp = ip('10.0.2.15');
    const c = new GuestTcp(g, 41001, ip('10.0.2.2'), port);
    c.connect();
    await waitFor(() => c.established && hostSock !== undefined, 'connection');
    g.acceptFrames = false; // the guest stops taking frames altogether
    hostSock!.write('x');
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i <= MAX_RETRIES; i++) clock.advance(120e9);
    expect(dev.tcp.connectionCount).toBe(0);
    await waitFor(() => hostReset, 'host side reset');
  });
});

describe('-netdev user: bounded under floods', () => {
  it('a host peer flooding a guest that does not read holds at most SEND_BUF_BYTES plus one read, and the guest queue stays bounded', async () => {
    let stop = false;
    let written = 0;
    const port = await hostServer((s) => {
      s.on('error', () => {});
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = (): void => {
        while (!stop && s.write(chunk)) written += chunk.length;
        if (!stop) s.once('drain', pump);
      };
      pump();
    });
    const dev = user(new ManualClock());
    const g = new FakeGuest(dev);
    g.myIp = ip('10.0.2.15');
    const c = new GuestTcp(g, 41002, ip('10.0.2.2'), port);
    c.window = 0; // the guest application reads nothing: zero window
    c.connect();
    await waitFor(() => c.established, 'connection');
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    const conn = (dev.tcp as unknown as { entries: Map<string, { conn: { sendBuf: { length: number } } }> }).entries.values().next().value!.conn;
    expect(written).toBeGreaterThan(SEND_BUF_BYTES); // the host really did try to flood
    expect(conn.sendBuf.length).toBeLessThanOrEqual(SEND_BUF_BYTES + 64 * 1024);
    expect(dev.queuedToGuest).toBeLessThanOrEqual(NET_QUEUE_MAX_FRAMES);
  });

  it('a guest flooding SYNs and UDP source ports cannot exceed the connection and socket limits', async () => {
    const port = await hostServer((s) => s.on('error', () => {}));
    const dev = user(new ManualClock());
    const g = new FakeGuest(dev);
    g.myIp = ip('10.0.2.15');
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < MAX_TCP_CONNECTIONS + 200; i++) {
      g.sendTcp(ip('10.0.2.2'), { srcPort: 10000 + i, dstPort: port, seq: 1, ack: 0, flags: SYN, window: 65535, mss: 1460 });
    }
    expect(dev.tcp.connectionCount).toBe(MAX_TCP_CONNECTIONS);
    await waitFor(() => g.inbox.filter((p) => (tcpOf(p)?.flags ?? 0) & RST).length >= 200, 'RSTs for the excess SYNs');
    for (let i = 0; i < MAX_UDP_FLOWS + 300; i++) g.sendUdp(20000 + i, ip('10.0.2.2'), 9, new Uint8Array(10));
    expect(dev.udp.flowCount).toBe(MAX_UDP_FLOWS);
    // The NIC stops taking frames while the guest keeps pinging: the queue toward it stays bounded.
    g.acceptFrames = false;
    const echo = new Uint8Array([8, 0, 0xf7, 0xff, 0, 0, 0, 0]);
    for (let i = 0; i < 5 * NET_QUEUE_MAX_FRAMES; i++) g.sendIp(ip('10.0.2.2'), 1, echo);
    expect(dev.queuedToGuest).toBe(NET_QUEUE_MAX_FRAMES);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 << 20);
    void ACK;
  });
});

describe('-netdev user: hostile frames', () => {
  it('drops random, truncated and bit-flipped frames without throwing, and keeps working', async () => {
    const port = await hostServer((s) => s.end('ok'));
    const dev = user(new ManualClock());
    const g = new FakeGuest(dev);
    g.myIp = ip('10.0.2.15');
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    // Valid frames of every protocol, as seeds for truncation and bit flips.
    const seeds: Uint8Array[] = [];
    const capture = { send: (f: Uint8Array) => seeds.push(f.slice()) };
    const sender = new FakeGuest({ ...dev, send: capture.send, attach: () => {}, id: 'x', describe: () => '', receiveReady: () => {}, close: () => {} });
    sender.myIp = ip('10.0.2.15');
    sender.sendTcp(ip('10.0.2.2'), { srcPort: 1, dstPort: port, seq: 1, ack: 0, flags: SYN, window: 100, mss: 1460 });
    sender.sendUdp(5, ip('10.0.2.3'), 53, new Uint8Array(30));
    sender.sendUdp(68, 0xffffffff, 67, new Uint8Array(300), 0);
    sender.sendIp(ip('10.0.2.2'), 1, new Uint8Array([8, 0, 0xf7, 0xff, 0, 0, 0, 0]));
    sender.sendEth([255, 255, 255, 255, 255, 255], 0x0806, new Uint8Array(28));
    sender.sendEth([0x52, 0x55, 10, 0, 2, 2], 0x0800, sender.ipPacket(ip('10.0.2.15'), ip('10.0.2.2'), 17, new Uint8Array(40), { mf: true }));
    for (const f of seeds) dev.send(f);
    let frames = 0;
    for (let i = 0; i < 10000; i++) {
      const base = seeds[rnd(seeds.length)]!;
      let f: Uint8Array;
      switch (rnd(3)) {
        case 0: f = base.subarray(0, rnd(base.length + 1)); break;
        case 1: f = base.slice(); for (let k = rnd(4); k >= 0; k--) f[rnd(f.length)] ^= 1 << rnd(8); break;
        default: f = new Uint8Array(rnd(1600)); for (let k = 0; k < f.length; k++) f[k] = rnd(256); if (f.length > 13 && rnd(2)) { f[12] = 8; f[13] = rnd(2) ? 0 : 6; } break;
      }
      expect(() => dev.send(f)).not.toThrow();
      frames++;
    }
    expect(frames).toBe(10000);
    expect(logs.filter((l) => l.includes('dropped a frame'))).toEqual([]);
    expect(dev.dropped.get('IPv4 fragment')).toBeGreaterThan(0);
    expect([...dev.dropped.keys()]).toEqual(expect.arrayContaining(['runt frame', 'bad IPv4 header checksum']));
    // Still serving: a ping to the gateway is answered.
    g.inbox.length = 0;
    g.sendIp(ip('10.0.2.2'), 1, new Uint8Array([8, 0, 0xf7, 0xfe, 0, 0, 0, 1]));
    const r = await g.waitFor((p) => p.ip?.proto === 1 && p.ip.payload[0] === 0 && p.ip.payload[7] === 1, 'echo reply after the fuzz');
    expect(r.ip!.headerOk).toBe(true);
  });
});
