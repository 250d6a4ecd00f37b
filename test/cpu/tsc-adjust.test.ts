/**
 * IA32_TSC_ADJUST (MSR 3BH; SDM Vol. 3B 17.17.3): zero at reset; a write to it moves the TSC
 * by the change; a write to the TSC adds its change to it; it is signed 64-bit, survives a
 * snapshot, and does not exist (#GP) on a model without CPUID.(7,0):EBX[1].
 */
import { describe, expect, it } from 'vitest';
import { CpuFault, X86Cpu } from '../../src/cpu/x86/cpu.js';
import { readMsr, writeMsr } from '../../src/cpu/x86/msr.js';
import { PCVM32_MODEL, PCVM_MODEL } from '../../src/cpu/x86/cpu-model.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { NULL_LOGGER } from '../../src/machine/log.js';

const TSC = 0x10, TSC_ADJUST = 0x3b;

/** A CPU whose virtual clock is `clock.ns`. */
function newCpu(model = PCVM_MODEL) {
  const clock = { ns: 5_000 };
  const mem = new PhysicalMemory(4096);
  mem.mapRam(0, 4096, 0);
  const cpu = new X86Cpu({ mem, io: new IoPortBus(), interrupts: { hasInterrupt: () => false, acknowledge: () => 0 }, nowNs: () => clock.ns, log: NULL_LOGGER }, model);
  cpu.reset();
  return { cpu, clock };
}

const u64 = ([lo, hi]: [number, number]) => hi * 4294967296 + lo;
const s64 = ([lo, hi]: [number, number]) => (hi | 0) * 4294967296 + lo;
const tsc = (cpu: X86Cpu) => u64(readMsr(cpu, TSC));

describe('IA32_TSC_ADJUST', () => {
  it('is 0 after reset, and the TSC counts from 0 at the 1 GHz rate', () => {
    const { cpu, clock } = newCpu();
    expect(readMsr(cpu, TSC_ADJUST)).toEqual([0, 0]);
    expect(tsc(cpu)).toBe(0);
    clock.ns += 1234;
    expect(tsc(cpu)).toBe(1234);
  });

  it('a write to it moves the TSC by the difference from its old value', () => {
    const { cpu, clock } = newCpu();
    clock.ns += 1000;
    writeMsr(cpu, TSC_ADJUST, 500, 0);
    expect(tsc(cpu)).toBe(1500);
    writeMsr(cpu, TSC_ADJUST, 200, 0); // -300
    expect(tsc(cpu)).toBe(1200);
    expect(s64(readMsr(cpu, TSC_ADJUST))).toBe(200);
  });

  it('a write to the TSC adds the TSC change to it, negative included', () => {
    const { cpu, clock } = newCpu();
    clock.ns += 10_000;
    writeMsr(cpu, TSC, 4_000, 0); // the TSC was 10000: -6000
    expect(tsc(cpu)).toBe(4_000);
    expect(readMsr(cpu, TSC_ADJUST)).toEqual([(-6000 >>> 0), 0xffffffff]);
    expect(s64(readMsr(cpu, TSC_ADJUST))).toBe(-6000);
    // Writing the adjustment back to 0 undoes the TSC write.
    writeMsr(cpu, TSC_ADJUST, 0, 0);
    expect(tsc(cpu)).toBe(10_000);
  });

  it('keeps a large signed value (high dword 0x80000000 and up)', () => {
    const { cpu } = newCpu();
    writeMsr(cpu, TSC_ADJUST, 0, 0xfffffff0);
    expect(readMsr(cpu, TSC_ADJUST)).toEqual([0, 0xfffffff0]);
  });

  it('survives a snapshot', () => {
    const { cpu, clock } = newCpu();
    writeMsr(cpu, TSC_ADJUST, 777, 0);
    clock.ns += 50;
    const data = JSON.parse(JSON.stringify(cpu.saveState())) as unknown;
    const b = newCpu();
    b.clock.ns = clock.ns;
    b.cpu.loadState(data, cpu.stateVersion);
    expect(readMsr(b.cpu, TSC_ADJUST)).toEqual([777, 0]);
    expect(tsc(b.cpu)).toBe(tsc(cpu));
  });

  it('raises #GP on a model without it (pcvm32: leaf 7 out of range)', () => {
    const { cpu } = newCpu(PCVM32_MODEL);
    expect(() => readMsr(cpu, TSC_ADJUST)).toThrow(CpuFault);
    expect(() => writeMsr(cpu, TSC_ADJUST, 0, 0)).toThrow(CpuFault);
  });
});
