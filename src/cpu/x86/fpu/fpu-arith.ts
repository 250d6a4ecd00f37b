/**
 * x87 basic arithmetic and comparisons (SDM Vol. 1 8.3.5, 8.3.6, 4.8.3, Tables 4-7 and 8-10;
 * Vol. 2 FADD, FSUB, FMUL, FDIV, FSQRT, FCOM/FUCOM/FCOMI).
 *
 * Special operands (NaNs, infinities, zeros, unsupported encodings) are handled on the 80-bit
 * encodings. Finite nonzero operands go through the double working form (float80.ts `unpack`:
 * a 53-bit significand and an unbounded exponent, so overflow and underflow happen at the
 * extended range as on hardware). The double operation rounds to nearest; an error-free
 * transformation (TwoSum, Dekker's product) gives the sign of the rounding error, from which
 * the directed rounding modes, PE and C1 are exact for the 53-bit significand. Precision
 * control (FCW.PC, SDM 8.1.5.2) then rounds these results to 24 or 53 bits exactly; with PC =
 * 64 (extended) they keep the 53 bits they were computed with: the 64-bit precision of the x87
 * is not modelled.
 *
 * Comparisons are exact on the 80-bit values.
 */
import type { X86Cpu } from '../cpu.js';
import {
  classify, Ext, FClass, Fsw, ilogb, isNaNClass, nextDown, nextUp, Norm, normalize, packed, Rc, roundPack,
  roundPackDouble, TINY, unpack, Unpacked, Fmt,
} from './float80.js';
import { Fcw, rc, signal, unmasked, writePhys, phys } from './fpu-core.js';

export const enum Op { Add, Mul, Sub, Div }

/**
 * The result of an operation before it is stored: either a ready 80-bit value (`special`,
 * exact) or the working form (neg, e, m, sticky) still to be rounded.
 */
class Result {
  exact = true;
  readonly v = new Ext();
  neg = false;
  e = 0;
  m = 0;
  sticky = 0;
  /** Exceptions detected so far (IE, DE, ZE, and OE/UE/PE for transcendental results). */
  flags = 0;
  /** The operation obeys precision control (FADD…FDIVR, FSQRT: SDM 8.1.5.2). */
  usePc = false;
}

export const result = new Result();
const ua = new Unpacked();
const ub = new Unpacked();
const na = new Norm();

// ---------------------------------------------------------------------------------------------
// NaNs and invalid operations
// ---------------------------------------------------------------------------------------------

/** A QNaN copy of `v` (quiet bit set). */
function quiet(v: Ext, out: Ext): void {
  out.set(v.se, v.hi | 0x40000000, v.lo);
}

/**
 * NaN operand rules for the x87 (SDM Table 4-7): an SNaN raises IE; with two NaNs the QNaN
 * wins over an SNaN, otherwise the larger significand (the positive one on a tie).
 * Sets `result` and returns true if an operand was a NaN.
 */
function nanOperands(a: Ext, ca: FClass, b: Ext, cb: FClass): boolean {
  const an = isNaNClass(ca);
  const bn = isNaNClass(cb);
  if (!an && !bn) return false;
  const r = result;
  r.exact = true;
  if (ca === FClass.SNaN || cb === FClass.SNaN) r.flags |= Fsw.IE;
  let pick: Ext;
  if (an && bn) {
    if (ca !== cb) {
      pick = ca === FClass.QNaN ? a : b;
    } else if (a.hi !== b.hi) {
      pick = (a.hi >>> 0) > (b.hi >>> 0) ? a : b;
    } else if (a.lo !== b.lo) {
      pick = (a.lo >>> 0) > (b.lo >>> 0) ? a : b;
    } else {
      pick = a.se <= b.se ? a : b;
    }
  } else {
    pick = an ? a : b;
  }
  quiet(pick, r.v);
  return true;
}

function invalid(): void {
  result.exact = true;
  result.flags |= Fsw.IE;
  result.v.setIndefinite();
}

function setSpecial(neg: boolean, inf: boolean): void {
  result.exact = true;
  result.v.set((neg ? 0x8000 : 0) | (inf ? 0x7fff : 0), inf ? 0x80000000 : 0, 0);
}

/** The exact value `v` (finite, nonzero) as a result: denormals stay denormal, pseudo-denormals normalize. */
export function setExactFinite(v: Ext): void {
  const n = normalize(v.se, v.hi, v.lo, na);
  result.exact = false;
  result.neg = n.neg;
  result.e = n.e;
  result.m = 0;
  result.sticky = 0;
  exactSig.hi = n.hi;
  exactSig.lo = n.lo;
  exactSig.active = true;
}

/** Carries a full 64-bit significand through `storeResult` for exact results (x + 0, FSCALE). */
export const exactSig = { active: false, hi: 0, lo: 0 };

function prepare(extra: number): void {
  result.flags = extra;
  result.exact = true;
  result.usePc = false;
  exactSig.active = false;
}

// ---------------------------------------------------------------------------------------------
// Error-free transformations
// ---------------------------------------------------------------------------------------------

/** Dekker's split constant 2^27 + 1. */
const SPLIT = 134217729;

/** The exact error a·b − p of the double product p = a·b (|a|, |b| small, no overflow). */
function productError(a: number, b: number, p: number): number {
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}

/**
 * Applies directed rounding to the nearest-rounded magnitude m (in [1, 2)) whose exact value
 * is on the `sticky` side of it, and stores the working result.
 */
function setRounded(neg: boolean, e: number, m: number, sticky: number, mode: Rc): void {
  const towardZero = mode === Rc.Chop || (mode === Rc.Down && !neg) || (mode === Rc.Up && neg);
  const away = (mode === Rc.Up && !neg) || (mode === Rc.Down && neg);
  if (towardZero && sticky < 0) {
    m = nextDown(m);
    sticky = 1;
    if (m < 1) {
      m *= 2;
      e--;
    }
  } else if (away && sticky > 0) {
    m = nextUp(m);
    sticky = -1;
    if (m >= 2) {
      m /= 2;
      e++;
    }
  }
  const r = result;
  r.exact = false;
  r.neg = neg;
  r.e = e;
  r.m = m;
  r.sticky = sticky;
}

// ---------------------------------------------------------------------------------------------
// FADD FSUB FMUL FDIV
// ---------------------------------------------------------------------------------------------

/**
 * Computes a `op` b into `result` (not yet stored). `extra` holds DE when a memory operand was
 * a denormal in its own format (the extended copy is normalized).
 */
export function compute(op: Op, a: Ext, b: Ext, mode: Rc, extra: number): void {
  prepare(0);
  result.usePc = true;
  const ca = classify(a.se, a.hi, a.lo);
  const cb = classify(b.se, b.hi, b.lo);
  if (ca === FClass.Unsupported || cb === FClass.Unsupported) return invalid();
  if (nanOperands(a, ca, b, cb)) return;
  const sa = (a.se & 0x8000) !== 0;
  let sb = (b.se & 0x8000) !== 0;
  if (op === Op.Sub) sb = !sb;
  const ainf = ca === FClass.Infinity;
  const binf = cb === FClass.Infinity;
  const az = ca === FClass.Zero;
  const bz = cb === FClass.Zero;
  // Invalid operations first (SDM 4.9.1.2), then denormal operands (4.9.1.3), then zero divide.
  switch (op) {
    case Op.Add: case Op.Sub:
      if (ainf && binf && sa !== sb) return invalid();
      break;
    case Op.Mul:
      if ((ainf && bz) || (az && binf)) return invalid();
      break;
    default:
      if ((ainf && binf) || (az && bz)) return invalid();
      break;
  }
  let flags = extra;
  if (ca === FClass.Denormal || cb === FClass.Denormal) flags |= Fsw.DE;
  result.flags = flags;
  switch (op) {
    case Op.Add: case Op.Sub:
      if (ainf) return setSpecial(sa, true);
      if (binf) return setSpecial(sb, true);
      if (az && bz) return setSpecial(sa === sb ? sa : mode === Rc.Down, false);
      if (az) {
        if (op === Op.Sub) return setExactFinite(tmpNeg.set(b.se ^ 0x8000, b.hi, b.lo));
        return setExactFinite(b);
      }
      if (bz) return setExactFinite(a);
      return addFinite(a, sa, b, sb, mode);
    case Op.Mul:
      if (ainf || binf) return setSpecial(sa !== sb, true);
      if (az || bz) return setSpecial(sa !== sb, false);
      return mulFinite(a, b, sa !== sb, mode);
    default:
      if (ainf) return setSpecial(sa !== sb, true);
      if (binf) return setSpecial(sa !== sb, false);
      if (bz) {
        // A zero divide reports ZE alone, even for a denormal dividend (what the host does).
        result.flags = (result.flags & ~Fsw.DE) | Fsw.ZE;
        return setSpecial(sa !== sb, true);
      }
      if (az) return setSpecial(sa !== sb, false);
      return divFinite(a, b, sa !== sb, mode);
  }
}
const tmpNeg = new Ext();

function addFinite(a: Ext, sa: boolean, b: Ext, sb: boolean, mode: Rc): void {
  unpack(a.se, a.hi, a.lo, ua);
  unpack(b.se, b.hi, b.lo, ub);
  // x is the operand with the larger exponent.
  let xe = ua.e, xm = ua.m, xs = sa, ym = ub.m, ys = sb;
  let d = ua.e - ub.e;
  if (d < 0) {
    xe = ub.e; xm = ub.m; xs = sb; ym = ua.m; ys = sa;
    d = -d;
  }
  if (d > 110) {
    // y is below every bit that rounding can see: it only decides the direction.
    return setRounded(xs, xe, xm, xs === ys ? 1 : -1, mode);
  }
  const y = ym * Math.pow(2, -d); // exact: no underflow at this size
  let s: number, err: number;
  if (xs === ys) {
    s = xm + y;
    const bb = s - xm;
    err = (xm - (s - bb)) + (y - bb);
  } else {
    s = xm - y;
    const bb = s - xm;
    err = (xm - (s - bb)) + (-y - bb);
  }
  if (s === 0) {
    // Exact cancellation: +0, or -0 when rounding down (SDM 4.8.3.6 / IEEE 754 6.3).
    return setSpecial(mode === Rc.Down, false);
  }
  let neg = xs;
  if (s < 0) {
    s = -s;
    err = -err;
    neg = !neg;
  }
  const k = ilogb(s);
  setRounded(neg, xe + k, s * Math.pow(2, -k), sign(err), mode);
}

function mulFinite(a: Ext, b: Ext, neg: boolean, mode: Rc): void {
  unpack(a.se, a.hi, a.lo, ua);
  unpack(b.se, b.hi, b.lo, ub);
  let p = ua.m * ub.m;
  const err = productError(ua.m, ub.m, p);
  let e = ua.e + ub.e;
  if (p >= 2) {
    p /= 2;
    e++;
  }
  setRounded(neg, e, p, sign(err), mode);
}

function divFinite(a: Ext, b: Ext, neg: boolean, mode: Rc): void {
  unpack(a.se, a.hi, a.lo, ua);
  unpack(b.se, b.hi, b.lo, ub);
  let q = ua.m / ub.m;
  // Sign of the remainder ma - q·mb, computed exactly.
  const p = q * ub.m;
  const rem = (ua.m - p) - productError(q, ub.m, p);
  let e = ua.e - ub.e;
  if (q < 1) {
    q *= 2;
    e--;
  }
  setRounded(neg, e, q, sign(rem), mode);
}

/** FSQRT of `a` into `result`. */
export function computeSqrt(a: Ext, mode: Rc): void {
  prepare(0);
  result.usePc = true;
  const c = classify(a.se, a.hi, a.lo);
  const neg = (a.se & 0x8000) !== 0;
  if (c === FClass.Unsupported) return invalid();
  if (nanOperands(a, c, a, FClass.Zero)) return;
  if (c === FClass.Zero) return setSpecial(neg, false); // sqrt(-0) = -0
  if (neg) return invalid();
  if (c === FClass.Infinity) return setSpecial(false, true);
  if (c === FClass.Denormal) result.flags |= Fsw.DE;
  unpack(a.se, a.hi, a.lo, ua);
  let m = ua.m;
  let e = ua.e;
  if (e & 1) {
    m *= 2;
    e -= 1;
  }
  const r = Math.sqrt(m);
  const p = r * r;
  const rem = (m - p) - productError(r, r, p);
  setRounded(false, e / 2, r, sign(rem), mode);
}

/** Working-form result (for transcendental functions): value (-1)^neg · m · 2^e, inexact. */
export function setWorking(neg: boolean, e: number, m: number, sticky: number): void {
  result.exact = false;
  result.neg = neg;
  result.e = e;
  result.m = m;
  result.sticky = sticky;
}

export function setResultExact(v: Ext, flags: number): void {
  prepare(flags);
  result.v.set(v.se, v.hi, v.lo);
}

export function setResultIndefinite(flags: number): void {
  prepare(flags);
  result.v.setIndefinite();
}

export { prepare as resetResult, invalid as setInvalid, nanOperands };

// ---------------------------------------------------------------------------------------------
// Storing a result
// ---------------------------------------------------------------------------------------------

/** Significand bits by FCW.PC: 00 single, 01 reserved (treated as single), 10 double, 11 extended. */
const PC_BITS = [24, 24, 53, 64];

/** Bias adjustment of an unmasked overflow/underflow result in a register (SDM 4.9.1.4). */
const BIAS_ADJUST = 24576;

/**
 * Rounds `result` to extended and writes it to ST(i), with the exception rules of SDM 8.5:
 * unmasked IE, DE or ZE leave the destination unchanged (returns false); OE and UE deliver the
 * masked response, or the bias-adjusted result when unmasked; C1 tells whether the result was
 * rounded up. Flags are raised in FSW either way.
 */
export function storeResult(cpu: X86Cpu, i: number): boolean {
  const f = cpu.fpu;
  const r = result;
  let flags = r.flags;
  const pre = unmasked(f, flags & (Fsw.IE | Fsw.DE | Fsw.ZE));
  if (pre) {
    f.fsw &= ~Fsw.C1;
    signal(cpu, flags & (Fsw.IE | Fsw.DE | Fsw.ZE));
    return false;
  }
  if (!r.exact) {
    flags |= packWorking(cpu, r);
  } else {
    packed.set(r.v.se, r.v.hi, r.v.lo);
  }
  writePhys(f, phys(f, i), packed.se, packed.hi, packed.lo);
  f.fsw = (f.fsw & ~Fsw.C1) | (flags & Fsw.C1);
  signal(cpu, flags & ~Fsw.C1);
  return true;
}

/** Packs the working result into `packed` under FCW (RC, OM, UM); returns PE/UE/OE/C1. */
export function packWorking(cpu: X86Cpu, r: Result = result): number {
  const f = cpu.fpu;
  const mode = rc(f);
  const prec = r.usePc ? PC_BITS[(f.fcw >> Fcw.PC_SHIFT) & 3]! : 64;
  const pack = (adjust: number): number =>
    exactSig.active
      ? roundPack(r.neg, r.e + adjust, exactSig.hi, exactSig.lo, 0, Fmt.F80, mode, prec)
      : roundPackDouble(r.neg, r.e + adjust, r.m, r.sticky, mode, prec);
  let flags = pack(0);
  if ((flags & Fsw.OE) && !(f.fcw & Fcw.OM)) {
    flags = (pack(-BIAS_ADJUST) & (Fsw.PE | Fsw.C1)) | Fsw.OE;
  } else if ((flags & TINY) && !(f.fcw & Fcw.UM)) {
    // Unmasked underflow: signalled for any tiny result, exact or not.
    flags = (pack(BIAS_ADJUST) & (Fsw.PE | Fsw.C1)) | Fsw.UE;
  }
  if (r.flags & Fsw.PE) flags |= Fsw.PE;
  return flags & ~TINY;
}

// ---------------------------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------------------------

/** Condition codes of a comparison (FSW bit positions): >, <, =, unordered. */
export const CC_GT = 0;
export const CC_LT = Fsw.C0;
export const CC_EQ = Fsw.C3;
export const CC_UN = Fsw.C3 | Fsw.C2 | Fsw.C0;

const nb = new Norm();

/** -1, 0, 1: a < b, a = b, a > b for two ordered values (zeros of either sign are equal). */
export function compareOrdered(a: Ext, ca: FClass, b: Ext, cb: FClass): number {
  const sa = (a.se & 0x8000) !== 0;
  const sb = (b.se & 0x8000) !== 0;
  const az = ca === FClass.Zero;
  const bz = cb === FClass.Zero;
  if (az && bz) return 0;
  if (az) return sb ? 1 : -1;
  if (bz) return sa ? -1 : 1;
  if (sa !== sb) return sa ? -1 : 1;
  const mag = compareMagnitude(a, ca, b, cb);
  return sa ? -mag : mag;
}

function compareMagnitude(a: Ext, ca: FClass, b: Ext, cb: FClass): number {
  const ai = ca === FClass.Infinity;
  const bi = cb === FClass.Infinity;
  if (ai || bi) return ai && bi ? 0 : ai ? 1 : -1;
  normalize(a.se, a.hi, a.lo, na);
  normalize(b.se, b.hi, b.lo, nb);
  if (na.e !== nb.e) return na.e > nb.e ? 1 : -1;
  if (na.hi !== nb.hi) return na.hi > nb.hi ? 1 : -1;
  if (na.lo !== nb.lo) return na.lo > nb.lo ? 1 : -1;
  return 0;
}

/**
 * Compares a with b: returns the condition codes (C3 C2 C0) and sets `compareFlags` to the
 * exceptions: IE for unsupported operands and any NaN (FCOM, FCOMI) or only SNaNs (`quiet`:
 * FUCOM, FUCOMI); DE for denormals.
 */
export function compare(a: Ext, b: Ext, quietNaN: boolean): number {
  const ca = classify(a.se, a.hi, a.lo);
  const cb = classify(b.se, b.hi, b.lo);
  compareFlags = 0;
  if (ca === FClass.Unsupported || cb === FClass.Unsupported || ca === FClass.SNaN || cb === FClass.SNaN) {
    compareFlags = Fsw.IE;
    return CC_UN;
  }
  if (ca === FClass.QNaN || cb === FClass.QNaN) {
    if (!quietNaN) compareFlags = Fsw.IE;
    return CC_UN;
  }
  if (ca === FClass.Denormal || cb === FClass.Denormal) compareFlags = Fsw.DE;
  const c = compareOrdered(a, ca, b, cb);
  return c > 0 ? CC_GT : c < 0 ? CC_LT : CC_EQ;
}
export let compareFlags = 0;
