/**
 * Model-specific registers (SDM Vol. 4). Only MSRs of features CPUID advertises exist; any
 * other index raises #GP(0), as on hardware.
 */
import type { X86Cpu } from './cpu.js';
import { readLongMsr, writeLongMsr } from './long-system.js';
import { writeEfer } from './control-regs.js';

export const enum Msr {
  TSC = 0x10,
  APIC_BASE = 0x1b,
  /** IA32_EFER: SCE, LME, LMA, NXE (control-regs.ts says which bits are writable). */
  EFER = 0xc0000080,
}

/** RDMSR: returns [low, high] or raises #GP(0). */
export function readMsr(cpu: X86Cpu, index: number): [number, number] {
  switch (index >>> 0) {
    case Msr.TSC: {
      const t = cpu.tscNow();
      return [t % 4294967296 >>> 0, Math.floor(t / 4294967296) >>> 0];
    }
    case Msr.EFER:
      return [cpu.s.efer >>> 0, 0];
    default: {
      const v = readLongMsr(cpu, index >>> 0);
      if (v) return v;
      logUnknown(cpu, 'rdmsr', index);
      return cpu.gp(0);
    }
  }
}

/** WRMSR or #GP(0). */
export function writeMsr(cpu: X86Cpu, index: number, lo: number, hi: number): void {
  const s = cpu.s;
  switch (index >>> 0) {
    case Msr.TSC: {
      const value = (hi >>> 0) * 4294967296 + (lo >>> 0);
      s.tscOffset = value - cpu.tscNow(0);
      return;
    }
    case Msr.EFER:
      writeEfer(cpu, lo, hi);
      return;
    default:
      if (writeLongMsr(cpu, index >>> 0, lo, hi)) return;
      logUnknown(cpu, 'wrmsr', index);
      cpu.gp(0);
  }
}

function logUnknown(cpu: X86Cpu, what: string, index: number): void {
  if (cpu.bus.log.enabled('unimp')) cpu.bus.log.log('unimp', `pcvm: ${what} of unknown MSR 0x${(index >>> 0).toString(16)}: #GP`);
}
