import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import { UserNetdev } from '../../src/net/user/user-netdev.js';
import { userNetConfig } from '../../src/net/user/user-config.js';
import { parseHostForward, parseNetdev } from '../../src/cli/netdev-spec.js';
import { parseKeyValueList } from '../../src/cli/keyval.js';
import { hostNetClock } from '../../src/net/net-clock.js';
import { infoUsernet, openNetdev } from '../../src/net/open-netdev.js';
import { FakeGuest, GuestTcp, GUEST_MAC, ip, ipStr, tcpOf, udpOf, ACK, RST, SYN } from './fake-guest.js';
import { freePort, waitFor } from './net-test-helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
const logs: string[] = [];

function user(props: Record<string, string> = {}, hostfwd: string[] = [], resolverPort = 53): UserNetdev {
  const cfg = userNetConfig('net0', props, hostfwd.map(parseHostForward), []);
  const dev = new UserNetdev({ cfg, clock: hostNetClock(), log: (l) => logs.push(l), resolver: { address: '127.0.0.1', port: resolverPort } });
  cleanups.push(() => dev.close());
  return dev;
}

/** A guest that already has 10.0.2.15 and has introduced its MAC. */
function configuredGuest(dev: UserNetdev): FakeGuest {
  const g = new FakeGuest(dev);
  g.myIp = ip('10.0.2.15');
  return g;
}

function dhcpPacket(type: number, xid: number, requested?: number): Uint8Array {
  const b = new Uint8Array(300);
  const v = new DataView(b.buffer);
  b[0] = 1; b[1] = 1; b[2] = 6;
  v.setUint32(4, xid);
  v.setUint16(10, 0x8000);
  b.set(GUEST_MAC, 28);
  v.setUint32(236, 0x63825363);
  let p = 240;
  b.set([53, 1, type], p); p += 3;
  if (requested !== undefined) { b.set([50, 4], p); v.setUint32(p + 2, requested); p += 6; }
  b.set([55, 3, 1, 3, 6], p); p += 5;
  b[p] = 255;
  return b;
}

function dhcpOptions(data: Uint8Array): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (let i = 240; i < data.length && data[i] !== 255; ) {
    if (data[i] === 0) { i++; continue; }
    m.set(data[i]!, data.subarray(i + 2, i + 2 + data[i + 1]!));
    i += 2 + data[i + 1]!;
  }
  return m;
}
const u32 = (b: Uint8Array | undefined): number => new DataView(b!.buffer, b!.byteOffset).getUint32(0);

describe('-netdev user: the virtual hosts', () => {
  it('DHCP DISCOVER→OFFER→REQUEST→ACK gives 10.0.2.15 with router .2 and DNS .3', async () => {
    const dev = user();
    const g = new FakeGuest(dev);
    g.sendUdp(68, 0xffffffff, 67, dhcpPacket(1, 0xabcd1234), 0);
    const offerPkt = await g.waitFor((p) => udpOf(p)?.dstPort === 68, 'OFFER');
    const offer = udpOf(offerPkt)!;
    expect(offer.checksumOk).toBe(true);
    expect(offerPkt.ip!.headerOk).toBe(true);
    expect(offer.srcPort).toBe(67);
    expect(ipStr(offerPkt.ip!.src)).toBe('10.0.2.2');
    expect(offer.data[0]).toBe(2); // BOOTREPLY
    expect(new DataView(offer.data.buffer, offer.data.byteOffset).getUint32(4)).toBe(0xabcd1234);
    expect(ipStr(u32(offer.data.subarray(16)))).toBe('10.0.2.15');
    expect([...offer.data.subarray(28, 34)]).toEqual(GUEST_MAC);
    let o = dhcpOptions(offer.data);
    expect(o.get(53)![0]).toBe(2);
    expect(ipStr(u32(o.get(54)))).toBe('10.0.2.2');
    expect(ipStr(u32(o.get(1)))).toBe('255.255.255.0');
    expect(ipStr(u32(o.get(3)))).toBe('10.0.2.2');
    expect(ipStr(u32(o.get(6)))).toBe('10.0.2.3');
    expect(u32(o.get(51))).toBe(86400);

    g.sendUdp(68, 0xffffffff, 67, dhcpPacket(3, 0xabcd1235, ip('10.0.2.15')), 0);
    const ack = udpOf(await g.waitFor((p) => udpOf(p)?.dstPort === 68, 'ACK'))!;
    o = dhcpOptions(ack.data);
    expect(o.get(53)![0]).toBe(5);
    expect(ipStr(u32(ack.data.subarray(16)))).toBe('10.0.2.15');
    expect(ipStr(u32(o.get(3)))).toBe('10.0.2.2');
    expect(ipStr(u32(o.get(6)))).toBe('10.0.2.3');

    // Another client's address is refused with a NAK.
    g.sendUdp(68, 0xffffffff, 67, dhcpPacket(3, 7, ip('10.0.2.200')), 0);
    const nak = udpOf(await g.waitFor((p) => udpOf(p)?.dstPort === 68, 'NAK'))!;
    expect(dhcpOptions(nak.data).get(53)![0]).toBe(6);
  });

  it('answers ARP for .2 and .3 with 52:55 MACs, and not for other addresses', async () => {
    const dev = user();
    const g = configuredGuest(dev);
    const arpReq = (target: string): Uint8Array => {
      const a = new Uint8Array(28);
      const v = new DataView(a.buffer);
      v.setUint16(0, 1); v.setUint16(2, 0x0800); a[4] = 6; a[5] = 4; v.setUint16(6, 1);
      a.set(GUEST_MAC, 8); v.setUint32(14, ip('10.0.2.15')); v.setUint32(24, ip(target));
      return a;
    };
    for (const [t, last] of [['10.0.2.2', 2], ['10.0.2.3', 3]] as const) {
      g.sendEth([255, 255, 255, 255, 255, 255], 0x0806, arpReq(t));
      const r = await g.waitFor((p) => p.eth.type === 0x0806, `ARP reply for ${t}`);
      const a = r.raw.subarray(14);
      expect(new DataView(a.buffer, a.byteOffset).getUint16(6)).toBe(2);
      expect([...a.subarray(8, 14)]).toEqual([0x52, 0x55, 10, 0, 2, last]);
      expect(ipStr(new DataView(a.buffer, a.byteOffset).getUint32(14))).toBe(t);
      expect([...a.subarray(18, 24)]).toEqual(GUEST_MAC);
      expect(r.eth.dst).toEqual(GUEST_MAC);
      expect(r.raw.length).toBe(60);
    }
    g.sendEth([255, 255, 255, 255, 255, 255], 0x0806, arpReq('10.0.2.77'));
    await new Promise((r) => setTimeout(r, 30));
    expect(g.inbox.filter((p) => p.eth.type === 0x0806)).toHaveLength(0);
  });

  it('answers a ping to the gateway', async () => {
    const dev = user();
    const g = configuredGuest(dev);
    const echo = new Uint8Array(8 + 56);
    echo[0] = 8;
    new DataView(echo.buffer).setUint32(4, 0x42000007);
    for (let i = 8; i < echo.length; i++) echo[i] = i;
    let s = 0;
    for (let i = 0; i < echo.length; i += 2) s += echo[i]! * 256 + echo[i + 1]!;
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    new DataView(echo.buffer).setUint16(2, 0xffff - s);
    g.sendIp(ip('10.0.2.2'), 1, echo);
    const r = await g.waitFor((p) => p.ip?.proto === 1, 'echo reply');
    expect(ipStr(r.ip!.src)).toBe('10.0.2.2');
    expect(r.ip!.payload[0]).toBe(0);
    expect([...r.ip!.payload.subarray(4)]).toEqual([...echo.subarray(4)]);
    expect(r.eth.dst).toEqual(GUEST_MAC);
    expect(r.ip!.headerOk).toBe(true);
  });

  it("describes itself as QEMU's info network does, and openNetdev builds it", async () => {
    expect(user().describe()).toBe('net0: index=0,type=user,net=10.0.2.0,restrict=off');
    expect(user({ net: '192.168.7.0/24', restrict: 'on' }).describe()).toBe('net0: index=0,type=user,net=192.168.7.0,restrict=on');
    const spec = parseNetdev('user', parseKeyValueList('user,id=u1,net=10.9.0.0/16', 'type'));
    const dev = openNetdev(spec, { log: () => {} });
    cleanups.push(() => dev.close());
    await dev.ready;
    expect(dev.describe()).toBe('u1: index=0,type=user,net=10.9.0.0,restrict=off');
    expect(() => openNetdev(parseNetdev('user', parseKeyValueList('user,id=u2,tftp=/tmp', 'type')), { log: () => {} })).toThrow(/tftp= is not supported/);
  });
});

describe('-netdev user: TCP NAT', () => {
  it('fetches 1 MiB over HTTP from 127.0.0.1 through 10.0.2.2 with the right checksum', async () => {
    const body = Buffer.alloc(1 << 20);
    for (let i = 0; i < body.length; i++) body[i] = (i * 2654435761) >>> 24;
    const http = createHttpServer((req, res) => {
      res.writeHead(200, { 'Content-Length': body.length, Connection: 'close' });
      res.end(body);
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    cleanups.push(() => http.close());
    const port = (http.address() as { port: number }).port;
    const dev = user();
    const g = configuredGuest(dev);
    const c = new GuestTcp(g, 40000, ip('10.0.2.2'), port);
    c.connect();
    await waitFor(() => c.established, 'SYN-ACK');
    const synAck = c.segments.find((s) => s.flags & SYN)!;
    expect(synAck.mss).toBe(1460);
    c.write(Buffer.from(`GET /blob HTTP/1.1\r\nHost: 10.0.2.2\r\nConnection: close\r\n\r\n`));
    await waitFor(() => c.finReceived, 'the whole response and FIN', 20000);
    const text = c.data();
    const split = text.indexOf('\r\n\r\n');
    expect(text.subarray(0, split).toString()).toMatch(/^HTTP\/1\.1 200 OK/);
    const got = text.subarray(split + 4);
    expect(got.length).toBe(body.length);
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    expect(c.segments.every((s) => s.checksumOk && s.data.length <= 1460)).toBe(true);
    c.close();
    await waitFor(() => dev.tcp.connectionCount === 0 || dev.infoUsernet().includes('TIME_WAIT'), 'close');
  });

  it('uploads 256 KiB to a host echo server and gets it back', async () => {
    const srv = createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => srv.close());
    const dev = user();
    const g = configuredGuest(dev);
    const c = new GuestTcp(g, 40001, ip('10.0.2.2'), (srv.address() as { port: number }).port);
    c.connect();
    await waitFor(() => c.established, 'connect');
    const data = Buffer.alloc(256 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    // The guest sends within the window the NAT advertises.
    let sent = 0;
    let lastAck = 0;
    const acked = (): number => {
      const s = c.segments.filter((x) => x.flags & ACK).at(-1);
      return s ? s.ack - 1001 : 0;
    };
    while (sent < data.length) {
      lastAck = acked();
      const room = lastAck + c.peerWindow - sent;
      if (room >= 1460 || (room > 0 && data.length - sent <= room)) {
        const n = Math.min(1460, room, data.length - sent);
        c.write(data.subarray(sent, sent + n));
        sent += n;
      } else {
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    c.close();
    await waitFor(() => c.finReceived, 'echo and FIN', 20000);
    expect(c.data().equals(data)).toBe(true);
  });

  it('answers a SYN to a closed host port with RST', async () => {
    const port = await freePort();
    const dev = user();
    const g = configuredGuest(dev);
    const c = new GuestTcp(g, 40002, ip('10.0.2.2'), port);
    c.connect();
    await waitFor(() => c.rstReceived, 'RST');
    const rst = c.segments.find((s) => s.flags & RST)!;
    expect(rst.ack).toBe(1001);
    expect(dev.tcp.connectionCount).toBe(0);
  });

  it('restrict=on refuses guest connections and DNS, but the gateway still answers pings and DHCP', async () => {
    const srv = createServer((s) => s.end('x'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => srv.close());
    const dev = user({ restrict: 'on' });
    const g = configuredGuest(dev);
    const c = new GuestTcp(g, 40003, ip('10.0.2.2'), (srv.address() as { port: number }).port);
    c.connect();
    await waitFor(() => c.rstReceived, 'RST');
    g.sendUdp(5353, ip('10.0.2.3'), 53, new Uint8Array(20));
    expect(dev.udp.flowCount).toBe(0);
    g.sendUdp(68, 0xffffffff, 67, dhcpPacket(1, 1), 0);
    await g.waitFor((p) => udpOf(p)?.dstPort === 68, 'OFFER');
  });

  it('hostfwd=tcp reaches a guest listener, both ways, and info usernet lists it as QEMU does', async () => {
    const hostPort = await freePort();
    const dev = user({}, [`tcp:127.0.0.1:${hostPort}-:22`]);
    await dev.ready;
    const g = configuredGuest(dev);
    // The guest introduced itself (DHCP) so the NAT knows its MAC.
    g.sendUdp(68, 0xffffffff, 67, dhcpPacket(1, 1), 0);
    await g.waitFor((p) => udpOf(p)?.dstPort === 68, 'OFFER');
    expect(dev.infoUsernet()).toMatch(new RegExp(
      `^Hub -1 \\(net0\\):\\n  Protocol\\[State\\]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\\n` +
      `  TCP\\[HOST_FORWARD\\] [ 0-9-]{3}       127\\.0\\.0\\.1 ${String(hostPort).padStart(5)}       10\\.0\\.2\\.15    22     0     0\\n$`));
    const client = connect(hostPort, '127.0.0.1');
    cleanups.push(() => client.destroy());
    let fromGuest = '';
    client.on('data', (d) => (fromGuest += d));
    const syn = tcpOf(await g.waitFor((p) => (tcpOf(p)?.flags ?? 0) === SYN, 'SYN to the guest'))!;
    expect(syn.dstPort).toBe(22);
    const guestSide = new GuestTcp(g, 22, ip('10.0.2.2'), syn.srcPort, 5000);
    guestSide.handle(syn);
    await waitFor(() => guestSide.established, 'handshake');
    guestSide.write(Buffer.from('SSH-2.0-fake\r\n'));
    client.write('hello guest');
    await waitFor(() => fromGuest === 'SSH-2.0-fake\r\n' && guestSide.data().toString() === 'hello guest', 'data both ways');
    expect(dev.infoUsernet()).toMatch(new RegExp(`  TCP\\[ESTABLISHED\\]  [ 0-9-]{3}       127\\.0\\.0\\.1 ${String(hostPort).padStart(5)}       10\\.0\\.2\\.15    22     0     0\\n`));
    client.end();
    await waitFor(() => guestSide.finReceived, 'FIN to the guest');
  });

  it('lists forwarded ports in rule order, TCP before UDP, in the columns QEMU 7.2 prints', async () => {
    const [a, b, c] = [await freePort(), await freePort(), await freePort()];
    const dev = user({}, [`tcp::${a}-:22`, `tcp::${b}-:23`, `udp::${c}-:53`]);
    await dev.ready;
    // QEMU 7.2 with hostfwd=tcp::15555-:22,hostfwd=tcp::15556-:23,hostfwd=udp::15557-:53 prints
    // "  TCP[HOST_FORWARD]   9               * 15555       10.0.2.15    22     0     0" and so on.
    const lines = dev.infoUsernet().split('\n').slice(2, 5).map((l) => l.replace(/^(.{19}) (.{3}) /, '$1 fd# '));
    const qemu = [
      '  TCP[HOST_FORWARD]   9               * 15555       10.0.2.15    22     0     0',
      '  TCP[HOST_FORWARD]   8               * 15556       10.0.2.15    23     0     0',
      '  UDP[HOST_FORWARD]   3               * 15557       10.0.2.15    53     0     0',
    ].map((l, i) => l.replace(/^(.{19}) (.{3}) /, '$1 fd# ').replace(String(15555 + i), String([a, b, c][i]).padStart(5)));
    expect(lines).toEqual(qemu);
  });

  it('rejects a hostfwd port that is taken, with QEMU\'s message', async () => {
    const srv: Server = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => srv.close());
    const port = (srv.address() as { port: number }).port;
    const dev = user({}, [`tcp:127.0.0.1:${port}-:22`]);
    await expect(dev.ready).rejects.toThrow(`Could not set up host forwarding rule 'tcp:127.0.0.1:${port}-:22'`);
  });
});

describe('-netdev user: UDP and DNS', () => {
  it('relays a DNS query to 10.0.2.3 to the host resolver and the answer back from 10.0.2.3:53', async () => {
    const resolver = createSocket('udp4');
    await new Promise<void>((r) => resolver.bind(0, '127.0.0.1', r));
    cleanups.push(() => resolver.close());
    resolver.on('message', (q, rinfo) => resolver.send(Buffer.concat([q, Buffer.from('-answer')]), rinfo.port, rinfo.address));
    const dev = user({}, [], resolver.address().port);
    const g = configuredGuest(dev);
    g.sendUdp(33333, ip('10.0.2.3'), 53, Buffer.from('query'));
    const r = await g.waitFor((p) => udpOf(p)?.dstPort === 33333, 'DNS answer');
    const u = udpOf(r)!;
    expect(ipStr(r.ip!.src)).toBe('10.0.2.3');
    expect(u.srcPort).toBe(53);
    expect(u.checksumOk).toBe(true);
    expect(Buffer.from(u.data).toString()).toBe('query-answer');
    expect(dev.infoUsernet()).toMatch(/  UDP\[(9|10) sec\]\s+-?\d+       10\.0\.2\.15 33333        10\.0\.2\.3    53     0     0\n/);
  });

  it('sends UDP to 10.0.2.2 to the host loopback, and hostfwd=udp reaches the guest', async () => {
    const echo = createSocket('udp4');
    await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
    cleanups.push(() => echo.close());
    echo.on('message', (q, rinfo) => echo.send(q, rinfo.port, rinfo.address));
    const hostPort = await freePort();
    const dev = user({}, [`udp::${hostPort}-:5000`]);
    await dev.ready;
    const g = configuredGuest(dev);
    g.sendUdp(4444, ip('10.0.2.2'), echo.address().port, Buffer.from('ping'));
    const r = await g.waitFor((p) => udpOf(p)?.dstPort === 4444, 'echo');
    expect(ipStr(r.ip!.src)).toBe('10.0.2.2');
    expect(Buffer.from(udpOf(r)!.data).toString()).toBe('ping');

    const client = createSocket('udp4');
    cleanups.push(() => client.close());
    client.send('to guest', hostPort, '127.0.0.1');
    const f = await g.waitFor((p) => udpOf(p)?.dstPort === 5000, 'forwarded datagram');
    expect(Buffer.from(udpOf(f)!.data).toString()).toBe('to guest');
    expect(ipStr(f.ip!.src)).toBe('10.0.2.2');
    const reply = new Promise<string>((res) => client.once('message', (m) => res(m.toString())));
    g.sendUdp(5000, ip('10.0.2.2'), udpOf(f)!.srcPort, Buffer.from('from guest'));
    expect(await reply).toBe('from guest');
    expect(infoUsernet([dev])).toMatch(new RegExp(`  UDP\\[HOST_FORWARD\\]\\s+-?\\d+\\s+\\* ${String(hostPort).padStart(5)}       10\\.0\\.2\\.15  5000     0     0\\n`));
  });
});
