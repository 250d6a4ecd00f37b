/**
 * The x87 escape opcodes D8-DF and WAIT (9B): decoding (SDM Vol. 2D Appendix A.4, Tables
 * ), the entry checks every x87 instruction makes (#NM, pending exceptions,
 * FIP/FDP), stack faults, and dispatch to the arithmetic, exact, transcendental and
 * environment groups.
 *
 * The reserved register encodings that P6-class processors execute as aliases are
 * implemented as such: FSTP1 (D9 D8+i), FCOM2 (DC D0+i), FCOMP3 (DC D8+i), FXCH4 (DD C8+i),
 * FCOMP5 (DE D0+i), FFREEP (DF C0+i), FXCH7 (DF C8+i), FSTP8/9 (DF D0+i, D8+i). FISTTP is SSE3
 * and raises #UD, as do the other undefined encodings. FENI, FDISI and FSETPM are no-ops on a
 * 387 and later.
 */
import type { X86Cpu } from '../cpu.js';
import { Vec } from '../exceptions.js';
import { Cr0, Reg } from '../state.js';
import {
  classify, Ext, extFromF32Bits, extFromF64Bits, FClass, Fmt, Fsw, INDEFINITE_HI, INDEFINITE_SE, normalize, Norm,
  packed, Rc, roundPack, TINY,
} from './float80.js';
import {
  CC_UN, compare, compareFlags, compute, computeSqrt, Op, result, storeResult,
} from './fpu-arith.js';
import {
  checkDeviceAvailable, checkPending, Fcw, isEmpty, pop, probeRead, probeWrite, push, rc, readM80, readMem, readST,
  recordInstruction, recordOperand, setCc, setTagPhys, phys, signal, stackFault, Tag, unmasked, updateSummary,
  writeM80, writeMem, writeST, writeSTIndefinite, pushTop,
} from './fpu-core.js';
import { fninit, loadControlWord, loadEnv, restoreState, saveState, storeEnv } from './fpu-env.js';
import {
  bcdResult, computeExtract, computeRemainder, computeRoundInt, computeScale, extFromBcd, extFromInt, extFromInt64,
  intResult, toBcd, toInteger,
} from './fpu-exact.js';
import { computeAtan, computeF2xm1, computeLog, computeTrig, Trig } from './fpu-transcendental.js';

const A = new Ext();
const B = new Ext();
const C = new Ext();
const n0 = new Norm();

/** WAIT/FWAIT (9B): #NM when CR0.MP and CR0.TS are both set, then pending exceptions. */
export function execWait(cpu: X86Cpu): void {
  if ((cpu.s.cr0 & (Cr0.MP | Cr0.TS)) === (Cr0.MP | Cr0.TS)) cpu.raise(Vec.NM);
  checkPending(cpu);
}

/** One x87 instruction: `op` is the escape byte D8-DF; the ModRM byte follows. */
export function execX87(cpu: X86Cpu, op: number): void {
  checkDeviceAvailable(cpu);
  cpu.decodeModrm();
  const modrm = cpu.modrm;
  const mem = modrm < 0xc0;
  const reg = (modrm >> 3) & 7;
  if (mem ? !validMem(op, reg) : !validReg(op, modrm)) {
    cpu.unimplemented(`x87 ${op.toString(16)} ${mem ? '/' + reg : modrm.toString(16)} (undefined encoding)`);
  }
  // No-wait forms skip the pending-exception check; control instructions keep the pointers.
  let noWait = false;
  let control = false;
  if (mem) {
    if ((op === 0xd9 || op === 0xdd) && reg >= 6) noWait = true;
    control = noWait || (op === 0xd9 && (reg === 4 || reg === 5)) || (op === 0xdd && reg === 4);
  } else {
    noWait = (op === 0xdb && modrm >= 0xe0 && modrm <= 0xe4) || (op === 0xdf && modrm === 0xe0);
    control = noWait;
  }
  if (!noWait) checkPending(cpu);
  if (!control) {
    recordInstruction(cpu, op, modrm);
    if (mem) recordOperand(cpu);
  }
  if (mem) execMem(cpu, op, reg);
  else execReg(cpu, op, modrm);
}

function validMem(op: number, reg: number): boolean {
  switch (op) {
    case 0xd9: return reg !== 1;
    case 0xdb: return reg !== 1 && reg !== 4 && reg !== 6;
    case 0xdd: return reg !== 1 && reg !== 5;
    case 0xdf: return reg !== 1;
    default: return true;
  }
}

function validReg(op: number, m: number): boolean {
  switch (op) {
    case 0xd9:
      if (m >= 0xd1 && m <= 0xd7) return false;
      return m !== 0xe2 && m !== 0xe3 && m !== 0xe6 && m !== 0xe7 && m !== 0xef;
    case 0xda: return m < 0xe0 || m === 0xe9;
    case 0xdb: return m < 0xe5 || (m >= 0xe8 && m < 0xf8);
    case 0xdd: return m < 0xf0;
    case 0xde: return m < 0xd8 || m === 0xd9 || m >= 0xe0;
    case 0xdf: return m <= 0xe0 || (m >= 0xe8 && m < 0xf8);
    default: return true;
  }
}

// =============================================================================================
// Memory forms
// =============================================================================================

/** Reads an m32/m64 real or m16/m32 integer operand into `out`; returns DE for a denormal real. */
function readOperand(cpu: X86Cpu, kind: number, out: Ext): number {
  switch (kind) {
    case 0: { // m32real
      const b = readMem(cpu, 0, 4);
      extFromF32Bits(b, out);
      return (b & 0x7f800000) === 0 && (b & 0x7fffff) !== 0 ? Fsw.DE : 0;
    }
    case 1: { // m32int
      extFromInt(readMem(cpu, 0, 4) | 0, out);
      return 0;
    }
    case 2: { // m64real
      probeRead(cpu, 8);
      const lo = readMem(cpu, 0, 4);
      const hi = readMem(cpu, 4, 4);
      extFromF64Bits(lo, hi, out);
      return (hi & 0x7ff00000) === 0 && ((hi & 0xfffff) !== 0 || lo !== 0) ? Fsw.DE : 0;
    }
    default: { // m16int
      extFromInt((readMem(cpu, 0, 2) << 16) >> 16, out);
      return 0;
    }
  }
}

function execMem(cpu: X86Cpu, op: number, reg: number): void {
  const f = cpu.fpu;
  switch (op) {
    case 0xd8: case 0xda: case 0xdc: case 0xde: {
      // Arithmetic and compares with a memory operand: D8 m32real, DA m32int, DC m64real, DE m16int.
      const extra = readOperand(cpu, (op >> 1) & 3, B);
      if (reg === 2 || reg === 3) {
        fcom(cpu, B, false, reg === 3 ? 1 : 0, false, extra);
        return;
      }
      if (isEmpty(f, 0)) {
        if (stackFault(cpu, false)) writeSTIndefinite(f, 0);
        return;
      }
      readST(f, 0, A);
      arith(cpu, reg, A, B, 0, extra);
      return;
    }
    case 0xd9:
      switch (reg) {
        case 0: { // FLD m32real
          const de = readOperand(cpu, 0, B);
          loadReal(cpu, B, de);
          return;
        }
        case 2: case 3: storeReal(cpu, Fmt.F32, reg === 3); return;
        case 4: loadEnv(cpu); return;
        case 5: loadControlWord(cpu, readMem(cpu, 0, 2)); return;
        case 6: // FNSTENV: then all exceptions are masked (SDM FSTENV)
          storeEnv(cpu);
          f.fcw |= 0x3f;
          updateSummary(cpu);
          return;
        default: writeMem(cpu, 0, 2, f.fcw); return; // FNSTCW
      }
    case 0xdb:
      switch (reg) {
        case 0: readOperand(cpu, 1, B); pushValue(cpu, B); return; // FILD m32int
        case 2: case 3: storeInteger(cpu, 32, reg === 3); return;
        case 5: readM80(cpu, 0, B); pushValue(cpu, B); return; // FLD m80real: an exact copy
        default: { // FSTP m80real
          probeWrite(cpu, 10);
          if (isEmpty(f, 0)) {
            if (!stackFault(cpu, false)) return;
            writeM80(cpu, 0, INDEFINITE_SE, INDEFINITE_HI, 0);
          } else {
            const p = phys(f, 0);
            writeM80(cpu, 0, f.exp[p]!, f.mant[2 * p + 1]!, f.mant[2 * p]!);
            f.fsw &= ~Fsw.C1;
          }
          pop(f);
          return;
        }
      }
    case 0xdd:
      switch (reg) {
        case 0: { // FLD m64real
          const de = readOperand(cpu, 2, B);
          loadReal(cpu, B, de);
          return;
        }
        case 2: case 3: storeReal(cpu, Fmt.F64, reg === 3); return;
        case 4: restoreState(cpu); return;
        case 6: saveState(cpu); return;
        default: writeMem(cpu, 0, 2, f.statusWord()); return; // FNSTSW m16
      }
    default: // 0xdf
      switch (reg) {
        case 0: readOperand(cpu, 3, B); pushValue(cpu, B); return; // FILD m16int
        case 2: case 3: storeInteger(cpu, 16, reg === 3); return;
        case 4: { // FBLD
          const bytes = bcdBytes;
          probeRead(cpu, 10);
          for (let i = 0; i < 10; i++) bytes[i] = readMem(cpu, i, 1);
          pushValue(cpu, extFromBcd(bytes, B));
          return;
        }
        case 5: { // FILD m64int
          probeRead(cpu, 8);
          const lo = readMem(cpu, 0, 4);
          pushValue(cpu, extFromInt64(lo, readMem(cpu, 4, 4), B));
          return;
        }
        case 6: storeBcd(cpu); return;
        default: storeInteger(cpu, 64, true); return; // FISTP m64int
      }
  }
}
const bcdBytes = new Uint8Array(10);

/** Pushes an exact value (FILD, FBLD, FLD m80): stack overflow is the only exception. */
function pushValue(cpu: X86Cpu, v: Ext): void {
  const f = cpu.fpu;
  if (!isEmpty(f, 7)) return stackOverflow(cpu);
  pushTop(f);
  writeST(f, 0, v);
  f.fsw &= ~Fsw.C1;
}

/** A push onto a full stack: masked, the QNaN indefinite is pushed; unmasked, nothing changes. */
function stackOverflow(cpu: X86Cpu): void {
  push(cpu, C.setIndefinite());
}

/**
 * FLD m32real/m64real: an SNaN raises IE and loads as a QNaN; a denormal raises DE.
 * XXX: with DE unmasked the value is still pushed, as the host CPU (AMD) does; the SDM's
 * general rule (8.5.2) would leave the stack unchanged.
 */
function loadReal(cpu: X86Cpu, v: Ext, de: number): void {
  const f = cpu.fpu;
  if (!isEmpty(f, 7)) return stackOverflow(cpu);
  let flags = de;
  if (classify(v.se, v.hi, v.lo) === FClass.SNaN) {
    flags = Fsw.IE;
    v.hi |= 0x40000000;
  }
  if (unmasked(f, flags & Fsw.IE)) {
    signal(cpu, flags);
    return;
  }
  pushTop(f);
  writeST(f, 0, v);
  f.fsw &= ~Fsw.C1;
  signal(cpu, flags);
}

/** FST/FSTP m32real or m64real: rounds ST(0) under RC (SDM FST). */
function storeReal(cpu: X86Cpu, fmt: Fmt.F32 | Fmt.F64, popAfter: boolean): void {
  const f = cpu.fpu;
  const size = fmt === Fmt.F32 ? 4 : 8;
  probeWrite(cpu, size);
  let flags = 0;
  let hi: number;
  let lo: number;
  if (isEmpty(f, 0)) {
    if (!stackFault(cpu, false)) return;
    // Masked stack underflow stores the QNaN indefinite of the format.
    hi = fmt === Fmt.F32 ? 0 : 0xfff80000;
    lo = fmt === Fmt.F32 ? 0xffc00000 : 0;
    writeReal(cpu, size, hi, lo);
    if (popAfter) pop(f);
    return;
  }
  readST(f, 0, A);
  const sign = A.se & 0x8000 ? 1 : 0;
  const c = classify(A.se, A.hi, A.lo);
  switch (c) {
    case FClass.Zero: case FClass.Infinity: {
      const inf = c === FClass.Infinity;
      if (fmt === Fmt.F32) {
        hi = 0;
        lo = ((sign << 31) | (inf ? 0x7f800000 : 0)) >>> 0;
      } else {
        hi = ((sign << 31) | (inf ? 0x7ff00000 : 0)) >>> 0;
        lo = 0;
      }
      break;
    }
    case FClass.QNaN: case FClass.SNaN: {
      // The NaN's top significand bits, made quiet (SDM 4.8.3.5).
      if (c === FClass.SNaN) flags = Fsw.IE;
      const h = A.hi | 0x40000000;
      if (fmt === Fmt.F32) {
        hi = 0;
        lo = ((sign << 31) | 0x7f800000 | ((h >>> 8) & 0x7fffff)) >>> 0;
      } else {
        hi = ((sign << 31) | 0x7ff00000 | ((h >>> 11) & 0xfffff)) >>> 0;
        lo = ((h << 21) | (A.lo >>> 11)) >>> 0;
      }
      break;
    }
    case FClass.Unsupported:
      flags = Fsw.IE;
      hi = fmt === Fmt.F32 ? 0 : 0xfff80000;
      lo = fmt === Fmt.F32 ? 0xffc00000 : 0;
      break;
    default: {
      const n = normalize(A.se, A.hi, A.lo, n0);
      flags = roundPack(n.neg, n.e, n.hi, n.lo, 0, fmt, rc(f));
      // Unmasked overflow or underflow with a memory destination: nothing is stored (SDM 4.9.1.4-5).
      // (Only OE or UE is flagged then, not PE: what the host CPU does.)
      if ((flags & Fsw.OE) && !(f.fcw & Fcw.OM)) {
        signal(cpu, Fsw.OE);
        return;
      }
      if ((flags & TINY) && !(f.fcw & Fcw.UM)) {
        signal(cpu, Fsw.UE);
        return;
      }
      hi = packed.hi;
      lo = packed.lo;
      flags &= ~TINY;
      break;
    }
  }
  if (unmasked(f, flags & Fsw.IE)) {
    signal(cpu, Fsw.IE);
    return;
  }
  writeReal(cpu, size, hi, lo);
  f.fsw = (f.fsw & ~Fsw.C1) | (flags & Fsw.C1);
  signal(cpu, flags & ~Fsw.C1);
  if (popAfter) pop(f);
}

function writeReal(cpu: X86Cpu, size: number, hi: number, lo: number): void {
  writeMem(cpu, 0, 4, lo);
  if (size === 8) writeMem(cpu, 4, 4, hi);
}

/** FIST/FISTP m16/m32/m64int under RC; out of range or NaN stores the integer indefinite (masked IE). */
function storeInteger(cpu: X86Cpu, bits: 16 | 32 | 64, popAfter: boolean): void {
  const f = cpu.fpu;
  probeWrite(cpu, bits / 8);
  let flags: number;
  if (isEmpty(f, 0)) {
    if (!stackFault(cpu, false)) return;
    intResult.lo = bits === 16 ? 0x8000 : bits === 32 ? 0x80000000 : 0;
    intResult.hi = bits === 64 ? 0x80000000 : 0;
    flags = 0;
  } else {
    readST(f, 0, A);
    flags = toInteger(A, bits, rc(f));
    if (unmasked(f, flags & Fsw.IE)) {
      signal(cpu, Fsw.IE);
      return;
    }
    f.fsw = (f.fsw & ~Fsw.C1) | (flags & Fsw.C1);
    signal(cpu, flags & ~Fsw.C1);
  }
  if (bits === 16) writeMem(cpu, 0, 2, intResult.lo);
  else writeMem(cpu, 0, 4, intResult.lo);
  if (bits === 64) writeMem(cpu, 4, 4, intResult.hi);
  if (popAfter) pop(f);
}

/** FBSTP m80bcd. */
function storeBcd(cpu: X86Cpu): void {
  const f = cpu.fpu;
  probeWrite(cpu, 10);
  if (isEmpty(f, 0)) {
    if (!stackFault(cpu, false)) return;
    bcdResult.fill(0);
    bcdResult[7] = 0xc0;
    bcdResult[8] = 0xff;
    bcdResult[9] = 0xff;
  } else {
    readST(f, 0, A);
    const flags = toBcd(A, rc(f));
    if (unmasked(f, flags & Fsw.IE)) {
      signal(cpu, Fsw.IE);
      return;
    }
    f.fsw = (f.fsw & ~Fsw.C1) | (flags & Fsw.C1);
    signal(cpu, flags & ~Fsw.C1);
  }
  for (let i = 0; i < 10; i++) writeMem(cpu, i, 1, bcdResult[i]!);
  pop(f);
}

// =============================================================================================
// Arithmetic and compares
// =============================================================================================

/**
 * dest = a `reg` b for the arithmetic reg-field values 0 FADD, 1 FMUL, 4 FSUB, 5 FSUBR, 6 FDIV,
 * 7 FDIVR, with a = ST(dest); pops afterwards if asked (unless an unmasked exception stopped it).
 */
function arith(cpu: X86Cpu, reg: number, a: Ext, b: Ext, dest: number, extra: number, popAfter = false): void {
  const mode = rc(cpu.fpu);
  switch (reg) {
    case 0: compute(Op.Add, a, b, mode, extra); break;
    case 1: compute(Op.Mul, a, b, mode, extra); break;
    case 4: compute(Op.Sub, a, b, mode, extra); break;
    case 5: compute(Op.Sub, b, a, mode, extra); break;
    case 6: compute(Op.Div, a, b, mode, extra); break;
    default: compute(Op.Div, b, a, mode, extra); break;
  }
  if (storeResult(cpu, dest) && popAfter) pop(cpu.fpu);
}

/** Register-register arithmetic: ST(dest) = ST(dest) op ST(src). */
function arithReg(cpu: X86Cpu, reg: number, dest: number, src: number, popAfter: boolean): void {
  const f = cpu.fpu;
  if (isEmpty(f, dest) || isEmpty(f, src)) {
    if (stackFault(cpu, false)) {
      writeSTIndefinite(f, dest);
      if (popAfter) pop(f);
    }
    return;
  }
  readST(f, dest, A);
  readST(f, src, B);
  arith(cpu, reg, A, B, dest, 0, popAfter);
}

/**
 * FCOM/FUCOM family: compares ST(0) with `b` (or ST(i) when `bIndex` ≥ 0), sets C3 C2 C0 (or
 * ZF PF CF for FCOMI), pops `pops` times.
 */
function fcom(cpu: X86Cpu, b: Ext | null, quiet: boolean, pops: number, eflags: boolean, extra = 0, bIndex = -1): void {
  const f = cpu.fpu;
  let cc: number;
  // The condition codes are set even when an unmasked exception (stack underflow, invalid or
  // denormal operand) stops the pops: what the host CPU does.
  let masked: boolean;
  if (isEmpty(f, 0) || (bIndex >= 0 && isEmpty(f, bIndex))) {
    masked = stackFault(cpu, false);
    cc = CC_UN;
  } else {
    readST(f, 0, A);
    if (bIndex >= 0) b = readST(f, bIndex, B);
    cc = compare(A, b!, quiet);
    let flags = compareFlags;
    if (!(flags & Fsw.IE)) flags |= extra; // a denormal memory operand
    masked = !unmasked(f, flags);
    f.fsw &= ~Fsw.C1;
    signal(cpu, flags);
  }
  if (eflags) {
    // FCOMI: ZF PF CF from C3 C2 C0; OF SF AF cleared. C1 cleared.
    cpu.setArithFlags(((cc & Fsw.C3) ? 0x40 : 0) | ((cc & Fsw.C2) ? 0x04 : 0) | ((cc & Fsw.C0) ? 0x01 : 0));
    f.fsw &= ~Fsw.C1;
  } else {
    setCc(f, cc);
  }
  if (!masked) return;
  for (let i = 0; i < pops; i++) pop(f);
}

/** A unary operation on ST(0) whose result replaces it (FSQRT, FRNDINT, F2XM1, FSCALE…). */
function unary(cpu: X86Cpu, compute: (a: Ext) => void, needsST1 = false): void {
  const f = cpu.fpu;
  if (isEmpty(f, 0) || (needsST1 && isEmpty(f, 1))) {
    if (stackFault(cpu, false)) writeSTIndefinite(f, 0);
    return;
  }
  readST(f, 0, A);
  if (needsST1) readST(f, 1, B);
  compute(A);
  storeResult(cpu, 0);
}

/** FYL2X, FYL2XP1, FPATAN: the result goes to ST(1), then a pop. */
function binaryToST1(cpu: X86Cpu, compute: (st0: Ext, st1: Ext) => void): void {
  const f = cpu.fpu;
  if (isEmpty(f, 0) || isEmpty(f, 1)) {
    if (stackFault(cpu, false)) {
      writeSTIndefinite(f, 1);
      pop(f);
    }
    return;
  }
  readST(f, 0, A);
  readST(f, 1, B);
  compute(A, B);
  if (storeResult(cpu, 1)) pop(f);
}

/**
 * FPTAN, FSINCOS, FXTRACT: ST(0) is replaced and a second value pushed. Stack faults
 * (empty ST(0), or full ST(7)) leave two QNaN indefinites when masked.
 */
function twoResults(cpu: X86Cpu, fn: (a: Ext) => boolean): void {
  const f = cpu.fpu;
  if (isEmpty(f, 0) || !isEmpty(f, 7)) {
    if (stackFault(cpu, !isEmpty(f, 7) && !isEmpty(f, 0))) {
      writeSTIndefinite(f, 0);
      pushTop(f);
      writeSTIndefinite(f, 0);
    }
    return;
  }
  readST(f, 0, A);
  fn(A);
}

/** The FLD constants (SDM FLD1/FLDL2T/…): the 66-bit internal value rounded under RC. */
const CONSTANTS: ReadonlyArray<readonly [number, number, number, boolean]> = [
  // se, hi, lo of the nearest value; whether the exact value lies above it (chop/down then give
  // the value below when it lies below it, up gives the value above when it lies above it).
  [0x3fff, 0x80000000, 0x00000000, false], // 1.0 (exact)
  [0x4000, 0xd49a784b, 0xcd1b8afe, true], // log2(10)
  [0x3fff, 0xb8aa3b29, 0x5c17f0bc, false], // log2(e)
  [0x4000, 0xc90fdaa2, 0x2168c235, false], // pi
  [0x3ffd, 0x9a209a84, 0xfbcff799, false], // log10(2)
  [0x3ffe, 0xb17217f7, 0xd1cf79ac, false], // ln(2)
  [0x0000, 0x00000000, 0x00000000, false], // +0.0 (exact)
];

function loadConstant(cpu: X86Cpu, k: number): void {
  const [se, hi, lo, above] = CONSTANTS[k]!;
  let l = lo;
  const mode = rc(cpu.fpu);
  const exact = k === 0 || k === 6;
  if (!exact) {
    // log2(10)'s nearest value is below it: only RC = up rounds up. The others' nearest values
    // are above the exact value: RC = down or chop gives the one below.
    if (above && mode === Rc.Up) l = lo + 1;
    if (!above && (mode === Rc.Down || mode === Rc.Chop)) l = lo - 1;
  }
  pushValue(cpu, C.set(se, hi, l));
}

function execReg(cpu: X86Cpu, op: number, modrm: number): void {
  const f = cpu.fpu;
  const reg = (modrm >> 3) & 7;
  const i = modrm & 7;
  switch (op) {
    case 0xd8:
      if (reg === 2 || reg === 3) return fcom(cpu, null, false, reg - 2, false, 0, i);
      return arithReg(cpu, reg, 0, i, false);
    case 0xdc:
      if (reg === 2 || reg === 3) return fcom(cpu, null, false, reg - 2, false, 0, i); // FCOM2, FCOMP3
      return arithReg(cpu, reg >= 4 ? reg ^ 1 : reg, i, 0, false);
    case 0xde:
      if (reg === 2) return fcom(cpu, null, false, 1, false, 0, i); // FCOMP5
      if (reg === 3) return fcom(cpu, null, false, 2, false, 0, 1); // FCOMPP
      return arithReg(cpu, reg >= 4 ? reg ^ 1 : reg, i, 0, true);
    case 0xd9: return execD9Reg(cpu, modrm);
    case 0xda:
      if (modrm === 0xe9) return fcom(cpu, null, true, 2, false, 0, 1); // FUCOMPP
      return fcmov(cpu, reg, false, i);
    case 0xdb:
      if (reg < 4) return fcmov(cpu, reg, true, i);
      if (reg === 4) {
        if (modrm === 0xe2) { // FNCLEX
          f.fsw &= ~(Fsw.EXC | Fsw.SF);
          updateSummary(cpu);
        } else if (modrm === 0xe3) {
          fninit(cpu);
        } // E0 FNENI, E1 FNDISI, E4 FNSETPM: no-ops on a 387 and later
        return;
      }
      return fcom(cpu, null, reg === 5, 0, true, 0, i); // FUCOMI (E8), FCOMI (F0)
    case 0xdd:
      switch (reg) {
        case 0: setTagPhys(f, phys(f, i), Tag.Empty); return; // FFREE
        case 1: return fxch(cpu, i); // FXCH4
        case 2: case 3: return fstReg(cpu, i, reg === 3); // FST, FSTP ST(i)
        case 4: return fcom(cpu, null, true, 0, false, 0, i); // FUCOM
        default: return fcom(cpu, null, true, 1, false, 0, i); // FUCOMP
      }
    default: // 0xdf
      switch (reg) {
        case 0: setTagPhys(f, phys(f, i), Tag.Empty); pop(f); return; // FFREEP
        case 1: return fxch(cpu, i); // FXCH7
        case 2: case 3: return fstReg(cpu, i, true); // FSTP8, FSTP9
        case 4: cpu.setReg(16, Reg.EAX, f.statusWord()); return; // FNSTSW AX
        default: return fcom(cpu, null, reg === 5, 1, true, 0, i); // FUCOMIP (E8), FCOMIP (F0)
      }
  }
}

function execD9Reg(cpu: X86Cpu, modrm: number): void {
  const f = cpu.fpu;
  const i = modrm & 7;
  if (modrm < 0xc8) { // FLD ST(i)
    if (!isEmpty(f, 7)) return stackOverflow(cpu);
    if (isEmpty(f, i)) {
      if (stackFault(cpu, false)) {
        pushTop(f);
        writeSTIndefinite(f, 0);
      }
      return;
    }
    readST(f, i, A);
    pushTop(f);
    writeST(f, 0, A);
    f.fsw &= ~Fsw.C1;
    return;
  }
  if (modrm < 0xd0) return fxch(cpu, i);
  if (modrm === 0xd0) return; // FNOP
  if (modrm < 0xe0) return fstReg(cpu, i, true); // FSTP1
  if (modrm >= 0xe8 && modrm <= 0xee) return loadConstant(cpu, modrm - 0xe8);
  switch (modrm) {
    case 0xe0: case 0xe1: { // FCHS, FABS: sign bit only, no exception for NaNs
      if (isEmpty(f, 0)) {
        if (stackFault(cpu, false)) writeSTIndefinite(f, 0);
        return;
      }
      const p = phys(f, 0);
      f.exp[p] = modrm === 0xe0 ? f.exp[p]! ^ 0x8000 : f.exp[p]! & 0x7fff;
      f.fsw &= ~Fsw.C1;
      return;
    }
    case 0xe4: // FTST
      C.set(0, 0, 0);
      return fcom(cpu, C, false, 0, false);
    case 0xe5: return fxam(cpu);
    case 0xf0: return unary(cpu, (a) => computeF2xm1(a));
    case 0xf1: return binaryToST1(cpu, (x, y) => computeLog(x, y, false)); // FYL2X
    case 0xf2: return trigPush(cpu, Trig.Tan); // FPTAN
    case 0xf3: return binaryToST1(cpu, (x, y) => computeAtan(y, x)); // FPATAN
    case 0xf4: return fxtract(cpu);
    case 0xf5: return fprem(cpu, true); // FPREM1
    case 0xf6: f.top = (f.top - 1) & 7; f.fsw &= ~Fsw.C1; return; // FDECSTP
    case 0xf7: f.top = (f.top + 1) & 7; f.fsw &= ~Fsw.C1; return; // FINCSTP
    case 0xf8: return fprem(cpu, false); // FPREM
    case 0xf9: return binaryToST1(cpu, (x, y) => computeLog(x, y, true)); // FYL2XP1
    case 0xfa: return unary(cpu, (a) => computeSqrt(a, rc(f)));
    case 0xfb: return trigPush(cpu, Trig.Sin); // FSINCOS
    case 0xfc: return unary(cpu, (a) => computeRoundInt(a, rc(f)));
    case 0xfd: return unary(cpu, (a) => computeScale(a, B), true);
    case 0xfe: return trig(cpu, Trig.Sin);
    default: return trig(cpu, Trig.Cos); // 0xff
  }
}

/** FXCH ST(i). Empty registers become the QNaN indefinite when IE is masked. */
function fxch(cpu: X86Cpu, i: number): void {
  const f = cpu.fpu;
  if (isEmpty(f, 0) || isEmpty(f, i)) {
    if (!stackFault(cpu, false)) return;
    if (isEmpty(f, 0)) writeSTIndefinite(f, 0);
    if (isEmpty(f, i)) writeSTIndefinite(f, i);
  } else {
    f.fsw &= ~Fsw.C1;
  }
  readST(f, 0, A);
  readST(f, i, B);
  writeST(f, 0, B);
  writeST(f, i, A);
}

/** FST/FSTP ST(i): an exact copy of ST(0). */
function fstReg(cpu: X86Cpu, i: number, popAfter: boolean): void {
  const f = cpu.fpu;
  if (isEmpty(f, 0)) {
    if (!stackFault(cpu, false)) return;
    writeSTIndefinite(f, i);
  } else {
    writeST(f, i, readST(f, 0, A));
    f.fsw &= ~Fsw.C1;
  }
  if (popAfter) pop(f);
}

/** FCMOVcc ST(0), ST(i): DA C0 B, C8 E, D0 BE, D8 U; DB the negations. */
function fcmov(cpu: X86Cpu, reg: number, negate: boolean, i: number): void {
  const f = cpu.fpu;
  if (isEmpty(f, 0) || isEmpty(f, i)) {
    if (stackFault(cpu, false)) writeSTIndefinite(f, 0);
    return;
  }
  const cc = [0x2, 0x4, 0x6, 0xa][reg & 3]! | (negate ? 1 : 0);
  if (cpu.condition(cc)) writeST(f, 0, readST(f, i, A));
  f.fsw &= ~Fsw.C1;
}

/** FXAM: C1 = sign; C3 C2 C0 = class (SDM FXAM table). */
function fxam(cpu: X86Cpu): void {
  const f = cpu.fpu;
  readST(f, 0, A);
  let cc: number;
  if (isEmpty(f, 0)) {
    cc = Fsw.C3 | Fsw.C0;
  } else {
    switch (classify(A.se, A.hi, A.lo)) {
      case FClass.Unsupported: cc = 0; break;
      case FClass.QNaN: case FClass.SNaN: cc = Fsw.C0; break;
      case FClass.Normal: cc = Fsw.C2; break;
      case FClass.Infinity: cc = Fsw.C2 | Fsw.C0; break;
      case FClass.Zero: cc = Fsw.C3; break;
      default: cc = Fsw.C3 | Fsw.C2; break; // denormal
    }
  }
  if (A.se & 0x8000) cc |= Fsw.C1;
  setCc(f, cc);
}

/** FSIN, FCOS: out-of-range operands set C2 and change nothing. */
function trig(cpu: X86Cpu, fn: Trig): void {
  const f = cpu.fpu;
  if (isEmpty(f, 0)) {
    if (stackFault(cpu, false)) writeSTIndefinite(f, 0);
    return;
  }
  readST(f, 0, A);
  if (!computeTrig(A, fn)) {
    f.fsw |= Fsw.C2;
    return;
  }
  f.fsw &= ~Fsw.C2;
  storeResult(cpu, 0);
}

/** FPTAN (ST(0) = tan, push 1.0) and FSINCOS (ST(0) = sin, push cos). */
function trigPush(cpu: X86Cpu, fn: Trig.Tan | Trig.Sin): void {
  const f = cpu.fpu;
  twoResults(cpu, (a) => {
    if (!computeTrig(a, fn)) {
      f.fsw |= Fsw.C2;
      return false;
    }
    f.fsw &= ~Fsw.C2;
    if (fn === Trig.Tan) {
      if (!storeResult(cpu, 0)) return false;
      // A NaN tangent (masked invalid or a NaN operand) is pushed again in place of 1.0.
      readST(f, 0, C);
      const nan = classify(C.se, C.hi, C.lo) === FClass.QNaN;
      pushTop(f);
      writeST(f, 0, nan ? C : C.set(0x3fff, 0x80000000, 0));
      return true;
    }
    // FSINCOS: both results are computed before anything is stored.
    const sinFlags = result.flags;
    sinResult.set(result.v.se, result.v.hi, result.v.lo);
    computeTrig(a, Trig.Cos);
    const flags = sinFlags | result.flags;
    if (unmasked(f, flags & (Fsw.IE | Fsw.DE))) {
      signal(cpu, flags & (Fsw.IE | Fsw.DE));
      return false;
    }
    writeST(f, 0, sinResult);
    pushTop(f);
    writeST(f, 0, result.v);
    f.fsw &= ~Fsw.C1;
    signal(cpu, flags);
    return true;
  });
}
const sinResult = new Ext();

function fxtract(cpu: X86Cpu): void {
  const f = cpu.fpu;
  twoResults(cpu, (a) => {
    const flags = computeExtract(a, B, C);
    if (unmasked(f, flags & (Fsw.IE | Fsw.DE | Fsw.ZE))) {
      signal(cpu, flags);
      return false;
    }
    writeST(f, 0, B);
    pushTop(f);
    writeST(f, 0, C);
    f.fsw &= ~Fsw.C1;
    signal(cpu, flags);
    return true;
  });
}

function fprem(cpu: X86Cpu, ieee: boolean): void {
  const f = cpu.fpu;
  if (isEmpty(f, 0) || isEmpty(f, 1)) {
    if (stackFault(cpu, false)) writeSTIndefinite(f, 0);
    return;
  }
  readST(f, 0, A);
  readST(f, 1, B);
  const cc = computeRemainder(A, B, ieee);
  if (storeResult(cpu, 0)) setCc(f, cc);
}
