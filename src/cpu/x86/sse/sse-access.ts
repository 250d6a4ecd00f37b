/**
 * Operands and checks shared by the MMX and SSE instructions: register numbers from ModRM;
 * the #UD/#NM checks of SDM Vol. 3A chapter 13 (the table "Action taken for combinations of
 * OSFXSR, OSXMMEXCPT, SSE, SSE2, SSE3, EM, MP, and TS") and of the MMX exception tables in
 * Vol. 2 chapter 22/23 ("Exception conditions for SIMD/MMX instructions"); 128/64/32-bit
 * memory operands with the 16-byte alignment rule of legacy SSE; the x87-to-MMX transition
 * (Vol. 1 9.5.1); and committing SIMD floating-point exceptions (Vol. 1 11.5: #XM when
 * CR4.OSXMMEXCPT=1, else #UD).
 */
import type { X86Cpu } from '../cpu.js';
import { Vec } from '../exceptions.js';
import { Cr0, Cr4 } from '../state.js';
import { Mxcsr, type Vec128 } from './sse-state.js';

/**
 * XMM register number from the current ModRM byte: the reg field (`rm` false) or the r/m
 * field of a register operand. The ONE place that REX.R / REX.B will extend to XMM8-15.
 */
export function xmmIndex(cpu: X86Cpu, rm: boolean): number {
  // REX.R extends the reg field and REX.B the r/m field to XMM8-15 (64-bit mode only).
  return rm ? cpu.rmReg : cpu.modReg;
}

/** MMX register number (MM0-7; REX never extends these). */
export function mmIndex(cpu: X86Cpu, rm: boolean): number {
  return rm ? cpu.modrm & 7 : cpu.modOp;
}

/** The current instruction has a register (not memory) r/m operand. */
export function rmIsReg(cpu: X86Cpu): boolean {
  return cpu.modrm >= 0xc0;
}

/**
 * Checks for an instruction that uses XMM registers or MXCSR: CR0.EM or CR4.OSFXSR=0 → #UD,
 * then CR0.TS → #NM.
 */
export function checkSse(cpu: X86Cpu): void {
  const s = cpu.s;
  if ((s.cr0 & Cr0.EM) || !(s.cr4 & Cr4.OSFXSR)) cpu.raise(Vec.UD);
  if (s.cr0 & Cr0.TS) cpu.raise(Vec.NM);
}

/**
 * Checks for an instruction on MMX registers only: CR0.EM → #UD, CR0.TS → #NM, then a pending
 * unmasked x87 exception (FSW.ES) → #MF, as for FWAIT (SDM Vol. 3A Table 12-1). With
 * CR0.NE=0 the PC reports it through FERR#/IGNNE#, which this machine does not wire.
 */
export function checkMmx(cpu: X86Cpu): void {
  const s = cpu.s;
  if (s.cr0 & Cr0.EM) cpu.raise(Vec.UD);
  if (s.cr0 & Cr0.TS) cpu.raise(Vec.NM);
  if ((cpu.fpu.fsw & 0x80) && (s.cr0 & Cr0.NE)) cpu.raise(Vec.MF);
}

/** The x87 → MMX transition every MMX register access makes: TOP=0, all tags valid. */
export function enterMmx(cpu: X86Cpu): void {
  cpu.fpu.top = 0;
  cpu.fpu.ftw = 0;
}

// --- MMX registers ---------------------------------------------------------------------------

export function loadMm(cpu: X86Cpu, r: number, v: Vec128): void {
  v.u32[0] = cpu.fpu.mant[2 * r]!;
  v.u32[1] = cpu.fpu.mant[2 * r + 1]!;
}

/** Writes MMr; an MMX write also sets the register's sign+exponent to all ones. */
export function storeMm(cpu: X86Cpu, r: number, lo: number, hi: number): void {
  const f = cpu.fpu;
  f.mant[2 * r] = lo;
  f.mant[2 * r + 1] = hi;
  f.exp[r] = 0xffff;
}

// --- XMM registers ---------------------------------------------------------------------------

export function loadXmm(cpu: X86Cpu, r: number, v: Vec128): void {
  const x = cpu.sse.u32;
  v.u32[0] = x[4 * r]!;
  v.u32[1] = x[4 * r + 1]!;
  v.u32[2] = x[4 * r + 2]!;
  v.u32[3] = x[4 * r + 3]!;
}

export function storeXmm(cpu: X86Cpu, r: number, v: Vec128): void {
  const x = cpu.sse.u32;
  x[4 * r] = v.u32[0]!;
  x[4 * r + 1] = v.u32[1]!;
  x[4 * r + 2] = v.u32[2]!;
  x[4 * r + 3] = v.u32[3]!;
}

// --- Memory operands -------------------------------------------------------------------------

/**
 * Linear address of the current memory operand for `size` bytes, checked against the segment;
 * with `align16` a misaligned address is #GP(0).
 */
export function operandAddr(cpu: X86Cpu, size: number, write: boolean, align16: boolean): number {
  const lin = cpu.segAddr(cpu.eaSeg, cpu.eaOff, size, write);
  if (align16 && (lin & 15) !== 0) cpu.gp(0);
  return lin;
}

/**
 * Reads `size` bytes at `k` bytes past the operand's linear address `lin`, an explicit access
 * with the current privilege (a CPL-3 access to a supervisor page is a user-mode #PF, SDM
 * Vol. 3A 4.6). Outside IA-32e mode linear addresses wrap at 4 GiB.
 */
export function readOperandAt(cpu: X86Cpu, lin: number, k: number, size: 1 | 2 | 4): number {
  return cpu.readData(cpu.lma ? lin + k : (lin + k) >>> 0, size);
}

/** Writes `size` bytes at `k` bytes past the operand's linear address (see readOperandAt). */
export function writeOperandAt(cpu: X86Cpu, lin: number, k: number, size: 1 | 2 | 4, v: number): void {
  cpu.writeData(cpu.lma ? lin + k : (lin + k) >>> 0, size, v);
}

/** Reads `bytes` (4, 8 or 16) of the memory operand into v's low lanes. */
export function loadMem(cpu: X86Cpu, v: Vec128, bytes: number, align16: boolean): void {
  const lin = operandAddr(cpu, bytes, false, align16);
  for (let i = 0; i < bytes >> 2; i++) v.u32[i] = readOperandAt(cpu, lin, 4 * i, 4);
}

/**
 * Writes `bytes` of v to the memory operand. The segment check covers the whole operand
 * before the first byte is written.
 * XXX: with paging, a page fault on the second page of a split store comes after the first
 * page was written; the paging work should probe both pages first.
 */
export function storeMem(cpu: X86Cpu, v: Vec128, bytes: number, align16: boolean): void {
  const lin = operandAddr(cpu, bytes, true, align16);
  for (let i = 0; i < bytes >> 2; i++) writeOperandAt(cpu, lin, 4 * i, 4, v.u32[i]!);
}

/** XMM source operand (register or m128) into v. */
export function loadXmmRm(cpu: X86Cpu, v: Vec128, align16: boolean): void {
  if (rmIsReg(cpu)) loadXmm(cpu, xmmIndex(cpu, true), v);
  else loadMem(cpu, v, 16, align16);
}

/** MMX source operand (register or m64) into v; a register source is an MMX access. */
export function loadMmRm(cpu: X86Cpu, v: Vec128): void {
  if (rmIsReg(cpu)) loadMm(cpu, mmIndex(cpu, true), v);
  else loadMem(cpu, v, 8, false);
}

// --- SIMD floating-point exceptions ----------------------------------------------------------

/** Starts an instruction that may raise SIMD floating-point exceptions. */
export function beginFp(cpu: X86Cpu): void {
  cpu.sse.pre = 0;
  cpu.sse.post = 0;
}

/**
 * Ends it: sets the MXCSR flags; if any raised exception is unmasked, raises #XM (or #UD
 * when CR4.OSXMMEXCPT=0) before the destination is written (SDM Vol. 1 11.5.1, 11.5.3). An
 * unmasked pre-computation exception (IE, DE, ZE) in any lane suppresses the reporting of
 * post-computation ones (OE, UE, PE).
 */
export function commitFp(cpu: X86Cpu): void {
  const st = cpu.sse;
  const masks = (st.mxcsr >> Mxcsr.MASK_SHIFT) & Mxcsr.FLAGS;
  if (st.pre & ~masks) {
    st.mxcsr |= st.pre;
    xmException(cpu);
  }
  const all = st.pre | st.post;
  st.mxcsr |= all;
  if (all & ~masks) xmException(cpu);
}

function xmException(cpu: X86Cpu): never {
  return cpu.raise(cpu.s.cr4 & Cr4.OSXMMEXCPT ? Vec.XM : Vec.UD);
}

/** MXCSR.RC. */
export function roundingControl(cpu: X86Cpu): number {
  return (cpu.sse.mxcsr >> Mxcsr.RC_SHIFT) & 3;
}
