/**
 * SSE/SSE2 floating-point lanes: one element of ADD/SUB/MUL/DIV/MIN/MAX/SQRT, CMP and
 * (U)COMIS, single or double precision, with the MXCSR semantics of SDM Vol. 1 11.5:
 *
 *  - NaN operands (4.8.3.5, Table 4-7): if the first source is a NaN it is the result, else the
 *    second source's NaN; an SNaN is quieted and raises IE. Invalid operations (inf - inf,
 *    0 * inf, 0/0, inf/inf, sqrt of a negative) give the QNaN floating-point indefinite.
 *  - MIN/MAX return the second source when either operand is a NaN (raising IE) or both are
 *    zero (MINPS/MAXPS pages).
 *  - DAZ treats denormal sources as zeros of the same sign; otherwise they raise DE.
 *  - Results are rounded under MXCSR.RC; OE/UE/PE as 4.9.1; FTZ returns a signed zero for a
 *    tiny result when underflow is masked, raising UE and PE.
 *
 * Operands are passed as raw bits: NaN payloads must survive, and a JS number cannot carry an
 * SNaN. Non-NaN values are converted to numbers through typed-array views, which is exact.
 * Flags go to `st.pre` / `st.post`; the instruction commits them (sse-exceptions.ts).
 */
import { DOUBLE, exactOp, ExactOp, roundExactOf, SINGLE, type FloatFormat, type Rounded } from './softfloat.js';
import { Mxcsr, Rc, type SseState } from './sse-state.js';

export const enum FpOp {
  Add, Sub, Mul, Div, Min, Max, Sqrt,
}

/** Operand classes. */
const enum K {
  Zero, Normal, Denormal, Inf, QNaN, SNaN,
}

export const QNAN_INDEFINITE_S = 0xffc00000;
/** High dword of the double QNaN indefinite (the low dword is 0). */
export const QNAN_INDEFINITE_D_HI = 0xfff80000;

const cvBuf = new ArrayBuffer(8);
const cvF64 = new Float64Array(cvBuf);
const cvF32 = new Float32Array(cvBuf);
const cvU32 = new Uint32Array(cvBuf);

/** A single-precision bit pattern as a number (not for NaNs). */
export function f32Of(bits: number): number {
  cvU32[0] = bits;
  return cvF32[0]!;
}

/** Bits of a single-precision value (not NaN; `x` must already be a float32 value). */
export function bitsOfF32(x: number): number {
  cvF32[0] = x;
  return cvU32[0]!;
}

/** A double from its two halves (not for NaNs). */
export function f64Of(lo: number, hi: number): number {
  cvU32[0] = lo;
  cvU32[1] = hi;
  return cvF64[0]!;
}

/** Sets lane `i` (dword index of the low half) of `R` to the double `x` (not NaN). */
export function putF64(R: Uint32Array, i: number, x: number): void {
  cvF64[0] = x;
  R[i] = cvU32[0]!;
  R[i + 1] = cvU32[1]!;
}

function classS(b: number): K {
  const e = b & 0x7f800000;
  const f = b & 0x7fffff;
  if (e === 0x7f800000) return f === 0 ? K.Inf : f & 0x400000 ? K.QNaN : K.SNaN;
  if (e === 0) return f === 0 ? K.Zero : K.Denormal;
  return K.Normal;
}

function classD(lo: number, hi: number): K {
  const e = hi & 0x7ff00000;
  const fz = (hi & 0xfffff) === 0 && lo === 0;
  if (e === 0x7ff00000) return fz ? K.Inf : hi & 0x80000 ? K.QNaN : K.SNaN;
  if (e === 0) return fz ? K.Zero : K.Denormal;
  return K.Normal;
}

// Results of the shared core: a number, or which operand's bits to produce.
const enum Res {
  Value, NanA, NanB, Indefinite, RawA, RawB,
}

let value = 0;

/**
 * The format-independent core. ka/kb are the classes after DAZ; a/b the values (unused for
 * NaNs). For Sqrt only b is used.
 */
function core(st: SseState, op: FpOp, ka: K, a: number, kb: K, b: number, fmt: FloatFormat): Res {
  const mx = st.mxcsr;
  if (op === FpOp.Sqrt) {
    if (kb >= K.QNaN) {
      if (kb === K.SNaN) st.pre |= Mxcsr.IE;
      return Res.NanB;
    }
    if (b < 0) {
      st.pre |= Mxcsr.IE;
      return Res.Indefinite;
    }
    if (kb === K.Denormal) st.pre |= Mxcsr.DE;
    if (kb === K.Zero || kb === K.Inf) {
      value = b;
      return Res.Value;
    }
  } else if (op === FpOp.Min || op === FpOp.Max) {
    if (ka >= K.QNaN || kb >= K.QNaN) {
      st.pre |= Mxcsr.IE;
      return Res.RawB;
    }
    if (ka === K.Denormal || kb === K.Denormal) st.pre |= Mxcsr.DE;
    if (op === FpOp.Min) return a < b ? Res.RawA : Res.RawB;
    return a > b ? Res.RawA : Res.RawB;
  } else {
    if (ka >= K.QNaN || kb >= K.QNaN) {
      if (ka === K.SNaN || kb === K.SNaN) st.pre |= Mxcsr.IE;
      return ka >= K.QNaN ? Res.NanA : Res.NanB;
    }
    const infA = ka === K.Inf;
    const infB = kb === K.Inf;
    let invalid = false;
    switch (op) {
      case FpOp.Add: invalid = infA && infB && (a > 0) !== (b > 0); break;
      case FpOp.Sub: invalid = infA && infB && (a > 0) === (b > 0); break;
      case FpOp.Mul: invalid = (infA && kb === K.Zero) || (infB && ka === K.Zero); break;
      default: invalid = (ka === K.Zero && kb === K.Zero) || (infA && infB); break;
    }
    if (invalid) {
      st.pre |= Mxcsr.IE;
      return Res.Indefinite;
    }
    if (op === FpOp.Div && kb === K.Zero) {
      // Division by zero takes precedence over a denormal dividend (no DE; host-verified).
      if (!infA) st.pre |= Mxcsr.ZE;
      value = a / b; // signed infinity
      return Res.Value;
    }
    if (ka === K.Denormal || kb === K.Denormal) st.pre |= Mxcsr.DE;
    if (infA || infB) {
      value = op === FpOp.Add ? a + b : op === FpOp.Sub ? a - b : op === FpOp.Mul ? a * b : a / b;
      return Res.Value;
    }
  }
  const rc = (mx >> Mxcsr.RC_SHIFT) & 3;
  if (rc === Rc.Nearest && fast(op, a, b, fmt)) {
    if (inexactFast) st.post |= Mxcsr.PE;
    return Res.Value;
  }
  const r = exactOp(op === FpOp.Add ? ExactOp.Add : op === FpOp.Sub ? ExactOp.Sub : op === FpOp.Mul ? ExactOp.Mul : op === FpOp.Div ? ExactOp.Div : ExactOp.Sqrt,
    op === FpOp.Sqrt ? b : a, b, fmt, rc);
  value = finishRounded(st, r);
  return Res.Value;
}

/** Applies the underflow rules (masked UE, FTZ, unmasked UE) to a rounded result. */
export function finishRounded(st: SseState, r: Rounded): number {
  const mx = st.mxcsr;
  if (!r.tiny) {
    st.post |= r.flags;
    return r.value;
  }
  if (!(mx & (Mxcsr.UE << Mxcsr.MASK_SHIFT))) {
    // Unmasked underflow is signalled on tininess alone (4.9.1.5).
    st.post |= Mxcsr.UE | (r.flags & Mxcsr.PE);
    return r.value;
  }
  if (mx & Mxcsr.FTZ) {
    st.post |= Mxcsr.UE | Mxcsr.PE;
    return r.value < 0 || Object.is(r.value, -0) ? -0 : 0;
  }
  st.post |= r.flags;
  return r.value;
}

// --- Fast path: round to nearest, result comfortably in the normal range -------------------

let inexactFast = false;
const SPLIT = 134217729; // 2^27 + 1 (Veltkamp)
const MIN_NORMAL_S = 2 ** -126;
const MAX_S = (2 - 2 ** -23) * 2 ** 127;
/** Below this the error term of a double product may not be representable. */
const SAFE_LOW_D = 2 ** -960;
const SAFE_HIGH_D = 2 ** 990;

let prodErr = 0;
/** a * b = p + prodErr exactly (Dekker), for |a|, |b| < 2^990 and no underflow. */
function twoProduct(a: number, b: number): number {
  const p = a * b;
  let c = SPLIT * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLIT * b;
  const bh = c - (c - b);
  const bl = b - bh;
  prodErr = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
  return p;
}

/** Sets `value` and `inexactFast`; returns false when the slow path must decide. */
function fast(op: FpOp, a: number, b: number, fmt: FloatFormat): boolean {
  if (fmt === SINGLE) {
    let d: number;
    let inexact: boolean;
    switch (op) {
      case FpOp.Add: case FpOp.Sub: {
        const bb = op === FpOp.Add ? b : -b;
        d = a + bb;
        const z = d - a;
        const err = (a - (d - z)) + (bb - z);
        const r = Math.fround(d);
        inexact = err !== 0 || r !== d;
        d = r;
        break;
      }
      case FpOp.Mul: {
        const p = a * b;
        d = Math.fround(p);
        inexact = d !== p;
        break;
      }
      case FpOp.Div:
        d = Math.fround(a / b);
        inexact = d * b !== a;
        break;
      default:
        d = Math.fround(Math.sqrt(b));
        inexact = d * d !== b;
        break;
    }
    const m = Math.abs(d);
    if (!(m > MIN_NORMAL_S && m <= MAX_S)) return false;
    value = d;
    inexactFast = inexact;
    return true;
  }
  if (Math.abs(a) >= SAFE_HIGH_D || Math.abs(b) >= SAFE_HIGH_D) return false;
  let d: number;
  switch (op) {
    case FpOp.Add: case FpOp.Sub: {
      const bb = op === FpOp.Add ? b : -b;
      d = a + bb;
      const z = d - a;
      inexactFast = (a - (d - z)) + (bb - z) !== 0;
      break;
    }
    case FpOp.Mul:
      d = twoProduct(a, b);
      inexactFast = prodErr !== 0;
      break;
    case FpOp.Div: {
      // The check d * b == a needs the product's error term above the underflow range.
      if (Math.abs(a) < SAFE_LOW_D) return false;
      d = a / b;
      const p = twoProduct(d, b);
      inexactFast = p !== a || prodErr !== 0;
      break;
    }
    default: {
      if (b < SAFE_LOW_D) return false;
      d = Math.sqrt(b);
      const p = twoProduct(d, d);
      inexactFast = p !== b || prodErr !== 0;
      break;
    }
  }
  const m = Math.abs(d);
  if (!(m > SAFE_LOW_D && m < SAFE_HIGH_D)) return false;
  value = d;
  return true;
}

// --- Single precision ------------------------------------------------------------------------

/** Class of single `bits` after DAZ (a denormal becomes a zero); `dazBits` gets the bits used. */
let dazBits = 0;
function readS(st: SseState, bits: number): K {
  let k = classS(bits);
  if (k === K.Denormal && st.mxcsr & Mxcsr.DAZ) {
    k = K.Zero;
    bits &= 0x80000000;
  }
  dazBits = bits >>> 0;
  return k;
}

/** One single-precision lane of `op`: returns the result bits. */
export function laneS(st: SseState, op: FpOp, x: number, y: number): number {
  const ka = readS(st, x);
  x = dazBits;
  const kb = readS(st, y);
  y = dazBits;
  const a = ka >= K.QNaN ? 0 : f32Of(x);
  const b = kb >= K.QNaN ? 0 : f32Of(y);
  switch (core(st, op, ka, a, kb, b, SINGLE)) {
    case Res.Value: return bitsOfF32(value);
    case Res.NanA: return (x | 0x400000) >>> 0;
    case Res.NanB: return (y | 0x400000) >>> 0;
    case Res.Indefinite: return QNAN_INDEFINITE_S;
    case Res.RawA: return x;
    default: return y;
  }
}

// --- Double precision ------------------------------------------------------------------------

let dazLo = 0;
let dazHi = 0;
function readD(st: SseState, lo: number, hi: number): K {
  let k = classD(lo, hi);
  if (k === K.Denormal && st.mxcsr & Mxcsr.DAZ) {
    k = K.Zero;
    lo = 0;
    hi &= 0x80000000;
  }
  dazLo = lo >>> 0;
  dazHi = hi >>> 0;
  return k;
}

/** One double lane: R[ir..ir+1] = A[ia..] op B[ib..] (dword indices of the low halves). */
export function laneD(st: SseState, op: FpOp, A: Uint32Array, ia: number, B: Uint32Array, ib: number, R: Uint32Array, ir: number): void {
  const ka = readD(st, A[ia]!, A[ia + 1]!);
  const alo = dazLo, ahi = dazHi;
  const kb = readD(st, B[ib]!, B[ib + 1]!);
  const blo = dazLo, bhi = dazHi;
  const a = ka >= K.QNaN ? 0 : f64Of(alo, ahi);
  const b = kb >= K.QNaN ? 0 : f64Of(blo, bhi);
  switch (core(st, op, ka, a, kb, b, DOUBLE)) {
    case Res.Value: putF64(R, ir, value); return;
    case Res.NanA: R[ir] = alo; R[ir + 1] = ahi | 0x80000; return;
    case Res.NanB: R[ir] = blo; R[ir + 1] = bhi | 0x80000; return;
    case Res.Indefinite: R[ir] = 0; R[ir + 1] = QNAN_INDEFINITE_D_HI; return;
    case Res.RawA: R[ir] = alo; R[ir + 1] = ahi; return;
    default: R[ir] = blo; R[ir + 1] = bhi; return;
  }
}

// --- Comparisons -----------------------------------------------------------------------------

/**
 * CMPPS/CMPSS/CMPPD/CMPSD predicate `imm` (0-7: EQ LT LE UNORD NEQ NLT NLE ORD) on classified
 * operands; LT/LE/NLT/NLE signal IE for QNaNs too, the others only for SNaNs.
 */
function compareCore(st: SseState, pred: number, ka: K, a: number, kb: K, b: number): boolean {
  const unordered = ka >= K.QNaN || kb >= K.QNaN;
  const signaling = pred === 1 || pred === 2 || pred === 5 || pred === 6;
  if (unordered) {
    if (signaling || ka === K.SNaN || kb === K.SNaN) st.pre |= Mxcsr.IE;
  } else if (ka === K.Denormal || kb === K.Denormal) {
    st.pre |= Mxcsr.DE;
  }
  switch (pred & 7) {
    case 0: return !unordered && a === b;
    case 1: return !unordered && a < b;
    case 2: return !unordered && a <= b;
    case 3: return unordered;
    case 4: return unordered || a !== b;
    case 5: return unordered || !(a < b);
    case 6: return unordered || !(a <= b);
    default: return !unordered;
  }
}

export function compareS(st: SseState, pred: number, x: number, y: number): boolean {
  const ka = readS(st, x);
  const a = ka >= K.QNaN ? 0 : f32Of(dazBits);
  const kb = readS(st, y);
  const b = kb >= K.QNaN ? 0 : f32Of(dazBits);
  return compareCore(st, pred, ka, a, kb, b);
}

export function compareD(st: SseState, pred: number, A: Uint32Array, ia: number, B: Uint32Array, ib: number): boolean {
  const ka = readD(st, A[ia]!, A[ia + 1]!);
  const a = ka >= K.QNaN ? 0 : f64Of(dazLo, dazHi);
  const kb = readD(st, B[ib]!, B[ib + 1]!);
  const b = kb >= K.QNaN ? 0 : f64Of(dazLo, dazHi);
  return compareCore(st, pred, ka, a, kb, b);
}

/**
 * COMISS/UCOMISS/COMISD/UCOMISD: returns the EFLAGS bits ZF, PF, CF (SDM: unordered 111,
 * greater 000, less 001, equal 100). COMIS signals IE for any NaN, UCOMIS only for SNaNs.
 */
function comisCore(st: SseState, ordered: boolean, ka: K, a: number, kb: K, b: number): number {
  if (ka >= K.QNaN || kb >= K.QNaN) {
    if (ordered || ka === K.SNaN || kb === K.SNaN) st.pre |= Mxcsr.IE;
    return 0x40 | 0x4 | 0x1;
  }
  if (ka === K.Denormal || kb === K.Denormal) st.pre |= Mxcsr.DE;
  if (a === b) return 0x40;
  return a < b ? 0x1 : 0;
}

export function comisS(st: SseState, ordered: boolean, x: number, y: number): number {
  const ka = readS(st, x);
  const a = ka >= K.QNaN ? 0 : f32Of(dazBits);
  const kb = readS(st, y);
  const b = kb >= K.QNaN ? 0 : f32Of(dazBits);
  return comisCore(st, ordered, ka, a, kb, b);
}

export function comisD(st: SseState, ordered: boolean, A: Uint32Array, ia: number, B: Uint32Array, ib: number): number {
  const ka = readD(st, A[ia]!, A[ia + 1]!);
  const a = ka >= K.QNaN ? 0 : f64Of(dazLo, dazHi);
  const kb = readD(st, B[ib]!, B[ib + 1]!);
  const b = kb >= K.QNaN ? 0 : f64Of(dazLo, dazHi);
  return comisCore(st, ordered, ka, a, kb, b);
}

// --- Conversions -----------------------------------------------------------------------------

/**
 * Rounds `x` (a double, or NaN) to a signed integer of `bits` (32 or 64) under `rc`; NaN or
 * out of range raise IE and give the integer indefinite (the sign bit alone), inexact PE.
 * Returns the result as a number (a 64-bit result as an exact double, the caller splits it);
 * returns NaN for the indefinite.
 */
export function toInt(st: SseState, x: number, rc: number, bits: number): number {
  if (Number.isNaN(x)) {
    st.pre |= Mxcsr.IE;
    return NaN;
  }
  let r: number;
  switch (rc) {
    case Rc.Down: r = Math.floor(x); break;
    case Rc.Up: r = Math.ceil(x); break;
    case Rc.Zero: r = Math.trunc(x); break;
    default: {
      r = Math.floor(x);
      const diff = x - r;
      if (diff > 0.5 || (diff === 0.5 && r % 2 !== 0)) r += 1;
      break;
    }
  }
  const lim = 2 ** (bits - 1);
  if (!(r >= -lim && r < lim)) {
    st.pre |= Mxcsr.IE;
    return NaN;
  }
  if (r !== x) st.post |= Mxcsr.PE;
  return r === 0 ? 0 : r;
}

/** Reads single `bits` as a number for a conversion (DAZ applied, DE when `checkDenormal`); NaN for NaNs (after IE for an SNaN when `signalSnan`). */
export function convS(st: SseState, bits: number, checkDenormal: boolean): number {
  const k = readS(st, bits);
  if (k >= K.QNaN) {
    if (k === K.SNaN) st.pre |= Mxcsr.IE;
    return NaN;
  }
  if (k === K.Denormal && checkDenormal) st.pre |= Mxcsr.DE;
  return f32Of(dazBits);
}

export function convD(st: SseState, lo: number, hi: number, checkDenormal: boolean): number {
  const k = readD(st, lo, hi);
  if (k >= K.QNaN) {
    if (k === K.SNaN) st.pre |= Mxcsr.IE;
    return NaN;
  }
  if (k === K.Denormal && checkDenormal) st.pre |= Mxcsr.DE;
  return f64Of(dazLo, dazHi);
}

/** Rounds a finite double to single precision under MXCSR (CVTSD2SS, CVTPD2PS, CVTSI2SS): result bits. */
export function roundToSingle(st: SseState, x: number): number {
  const rc = (st.mxcsr >> Mxcsr.RC_SHIFT) & 3;
  if (x === Infinity || x === -Infinity) return bitsOfF32(x);
  return bitsOfF32(finishRounded(st, roundExact0(x, rc)));
}

function roundExact0(x: number, rc: number): Rounded {
  return roundExactOf(x, SINGLE, rc);
}

/** Quiets a double NaN and narrows it to single (CVTSD2SS): sign, quiet bit, top fraction bits. */
export function narrowNan(lo: number, hi: number): number {
  return ((hi & 0x80000000) | 0x7fc00000 | ((hi & 0xfffff) << 3) | (lo >>> 29)) >>> 0;
}

/** Widens a single NaN to double (CVTSS2SD), quieted: returns the high dword; the low is (bits & 7) << 29. */
export function widenNanHi(bits: number): number {
  return ((bits & 0x80000000) | 0x7ff80000 | ((bits & 0x7fffff) >>> 3)) >>> 0;
}
