/**
 * x87 transcendental instructions: F2XM1, FYL2X, FYL2XP1, FPATAN, FSIN, FCOS, FSINCOS, FPTAN
 * (SDM Vol. 2 instruction pages and their special-value tables; Vol. 1 8.3.8-8.3.10).
 *
 * Values are computed with JavaScript's Math functions on doubles, so results may differ from
 * a real x87 in the last bits; PE is always raised for an inexact result and C1 is cleared.
 * FSIN, FCOS, FSINCOS and FPTAN reduce their argument exactly by multiples of π/2 taken from the
 * x87's 66-bit internal π (SDM Vol. 1 8.3.10), so that large arguments give the hardware's
 * results rather than the mathematically exact ones.
 * Arguments and results beyond the double range go through the double working form (an
 * exponent kept apart) where it matters: logarithms of huge or tiny values, and tiny arguments
 * where f(x) is x times a constant.
 */
import { classify, Ext, extFromDouble, FClass, Fsw, Norm, normalize, pow2, Rc, unpack, Unpacked } from './float80.js';
import { compute, nanOperands, Op, resetResult, result, setInvalid } from './fpu-arith.js';

const u = new Unpacked();
const tmp = new Ext();
const tmp2 = new Ext();
const LN2 = extFromDouble(Math.LN2, new Ext());
const INV_LN2 = extFromDouble(Math.LOG2E, new Ext());

/** A finite nonzero value as a double (0 or ±Infinity outside the double range). */
function toDouble(v: Ext): number {
  unpack(v.se, v.hi, v.lo, u);
  return (u.neg ? -u.m : u.m) * pow2(u.e);
}

/** Unbiased exponent of a finite nonzero value. */
function exponentOf(v: Ext): number {
  return unpack(v.se, v.hi, v.lo, u).e;
}

function setDouble(d: number): void {
  extFromDouble(d, result.v);
  result.exact = true;
  result.flags |= Fsw.PE;
}

function setValue(se: number, hi: number, lo: number): void {
  result.exact = true;
  result.v.set(se, hi, lo);
}

/** Common entry: unsupported → IE, NaN propagation, denormal → DE. Returns the class, or -1 if done. */
function single(x: Ext): FClass | -1 {
  resetResult(0);
  const c = classify(x.se, x.hi, x.lo);
  if (c === FClass.Unsupported) {
    setInvalid();
    return -1;
  }
  if (nanOperands(x, c, x, FClass.Zero)) return -1;
  if (c === FClass.Denormal) result.flags |= Fsw.DE;
  return c;
}

/** x · k for a small |x| (exponent below the threshold where f(x) = k·x to double precision). */
function timesConstant(x: Ext, k: Ext, flags: number): void {
  compute(Op.Mul, x, k, Rc.Nearest, 0);
  result.flags |= flags | Fsw.PE;
}

/** F2XM1: 2^x − 1 (defined for −1 ≤ x ≤ 1; other finite values are computed anyway). */
export function computeF2xm1(x: Ext): void {
  const c = single(x);
  if (c === -1) return;
  const neg = (x.se & 0x8000) !== 0;
  if (c === FClass.Zero) return setValue(x.se, x.hi, x.lo);
  if (c === FClass.Infinity) {
    if (neg) return setValue(0xbfff, 0x80000000, 0); // 2^-inf - 1 = -1
    return setValue(x.se, x.hi, x.lo);
  }
  if (exponentOf(x) < -60) return timesConstant(x, LN2, result.flags);
  setDouble(Math.expm1(toDouble(x) * Math.LN2));
}

/**
 * FYL2X (`plus1` false): y · log2(x); FYL2XP1 (`plus1`): y · log2(x + 1). Result into `result`
 * (the caller stores it in ST(1) and pops).
 */
export function computeLog(x: Ext, y: Ext, plus1: boolean): void {
  resetResult(0);
  const cx = classify(x.se, x.hi, x.lo);
  const cy = classify(y.se, y.hi, y.lo);
  if (cx === FClass.Unsupported || cy === FClass.Unsupported) return setInvalid();
  if (nanOperands(x, cx, y, cy)) return;
  const xneg = (x.se & 0x8000) !== 0;
  const yneg = (y.se & 0x8000) !== 0;
  const yinf = cy === FClass.Infinity;
  const yzero = cy === FClass.Zero;
  const de = cx === FClass.Denormal || cy === FClass.Denormal ? Fsw.DE : 0;
  if (plus1) {
    // log2(x + 1) has the sign of x; x = 0 gives 0.
    if (cx === FClass.Zero) {
      if (yinf) return setInvalid();
      return setValue((xneg !== yneg ? 0x8000 : 0), 0, 0);
    }
    if (cx === FClass.Infinity) {
      if (xneg || yzero) return setInvalid();
      return setValue((yneg ? 0x8000 : 0) | 0x7fff, 0x80000000, 0);
    }
    const xd = toDouble(x);
    if (xd < -1) return setInvalid();
    result.flags |= de;
    if (xd === -1) {
      // log2(0) = -inf: a zero divide unless y is 0 (invalid).
      if (yzero) return setInvalid();
      result.flags |= Fsw.ZE;
      return setValue((yneg ? 0 : 0x8000) | 0x7fff, 0x80000000, 0);
    }
    if (yzero) return setValue((xneg !== yneg ? 0x8000 : 0), 0, 0);
    if (yinf) return setValue((xneg !== yneg ? 0x8000 : 0) | 0x7fff, 0x80000000, 0);
    if (exponentOf(x) < -60) {
      // log2(1 + x) = x / ln 2 to double precision.
      timesConstant(x, INV_LN2, de);
      tmp2.set(result.v.se, result.v.hi, result.v.lo);
      const flags = result.flags;
      if (!result.exact) {
        // Round the intermediate to extended first; its exponent may lie beyond the double range.
        extFromWorking(tmp2);
      }
      compute(Op.Mul, y, tmp2, Rc.Nearest, 0);
      result.flags |= flags;
      return;
    }
    return multiplyBy(y, Math.log1p(xd) / Math.LN2, de);
  }
  // FYL2X.
  if (cx === FClass.Zero) {
    if (yzero) return setInvalid();
    if (yinf) return setValue((yneg ? 0 : 0x8000) | 0x7fff, 0x80000000, 0);
    result.flags |= Fsw.ZE | de;
    return setValue((yneg ? 0 : 0x8000) | 0x7fff, 0x80000000, 0);
  }
  if (xneg) return setInvalid();
  if (cx === FClass.Infinity) {
    if (yzero) return setInvalid();
    return setValue((yneg ? 0x8000 : 0) | 0x7fff, 0x80000000, 0);
  }
  result.flags |= de;
  unpack(x.se, x.hi, x.lo, u);
  const log = u.e + Math.log2(u.m);
  if (log === 0) {
    // x = 1: y · 0.
    if (yinf) return setInvalid();
    return setValue(yneg ? 0x8000 : 0, 0, 0);
  }
  if (yzero) return setValue((yneg !== log < 0) ? 0x8000 : 0, 0, 0);
  if (yinf) return setValue(((yneg !== log < 0) ? 0x8000 : 0) | 0x7fff, 0x80000000, 0);
  multiplyBy(y, log, 0);
}

/** Rounds the working result to an extended value in `out` (nearest). */
function extFromWorking(out: Ext): void {
  // The working form of timesConstant comes from compute(): m in [1, 2), exponent e.
  const m = result.m;
  const hi = Math.floor(m * 2147483648);
  const lo = m * 9223372036854775808 - hi * 4294967296;
  out.set((result.neg ? 0x8000 : 0) | Math.max(1, Math.min(0x7ffe, result.e + 16383)), hi, lo);
}

function multiplyBy(y: Ext, k: number, flags: number): void {
  extFromDouble(k, tmp);
  compute(Op.Mul, y, tmp, Rc.Nearest, 0);
  result.flags |= flags | Fsw.PE;
}

/** FPATAN: atan2(y, x), y = ST(1), x = ST(0). */
export function computeAtan(y: Ext, x: Ext): void {
  resetResult(0);
  const cx = classify(x.se, x.hi, x.lo);
  const cy = classify(y.se, y.hi, y.lo);
  if (cx === FClass.Unsupported || cy === FClass.Unsupported) return setInvalid();
  if (nanOperands(y, cy, x, cx)) return;
  if (cx === FClass.Denormal || cy === FClass.Denormal) result.flags |= Fsw.DE;
  const finite = (c: FClass) => c !== FClass.Zero && c !== FClass.Infinity;
  if (finite(cx) && finite(cy)) {
    const ex = exponentOf(x);
    const ey = exponentOf(y);
    if (ey - ex < -60 && (x.se & 0x8000) === 0) {
      // atan(y/x) = y/x to double precision.
      const flags = result.flags;
      compute(Op.Div, y, x, Rc.Nearest, 0);
      result.flags |= flags | Fsw.PE;
      return;
    }
    // Scale both by the same power of two so that neither leaves the double range.
    const k = Math.max(ex, ey);
    unpack(y.se, y.hi, y.lo, u);
    const yd = (u.neg ? -u.m : u.m) * pow2(u.e - k);
    unpack(x.se, x.hi, x.lo, u);
    const xd = (u.neg ? -u.m : u.m) * pow2(u.e - k);
    return setDouble(Math.atan2(yd, xd));
  }
  const sign = (v: Ext) => ((v.se & 0x8000) !== 0 ? -1 : 1);
  const val = (v: Ext, c: FClass) => (c === FClass.Zero ? sign(v) * 0 : c === FClass.Infinity ? sign(v) * Infinity : sign(v));
  const r = Math.atan2(val(y, cy), val(x, cx));
  if (r === 0) return setValue(sign(y) < 0 ? 0x8000 : 0, 0, 0);
  setDouble(r);
}

/** Which function FSIN, FCOS, FSINCOS and FPTAN compute. */
export const enum Trig { Sin, Cos, Tan }

/**
 * FSIN/FCOS/FPTAN of x into `result`. Returns false when |x| ≥ 2^63: the operand is out of
 * range, C2 is set and nothing changes (SDM FSIN).
 */
export function computeTrig(x: Ext, fn: Trig): boolean {
  const c = single(x);
  if (c === -1) return true;
  if (c === FClass.Infinity) {
    setInvalid();
    return true;
  }
  if (c === FClass.Zero) {
    if (fn === Trig.Cos) setValue(0x3fff, 0x80000000, 0);
    else setValue(x.se, x.hi, x.lo);
    return true;
  }
  const e = exponentOf(x);
  if (e >= 63) return false;
  if (e < -40) {
    // sin x = tan x = x and cos x = 1 to double precision.
    if (fn === Trig.Cos) {
      setValue(0x3fff, 0x80000000, 0);
    } else {
      result.exact = true;
      result.v.set(x.se, x.hi, x.lo);
    }
    result.flags |= Fsw.PE;
    return true;
  }
  if (e < -1) {
    // |x| < 0.5: no reduction.
    const d = toDouble(x);
    setDouble(fn === Trig.Sin ? Math.sin(d) : fn === Trig.Cos ? Math.cos(d) : Math.tan(d));
    return true;
  }
  // x = X · 2^(e-63); π66/2 = PI66 · 2^-65. k = nearest(x / (π66/2)), r = x - k·π66/2, exactly.
  const n = normalize(x.se, x.hi, x.lo, nrm);
  const num = n.sig() << BigInt(e + 2);
  const k = (2n * num + PI66) / (2n * PI66);
  const ra = Number(num - k * PI66) * TWO_M65; // the reduced |x|, |ra| ≤ π/4
  const q = Number(k & 3n);
  const sin = Math.sin(ra);
  const cos = Math.cos(ra);
  // |x| = k·π/2 + ra: rotate by quadrant; sin is odd, cos even.
  const sa = [sin, cos, -sin, -cos][q]!;
  const ca = [cos, -sin, -cos, sin][q]!;
  const sx = n.neg ? -sa : sa;
  setDouble(fn === Trig.Sin ? sx : fn === Trig.Cos ? ca : sx / ca);
  return true;
}

/** The x87's 66-bit π (C90FDAA2 2168C234 C, SDM Vol. 1 8.3.10) as an integer: π ≈ PI66 · 2^-64. */
const PI66 = (0xc90fdaa22168c234n << 2n) | 3n;
const TWO_M65 = Math.pow(2, -65);
const nrm = new Norm();

