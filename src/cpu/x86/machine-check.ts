/**
 * The machine-check architecture (SDM Vol. 3B chapter 15), advertised by CPUID.1:EDX.MCE
 * (bit 7: #MC and CR4.MCE exist) and CPUID.1:EDX.MCA (bit 14: the MSRs below exist):
 *
 *  - IA32_MCG_CAP (179H, read-only): 10 error-reporting banks, MCG_CTL_P (IA32_MCG_CTL
 *    exists) and MCG_SER_P (software error recovery) — QEMU's value for its x86 CPUs
 *    (MCE_CAP_DEF | MCE_BANKS_DEF = 0x100010A), so guests see the same bank layout.
 *  - IA32_MCG_STATUS (17AH): RIPV, EIPV, MCIP (15.3.1.2); bits 63:3 reserved (no LMCE).
 *  - IA32_MCG_CTL (17BH): all ones enables every machine-check feature, all zeros disables
 *    them (15.3.1.3); other values are undefined — like QEMU, they are ignored.
 *  - Bank i at 400H + 4i: IA32_MCi_CTL (any value: one enable bit per error), IA32_MCi_STATUS,
 *    IA32_MCi_ADDR and IA32_MCi_MISC (15.3.2.2-4: software may only write zeros to them;
 *    writing a one raises #GP).
 *
 * pcvm's hardware never fails, so no error is ever logged: the status, address and misc
 * registers always read zero and need no state, and #MC is never raised. What software can
 * change (MCG_STATUS, MCG_CTL, the MCi_CTL enables) is kept for it to read back. There is no
 * CMCI (MCG_CMCI_P clear: no IA32_MCi_CTL2), no threshold status, no LMCE, no extended
 * state registers.
 */
import { expectInt, expectIntArray, expectRecord } from '../../snapshot/validate.js';
import { Feat1Edx } from './cpu-model.js';
import type { X86Cpu } from './cpu.js';

export const MCA_BANK_COUNT = 10;
/** MCG_CAP bit 8: IA32_MCG_CTL is present. */
export const MCG_CTL_P = 1 << 8;
/** MCG_CAP bit 24: software error recovery support. */
export const MCG_SER_P = 1 << 24;
export const MCG_CAP_VALUE = (MCG_SER_P | MCG_CTL_P | MCA_BANK_COUNT) >>> 0;

export const enum McaMsr {
  MCG_CAP = 0x179,
  MCG_STATUS = 0x17a,
  MCG_CTL = 0x17b,
  /** IA32_MC0_CTL; bank i's CTL, STATUS, ADDR and MISC are at 400H + 4i + 0..3. */
  MC0_CTL = 0x400,
}

/** IA32_MCG_STATUS: RIPV (0), EIPV (1), MCIP (2). */
const MCG_STATUS_BITS = 0x7;

export interface MachineCheckData {
  mcgStatus: number;
  mcgCtlLo: number;
  mcgCtlHi: number;
  /** IA32_MCi_CTL as (low, high) pairs, bank 0 first. */
  bankCtl: number[];
}

/** The software-writable machine-check state, as plain fields. */
export class MachineCheckState {
  mcgStatus = 0;
  mcgCtlLo = 0xffffffff;
  mcgCtlHi = 0xffffffff;
  readonly bankCtl = new Uint32Array(2 * MCA_BANK_COUNT).fill(0xffffffff);

  /**
   * Power-on values: no machine check in progress; every feature and every error enabled, as
   * QEMU's mce_init leaves them (the SDM leaves MCi_CTL undefined after RESET).
   */
  reset(): void {
    this.mcgStatus = 0;
    this.mcgCtlLo = this.mcgCtlHi = 0xffffffff;
    this.bankCtl.fill(0xffffffff);
  }

  save(): MachineCheckData {
    return { mcgStatus: this.mcgStatus, mcgCtlLo: this.mcgCtlLo, mcgCtlHi: this.mcgCtlHi, bankCtl: Array.from(this.bankCtl) };
  }

  load(d: MachineCheckData): void {
    this.mcgStatus = d.mcgStatus;
    this.mcgCtlLo = d.mcgCtlLo;
    this.mcgCtlHi = d.mcgCtlHi;
    this.bankCtl.set(d.bankCtl);
  }
}

/** Range-checks untrusted snapshot data. */
export function validateMachineCheck(data: unknown): MachineCheckData {
  const w = 'cpu.mca';
  const r = expectRecord(data, w);
  return {
    mcgStatus: expectInt(r, 'mcgStatus', 0, MCG_STATUS_BITS, w),
    mcgCtlLo: expectInt(r, 'mcgCtlLo', 0, 0xffffffff, w),
    mcgCtlHi: expectInt(r, 'mcgCtlHi', 0, 0xffffffff, w),
    bankCtl: expectIntArray(r, 'bankCtl', 0, 0xffffffff, 2 * MCA_BANK_COUNT, w),
  };
}

function hasMca(cpu: X86Cpu): boolean {
  return (cpu.model.feat1Edx & Feat1Edx.MCA) !== 0;
}

function isBankMsr(index: number): boolean {
  return index >= McaMsr.MC0_CTL && index < McaMsr.MC0_CTL + 4 * MCA_BANK_COUNT;
}

/** RDMSR of a machine-check MSR: [lo, hi], or undefined if `index` is not one on this model. */
export function readMcaMsr(cpu: X86Cpu, index: number): [number, number] | undefined {
  if (!hasMca(cpu)) return undefined;
  const m = cpu.s.mca;
  switch (index) {
    case McaMsr.MCG_CAP: return [MCG_CAP_VALUE, 0];
    case McaMsr.MCG_STATUS: return [m.mcgStatus, 0];
    case McaMsr.MCG_CTL: return [m.mcgCtlLo, m.mcgCtlHi];
    default: {
      if (!isBankMsr(index)) return undefined;
      const bank = (index - McaMsr.MC0_CTL) >> 2;
      // STATUS, ADDR and MISC: no error has ever been logged.
      if ((index & 3) !== 0) return [0, 0];
      return [m.bankCtl[2 * bank]!, m.bankCtl[2 * bank + 1]!];
    }
  }
}

/** WRMSR of a machine-check MSR (#GP(0) as the SDM says); false if `index` is not one. */
export function writeMcaMsr(cpu: X86Cpu, index: number, lo: number, hi: number): boolean {
  if (!hasMca(cpu)) return false;
  const m = cpu.s.mca;
  lo >>>= 0;
  hi >>>= 0;
  switch (index) {
    case McaMsr.MCG_CAP:
      cpu.gp(0); // read-only
      return true;
    case McaMsr.MCG_STATUS:
      if (hi !== 0 || (lo & ~MCG_STATUS_BITS)) cpu.gp(0);
      m.mcgStatus = lo;
      return true;
    case McaMsr.MCG_CTL:
      if ((lo === 0 && hi === 0) || (lo === 0xffffffff && hi === 0xffffffff)) {
        m.mcgCtlLo = lo;
        m.mcgCtlHi = hi;
      }
      return true;
    default: {
      if (!isBankMsr(index)) return false;
      const bank = (index - McaMsr.MC0_CTL) >> 2;
      if ((index & 3) === 0) {
        m.bankCtl[2 * bank] = lo;
        m.bankCtl[2 * bank + 1] = hi;
      } else if (lo !== 0 || hi !== 0) {
        cpu.gp(0); // only zeros may be written to STATUS, ADDR and MISC
      }
      return true;
    }
  }
}
