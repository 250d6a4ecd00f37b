/**
 * Monitors and serial ports on sockets, driven the way scripts drive QEMU's:
 * `-qmp unix:PATH,server,nowait`, `-monitor unix:PATH,server,nowait`, `-serial unix:PATH,server,nowait`,
 * and `-qmp stdio`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/machine/default-firmware.js';

const CLI = join(packageRoot(), 'dist/src/cli/main.js');
let child: ChildProcess | undefined;
afterEach(() => child?.kill('SIGKILL'));

function startPcvm(args: string[]) {
  child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child!.on('close', (s) => resolve(s)));
  return { exit, out: () => stdout, err: () => stderr, stdin: child.stdin! };
}

async function connect(path: string): Promise<{ sock: Socket; text: () => string; until: (s: string) => Promise<void> }> {
  for (let tries = 0; ; tries++) {
    try {
      const sock = await new Promise<Socket>((resolve, reject) => {
        const s = createConnection(path);
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
      let text = '';
      sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
      const until = async (s: string) => {
        const t0 = Date.now();
        while (!text.includes(s)) {
          if (Date.now() - t0 > 10_000) throw new Error(`no ${JSON.stringify(s)} in ${JSON.stringify(text)}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      return { sock, text: () => text, until };
    } catch (e) {
      if (tries > 200) throw e;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

describe('monitors and serial on sockets', () => {
  it('QMP and HMP on unix sockets control the same VM; QMP quit ends pcvm with status 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-mon-'));
    const vm = startPcvm(['-display', 'none', '-qmp', `unix:${join(dir, 'qmp.sock')},server,nowait`,
      '-monitor', `unix:${join(dir, 'hmp.sock')},server,nowait`, '-serial', `unix:${join(dir, 'com1.sock')},server,nowait`]);
    const qmp = await connect(join(dir, 'qmp.sock'));
    await qmp.until('"QMP"');
    qmp.sock.write('{"execute":"qmp_capabilities"}\n{"execute":"query-status","id":7}\n');
    await qmp.until('"id":7');
    expect(qmp.text()).toContain('{"return":{"running":true,"status":"running"},"id":7}\r\n');

    const hmp = await connect(join(dir, 'hmp.sock'));
    await hmp.until('(qemu) ');
    hmp.sock.write('stop\r\n');
    await qmp.until('"event":"STOP"');
    hmp.sock.write('info status\r\n');
    await hmp.until('VM status: paused');
    hmp.sock.write('cont\r\n');
    await qmp.until('"event":"RESUME"');

    // The demo firmware's console answers on the serial socket.
    const com1 = await connect(join(dir, 'com1.sock'));
    com1.sock.write('echo over-the-socket\r');
    await com1.until('over-the-socket');

    qmp.sock.write('{"execute":"quit"}\n');
    await qmp.until('"event":"SHUTDOWN"');
    expect(await vm.exit).toBe(0);
    for (const c of [qmp, hmp, com1]) c.sock.destroy();
  });

  it('-qmp stdio speaks QMP on stdin/stdout', async () => {
    const vm = startPcvm(['-display', 'none', '-qmp', 'stdio']);
    const t0 = Date.now();
    while (!vm.out().includes('"QMP"')) {
      if (Date.now() - t0 > 10_000) throw new Error(vm.out() + vm.err());
      await new Promise((r) => setTimeout(r, 10));
    }
    vm.stdin.write('{"execute":"qmp_capabilities"}\n{"execute":"human-monitor-command","arguments":{"command-line":"info name"}}\n{"execute":"quit"}\n');
    expect(await vm.exit).toBe(0);
    const lines = vm.out().trim().split('\r\n').map((l) => JSON.parse(l));
    expect(lines[1]).toEqual({ return: {} });
    expect(lines[2]).toEqual({ return: '' });
    expect(lines[3]).toEqual({ return: {} });
    expect(lines[4]).toMatchObject({ event: 'SHUTDOWN', data: { guest: false, reason: 'host-qmp-quit' } });
  });

  it('-qmp stdio together with -nographic is refused: stdio cannot serve two devices', async () => {
    const vm = startPcvm(['-nographic', '-qmp', 'stdio']);
    expect(await vm.exit).toBe(1);
    expect(vm.err()).toBe('pcvm: -nographic: cannot use stdio by multiple character devices\n');
  });
});
