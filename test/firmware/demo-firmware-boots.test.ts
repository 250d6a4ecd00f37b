/**
 * The embedded default guest boots in pcvm from the reset vector and serves its command loop
 * on COM1: what `npm start` shows a user.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { pcvmVersion } from '../../src/machine/default-firmware.js';

async function waitFor(out: MemoryCharBackend, text: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!out.text().includes(text)) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${JSON.stringify(text)}; console so far:\n${out.text()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Types a line and waits for the next prompt after it. */
async function command(out: MemoryCharBackend, line: string): Promise<string> {
  const before = out.text().length;
  out.pushInput(new TextEncoder().encode(line + '\r'));
  const start = Date.now();
  for (;;) {
    const after = out.text().slice(before);
    const idx = after.indexOf('pcvm> ');
    if (idx >= 0) return after.slice(0, idx);
    if (Date.now() - start > 10_000) throw new Error(`no prompt after ${line}; got ${JSON.stringify(after)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let machines: Machine[] = [];
afterEach(() => {
  for (const m of machines) m.close();
  machines = [];
});

function boot(memoryMiB = 64): { m: Machine; out: MemoryCharBackend } {
  const out = new MemoryCharBackend();
  const m = new Machine(
    defaultMachineConfig({ memoryBytes: memoryMiB * 1024 * 1024, debugExits: [{ iobase: 0xf4, iosize: 4 }] }),
    { serial: [out], log: NULL_LOGGER },
  );
  machines.push(m);
  m.start();
  return { m, out };
}

describe('demo firmware', () => {
  it('prints a banner naming pcvm, its version and the RAM size, then a prompt', async () => {
    const { out } = boot(64);
    await waitFor(out, 'pcvm> ');
    expect(out.text()).toContain(`pcvm demo firmware ${pcvmVersion()} (64 MiB RAM, 1 CPU)`);
  });

  it('help lists the commands', async () => {
    const { out } = boot();
    await waitFor(out, 'pcvm> ');
    const help = await command(out, 'help');
    for (const c of ['help', 'cpuid', 'mem', 'echo', 'exit', 'reboot', 'poweroff']) expect(help).toContain(c);
  });

  it('cpuid shows the vendor and the signature the CPU model reports', async () => {
    const { out } = boot();
    await waitFor(out, 'pcvm> ');
    const text = await command(out, 'cpuid');
    expect(text).toContain('GenuineIntel');
    expect(text).toMatch(/family 6 .*model 45 .*stepping 7/);
    expect(text).toContain('pcvm Virtual CPU');
  });

  it('line editing: backspace erases, unknown commands are reported', async () => {
    const { out } = boot();
    await waitFor(out, 'pcvm> ');
    expect(await command(out, 'echo abX\x7fc')).toContain('abc');
    expect(await command(out, 'frobnicate')).toContain("unknown command: frobnicate (try 'help')");
  });

  it('a long pasted line is delivered without loss through the 16-byte UART FIFO', async () => {
    const { out } = boot();
    await waitFor(out, 'pcvm> ');
    const text = 'the quick brown fox jumps over the lazy dog 0123456789';
    expect(await command(out, `echo ${text}`)).toContain(`${text}\r\n`);
  });

  it('exit N leaves through isa-debug-exit with status (N << 1) | 1', async () => {
    const { m, out } = boot();
    await waitFor(out, 'pcvm> ');
    out.pushInput(new TextEncoder().encode('exit 3\r'));
    expect(await m.waitForExit()).toBe(7);
  });

  it('poweroff ends the VM with status 0', async () => {
    const { m, out } = boot();
    await waitFor(out, 'pcvm> ');
    out.pushInput(new TextEncoder().encode('poweroff\r'));
    expect(await m.waitForExit()).toBe(0);
  });

  it('reboot resets the machine and the banner appears again', async () => {
    const { m, out } = boot();
    await waitFor(out, 'pcvm> ');
    let resets = 0;
    m.on('reset', () => resets++);
    out.pushInput(new TextEncoder().encode('reboot\r'));
    const start = Date.now();
    while (out.text().split('pcvm demo firmware').length < 3 && Date.now() - start < 10_000) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(resets).toBe(1);
    expect(out.text().split('pcvm demo firmware').length).toBe(3);
  });

  it('an idle guest sleeps in HLT instead of spinning', async () => {
    const { m, out } = boot();
    await waitFor(out, 'pcvm> ');
    await new Promise((r) => setTimeout(r, 50));
    const before = m.cpu.retired;
    await new Promise((r) => setTimeout(r, 200));
    expect(m.cpu.s.halted).toBe(true);
    expect(m.cpu.retired - before).toBeLessThan(1000);
  });
});
