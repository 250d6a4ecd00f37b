/**
 * State of the platform MSRs (msr-platform.ts): the MTRRs, IA32_PAT, IA32_MISC_ENABLE,
 * IA32_BIOS_SIGN_ID and IA32_TSC_AUX, as plain fields with their snapshot form. 64-bit MSRs
 * are kept as (low, high) dword pairs, as WRMSR delivers them.
 */
import { expectInt, expectIntArray, expectRecord } from '../../snapshot/validate.js';

/** IA32_PAT after RESET (SDM Vol. 3A 11.12.4, Table 11-12): WB WT UC- UC, twice. */
export const PAT_RESET_LO = 0x00070406;
export const PAT_RESET_HI = 0x00070406;

/** IA32_MISC_ENABLE bits (SDM Vol. 4 Table 2-2). */
export const enum MiscEnable {
  /** Bit 0: fast-strings enable (R/W; 1 after reset). */
  FAST_STRINGS = 1 << 0,
  /** Bit 7: performance monitoring available (R/O). */
  PERF_MON = 1 << 7,
  /** Bit 11: branch trace storage unavailable (R/O). */
  BTS_UNAVAILABLE = 1 << 11,
  /** Bit 12: processor event-based sampling unavailable (R/O). */
  PEBS_UNAVAILABLE = 1 << 12,
  /** Bit 22: limit CPUID maxval — CPUID.0:EAX reports at most 2 (R/W). */
  LIMIT_CPUID = 1 << 22,
}
/** IA32_MISC_ENABLE bit 34 (bit 2 of the high dword): XD bit disable (R/W). */
export const MISC_ENABLE_HI_XD_DISABLE = 1 << 2;

/** No PMU, no BTS, no PEBS: the read-only bits as a part without them reports them. */
export const MISC_ENABLE_RESET_LO = MiscEnable.FAST_STRINGS | MiscEnable.BTS_UNAVAILABLE | MiscEnable.PEBS_UNAVAILABLE;

export const MTRR_VARIABLE_COUNT = 8;
export const MTRR_FIXED_COUNT = 11;

export interface PlatformMsrsData {
  /** IA32_BIOS_SIGN_ID[63:32]. */
  biosSignId: number;
  mtrrDefType: number;
  /** PHYSBASE0, PHYSMASK0, PHYSBASE1, ... as (low, high) pairs: 32 numbers. */
  mtrrVariable: number[];
  /** The 11 fixed-range MTRRs as (low, high) pairs: 22 numbers. */
  mtrrFixed: number[];
  patLo: number;
  patHi: number;
  miscEnableLo: number;
  miscEnableHi: number;
  tscAux: number;
}

export class PlatformMsrs {
  biosSignId = 0;
  mtrrDefType = 0;
  readonly mtrrVariable = new Uint32Array(4 * MTRR_VARIABLE_COUNT);
  readonly mtrrFixed = new Uint32Array(2 * MTRR_FIXED_COUNT);
  patLo = PAT_RESET_LO;
  patHi = PAT_RESET_HI;
  miscEnableLo = MISC_ENABLE_RESET_LO;
  miscEnableHi = 0;
  tscAux = 0;

  /**
   * Power-on values (SDM Vol. 3A Table 9-1): MTRRs disabled and zero, PAT at its reset
   * value, fast strings on; the BIOS signature holds the microcode revision as after the
   * firmware's update load.
   */
  reset(microcodeRevision: number): void {
    this.biosSignId = microcodeRevision >>> 0;
    this.mtrrDefType = 0;
    this.mtrrVariable.fill(0);
    this.mtrrFixed.fill(0);
    this.patLo = PAT_RESET_LO;
    this.patHi = PAT_RESET_HI;
    this.miscEnableLo = MISC_ENABLE_RESET_LO;
    this.miscEnableHi = 0;
    this.tscAux = 0;
  }

  save(): PlatformMsrsData {
    return {
      biosSignId: this.biosSignId,
      mtrrDefType: this.mtrrDefType,
      mtrrVariable: Array.from(this.mtrrVariable),
      mtrrFixed: Array.from(this.mtrrFixed),
      patLo: this.patLo,
      patHi: this.patHi,
      miscEnableLo: this.miscEnableLo,
      miscEnableHi: this.miscEnableHi,
      tscAux: this.tscAux,
    };
  }

  load(d: PlatformMsrsData): void {
    this.biosSignId = d.biosSignId;
    this.mtrrDefType = d.mtrrDefType;
    this.mtrrVariable.set(d.mtrrVariable);
    this.mtrrFixed.set(d.mtrrFixed);
    this.patLo = d.patLo;
    this.patHi = d.patHi;
    this.miscEnableLo = d.miscEnableLo;
    this.miscEnableHi = d.miscEnableHi;
    this.tscAux = d.tscAux;
  }
}

const U32 = 0xffffffff;

/**
 * Range-checks untrusted snapshot data. Dword ranges only: the value checks WRMSR makes
 * (memory types, reserved bits) are not repeated, since these registers do not change what
 * the CPU does — a restored odd value is only read back.
 */
export function validatePlatformMsrs(data: unknown): PlatformMsrsData {
  const w = 'cpu.platform';
  const r = expectRecord(data, w);
  return {
    biosSignId: expectInt(r, 'biosSignId', 0, U32, w),
    mtrrDefType: expectInt(r, 'mtrrDefType', 0, U32, w),
    mtrrVariable: expectIntArray(r, 'mtrrVariable', 0, U32, 4 * MTRR_VARIABLE_COUNT, w),
    mtrrFixed: expectIntArray(r, 'mtrrFixed', 0, U32, 2 * MTRR_FIXED_COUNT, w),
    patLo: expectInt(r, 'patLo', 0, U32, w),
    patHi: expectInt(r, 'patHi', 0, U32, w),
    miscEnableLo: expectInt(r, 'miscEnableLo', 0, U32, w),
    miscEnableHi: expectInt(r, 'miscEnableHi', 0, U32, w),
    tscAux: expectInt(r, 'tscAux', 0, U32, w),
  };
}
