/**
 * CPU state as plain data for snapshots: save copies every architectural field out of the
 * typed arrays; load validates every field before anything changes (the stream is
 * untrusted), then the caller recomputes cached mode bits (X86Cpu.updateMode).
 */
import { SnapshotError } from '../../errors.js';
import { expectBool, expectInt, expectIntArray, expectNumber, expectRecord } from '../../snapshot/validate.js';
import { Cr0, Efer, Fl, type CpuState, type CpuStateData } from './state.js';
import type { FpuState } from './fpu/fpu-state.js';
import { applyFpuState, parseFpuState, saveFpuState } from './fpu/fpu-snapshot.js';
import { validateSseState, type SseState } from './sse/sse-state.js';
import { validatePlatformMsrs } from './platform-msrs.js';
import { validateMachineCheck } from './machine-check.js';
import { PENDING_DEBUG_MASK } from './debug-exceptions.js';

/**
 * 2 added the PAE PDPTE registers, the x87 state (`fpu`) and the SSE state (`sse`); 3 RIP's high
 * half and the long-mode registers; 4 the platform MSRs (`platform`: MTRRs, PAT, MISC_ENABLE,
 * BIOS_SIGN_ID, TSC_AUX); 5 the VMX state (`vmx`, vmx/vmx-snapshot.ts; absent on models without VMX); 6 the machine-check
 * MSRs (`mca`); 7 IA32_TSC_ADJUST; 8 the pending #DB traps (`pendingDebug`) and the MOV SS
 * shadow as its own value (`interruptShadow` 2). Older streams load the missing parts as zero /
 * reset (`platformReset` resets the platform MSRs).
 */
export const CPU_STATE_VERSION = 8;

const U32 = 0xffffffff;
const I32_MIN = -0x80000000;
/** Segment bases and debug registers are kept as doubles up to 2^53. */
const ADDR_MAX = Number.MAX_SAFE_INTEGER;
/** 64-bit addresses from MSRs (FS/GS base, LSTAR...) are kept as signed canonical numbers. */
const CANON_MIN = -0x800000000000;
const CANON_MAX = 0x7fffffffffff;

/** `arithFlags` are the current arithmetic flags (the state may hold them lazily). */
export function saveCpuState(s: CpuState, eflags: number, fpu: FpuState, sse: SseState): CpuStateData {
  return {
    fpu: saveFpuState(fpu),
    sse: sse.save(),
    gpr: Array.from(s.gpr),
    gprHi: Array.from(s.gprHi),
    eip: s.eip >>> 0,
    eflags: eflags >>> 0,
    segSel: Array.from(s.segSel),
    segBase: Array.from(s.segBase),
    segLimit: Array.from(s.segLimit),
    segAr: Array.from(s.segAr),
    gdtBase: s.gdtBase,
    gdtLimit: s.gdtLimit,
    idtBase: s.idtBase,
    idtLimit: s.idtLimit,
    cr0: s.cr0 >>> 0,
    // In IA-32e mode CR2 holds a 48-bit linear address and CR3 a physical one above 4 GiB
    // possibly: both are kept whole (a 32-bit truncation lost them).
    cr2: s.cr2,
    cr3: s.cr3,
    cr4: s.cr4 >>> 0,
    efer: s.efer >>> 0,
    pdpte: Array.from(s.pdpte),
    dr: Array.from(s.dr),
    halted: s.halted,
    a20: s.a20,
    tscOffset: s.tscOffset,
    tscAdjust: s.tscAdjust,
    sysenterCs: s.sysenterCs,
    sysenterEsp: s.sysenterEsp,
    sysenterEip: s.sysenterEip,
    interruptShadow: s.interruptShadow,
    pendingDebug: s.pendingDebug,
    nmiPending: s.nmiPending,
    nmiBlocked: s.nmiBlocked,
    ripHi: s.ripHi,
    long: { ...s.long },
    platform: s.platform.save(),
    mca: s.mca.save(),
  };
}

/**
 * Validates `data` completely, then writes it into `s`, `fpu` and `sse`. Returns the EFLAGS
 * value to set. `platformReset` puts the platform MSRs in their power-on state for streams
 * older than version 4.
 */
export function loadCpuState(s: CpuState, data: unknown, version: number, fpu: FpuState, sse: SseState, platformReset: () => void = () => s.platform.reset(0)): number {
  if (version < 1 || version > CPU_STATE_VERSION || !Number.isInteger(version)) throw new SnapshotError(`cpu: state version ${version} is not supported`);
  const r = expectRecord(data, 'cpu');
  const fpuData = version >= 2 ? parseFpuState(r.fpu) : undefined;
  const w = 'cpu';
  const v = {
    gpr: expectIntArray(r, 'gpr', I32_MIN, U32, 16, w),
    gprHi: expectIntArray(r, 'gprHi', I32_MIN, U32, 16, w),
    eip: expectInt(r, 'eip', 0, U32, w),
    eflags: expectInt(r, 'eflags', 0, U32, w),
    segSel: expectIntArray(r, 'segSel', 0, 0xffff, 8, w),
    segBase: expectIntArray(r, 'segBase', CANON_MIN, ADDR_MAX, 8, w),
    segLimit: expectIntArray(r, 'segLimit', 0, U32, 8, w),
    segAr: expectIntArray(r, 'segAr', 0, 0x1ffff, 8, w),
    // LGDT/LIDT in 64-bit mode keep the base as a signed canonical number (exec-0f.ts):
    // Linux's GDT and IDT are at 0xfffffe00_00000000 and up, negative here.
    gdtBase: expectInt(r, 'gdtBase', CANON_MIN, ADDR_MAX, w),
    gdtLimit: expectInt(r, 'gdtLimit', 0, 0xffff, w),
    idtBase: expectInt(r, 'idtBase', CANON_MIN, ADDR_MAX, w),
    idtLimit: expectInt(r, 'idtLimit', 0, 0xffff, w),
    cr0: expectInt(r, 'cr0', 0, U32, w),
    cr2: expectInt(r, 'cr2', 0, ADDR_MAX, w),
    cr3: expectInt(r, 'cr3', 0, ADDR_MAX, w),
    cr4: expectInt(r, 'cr4', 0, U32, w),
    efer: expectInt(r, 'efer', 0, U32, w),
    pdpte: version === 1 ? new Array<number>(8).fill(0) : expectIntArray(r, 'pdpte', 0, U32, 8, w),
    dr: expectIntArray(r, 'dr', 0, ADDR_MAX, 8, w),
    halted: expectBool(r, 'halted', w),
    a20: expectBool(r, 'a20', w),
    tscOffset: expectNumber(r, 'tscOffset', -ADDR_MAX, ADDR_MAX, w),
    // Streams before version 7 had no IA32_TSC_ADJUST: its reset value.
    tscAdjust: version >= 7 ? expectNumber(r, 'tscAdjust', -ADDR_MAX, ADDR_MAX, w) : 0,
    sysenterCs: expectInt(r, 'sysenterCs', 0, 0xffff, w),
    sysenterEsp: expectInt(r, 'sysenterEsp', CANON_MIN, CANON_MAX, w),
    sysenterEip: expectInt(r, 'sysenterEip', CANON_MIN, CANON_MAX, w),
    interruptShadow: expectInt(r, 'interruptShadow', 0, version >= 8 ? 2 : 1, w),
    pendingDebug: version >= 8 ? expectInt(r, 'pendingDebug', 0, PENDING_DEBUG_MASK, w) : 0,
    nmiPending: expectBool(r, 'nmiPending', w),
    nmiBlocked: expectBool(r, 'nmiBlocked', w),
    sse: version >= 2 ? validateSseState(r.sse) : undefined,
    platform: version >= 4 ? validatePlatformMsrs(r['platform']) : undefined,
    mca: version >= 6 ? validateMachineCheck(r['mca']) : undefined,
  };
  if ((v.pendingDebug & ~PENDING_DEBUG_MASK) !== 0) throw new SnapshotError(`cpu: pendingDebug ${v.pendingDebug} has bits outside B0-B3, BS and BT`);
  // Virtual-8086 mode exists only in protected mode outside IA-32e mode (SDM Vol. 3B 20.2.1;
  // VMX refuses the same combination, Vol. 3C 27.3.1.4): the segment caches say the rest.
  if ((v.eflags & Fl.VM) && (!(v.cr0 & Cr0.PE) || (v.efer & Efer.LMA))) {
    throw new SnapshotError('cpu: EFLAGS.VM = 1 (virtual-8086 mode) needs CR0.PE = 1 and EFER.LMA = 0');
  }
  let ripHi = 0;
  let long = { cr8: 0, starLo: 0, starHi: 0, lstar: 0, cstar: 0, sfmask: 0, kernelGsBase: 0 };
  if (version >= 3) {
    ripHi = expectInt(r, 'ripHi', -0x8000, 0x7fff, w);
    const l = expectRecord(r['long'], 'cpu.long');
    const wl = 'cpu.long';
    long = {
      cr8: expectInt(l, 'cr8', 0, 15, wl),
      starLo: expectInt(l, 'starLo', 0, U32, wl),
      starHi: expectInt(l, 'starHi', 0, U32, wl),
      lstar: expectInt(l, 'lstar', CANON_MIN, CANON_MAX, wl),
      cstar: expectInt(l, 'cstar', CANON_MIN, CANON_MAX, wl),
      sfmask: expectInt(l, 'sfmask', 0, U32, wl),
      kernelGsBase: expectInt(l, 'kernelGsBase', CANON_MIN, CANON_MAX, wl),
    };
  }
  s.gpr.set(v.gpr.map((x) => x | 0));
  s.gprHi.set(v.gprHi.map((x) => x | 0));
  s.eip = v.eip;
  s.segSel.set(v.segSel);
  s.segBase.set(v.segBase);
  s.segLimit.set(v.segLimit);
  s.segAr.set(v.segAr);
  s.gdtBase = v.gdtBase;
  s.gdtLimit = v.gdtLimit;
  s.idtBase = v.idtBase;
  s.idtLimit = v.idtLimit;
  s.cr0 = v.cr0;
  s.cr2 = v.cr2;
  s.cr3 = v.cr3;
  s.cr4 = v.cr4;
  s.efer = v.efer;
  s.pdpte.set(v.pdpte);
  s.dr.set(v.dr);
  s.halted = v.halted;
  s.a20 = v.a20;
  s.tscOffset = v.tscOffset;
  s.tscAdjust = v.tscAdjust;
  s.sysenterCs = v.sysenterCs;
  s.sysenterEsp = v.sysenterEsp;
  s.sysenterEip = v.sysenterEip;
  s.interruptShadow = v.interruptShadow;
  s.pendingDebug = v.pendingDebug;
  s.nmiPending = v.nmiPending;
  s.nmiBlocked = v.nmiBlocked;
  if (fpuData) applyFpuState(fpu, fpuData);
  else fpu.reset();
  if (v.sse) sse.load(v.sse);
  else sse.reset();
  s.ripHi = ripHi;
  Object.assign(s.long, long);
  if (v.platform) s.platform.load(v.platform);
  else platformReset();
  if (v.mca) s.mca.load(v.mca);
  else s.mca.reset();
  return v.eflags;
}
