/**
 * x87 machinery shared by every instruction group: the register stack and its tags, exception
 * flags with the masked/unmasked split and the ES/B summary, the pending-exception check of the
 * waiting instructions (#MF or FERR#), #NM, the last-instruction pointers, and memory operands
 * of 64 and 80 bits.
 *
 * SDM Vol. 1 8.1 (state), 8.5-8.7 (exceptions and their delivery), Vol. 3A 2.5 (CR0.EM/TS/NE).
 */
import type { X86Cpu } from '../cpu.js';
import { Vec } from '../exceptions.js';
import { Cr0 } from '../state.js';
import type { FpuState } from './fpu-state.js';
import { Ext, Fsw, INDEFINITE_HI, INDEFINITE_SE, Rc, tagOf } from './float80.js';
import { readOperandAt, writeOperandAt } from '../sse/sse-access.js';

/** FCW fields (SDM Vol. 1 8.1.5). */
export const enum Fcw {
  IM = 1 << 0, DM = 1 << 1, ZM = 1 << 2, OM = 1 << 3, UM = 1 << 4, PM = 1 << 5,
  PC_SHIFT = 8, RC_SHIFT = 10,
}

/** Tags (SDM Vol. 1 8.1.7). */
export const enum Tag { Valid = 0, Zero = 1, Special = 2, Empty = 3 }

// ---------------------------------------------------------------------------------------------
// Registers and the stack
// ---------------------------------------------------------------------------------------------

/** Physical register number of ST(i). */
export function phys(f: FpuState, i: number): number {
  return (f.top + i) & 7;
}

export function tagPhys(f: FpuState, p: number): number {
  return (f.ftw >> (2 * p)) & 3;
}

export function setTagPhys(f: FpuState, p: number, tag: number): void {
  f.ftw = (f.ftw & ~(3 << (2 * p))) | (tag << (2 * p));
}

export function isEmpty(f: FpuState, i: number): boolean {
  return tagPhys(f, phys(f, i)) === Tag.Empty;
}

/** Copies ST(i) into `out` (whatever it holds, empty or not). */
export function readST(f: FpuState, i: number, out: Ext): Ext {
  const p = phys(f, i);
  return out.set(f.exp[p]!, f.mant[2 * p + 1]!, f.mant[2 * p]!);
}

/** Writes physical register `p` and tags it from its contents. */
export function writePhys(f: FpuState, p: number, se: number, hi: number, lo: number): void {
  f.exp[p] = se;
  f.mant[2 * p + 1] = hi;
  f.mant[2 * p] = lo;
  setTagPhys(f, p, tagOf(se, hi >>> 0, lo >>> 0));
}

export function writeST(f: FpuState, i: number, v: Ext): void {
  writePhys(f, phys(f, i), v.se, v.hi, v.lo);
}

export function writeSTIndefinite(f: FpuState, i: number): void {
  writePhys(f, phys(f, i), INDEFINITE_SE, INDEFINITE_HI, 0);
}

/** Marks ST(0) empty and increments TOP. */
export function pop(f: FpuState): void {
  setTagPhys(f, f.top, Tag.Empty);
  f.top = (f.top + 1) & 7;
}

/** Decrements TOP (the caller writes the new ST(0)). */
export function pushTop(f: FpuState): void {
  f.top = (f.top - 1) & 7;
}

/**
 * Full tag word as FNSTENV/FNSAVE store it: empty registers stay 11, the others are
 * classified from their contents (SDM Vol. 1 8.1.7).
 */
export function tagWord(f: FpuState): number {
  let tw = 0;
  for (let p = 0; p < 8; p++) {
    const t = tagPhys(f, p) === Tag.Empty ? Tag.Empty : tagOf(f.exp[p]!, f.mant[2 * p + 1]!, f.mant[2 * p]!);
    tw |= t << (2 * p);
  }
  return tw;
}

/**
 * Sets the full tag word from a loaded one (FLDENV, FRSTOR, FXRSTOR's expansion): only "empty"
 * is taken from `tw`; every other register is tagged from its contents, as the processor does.
 */
export function loadTagWord(f: FpuState, tw: number): void {
  f.ftw = tw & 0xffff;
  f.ftw = tagWord(f);
}

// ---------------------------------------------------------------------------------------------
// Exceptions
// ---------------------------------------------------------------------------------------------

export function rc(f: FpuState): Rc {
  return ((f.fcw >> Fcw.RC_SHIFT) & 3) as Rc;
}

/** Exception flags among `flags` that the control word leaves unmasked. */
export function unmasked(f: FpuState, flags: number): number {
  return flags & ~f.fcw & Fsw.EXC;
}

/**
 * Recomputes ES and B from the flags and masks (B mirrors ES on a 387 and later). Tells the
 * board when FERR# goes inactive (ES cleared).
 */
export function updateSummary(cpu: X86Cpu): void {
  const f = cpu.fpu;
  const had = f.fsw & Fsw.ES;
  if (unmasked(f, f.fsw)) {
    f.fsw |= Fsw.ES | Fsw.B;
  } else {
    f.fsw &= ~(Fsw.ES | Fsw.B);
    if (had) cpu.onFerr?.(false);
  }
}

/** Raises exception flags in FSW (C1 too if given), then updates ES/B. */
export function signal(cpu: X86Cpu, flags: number): void {
  cpu.fpu.fsw |= flags & (Fsw.EXC | Fsw.SF | Fsw.C1);
  updateSummary(cpu);
}

/** Sets C3 C2 C1 C0 to `cc` (bits in FSW positions), leaving the rest. */
export function setCc(f: FpuState, cc: number): void {
  f.fsw = (f.fsw & ~Fsw.CC) | (cc & Fsw.CC);
}

/** C1 after an instruction: cleared, unless stack overflow sets it (SDM 8.1.3.1). */
export function clearC1(f: FpuState): void {
  f.fsw &= ~Fsw.C1;
}

/**
 * Stack fault (SDM 8.5.1.1): IE and SF, C1 = 1 for overflow, 0 for underflow. Returns true if
 * IE is masked (the caller applies the masked response: QNaN indefinite).
 */
export function stackFault(cpu: X86Cpu, overflow: boolean): boolean {
  const f = cpu.fpu;
  f.fsw = overflow ? f.fsw | Fsw.C1 : f.fsw & ~Fsw.C1;
  signal(cpu, Fsw.IE | Fsw.SF);
  return (f.fcw & Fcw.IM) !== 0;
}

/**
 * Pushes `v` (FLD and friends). Stack overflow when the new ST(0) is not empty: masked, the
 * pushed value is the QNaN indefinite; unmasked, nothing changes. Returns false if unmasked
 * overflow stopped the instruction.
 */
export function push(cpu: X86Cpu, v: Ext): boolean {
  const f = cpu.fpu;
  if (!isEmpty(f, 7)) {
    if (!stackFault(cpu, true)) return false;
    pushTop(f);
    writeSTIndefinite(f, 0);
    return true;
  }
  pushTop(f);
  writeST(f, 0, v);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Entry checks: #NM, pending exceptions, the last-instruction pointers
// ---------------------------------------------------------------------------------------------

/** #NM for an x87 escape when CR0.EM or CR0.TS is set (SDM Vol. 3A Table 2-2). */
export function checkDeviceAvailable(cpu: X86Cpu): void {
  if (cpu.s.cr0 & (Cr0.EM | Cr0.TS)) cpu.raise(Vec.NM);
}

/**
 * A waiting x87 instruction with an unmasked exception pending (ES): #MF when CR0.NE = 1;
 * otherwise FERR# is asserted for the board (IRQ 13) and the instruction goes on, as QEMU does.
 * XXX: a real CPU in this mode freezes at the instruction until IGNNE# or an interrupt arrives.
 */
export function checkPending(cpu: X86Cpu): void {
  if ((cpu.fpu.fsw & Fsw.ES) === 0) return;
  if (cpu.s.cr0 & Cr0.NE) cpu.raise(Vec.MF);
  cpu.onFerr?.(true);
}

/** Records FIP, FCS and FOP for a non-control instruction (SDM Vol. 1 8.1.8, 8.1.9). */
export function recordInstruction(cpu: X86Cpu, op: number, modrm: number): void {
  const f = cpu.fpu;
  f.fip = cpu.startEip >>> 0;
  f.fcs = cpu.s.segSel[1]!; // CS
  f.fop = ((op & 7) << 8) | modrm;
}

/** Records FDP and FDS for a non-control instruction with a memory operand. */
export function recordOperand(cpu: X86Cpu): void {
  const f = cpu.fpu;
  f.fdp = cpu.eaOff >>> 0;
  f.fds = cpu.s.segSel[cpu.eaSeg]!;
}

// ---------------------------------------------------------------------------------------------
// Memory operands (segment-checked as one access, then read or written in dwords)
// ---------------------------------------------------------------------------------------------

/**
 * Linear address of the current memory operand at `disp`, checked for `size` bytes. The
 * offset wraps at the address size (16, 32, or none for 64-bit addresses).
 */
function operandLinear(cpu: X86Cpu, disp: number, size: number, write: boolean): number {
  return cpu.segAddr(cpu.eaSeg, cpu.offsetAdd(cpu.eaOff, disp), size, write);
}

// Operand accesses are explicit ones, with the current privilege (sse-access.ts).
export function readMem(cpu: X86Cpu, disp: number, size: 1 | 2 | 4): number {
  return readOperandAt(cpu, operandLinear(cpu, disp, size, false), 0, size);
}

export function writeMem(cpu: X86Cpu, disp: number, size: 1 | 2 | 4, v: number): void {
  writeOperandAt(cpu, operandLinear(cpu, disp, size, true), 0, size, v);
}

/** Checks that `size` bytes of the operand may be written, before any of them is. */
export function probeWrite(cpu: X86Cpu, size: number): void {
  operandLinear(cpu, 0, size, true);
}

export function probeRead(cpu: X86Cpu, size: number): void {
  operandLinear(cpu, 0, size, false);
}

/** Reads an m80 operand (at `disp` from the effective address) into `out`. */
export function readM80(cpu: X86Cpu, disp: number, out: Ext): Ext {
  const lin = operandLinear(cpu, disp, 10, false);
  const lo = readOperandAt(cpu, lin, 0, 4);
  const hi = readOperandAt(cpu, lin, 4, 4);
  return out.set(readOperandAt(cpu, lin, 8, 2), hi, lo);
}

export function writeM80(cpu: X86Cpu, disp: number, se: number, hi: number, lo: number): void {
  const lin = operandLinear(cpu, disp, 10, true);
  writeOperandAt(cpu, lin, 0, 4, lo >>> 0);
  writeOperandAt(cpu, lin, 4, 4, hi >>> 0);
  writeOperandAt(cpu, lin, 8, 2, se & 0xffff);
}
