/**
 * Model-specific registers (SDM Vol. 4). Only MSRs of features CPUID advertises exist; any
 * other index raises #GP(0), as on hardware.
 */
import { X86Cpu } from './cpu.js';
import { readLongMsr, writeLongMsr } from './long-system.js';
import { writeEfer } from './control-regs.js';

export const enum Msr {
  TSC = 0x10,
  APIC_BASE = 0x1b,
  TSC_DEADLINE = 0x6e0,
  /** IA32_EFER: SCE, LME, LMA, NXE (control-regs.ts says which bits are writable). */
  EFER = 0xc0000080,
}

/**
 * IA32_APIC_BASE bits a write must leave clear (SDM Vol. 3A Figure 10-5): 7:0, 9, and 10
 * (x2APIC enable; no x2APIC here). MAXPHYADDR is 32 (no CPUID leaf 0x80000008, no PAE or
 * PSE-36), so the whole high half is reserved too. XXX: widen with MAXPHYADDR when PAE lands.
 */
const APIC_BASE_RESERVED_LO = 0x000006ff;

/** RDMSR: returns [low, high] or raises #GP(0). */
export function readMsr(cpu: X86Cpu, index: number): [number, number] {
  const apic = cpu.bus.apic;
  switch (index >>> 0) {
    case Msr.TSC: {
      const t = cpu.tscNow();
      return [t % 4294967296 >>> 0, Math.floor(t / 4294967296) >>> 0];
    }
    case Msr.EFER:
      return [cpu.s.efer >>> 0, 0];
    case Msr.APIC_BASE:
      if (!apic) break;
      return [apic.readApicBase() >>> 0, 0];
    case Msr.TSC_DEADLINE:
      if (!apic) break;
      return apic.readTscDeadline();
    default: {
      const v = readLongMsr(cpu, index >>> 0);
      if (v) return v;
      break;
    }
  }
  logUnknown(cpu, 'rdmsr', index);
  return cpu.gp(0);
}

/** WRMSR or #GP(0). */
export function writeMsr(cpu: X86Cpu, index: number, lo: number, hi: number): void {
  const s = cpu.s;
  const apic = cpu.bus.apic;
  switch (index >>> 0) {
    case Msr.TSC: {
      const value = (hi >>> 0) * 4294967296 + (lo >>> 0);
      s.tscOffset = value - cpu.tscNow(0);
      return;
    }
    case Msr.EFER:
      writeEfer(cpu, lo, hi);
      return;
    case Msr.APIC_BASE:
      if (!apic) break;
      if ((lo & APIC_BASE_RESERVED_LO) !== 0 || hi !== 0) cpu.gp(0);
      apic.writeApicBase(lo >>> 0);
      return;
    case Msr.TSC_DEADLINE: {
      if (!apic) break;
      // The virtual time at which the TSC reaches the value: the APIC's timer runs on the
      // clock, the TSC's rate and offset belong to the CPU.
      const value = (hi >>> 0) * 4294967296 + (lo >>> 0);
      const ns = cpu.bus.nowNs() + ((value - cpu.tscNow()) * 1e9) / X86Cpu.TSC_HZ;
      apic.writeTscDeadline(lo >>> 0, hi >>> 0, ns);
      return;
    }
    default:
      if (writeLongMsr(cpu, index >>> 0, lo, hi)) return;
      break;
  }
  logUnknown(cpu, 'wrmsr', index);
  cpu.gp(0);
}

function logUnknown(cpu: X86Cpu, what: string, index: number): void {
  if (cpu.bus.log.enabled('unimp')) cpu.bus.log.log('unimp', `pcvm: ${what} of unknown MSR 0x${(index >>> 0).toString(16)}: #GP`);
}
