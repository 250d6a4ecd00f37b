/**
 * The project's VMX test hypervisor (firmware/vmx-test/vmxtest.asm), booted by multiboot on
 * `-cpu pcvm,+vmx`: it runs its scenarios (VMX instruction failures with the SDM's error
 * numbers, VM-entry checks, exits with their reasons and qualifications, event injection, the
 * preemption timer, external-interrupt exiting, virtual NMIs and the NMI window, task-switch
 * and INIT exits (a self INIT IPI through the LAPIC), EPT mapping/violation/misconfiguration, a
 * real-mode guest under unrestricted guest) and reports each on COM1, then leaves through
 * isa-debug-exit: 0x10 when every check passed (exit status 33).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../../src/machine/machine.js';
import { defaultMachineConfig } from '../../../src/machine/config.js';
import { MemoryCharBackend } from '../../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../../src/machine/log.js';
import { packageRoot } from '../../../src/machine/default-firmware.js';

const IMAGE = new Uint8Array(readFileSync(join(packageRoot(), 'firmware/vmx-test/vmxtest.elf')));
const PASS = (0x10 << 1) | 1;

async function boot(cpuModel: string): Promise<{ status: number; out: string }> {
  const serial = new MemoryCharBackend();
  const m = new Machine(
    defaultMachineConfig({
      memoryBytes: 64 * 1024 * 1024,
      cpuModel,
      kernel: { fileName: 'firmware/vmx-test/vmxtest.elf', data: IMAGE, cmdline: '', initrd: [] },
      debugExits: [{ iobase: 0xf4, iosize: 4 }],
      noReboot: true,
    }),
    { serial: [serial], log: NULL_LOGGER },
  );
  m.start();
  let timer: NodeJS.Timeout | undefined;
  const status = await Promise.race([
    m.waitForExit(),
    new Promise<number>((resolve) => { timer = setTimeout(() => { m.quit(); resolve(-1); }, 40_000); }),
  ]);
  clearTimeout(timer);
  return { status, out: serial.text() };
}

describe('VMX test hypervisor', () => {
  it('passes every scenario on pcvm,+vmx', async () => {
    const { status, out } = await boot('pcvm,+vmx');
    const failures = out.split('\n').filter((l) => l.startsWith('FAIL'));
    expect(failures, out).toEqual([]);
    expect(out).toContain('PASS: all checks');
    expect(status).toBe(PASS);
    // Every scenario reported (a count, so that a scenario silently skipped fails the test).
    expect(out.split('\n').filter((l) => l.startsWith('PASS: ')).length).toBeGreaterThanOrEqual(93);
  }, 60_000);

  it('fails its first check without VMX (CPUID.1:ECX.VMX clear)', async () => {
    const { status, out } = await boot('pcvm');
    expect(out).toContain('FAIL: CPUID.1:ECX.VMX is set');
    expect(status).toBe(((0x20 + 1) << 1) | 1);
  }, 60_000);
});
