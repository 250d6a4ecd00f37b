/**
 * The CPU's side of the local APIC (SDM Vol. 3A 10.4.3-10.4.4, 10.5.4.1; Vol. 4 MSR table):
 * IA32_APIC_BASE and IA32_TSC_DEADLINE go to the APIC the board attached, with the reserved
 * bits of IA32_APIC_BASE raising #GP (MAXPHYADDR 32: bits 63:32, 10, 9, 7:0); CPUID.1 reports
 * the APIC only while it is globally enabled. A CPU without an APIC has neither MSR.
 */
import { describe, expect, it } from 'vitest';
import { X86Cpu, CpuFault } from '../../src/cpu/x86/cpu.js';
import { readMsr, writeMsr } from '../../src/cpu/x86/msr.js';
import { cpuid } from '../../src/cpu/x86/cpuid.js';
import type { CpuApic } from '../../src/cpu/x86/apic-interface.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { CpuHarness } from '../helpers/cpu-harness.js';

class FakeApic implements CpuApic {
  base = 0xfee00900;
  deadline: [number, number, number] | undefined;
  initialApicId = 0x2a;
  get globallyEnabled(): boolean {
    return (this.base & 0x800) !== 0;
  }
  readApicBase(): number {
    return this.base;
  }
  writeApicBase(value: number): void {
    this.base = value;
  }
  readTscDeadline(): [number, number] {
    return [this.deadline?.[0] ?? 0, this.deadline?.[1] ?? 0];
  }
  writeTscDeadline(lo: number, hi: number, deadlineNs: number): void {
    this.deadline = [lo, hi, deadlineNs];
  }
  getTpr(): number {
    return 0;
  }
  setTpr(): void {}
}

function cpuWithApic(nowNs: () => number): { cpu: X86Cpu; apic: FakeApic } {
  const apic = new FakeApic();
  const cpu = new X86Cpu({
    mem: new PhysicalMemory(4096),
    io: new IoPortBus(),
    interrupts: { hasInterrupt: () => false, acknowledge: () => 0 },
    apic,
    nowNs,
    log: NULL_LOGGER,
  });
  return { cpu, apic };
}

function gpVector(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof CpuFault) return e.vector;
    throw e;
  }
  return undefined;
}

describe('IA32_APIC_BASE and IA32_TSC_DEADLINE', () => {
  it('read and write the attached APIC; reserved bits raise #GP and change nothing', () => {
    const { cpu, apic } = cpuWithApic(() => 0);
    expect(readMsr(cpu, 0x1b)).toEqual([0xfee00900, 0]);
    for (const [lo, hi] of [[0xfee00d00, 0], [0xfee00901, 0], [0xfee00b00, 0], [0xfee00900, 1]] as const) {
      expect(gpVector(() => writeMsr(cpu, 0x1b, lo, hi))).toBe(13);
    }
    expect(apic.base).toBe(0xfee00900);
    writeMsr(cpu, 0x1b, 0x00080100, 0); // relocated, BSP, disabled
    expect(apic.base).toBe(0x00080100);
  });

  it('a TSC deadline becomes the virtual time at which the TSC reaches it (1 GHz TSC, guest TSC offset)', () => {
    let now = 1000;
    const { cpu, apic } = cpuWithApic(() => now);
    writeMsr(cpu, 0x10, 5000, 0); // TSC := 5000 at 1000 ns
    now = 2000; // TSC 6000
    writeMsr(cpu, 0x6e0, 6300, 0);
    expect(apic.deadline).toEqual([6300, 0, 2300]);
    writeMsr(cpu, 0x6e0, 0x10, 0x1);
    expect(apic.deadline![0]).toBe(0x10);
    expect(apic.deadline![1]).toBe(1);
    expect(apic.deadline![2]).toBe(2000 + 0x100000010 - 6000);
    expect(readMsr(cpu, 0x6e0)).toEqual([0x10, 1]);
  });

  it('CPUID.1 reports the APIC while enabled, its initial ID in EBX[31:24], TSC-deadline in ECX[24]', () => {
    const apic = new FakeApic();
    const [, ebx, ecx, edx] = cpuid(1, 0, apic);
    expect(edx & (1 << 9)).toBe(1 << 9);
    expect(ecx & (1 << 24)).toBe(1 << 24);
    expect(ebx >>> 24).toBe(0x2a);
    apic.base = 0xfee00100;
    expect(cpuid(1, 0, apic)[3] & (1 << 9)).toBe(0);
  });

  it('a CPU without an APIC: no APIC bit, no TSC-deadline bit, both MSRs #GP', () => {
    const h = CpuHarness.flat32();
    const [, , ecx, edx] = cpuid(1, 0, h.cpu.bus.apic);
    expect(edx & (1 << 9)).toBe(0);
    expect(ecx & (1 << 24)).toBe(0);
    expect(gpVector(() => readMsr(h.cpu, 0x1b))).toBe(13);
    expect(gpVector(() => writeMsr(h.cpu, 0x6e0, 1, 0))).toBe(13);
  });
});
