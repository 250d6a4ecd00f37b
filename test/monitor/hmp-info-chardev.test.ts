/**
 * `info chardev` lists every character device with QEMU 7.2's label and filename. The
 * expected lines are QEMU's own, from qemu-system-x86_64 7.2 given the same options (each
 * case names them). QEMU prints its devices in GHashTable order, pcvm in creation order, so
 * the lines are compared as sets; QEMU's `parallel0` (pcvm has no parallel port) is left out.
 */
import { mkdtempSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChardevList } from '../../src/chardev/chardev-list.js';
import { SocketEndpoint } from '../../src/chardev/socket.js';
import { hmpLinesFromCli, until } from './hmp-cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const noPeer = { onConnect() {}, onData() {}, onDisconnect() {} };
const hmp = (args: string[], command: string) => hmpLinesFromCli(args, command, cleanups);
const hmp2 = (args: string[], command: string, prelude: string) => hmpLinesFromCli(args, command, cleanups, prelude);
const sorted = (lines: string[]): string[] => [...lines].sort();

describe('info chardev labels and filenames as QEMU 7.2 prints them', () => {
  it('a -monitor mux over stdio shows LABEL: mux and LABEL-base with the real back end', () => {
    const list = new ChardevList();
    list.addMaybeMuxed('serial0', true, 'stdio');
    list.addMaybeMuxed('compat_monitor0', false, () => 'null');
    // qemu-system-x86_64 -S -nographic: "serial0: filename=mux", "serial0-base: filename=stdio".
    expect(list.format()).toBe('serial0: filename=mux\nserial0-base: filename=stdio\ncompat_monitor0: filename=null');
    expect(list.labels).toEqual(['serial0', 'serial0-base', 'compat_monitor0']);
  });

  it('socket filenames: disconnected server, connected server and client, unix and tcp', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-chardev-'));
    const path = join(dir, 's.sock');
    const unixServer = await SocketEndpoint.open({ type: 'unix', path, abstract: false }, true, false, noPeer);
    cleanups.push(() => unixServer.close());
    expect(unixServer.qemuFilename()).toBe(`disconnected:unix:${path},server=on`);
    const unixClient = await SocketEndpoint.open({ type: 'unix', path, abstract: false }, false, false, noPeer);
    cleanups.push(() => unixClient.close());
    await until(() => unixServer.connected, 'the unix client');
    // QEMU: the server shows its path, the client its own (unnamed) address: "unix:".
    expect(unixServer.qemuFilename()).toBe(`unix:${path},server=on`);
    expect(unixClient.qemuFilename()).toBe('unix:');

    const tcpServer = await SocketEndpoint.open({ type: 'inet', host: '', port: 0 }, true, false, noPeer);
    cleanups.push(() => tcpServer.close());
    // `tcp::PORT,server=on,wait=off` in QEMU: "disconnected:tcp:0.0.0.0:PORT,server=on".
    expect(tcpServer.qemuFilename()).toBe(`disconnected:tcp:0.0.0.0:${tcpServer.port},server=on`);
    const peer: Socket = createConnection(tcpServer.port!, '127.0.0.1');
    cleanups.push(() => peer.destroy());
    await until(() => tcpServer.connected && peer.localPort !== undefined, 'the tcp client');
    expect(tcpServer.qemuFilename()).toBe(`tcp:127.0.0.1:${tcpServer.port},server=on <-> 127.0.0.1:${peer.localPort}`);
    peer.destroy();
    await until(() => !tcpServer.connected, 'the tcp client to leave');
    expect(tcpServer.qemuFilename()).toBe(`disconnected:tcp:0.0.0.0:${tcpServer.port},server=on`);

    const listener: Server = createServer();
    cleanups.push(() => listener.close());
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as { port: number }).port;
    const tcpClient = await SocketEndpoint.open({ type: 'inet', host: '127.0.0.1', port }, false, false, noPeer);
    cleanups.push(() => tcpClient.close());
    expect(tcpClient.qemuFilename()).toMatch(new RegExp(`^tcp:127\\.0\\.0\\.1:[0-9]+ <-> 127\\.0\\.0\\.1:${port}$`));
  });

  it('-nographic muxes COM1 and the monitor on stdio: serial0 is the mux, serial0-base stdio', async () => {
    // qemu-system-x86_64 -S -nographic, then C-a c: "serial0: filename=mux",
    // "serial0-base: filename=stdio" (and parallel0: filename=null).
    const lines = await hmp2(['-nographic'], 'info chardev', '\x01c');
    expect(sorted(lines)).toEqual(sorted(['serial0: filename=mux', 'serial0-base: filename=stdio']));
  });

  it('-serial file: serial0 is "file", the stdio monitor compat_monitor0', async () => {
    // qemu-system-x86_64 -S -display none -monitor stdio -nic user,hostfwd=tcp::5555-:22 -serial file:/tmp/hx
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-chardev-'));
    const lines = await hmp(['-display', 'none', '-monitor', 'stdio', '-serial', `file:${join(dir, 'x')}`], 'info chardev');
    expect(sorted(lines)).toEqual(sorted(['compat_monitor0: filename=stdio', 'serial0: filename=file']));
  });

  it('-serial none keeps its slot; null and file ports are serial1 and serial2', async () => {
    // qemu-system-x86_64 -S -display none -monitor stdio -serial none -serial null -serial file:/tmp/hq
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-chardev-'));
    const lines = await hmp(['-display', 'none', '-monitor', 'stdio', '-serial', 'none', '-serial', 'null', '-serial', `file:${join(dir, 'q')}`], 'info chardev');
    expect(sorted(lines)).toEqual(sorted(['serial1: filename=null', 'serial2: filename=file', 'compat_monitor0: filename=stdio']));
  });

  it('-monitor and -qmp share compat_monitorN in command-line order; listening sockets show as disconnected', async () => {
    // qemu-system-x86_64 -S -display none -qmp tcp::4447,server=on,wait=off -monitor stdio -serial none
    //   -serial tcp::4446,server=on,wait=off -monitor null
    const lines = await hmp(['-display', 'none', '-qmp', 'tcp::0,server=on,wait=off', '-monitor', 'stdio', '-serial', 'none',
      '-serial', 'tcp::0,server=on,wait=off', '-monitor', 'null'], 'info chardev');
    const qemu = [
      'compat_monitor1: filename=stdio',
      'serial1: filename=disconnected:tcp:0.0.0.0:4446,server=on',
      'compat_monitor2: filename=null',
      'compat_monitor0: filename=disconnected:tcp:0.0.0.0:4447,server=on',
    ];
    // The host picked the ports (port 0); put QEMU's in their place.
    const ours = lines.map((l) => l.replace(/^(serial1: .*:)[0-9]+(,)/, '$14446$2').replace(/^(compat_monitor0: .*:)[0-9]+(,)/, '$14447$2'));
    expect(sorted(ours)).toEqual(sorted(qemu));
  });

  it('tcp client and unix server and client sockets, connected, as QEMU shows them', async () => {
    // qemu-system-x86_64 -S -display none -monitor stdio -serial tcp:127.0.0.1:4450,server=on,wait=off
    //   -serial tcp:127.0.0.1:4451 -serial unix:/tmp/hx-u.sock,server=on,wait=off -serial unix:/tmp/hx-u.sock
    // with a peer listening on 4451 prints (besides parallel0 and serial0):
    //   serial1: filename=tcp:127.0.0.1:60306 <-> 127.0.0.1:4451
    //   serial2: filename=unix:/tmp/hx-u.sock,server=on
    //   serial3: filename=unix:
    //   compat_monitor0: filename=stdio
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-chardev-'));
    const path = join(dir, 'u.sock');
    const listener: Server = createServer((s) => cleanups.push(() => s.destroy()));
    cleanups.push(() => listener.close());
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as { port: number }).port;
    const lines = await hmp(['-display', 'none', '-monitor', 'stdio', '-serial', `tcp:127.0.0.1:${port}`,
      '-serial', `unix:${path},server=on,wait=off`, '-serial', `unix:${path}`], 'info chardev');
    expect(sorted(lines.map((l) => l.replace(/^(serial0: filename=tcp:127\.0\.0\.1:)[0-9]+ /, '$1LOCAL ')))).toEqual(sorted([
      `serial0: filename=tcp:127.0.0.1:LOCAL <-> 127.0.0.1:${port}`,
      `serial1: filename=unix:${path},server=on`,
      'serial2: filename=unix:',
      'compat_monitor0: filename=stdio',
    ]));
  });
});
