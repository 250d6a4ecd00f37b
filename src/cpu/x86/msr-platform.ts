/**
 * The platform MSRs every P6-family Intel part has (SDM Vol. 4 Table 2-2), beside the
 * long-mode ones (long-system.ts) and the APIC's (msr.ts):
 *
 *  - IA32_PLATFORM_ID (17H, read-only) and IA32_BIOS_SIGN_ID (8BH): the microcode-update
 *    signature procedure (SDM Vol. 3A 9.11.7.1) writes 0 to 8BH, executes CPUID.1 and reads
 *    the revision from EDX; WRMSR stores the high dword, CPUID.1 loads the revision into it.
 *  - IA32_FEATURE_CONTROL (3AH): locked by the firmware, with VMX outside SMX enabled on models
 *    with VMX (vmx/) and off otherwise, so every write raises #GP as on a locked part.
 *  - The MTRRs (SDM Vol. 3A 11.11): IA32_MTRRCAP (FEH: 8 variable ranges, fixed ranges, WC),
 *    IA32_MTRR_DEF_TYPE (2FFH), PHYSBASE/PHYSMASK (200H-20FH) and the 11 fixed-range MSRs.
 *    Values are checked (memory types, reserved bits up to MAXPHYADDR) and kept; they do not
 *    change how memory behaves — an emulator has no caches, every access is coherent and
 *    ordered — so only software that reads them back sees them.
 *  - IA32_PAT (277H, SDM 11.12): likewise kept, with #GP for the reserved types 2 and 3;
 *    the PAT bits of paging entries select an entry, which has no effect either.
 *  - IA32_MISC_ENABLE (1A0H): fast strings (R/W, no effect: REP MOVS/STOS are already fast),
 *    limit-CPUID-maxval and XD-disable (R/W, honoured by CPUID and EFER), and the read-only
 *    bits of a part without PMU, BTS and PEBS.
 *  - IA32_SYSENTER_CS/ESP/EIP (174H-176H) for SYSENTER/SYSEXIT (sysenter.ts).
 *  - IA32_TSC_AUX (C0000103H), read by RDTSCP, on models with RDTSCP.
 *  - IA32_DEBUGCTL (1D9H): reads 0. None of its features (LBR, BTF, BTS, freeze on PMI...) is
 *    implemented, so writing 0 is accepted and any set bit raises #GP(0) with an `unimp` log
 *    line. Linux's KVM reads it around every VM entry; ptrace's block step would set BTF.
 *
 * The machine-check MSRs are in machine-check.ts, IA32_ARCH_CAPABILITIES in msr.ts
 * (arch-capabilities.ts). MSRs of features CPUID does not advertise (performance counters
 * C1H/186H, AMD's C001xxxxH...) do not exist: msr.ts raises #GP(0) for them.
 */
import { isCanonical } from './long-decode.js';
import { ExtEdx, MAXPHYADDR, hasLongMode } from './cpu-model.js';
import { MiscEnable, MISC_ENABLE_HI_XD_DISABLE, MTRR_VARIABLE_COUNT } from './platform-msrs.js';
import type { X86Cpu } from './cpu.js';

export const enum PlatformMsr {
  PLATFORM_ID = 0x17,
  FEATURE_CONTROL = 0x3a,
  BIOS_SIGN_ID = 0x8b,
  MTRRCAP = 0xfe,
  SYSENTER_CS = 0x174,
  SYSENTER_ESP = 0x175,
  SYSENTER_EIP = 0x176,
  MISC_ENABLE = 0x1a0,
  DEBUGCTL = 0x1d9,
  MTRR_PHYSBASE0 = 0x200,
  MTRR_FIX64K_00000 = 0x250,
  MTRR_FIX16K_80000 = 0x258,
  MTRR_FIX16K_A0000 = 0x259,
  MTRR_FIX4K_C0000 = 0x268,
  PAT = 0x277,
  MTRR_DEF_TYPE = 0x2ff,
  TSC_AUX = 0xc0000103,
}

/** IA32_FEATURE_CONTROL: lock (bit 0) set, VMX inside and outside SMX (bits 1, 2) clear. */
const FEATURE_CONTROL_LOCKED = 1;
/** IA32_FEATURE_CONTROL bit 2: VMXON allowed outside SMX operation. */
const FEATURE_CONTROL_VMX_OUTSIDE_SMX = 1 << 2;
/** IA32_MTRRCAP: VCNT = 8 (7:0), FIX (8), WC (10); no SMRR (11). */
const MTRRCAP = MTRR_VARIABLE_COUNT | (1 << 8) | (1 << 10);
/** IA32_MTRR_DEF_TYPE: type (7:0), FE (10), E (11). */
const DEF_TYPE_BITS = 0xcff;
/** PHYSBASE: type 7:0, bits 11:8 reserved. PHYSMASK: valid bit 11, bits 10:0 reserved. */
const PHYSBASE_LO_RESERVED = 0xf00;
const PHYSMASK_LO_RESERVED = 0x7ff;
/** High-dword bits 63:MAXPHYADDR, reserved in PHYSBASE/PHYSMASK. */
const PHYS_HI_RESERVED = ~((1 << (MAXPHYADDR - 32)) - 1) >>> 0;

/** Memory types valid in an MTRR: UC, WC, WT, WP, WB (SDM Table 11-8). */
function isMtrrType(t: number): boolean {
  return t === 0 || t === 1 || t === 4 || t === 5 || t === 6;
}
/** Memory types valid in a PAT entry: the MTRR ones and UC- (7) (SDM Table 11-10). */
function isPatType(t: number): boolean {
  return isMtrrType(t) || t === 7;
}
/** Every byte of a dword holds a valid type (fixed-range MTRRs: 8 types per MSR). */
function bytesAre(v: number, ok: (t: number) => boolean): boolean {
  for (let i = 0; i < 32; i += 8) if (!ok((v >>> i) & 0xff)) return false;
  return true;
}

/** Index into PlatformMsrs.mtrrFixed (pairs), or -1 if `index` is not a fixed-range MTRR. */
function fixedSlot(index: number): number {
  if (index === PlatformMsr.MTRR_FIX64K_00000) return 0;
  if (index === PlatformMsr.MTRR_FIX16K_80000) return 1;
  if (index === PlatformMsr.MTRR_FIX16K_A0000) return 2;
  if (index >= PlatformMsr.MTRR_FIX4K_C0000 && index <= PlatformMsr.MTRR_FIX4K_C0000 + 7) return 3 + index - PlatformMsr.MTRR_FIX4K_C0000;
  return -1;
}

function isVariableMtrr(index: number): boolean {
  return index >= PlatformMsr.MTRR_PHYSBASE0 && index < PlatformMsr.MTRR_PHYSBASE0 + 2 * MTRR_VARIABLE_COUNT;
}

function split(v: number): [number, number] {
  return [v >>> 0, Math.floor(v / 4294967296) >>> 0];
}

/** The IA32_MISC_ENABLE bits software may change on this model. */
function miscEnableWritable(cpu: X86Cpu): [number, number] {
  const m = cpu.model;
  // Limit-CPUID exists on parts whose maximum basic leaf is above 2; XD-disable with XD.
  const lo = MiscEnable.FAST_STRINGS | (m.maxBasicLeaf > 2 ? MiscEnable.LIMIT_CPUID : 0);
  const hi = m.extEdx & ExtEdx.NX ? MISC_ENABLE_HI_XD_DISABLE : 0;
  return [lo, hi];
}
/** The read-only bits (writes of either value are ignored, as software writes back what it read). */
const MISC_ENABLE_READ_ONLY = MiscEnable.PERF_MON | MiscEnable.BTS_UNAVAILABLE | MiscEnable.PEBS_UNAVAILABLE;

/** RDMSR of a platform MSR: [lo, hi], or undefined if `index` is not one. */
export function readPlatformMsr(cpu: X86Cpu, index: number): [number, number] | undefined {
  const s = cpu.s;
  const p = s.platform;
  switch (index) {
    case PlatformMsr.PLATFORM_ID: return [0, (cpu.model.platformId & 7) << 18];
    case PlatformMsr.FEATURE_CONTROL: return [cpu.vmx ? FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMX_OUTSIDE_SMX : FEATURE_CONTROL_LOCKED, 0];
    case PlatformMsr.BIOS_SIGN_ID: return [0, p.biosSignId >>> 0];
    case PlatformMsr.MTRRCAP: return [MTRRCAP, 0];
    case PlatformMsr.MTRR_DEF_TYPE: return [p.mtrrDefType >>> 0, 0];
    case PlatformMsr.PAT: return [p.patLo >>> 0, p.patHi >>> 0];
    case PlatformMsr.MISC_ENABLE: return [p.miscEnableLo >>> 0, p.miscEnableHi >>> 0];
    case PlatformMsr.SYSENTER_CS: return [s.sysenterCs, 0];
    case PlatformMsr.SYSENTER_ESP: return split(s.sysenterEsp);
    case PlatformMsr.SYSENTER_EIP: return split(s.sysenterEip);
    case PlatformMsr.DEBUGCTL: return [0, 0];
    case PlatformMsr.TSC_AUX:
      if (!(cpu.model.extEdx & ExtEdx.RDTSCP)) return undefined;
      return [p.tscAux >>> 0, 0];
    default:
      if (isVariableMtrr(index)) {
        const i = index - PlatformMsr.MTRR_PHYSBASE0;
        return [p.mtrrVariable[2 * i]!, p.mtrrVariable[2 * i + 1]!];
      }
      {
        const f = fixedSlot(index);
        if (f >= 0) return [p.mtrrFixed[2 * f]!, p.mtrrFixed[2 * f + 1]!];
      }
      return undefined;
  }
}

/**
 * A SYSENTER_ESP/EIP value: on Intel 64 parts a 64-bit address that must be canonical; on
 * IA-32 parts a 32-bit register (the high dword is ignored).
 */
function sysenterAddress(cpu: X86Cpu, lo: number, hi: number): number {
  if (!hasLongMode(cpu.model)) return lo >>> 0;
  const v = (hi | 0) * 4294967296 + (lo >>> 0);
  if (!isCanonical(v)) cpu.gp(0);
  return v;
}

/** WRMSR of a platform MSR (#GP(0) for a reserved bit or a read-only MSR); false if not one. */
export function writePlatformMsr(cpu: X86Cpu, index: number, lo: number, hi: number): boolean {
  const s = cpu.s;
  const p = s.platform;
  lo >>>= 0;
  hi >>>= 0;
  switch (index) {
    case PlatformMsr.PLATFORM_ID:
    case PlatformMsr.MTRRCAP:
    case PlatformMsr.FEATURE_CONTROL: // locked
      cpu.gp(0);
      return true;
    case PlatformMsr.BIOS_SIGN_ID:
      // Bits 31:0 are reserved but ignored (the SDM procedure writes 0 to the whole MSR).
      p.biosSignId = hi;
      return true;
    case PlatformMsr.MTRR_DEF_TYPE:
      if (hi !== 0 || (lo & ~DEF_TYPE_BITS) || !isMtrrType(lo & 0xff)) cpu.gp(0);
      p.mtrrDefType = lo;
      return true;
    case PlatformMsr.PAT:
      if (!bytesAre(lo, isPatType) || !bytesAre(hi, isPatType)) cpu.gp(0);
      p.patLo = lo;
      p.patHi = hi;
      return true;
    case PlatformMsr.MISC_ENABLE: {
      const [wLo, wHi] = miscEnableWritable(cpu);
      if ((lo & ~(wLo | MISC_ENABLE_READ_ONLY)) || (hi & ~wHi)) cpu.gp(0);
      p.miscEnableLo = ((p.miscEnableLo & ~wLo) | (lo & wLo)) >>> 0;
      p.miscEnableHi = (hi & wHi) >>> 0;
      return true;
    }
    case PlatformMsr.SYSENTER_CS:
      // Bits 15:0 hold the selector; the rest is not used (kept as zero, as QEMU does).
      s.sysenterCs = lo & 0xffff;
      return true;
    case PlatformMsr.SYSENTER_ESP: s.sysenterEsp = sysenterAddress(cpu, lo, hi); return true;
    case PlatformMsr.SYSENTER_EIP: s.sysenterEip = sysenterAddress(cpu, lo, hi); return true;
    case PlatformMsr.DEBUGCTL:
      if ((lo | hi) !== 0) {
        if (cpu.bus.log.enabled('unimp')) cpu.bus.log.log('unimp', `pcvm: IA32_DEBUGCTL features not implemented (write 0x${hi.toString(16)}:${lo.toString(16).padStart(8, '0')}): #GP`);
        cpu.gp(0);
      }
      return true;
    case PlatformMsr.TSC_AUX:
      if (!(cpu.model.extEdx & ExtEdx.RDTSCP)) return false;
      if (hi !== 0) cpu.gp(0); // bits 63:32 are reserved
      p.tscAux = lo;
      return true;
    default:
      if (isVariableMtrr(index)) {
        const i = index - PlatformMsr.MTRR_PHYSBASE0;
        const isMask = (i & 1) !== 0;
        if (hi & PHYS_HI_RESERVED) cpu.gp(0);
        if (isMask ? lo & PHYSMASK_LO_RESERVED : (lo & PHYSBASE_LO_RESERVED) || !isMtrrType(lo & 0xff)) cpu.gp(0);
        p.mtrrVariable[2 * i] = lo;
        p.mtrrVariable[2 * i + 1] = hi;
        return true;
      }
      {
        const f = fixedSlot(index);
        if (f < 0) return false;
        if (!bytesAre(lo, isMtrrType) || !bytesAre(hi, isMtrrType)) cpu.gp(0);
        p.mtrrFixed[2 * f] = lo;
        p.mtrrFixed[2 * f + 1] = hi;
        return true;
      }
  }
}

/** CPUID.1 loads the microcode revision into IA32_BIOS_SIGN_ID[63:32] (SDM Vol. 3A 9.11.7.1). */
export function latchMicrocodeRevision(cpu: X86Cpu): void {
  cpu.s.platform.biosSignId = cpu.model.microcodeRevision >>> 0;
}

/** RDTSCP's (and IA32_TSC_AUX's) guard: #UD on models without RDTSCP. */
export function hasRdtscp(cpu: X86Cpu): boolean {
  return (cpu.model.extEdx & ExtEdx.RDTSCP) !== 0;
}
