/**
 * HMP `gdbserver [device]`: QEMU's messages, a server gdb can reach, `none` to stop it,
 * and a malformed device refused.
 */
import { createConnection } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Machine } from '../../src/library/machine.js';
import { GdbServer, gdbDeviceSpec } from '../../src/gdb/gdb-server.js';

const machines: Machine[] = [];
afterEach(async () => {
  for (const m of machines.splice(0)) await m.close();
});

async function serverOf(m: Machine): Promise<GdbServer> {
  for (let i = 0; i < 100; i++) {
    const s = GdbServer.of(m.board);
    if (s?.port) return s;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the gdbstub did not open');
}

describe('HMP gdbserver', () => {
  it('starts a gdbstub on a device, answers gdb there, and stops with none', async () => {
    const m = new Machine({ startStopped: true });
    machines.push(m);
    await m.start();
    expect(await m.monitor('gdbserver tcp:127.0.0.1:0')).toBe("Waiting for gdb connection on device 'tcp:127.0.0.1:0'");
    const server = await serverOf(m);
    const sock = createConnection(server.port!, '127.0.0.1');
    const got = await new Promise<string>((resolve) => {
      let text = '';
      sock.on('data', (d) => {
        text += d.toString('latin1');
        if (/#[0-9a-f]{2}$/.test(text)) resolve(text);
      });
      sock.write('$qC#b4');
    });
    // The ack, then QC1 with its checksum (0x51 + 0x43 + 0x31 = 0xc5).
    expect(got).toBe('+$QC1#c5');
    expect(await m.monitor('gdbserver none')).toBe('Disabled gdbserver');
    await new Promise<void>((resolve) => sock.on('close', () => resolve()));
    expect(GdbServer.of(m.board)).toBeUndefined();
    expect(await m.monitor('gdbserver bogus:x')).toBe("Could not open gdbserver on device 'bogus:x'");
    expect(await m.monitor('help gdbserver')).toBe("gdbserver [device] -- start gdbserver on given device (default 'tcp::1234'), stop with 'none'");
  });

  it('takes a bare port as tcp::PORT, forcing server mode as QEMU does for tcp:', () => {
    expect(gdbDeviceSpec('1235')).toMatchObject({ backend: 'socket', server: true, wait: false, address: { type: 'inet', port: 1235 } });
    expect(gdbDeviceSpec('tcp::1234')).toMatchObject({ backend: 'socket', server: true, wait: false, nodelay: true });
    expect(gdbDeviceSpec('unix:/tmp/g.sock,server=on,wait=off')).toMatchObject({ backend: 'socket', server: true, address: { type: 'unix', path: '/tmp/g.sock' } });
    expect(gdbDeviceSpec('none')).toBeUndefined();
  });
});
