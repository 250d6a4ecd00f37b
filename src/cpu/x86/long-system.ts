/**
 * System registers of IA-32e mode: MOV CR/DR with 64-bit operands and CR8 (the mode switch
 * itself, through CR0.PG / CR4.PAE / EFER.LME, is in control-regs.ts), the long-mode MSRs
 * (Vol. 4 Table 2-2: STAR, LSTAR, CSTAR, FMASK, FS/GS/KERNEL_GS base; EFER is in msr.ts),
 * and the 16-byte system descriptors LLDT/LTR read in IA-32e mode (Vol. 3A 7.2.3, 3.5.2).
 */
import { Cr4, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import { isCanonical, linear48, CANONICAL_LIMIT } from './long-decode.js';
import { descriptorAddress } from './segmentation.js';
import { Sensitive, type X86Cpu } from './cpu.js';
import { MAXPHYADDR } from './cpu-model.js';
import { dr6Value, dr7Value } from './debug-exceptions.js';

export const enum LongMsr {
  EFER = 0xc0000080,
  STAR = 0xc0000081,
  LSTAR = 0xc0000082,
  CSTAR = 0xc0000083,
  FMASK = 0xc0000084,
  FS_BASE = 0xc0000100,
  GS_BASE = 0xc0000101,
  KERNEL_GS_BASE = 0xc0000102,
}

function split(v: number): [number, number] {
  return [v >>> 0, Math.floor(v / 4294967296) >>> 0];
}

/** A 64-bit MSR value (lo, hi) as the signed number kept in the state; #GP(0) if not canonical. */
function canonicalFrom(cpu: X86Cpu, lo: number, hi: number): number {
  const v = (hi | 0) * 4294967296 + (lo >>> 0);
  if (!isCanonical(v)) cpu.gp(0);
  return v;
}

/** RDMSR of a long-mode MSR: [lo, hi], or undefined if `index` is not one. */
export function readLongMsr(cpu: X86Cpu, index: number): [number, number] | undefined {
  const s = cpu.s;
  const l = s.long;
  switch (index) {
    case LongMsr.STAR: return [l.starLo >>> 0, l.starHi >>> 0];
    case LongMsr.LSTAR: return split(l.lstar);
    case LongMsr.CSTAR: return split(l.cstar);
    case LongMsr.FMASK: return [l.sfmask >>> 0, 0];
    case LongMsr.FS_BASE: return split(s.segBase[SegReg.FS]!);
    case LongMsr.GS_BASE: return split(s.segBase[SegReg.GS]!);
    case LongMsr.KERNEL_GS_BASE: return split(l.kernelGsBase);
    default: return undefined;
  }
}

/** WRMSR of a long-mode MSR; returns false if `index` is not one. */
export function writeLongMsr(cpu: X86Cpu, index: number, lo: number, hi: number): boolean {
  const s = cpu.s;
  const l = s.long;
  switch (index) {
    case LongMsr.STAR: l.starLo = lo >>> 0; l.starHi = hi >>> 0; return true;
    case LongMsr.LSTAR: l.lstar = canonicalFrom(cpu, lo, hi); return true;
    case LongMsr.CSTAR: l.cstar = canonicalFrom(cpu, lo, hi); return true;
    case LongMsr.FMASK: l.sfmask = lo >>> 0; return true; // the upper half is reserved (ignored, as on Intel parts)
    case LongMsr.FS_BASE: s.segBase[SegReg.FS] = canonicalFrom(cpu, lo, hi); return true;
    case LongMsr.GS_BASE: s.segBase[SegReg.GS] = canonicalFrom(cpu, lo, hi); return true;
    case LongMsr.KERNEL_GS_BASE: l.kernelGsBase = canonicalFrom(cpu, lo, hi); return true;
    default: return false;
  }
}

/** CR2 as software reads it: 48-bit linear addresses are sign-extended to 64 bits. */
function cr2Value(v: number): number {
  return v >= CANONICAL_LIMIT && v < 2 * CANONICAL_LIMIT ? v - 2 * CANONICAL_LIMIT : v;
}

/**
 * MOV to/from CR0, CR2, CR3, CR4, CR8 in 64-bit mode: 64-bit register operands, REX.R
 * reaches CR8 (SDM MOV CR). The rest of CR0/CR4 writing is exec-0f.ts's writeCr.
 */
export function movCrLong(cpu: X86Cpu, toCr: boolean, writeCr: (cpu: X86Cpu, cr: number, v: number) => void): void {
  const s = cpu.s;
  cpu.decodeModrm();
  const cr = cpu.modReg;
  const r = cpu.rmReg;
  if (cpu.cpl !== 0) cpu.gp(0);
  if (cr === 1 || (cr > 4 && cr !== 8)) cpu.raise(Vec.UD);
  if (!toCr) {
    if (cpu.intercept?.(cpu, Sensitive.MovFromCr, cr | (r << 8))) return;
    switch (cr) {
      case 0: cpu.setReg64(r, s.cr0, 0); return;
      case 2: cpu.setReg64From(r, cr2Value(s.cr2)); return;
      case 3: cpu.setReg64From(r, s.cr3); return;
      case 4: cpu.setReg64(r, s.cr4, 0); return;
      default: cpu.setReg64(r, s.long.cr8, 0); return;
    }
  }
  if (cpu.intercept?.(cpu, Sensitive.MovToCr, cr | (r << 8))) return;
  const lo = s.gpr[r]! >>> 0;
  const hi = s.gprHi[r]! >>> 0;
  switch (cr) {
    case 2:
      // XXX: CR2 keeps 48 bits: a non-canonical value written by software reads back sign-extended.
      s.cr2 = linear48(((hi << 16) >> 16) * 4294967296 + lo);
      return;
    case 3:
      if (hi >>> (MAXPHYADDR - 32)) cpu.gp(0); // bits above MAXPHYADDR are reserved
      writeCr(cpu, 3, hi * 4294967296 + lo);
      return;
    case 8:
      if (hi !== 0 || lo > 15) cpu.gp(0);
      s.long.cr8 = lo;
      return;
    default: // CR0, CR4: the upper halves are reserved
      if (hi !== 0) cpu.gp(0);
      writeCr(cpu, cr, lo);
  }
}

/** MOV to/from DR0-DR7 in 64-bit mode; REX.R (DR8-15) is #UD. */
export function movDrLong(cpu: X86Cpu, toDr: boolean): void {
  const s = cpu.s;
  cpu.decodeModrm();
  const dr = cpu.modReg;
  const r = cpu.rmReg;
  // DR8-15 do not exist: #UD before any VM exit (SDM Vol. 3C 26.1.1). MOV-DR exiting then
  // comes before the CPL #GP and the CR4.DE #UD (26.1.3) and DR7.GD's #DB.
  if (dr > 7) cpu.raise(Vec.UD);
  if (cpu.intercept?.(cpu, Sensitive.MovDr, dr | (r << 8) | (toDr ? 0x10000 : 0))) return;
  if (cpu.cpl !== 0) cpu.gp(0);
  if ((dr === 4 || dr === 5) && (s.cr4 & Cr4.DE)) cpu.raise(Vec.UD);
  cpu.debug.generalDetect();
  const idx = dr === 4 ? 6 : dr === 5 ? 7 : dr;
  if (toDr) {
    const hi = s.gprHi[r]! >>> 0;
    const lo = s.gpr[r]! >>> 0;
    // DR6/DR7: the upper half is reserved (#GP); DR0-3 hold linear addresses (kept to 48 bits).
    if (idx >= 6) {
      if (hi !== 0) cpu.gp(0);
      s.dr[idx] = idx === 6 ? dr6Value(lo) : dr7Value(lo);
    } else {
      s.dr[idx] = linear48(((hi << 16) >> 16) * 4294967296 + lo);
    }
    if (idx !== 6) cpu.debug.update();
  } else {
    cpu.setReg64From(r, idx >= 6 ? s.dr[idx]! : cr2Value(s.dr[idx]!));
  }
}

/**
 * IA-32e mode LLDT/LTR: system descriptors are 16 bytes; the second half holds base[63:32]
 * and a zero type field (else #GP(selector)). Returns base[63:32] as a signed number × 2^32.
 */
export function systemDescriptorHighBase(cpu: X86Cpu, selector: number): number {
  const addr = descriptorAddress(cpu, selector);
  // The 16-byte descriptor must fit in the table.
  if (!(selector & 4) && (selector & 0xfff8) + 15 > cpu.s.gdtLimit) cpu.gp(selector & 0xfffc);
  const upper = cpu.readLinear(addr + 8, 4);
  const type = cpu.readLinear(addr + 12, 4);
  if ((type >>> 8) & 0x1f) cpu.gp(selector & 0xfffc);
  const base = (upper | 0) * 4294967296;
  if (!isCanonical(base)) cpu.gp(selector & 0xfffc);
  return base;
}
