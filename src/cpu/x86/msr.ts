/**
 * Model-specific registers (SDM Vol. 4). Only MSRs of features CPUID advertises exist; any
 * other index raises #GP(0), as on hardware. The platform MSRs (MTRRs, PAT, MISC_ENABLE,
 * SYSENTER_*...) are in msr-platform.ts, the long-mode ones in long-system.ts.
 */
import { X86Cpu } from './cpu.js';
import { readLongMsr, writeLongMsr } from './long-system.js';
import { writeEfer } from './control-regs.js';
import { readPlatformMsr, writePlatformMsr } from './msr-platform.js';
import { ExtEdx, hasLongMode } from './cpu-model.js';
import { readVmxCapMsr } from './vmx/vmx-capabilities.js';
import { MSR_IA32_ARCH_CAPABILITIES } from './arch-capabilities.js';
import { readMcaMsr, writeMcaMsr } from './machine-check.js';

export const enum Msr {
  TSC = 0x10,
  APIC_BASE = 0x1b,
  /** IA32_TSC_ADJUST, on models with CPUID.(7,0):EBX[1]. */
  TSC_ADJUST = 0x3b,
  TSC_DEADLINE = 0x6e0,
  /** IA32_EFER: SCE, LME, LMA, NXE (control-regs.ts says which bits are writable). */
  EFER = 0xc0000080,
}

/**
 * IA32_APIC_BASE bits a write must leave clear (SDM Vol. 3A Figure 10-5): 7:0, 9, and 10
 * (x2APIC enable; no x2APIC here). XXX: bits MAXPHYADDR-1:32 of the base are architecturally
 * writable (MAXPHYADDR is 40), but the APIC cannot be moved above 4 GiB: the high half is
 * refused with #GP.
 */
const APIC_BASE_RESERVED_LO = 0x000006ff;

/** RDMSR: returns [low, high] or raises #GP(0). */
export function readMsr(cpu: X86Cpu, index: number): [number, number] {
  const apic = cpu.bus.apic;
  switch (index >>> 0) {
    case Msr.TSC:
      return split64(cpu.tscNow());
    case Msr.TSC_ADJUST:
      if (!cpu.model.tscAdjust) break;
      return split64(cpu.s.tscAdjust);
    case Msr.EFER:
      if (!hasEfer(cpu)) break;
      return [cpu.s.efer >>> 0, 0];
    case Msr.APIC_BASE:
      if (!apic) break;
      return [apic.readApicBase() >>> 0, 0];
    case Msr.TSC_DEADLINE:
      if (!apic || !cpu.model.tscDeadline) break;
      return apic.readTscDeadline();
    case MSR_IA32_ARCH_CAPABILITIES: {
      const caps = cpu.model.archCapabilities;
      if (!caps) break;
      return [caps[0], caps[1]];
    }
    default: {
      const v = (hasLongMode(cpu.model) ? readLongMsr(cpu, index >>> 0) : undefined) ?? readPlatformMsr(cpu, index >>> 0) ??
        readMcaMsr(cpu, index >>> 0) ?? (cpu.vmx ? readVmxCapMsr(cpu.vmx.caps, index >>> 0) : undefined);
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
      // A write to the TSC adds its change to IA32_TSC_ADJUST too (SDM Vol. 3B 17.17.3).
      const value = (hi >>> 0) * 4294967296 + (lo >>> 0);
      const offset = value - cpu.tscNow(0);
      s.tscAdjust += offset - s.tscOffset;
      s.tscOffset = offset;
      return;
    }
    case Msr.TSC_ADJUST: {
      // The TSC moves by what the adjustment changes by (SDM Vol. 3B 17.17.3).
      if (!cpu.model.tscAdjust) break;
      const value = (hi | 0) * 4294967296 + (lo >>> 0); // signed 64-bit
      s.tscOffset += value - s.tscAdjust;
      s.tscAdjust = value;
      return;
    }
    case Msr.EFER:
      if (!hasEfer(cpu)) break;
      writeEfer(cpu, lo, hi);
      return;
    case Msr.APIC_BASE:
      if (!apic) break;
      if ((lo & APIC_BASE_RESERVED_LO) !== 0 || hi !== 0) cpu.gp(0);
      apic.writeApicBase(lo >>> 0);
      return;
    case Msr.TSC_DEADLINE: {
      if (!apic || !cpu.model.tscDeadline) break;
      // The virtual time at which the TSC reaches the value: the APIC's timer runs on the
      // clock, the TSC's rate and offset belong to the CPU.
      const value = (hi >>> 0) * 4294967296 + (lo >>> 0);
      const ns = cpu.bus.nowNs() + ((value - cpu.tscNow()) * 1e9) / X86Cpu.TSC_HZ;
      apic.writeTscDeadline(lo >>> 0, hi >>> 0, ns);
      return;
    }
    case MSR_IA32_ARCH_CAPABILITIES:
      if (!cpu.model.archCapabilities) break;
      cpu.gp(0); // read-only
      return;
    default:
      if (hasLongMode(cpu.model) && writeLongMsr(cpu, index >>> 0, lo, hi)) return;
      if (writePlatformMsr(cpu, index >>> 0, lo, hi)) return;
      if (writeMcaMsr(cpu, index >>> 0, lo, hi)) return;
      break;
  }
  logUnknown(cpu, 'wrmsr', index);
  cpu.gp(0);
}

/** A 64-bit value, signed or not (a double, exact within 2^53), as RDMSR's [low, high]. */
function split64(v: number): [number, number] {
  const hi = Math.floor(v / 4294967296);
  return [(v - hi * 4294967296) >>> 0, hi >>> 0];
}

/** IA32_EFER exists on Intel parts with XD or Intel 64 (SDM Vol. 4 Table 2-2). */
function hasEfer(cpu: X86Cpu): boolean {
  return (cpu.model.extEdx & (ExtEdx.NX | ExtEdx.LM)) !== 0;
}

function logUnknown(cpu: X86Cpu, what: string, index: number): void {
  if (cpu.bus.log.enabled('unimp')) cpu.bus.log.log('unimp', `pcvm: ${what} of unknown MSR 0x${(index >>> 0).toString(16)}: #GP`);
}
