/**
 * The SSE/SSE2 conversions (SDM Vol. 2 CVT* pages; Vol. 1 11.4.4 "SSE2 conversion
 * instructions"): 0F 2A (integer → float from MMX or a GPR), 0F 2C / 2D (float → integer,
 * truncating or under MXCSR.RC), 0F 5A (single ↔ double), 0F 5B (dword ↔ single) and 0F E6
 * (dword ↔ double).
 *
 * Float → integer conversions give the integer indefinite (0x80000000) with IE for NaNs and
 * out-of-range values, PE when inexact. Narrowing float conversions round under RC with OE,
 * UE, PE and FTZ; widening ones are exact and quiet SNaNs (IE).
 * Integer operands are 32-bit, or 64-bit in the REX.W forms of CVTSI2SS/SD and CVT(T)SS2SI/
 * SD2SI (the `intBits` parameter; SDM Vol. 2A CVTSI2SD "REX.W + F2 0F 2A"): a 64-bit integer
 * may have more bits than the destination's significand, so it is rounded under MXCSR.RC
 * from its exact value (PE when inexact); an out-of-range result is the 64-bit integer
 * indefinite 0x80000000_00000000.
 */
import type { X86Cpu } from '../cpu.js';
import { Vec } from '../exceptions.js';
import { DOUBLE, roundExact, roundExactOf, SINGLE } from './softfloat.js';
import {
  beginFp, checkSse, commitFp, enterMmx, loadMem, loadMm, loadXmm, loadXmmRm, mmIndex, rmIsReg, roundingControl,
  storeMm, storeXmm, xmmIndex,
} from './sse-access.js';
import { bitsOfF32, convD, convS, finishRounded, narrowNan, putF64, toInt, widenNanHi } from './sse-fp.js';
import { Rc, type Vec128 } from './sse-state.js';

const INDEFINITE32 = 0x80000000;

/** Rounds an integer (exact as a double) or any finite double to single bits under MXCSR. */
function toSingleBits(cpu: X86Cpu, x: number): number {
  if (x === Infinity || x === -Infinity) return bitsOfF32(x);
  return bitsOfF32(finishRounded(cpu.sse, roundExactOf(x, SINGLE, roundingControl(cpu))));
}

/** Single lane `bits` → double written at R[i..i+1] (CVTSS2SD, CVTPS2PD). */
function singleToDouble(cpu: X86Cpu, bits: number, R: Uint32Array, i: number): void {
  const x = convS(cpu.sse, bits, true);
  if (Number.isNaN(x)) {
    R[i] = (bits & 7) << 29;
    R[i + 1] = widenNanHi(bits);
    return;
  }
  putF64(R, i, x);
}

/** Double lane → single bits (CVTSD2SS, CVTPD2PS). */
function doubleToSingle(cpu: X86Cpu, lo: number, hi: number): number {
  const x = convD(cpu.sse, lo, hi, true);
  if (Number.isNaN(x)) return narrowNan(lo, hi);
  return toSingleBits(cpu, x);
}

/** Float (already a number, NaN for NaNs) → int32 bits, indefinite on IE. */
function toInt32(cpu: X86Cpu, x: number, truncate: boolean): number {
  const r = toInt(cpu.sse, x, truncate ? Rc.Zero : roundingControl(cpu), 32);
  return Number.isNaN(r) ? INDEFINITE32 : r >>> 0;
}

/** Loads the scalar or packed float source: `bytes` from memory (aligned when 16) or the XMM r/m register. */
function loadSrc(cpu: X86Cpu, v: Vec128, bytes: number): void {
  if (rmIsReg(cpu)) loadXmm(cpu, xmmIndex(cpu, true), v);
  else loadMem(cpu, v, bytes, bytes === 16);
}

/** 0F 2A: CVTPI2PS, 66 CVTPI2PD, F3 CVTSI2SS, F2 CVTSI2SD. */
export function cvt2a(cpu: X86Cpu, pfx: number, intBits: number): void {
  const st = cpu.sse;
  const a = st.a, b = st.b;
  checkSse(cpu);
  cpu.decodeModrm();
  const d = xmmIndex(cpu, false);
  loadXmm(cpu, d, a);
  beginFp(cpu);
  if (pfx === 0 || pfx === 1) {
    // The MMX source: a register operand is an MMX access (x87 → MMX transition).
    if (rmIsReg(cpu)) {
      enterMmx(cpu);
      loadMm(cpu, mmIndex(cpu, true), b);
    } else {
      loadMem(cpu, b, 8, false);
    }
    if (pfx === 0) {
      a.u32[0] = toSingleBits(cpu, b.i32[0]!);
      a.u32[1] = toSingleBits(cpu, b.i32[1]!);
    } else {
      putF64(a.u32, 0, b.i32[0]!);
      putF64(a.u32, 2, b.i32[1]!);
    }
  } else if (intBits === 64) {
    const lo = cpu.readRm(64);
    const x = fromInt64(cpu, lo, cpu.hi, pfx === 2);
    if (pfx === 2) a.u32[0] = bitsOfF32(x);
    else putF64(a.u32, 0, x);
  } else {
    const v = cpu.readRm(32) | 0;
    if (pfx === 2) a.u32[0] = toSingleBits(cpu, v);
    else putF64(a.u32, 0, v);
  }
  commitFp(cpu);
  storeXmm(cpu, d, a);
}

/**
 * The signed 64-bit integer hi:lo rounded to single (`single`) or double under MXCSR.RC, PE
 * when inexact. Exact through BigInt: a double cannot hold every 64-bit integer.
 */
function fromInt64(cpu: X86Cpu, lo: number, hi: number, single: boolean): number {
  if ((lo | hi) === 0) return 0;
  const v = (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);
  const neg = v < 0n;
  const r = roundExact(neg, neg ? -v : v, 0, false, single ? SINGLE : DOUBLE, roundingControl(cpu));
  return finishRounded(cpu.sse, r);
}

/** 0F 2C / 2D: CVT(T)PS2PI, 66 CVT(T)PD2PI, F3 CVT(T)SS2SI, F2 CVT(T)SD2SI. */
export function cvt2c2d(cpu: X86Cpu, pfx: number, truncate: boolean, intBits: number): void {
  const st = cpu.sse;
  const b = st.b, r = st.r;
  checkSse(cpu);
  cpu.decodeModrm();
  beginFp(cpu);
  if (pfx === 0 || pfx === 1) {
    if (pfx === 0) {
      loadSrc(cpu, b, 8);
      r.u32[0] = toInt32(cpu, convS(st, b.u32[0]!, false), truncate);
      r.u32[1] = toInt32(cpu, convS(st, b.u32[1]!, false), truncate);
    } else {
      loadSrc(cpu, b, 16);
      r.u32[0] = toInt32(cpu, convD(st, b.u32[0]!, b.u32[1]!, false), truncate);
      r.u32[1] = toInt32(cpu, convD(st, b.u32[2]!, b.u32[3]!, false), truncate);
    }
    commitFp(cpu);
    enterMmx(cpu);
    storeMm(cpu, mmIndex(cpu, false), r.u32[0]!, r.u32[1]!);
    return;
  }
  loadSrc(cpu, b, pfx === 2 ? 4 : 8);
  const x = pfx === 2 ? convS(st, b.u32[0]!, false) : convD(st, b.u32[0]!, b.u32[1]!, false);
  if (intBits === 64) {
    // An integer double in [-2^63, 2^63): the halves are exact.
    const r = toInt(st, x, truncate ? Rc.Zero : roundingControl(cpu), 64);
    commitFp(cpu);
    if (Number.isNaN(r)) cpu.setReg64(cpu.modReg, 0, INDEFINITE32 | 0);
    else cpu.setReg64From(cpu.modReg, r);
    return;
  }
  const v = toInt32(cpu, x, truncate);
  commitFp(cpu);
  cpu.setReg(32, cpu.modReg, v);
}

/** 0F 5A: CVTPS2PD, 66 CVTPD2PS, F3 CVTSS2SD, F2 CVTSD2SS. */
export function cvt5a(cpu: X86Cpu, pfx: number): void {
  const st = cpu.sse;
  const a = st.a, b = st.b;
  checkSse(cpu);
  cpu.decodeModrm();
  const d = xmmIndex(cpu, false);
  loadXmm(cpu, d, a);
  beginFp(cpu);
  switch (pfx) {
    case 0: // CVTPS2PD xmm, xmm/m64
      loadSrc(cpu, b, 8);
      singleToDouble(cpu, b.u32[0]!, a.u32, 0);
      singleToDouble(cpu, b.u32[1]!, a.u32, 2);
      break;
    case 1: // CVTPD2PS xmm, xmm/m128: upper half zeroed
      loadSrc(cpu, b, 16);
      a.u32[0] = doubleToSingle(cpu, b.u32[0]!, b.u32[1]!);
      a.u32[1] = doubleToSingle(cpu, b.u32[2]!, b.u32[3]!);
      a.u32[2] = 0;
      a.u32[3] = 0;
      break;
    case 2: // CVTSS2SD xmm, xmm/m32
      loadSrc(cpu, b, 4);
      singleToDouble(cpu, b.u32[0]!, a.u32, 0);
      break;
    default: // CVTSD2SS xmm, xmm/m64
      loadSrc(cpu, b, 8);
      a.u32[0] = doubleToSingle(cpu, b.u32[0]!, b.u32[1]!);
      break;
  }
  commitFp(cpu);
  storeXmm(cpu, d, a);
}

/** 0F 5B: CVTDQ2PS, 66 CVTPS2DQ, F3 CVTTPS2DQ. */
export function cvt5b(cpu: X86Cpu, pfx: number): void {
  if (pfx === 3) cpu.raise(Vec.UD);
  const st = cpu.sse;
  const a = st.a, b = st.b;
  checkSse(cpu);
  cpu.decodeModrm();
  const d = xmmIndex(cpu, false);
  loadXmmRm(cpu, b, true);
  beginFp(cpu);
  for (let i = 0; i < 4; i++) {
    if (pfx === 0) a.u32[i] = toSingleBits(cpu, b.i32[i]!);
    else a.u32[i] = toInt32(cpu, convS(st, b.u32[i]!, false), pfx === 2);
  }
  commitFp(cpu);
  storeXmm(cpu, d, a);
}

/** 0F E6: 66 CVTTPD2DQ, F3 CVTDQ2PD, F2 CVTPD2DQ. */
export function cvtE6(cpu: X86Cpu, pfx: number): void {
  if (pfx === 0) cpu.raise(Vec.UD);
  const st = cpu.sse;
  const a = st.a, b = st.b;
  checkSse(cpu);
  cpu.decodeModrm();
  const d = xmmIndex(cpu, false);
  beginFp(cpu);
  if (pfx === 2) {
    loadSrc(cpu, b, 8);
    putF64(a.u32, 0, b.i32[0]!);
    putF64(a.u32, 2, b.i32[1]!);
  } else {
    loadXmmRm(cpu, b, true);
    a.u32[0] = toInt32(cpu, convD(st, b.u32[0]!, b.u32[1]!, false), pfx === 1);
    a.u32[1] = toInt32(cpu, convD(st, b.u32[2]!, b.u32[3]!, false), pfx === 1);
    a.u32[2] = 0;
    a.u32[3] = 0;
  }
  commitFp(cpu);
  storeXmm(cpu, d, a);
}
