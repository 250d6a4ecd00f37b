/**
 * The library API (`import { Machine } from 'pcvm'`): machines built from CLI-equivalent
 * options, console waits and input, the monitor and QMP, events, the exit status the CLI
 * would give, and two machines running at once in one process without interfering.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Machine, SerialTimeoutError, QmpCommandError, ConfigError } from '../../src/index.js';

const DEBUG_EXIT = 'isa-debug-exit,iobase=0xf4,iosize=0x04';
const machines: Machine[] = [];
afterEach(async () => {
  for (const m of machines.splice(0)) await m.close();
});
function make(...args: ConstructorParameters<typeof Machine>): Machine {
  const m = new Machine(...args);
  machines.push(m);
  return m;
}

describe('library Machine', () => {
  it('runs two demo-firmware machines concurrently without interfering', async () => {
    const a = make({ memory: 32, devices: [DEBUG_EXIT] });
    const b = make({ memory: 64, devices: [DEBUG_EXIT] });
    await Promise.all([a.start(), b.start()]);
    // Each banner reports its own RAM size (read by the firmware from its own fw_cfg).
    await Promise.all([a.waitForSerial('(32 MiB RAM'), b.waitForSerial('(64 MiB RAM')]);
    await Promise.all([a.waitForSerial('pcvm> '), b.waitForSerial('pcvm> ')]);
    // Interleave input: each console sees only what was typed into it.
    a.writeSerial('echo alpha-');
    b.writeSerial('echo bravo-');
    a.writeSerial('one\r');
    b.writeSerial('two\r');
    await Promise.all([a.waitForSerial('alpha-one'), b.waitForSerial('bravo-two')]);
    expect(a.console.all()).not.toContain('bravo');
    expect(b.console.all()).not.toContain('alpha');
    // Stopping one leaves the other running.
    a.stop();
    expect(await a.monitor('info status')).toBe('VM status: paused');
    expect(await b.monitor('info status')).toBe('VM status: running');
    b.writeSerial('echo still-running\r');
    await b.waitForSerial('still-running', { timeoutMs: 10_000 });
    a.cont();
    // Different exit statuses, each as the pcvm command would exit: (v << 1) | 1.
    await a.waitForSerial('pcvm> ');
    await b.waitForSerial('pcvm> ');
    a.writeSerial('exit 3\r');
    b.writeSerial('exit 5\r');
    expect(await Promise.all([a.exitStatus, b.exitStatus])).toEqual([7, 11]);
  }, 60_000);

  it('emits stop/resume/shutdown/exit events; a guest power-off ends with status 0', async () => {
    const m = make({});
    const events: string[] = [];
    for (const e of ['stop', 'resume', 'shutdown', 'exit'] as const) m.on(e, () => events.push(e));
    let serial = '';
    m.on('serial', (t) => (serial += t));
    await m.start();
    await m.waitForSerial('pcvm> ');
    expect(serial).toContain('pcvm demo firmware');
    m.stop();
    m.cont();
    m.writeSerial('poweroff\r');
    expect(await m.exitStatus).toBe(0);
    expect(events).toEqual(['resume', 'stop', 'resume', 'shutdown', 'exit']);
  }, 30_000);

  it('waitForSerial consumes what it matched and rejects with the last console lines on a timeout', async () => {
    const m = make({});
    await m.start();
    const first = await m.waitForSerial(/pcvm> /);
    expect(first.before).toContain('pcvm demo firmware');
    // The prompt was consumed: a second wait needs a second prompt.
    const again = m.waitForSerial('pcvm> ', { timeoutMs: 300 });
    await expect(again).rejects.toBeInstanceOf(SerialTimeoutError);
    await expect(again).rejects.toMatchObject({ lastLines: expect.arrayContaining([expect.stringContaining('pcvm demo firmware')]) });
    m.writeSerial('\r');
    await m.waitForSerial('pcvm> ', { timeoutMs: 10_000 });
  }, 30_000);

  it('waitForSerial rejects when the VM ends before the pattern', async () => {
    const m = make({ devices: [DEBUG_EXIT] });
    await m.start();
    await m.waitForSerial('pcvm> ');
    const never = m.waitForSerial('never printed', { timeoutMs: 20_000 });
    m.writeSerial('exit 1\r');
    await expect(never).rejects.toThrow(/the VM ended \(status 3\) before/);
  }, 30_000);

  it('monitor and QMP: results, errors, and savevm/loadvm giving the monitor\'s answer', async () => {
    const m = make({ startStopped: true, name: 'lib-test' });
    await m.start();
    expect(m.runState).toBe('prelaunch');
    expect(await m.monitor('info name')).toBe('lib-test');
    expect(await m.qmp('query-status')).toEqual({ running: false, status: 'prelaunch' });
    expect(await m.qmp('query-name')).toEqual({ name: 'lib-test' });
    await expect(m.qmp('no-such-command')).rejects.toBeInstanceOf(QmpCommandError);
    await expect(m.qmp('no-such-command')).rejects.toMatchObject({ errorClass: 'CommandNotFound' });
    await m.qmp('cont');
    expect(m.runState).toBe('running');
    // savevm/loadvm delegate to the HMP commands: whatever the monitor says is the answer.
    const save = await m.savevm('snap1');
    expect(save).toBe(await m.monitor('savevm snap1'));
    expect(await m.loadvm('snap1')).toBe(await m.monitor('loadvm snap1'));
  }, 30_000);

  it('refuses options with the CLI\'s own messages', () => {
    expect(() => new Machine({ memory: 'lots' })).toThrow(ConfigError);
    expect(() => new Machine({ kernel: '/nonexistent/vmlinuz' })).toThrow("could not load kernel '/nonexistent/vmlinuz': No such file or directory");
    expect(() => new Machine({ devices: ['bogus-device'] })).toThrow(/bogus-device/);
  });

  it('close() ends a running VM with status 0 and releases its timers', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const m = make({});
    await m.start();
    await m.waitForSerial('pcvm> ');
    await m.close();
    expect(await m.exitStatus).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(after).toBeLessThanOrEqual(before);
    await expect(m.start()).rejects.toThrow(/after close/);
  }, 30_000);

  it('opens its gdbstub on start (gdb: tcp::0 picks a port) and closes it with the machine', async () => {
    const m = make({ gdb: 'tcp:127.0.0.1:0', startStopped: true });
    await m.start();
    const port = m.gdbPort!;
    expect(port).toBeGreaterThan(0);
    const { createConnection } = await import('node:net');
    const sock = createConnection(port, '127.0.0.1');
    const reply = await new Promise<string>((resolve) => {
      let got = '';
      sock.on('data', (d) => {
        got += d.toString('latin1');
        if (/#[0-9a-f]{2}$/.test(got)) resolve(got);
      });
      sock.write('$?#3f');
    });
    expect(reply).toBe(`+$T02thread:01;#${checksum('T02thread:01;')}`);
    await m.close();
    await new Promise<void>((resolve) => sock.on('close', () => resolve()));
    expect(m.gdbPort).toBeUndefined();
  }, 30_000);
});

function checksum(s: string): string {
  let sum = 0;
  for (const c of Buffer.from(s)) sum = (sum + c) & 0xff;
  return sum.toString(16).padStart(2, '0');
}
