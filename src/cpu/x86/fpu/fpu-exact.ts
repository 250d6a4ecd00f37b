/**
 * x87 operations computed exactly on the 80-bit format, with BigInt where 64 bits do not fit
 * a double: integer and packed-BCD conversions (FILD, FIST/FISTP, FBLD, FBSTP), FRNDINT,
 * FSCALE, FXTRACT, FPREM and FPREM1 (SDM Vol. 2 instruction pages, Vol. 1 4.8.3.7, 8.3.4).
 */
import { classify, Ext, FClass, Fsw, Norm, normalize, normFromBig, Rc } from './float80.js';
import { exactSig, nanOperands, resetResult, result, setExactFinite, setInvalid } from './fpu-arith.js';

const n1 = new Norm();
const n2 = new Norm();

// ---------------------------------------------------------------------------------------------
// Integers
// ---------------------------------------------------------------------------------------------

/** FILD: a signed integer (|v| < 2^53) → extended, exactly. */
export function extFromInt(v: number, out: Ext): Ext {
  if (v === 0) return out.set(0, 0, 0);
  const neg = v < 0;
  const mag = Math.abs(v);
  return extFromMagnitude(neg, BigInt(mag), out);
}

/** FILD m64: the two's complement value hi:lo → extended, exactly. */
export function extFromInt64(lo: number, hi: number, out: Ext): Ext {
  const v = BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
  if (v === 0n) return out.set(0, 0, 0);
  return extFromMagnitude(v < 0n, v < 0n ? -v : v, out);
}

function extFromMagnitude(neg: boolean, mag: bigint, out: Ext): Ext {
  const n = normFromBig(neg, mag, 0, n1);
  return out.set((neg ? 0x8000 : 0) | (n.e + 16383), n.hi, n.lo);
}

/** Output of `roundToInteger`. */
export const rounded = { neg: false, mag: 0n, inexact: false, up: false };

/** Rounds a finite value to an integer under `rc`, exactly (zeros and denormals included). */
export function roundToInteger(v: Ext, cls: FClass, rc: Rc): typeof rounded {
  const r = rounded;
  r.neg = (v.se & 0x8000) !== 0;
  r.inexact = false;
  r.up = false;
  if (cls === FClass.Zero) {
    r.mag = 0n;
    return r;
  }
  const n = normalize(v.se, v.hi, v.lo, n1);
  const sig = n.sig();
  const shift = 63 - n.e;
  if (shift <= 0) {
    r.mag = sig << BigInt(-shift);
    return r;
  }
  const sh = BigInt(Math.min(shift, 80));
  let kept = sig >> sh;
  const rem = sig & ((1n << sh) - 1n);
  const half = 1n << (sh - 1n);
  r.inexact = rem !== 0n;
  let up = false;
  if (r.inexact) {
    switch (rc) {
      case Rc.Nearest: up = rem > half || (rem === half && (kept & 1n) === 1n); break;
      case Rc.Down: up = r.neg; break;
      case Rc.Up: up = !r.neg; break;
      default: break;
    }
  }
  if (up) kept += 1n;
  r.up = up;
  r.mag = kept;
  return r;
}

/**
 * FIST/FISTP: ST(0) → a `bits`-wide two's complement integer under RC. Returns the flags (IE
 * for NaN, infinity, unsupported or out of range — the caller stores the integer indefinite
 * if IE is masked; PE and C1 when rounded) and the value in `intResult` (lo, hi words).
 */
export function toInteger(v: Ext, bits: 16 | 32 | 64, rc: Rc): number {
  const cls = classify(v.se, v.hi, v.lo);
  intResult.lo = 0;
  intResult.hi = 0;
  if (cls === FClass.QNaN || cls === FClass.SNaN || cls === FClass.Infinity || cls === FClass.Unsupported) {
    setIntegerIndefinite(bits);
    return Fsw.IE;
  }
  // No denormal-operand exception here (SDM FIST: #IS, #IA, #P only; the host agrees).
  let flags = 0;
  const r = roundToInteger(v, cls, rc);
  const limit = 1n << BigInt(bits - 1);
  if (r.mag > limit || (r.mag === limit && !r.neg)) {
    setIntegerIndefinite(bits);
    return flags | Fsw.IE;
  }
  const x = BigInt.asUintN(64, r.neg ? -r.mag : r.mag);
  intResult.lo = Number(x & 0xffffffffn);
  intResult.hi = Number(x >> 32n);
  if (r.inexact) flags |= Fsw.PE | (r.up ? Fsw.C1 : 0);
  return flags;
}

/** Integer indefinite: the most negative integer of the width (SDM Table 4-2). */
function setIntegerIndefinite(bits: number): void {
  if (bits === 64) {
    intResult.lo = 0;
    intResult.hi = 0x80000000;
  } else {
    intResult.lo = bits === 32 ? 0x80000000 : 0x8000;
    intResult.hi = 0;
  }
}

export const intResult = { lo: 0, hi: 0 };

/** FRNDINT of `v` into `result` (SDM FRNDINT: PE when inexact, C1 when rounded up). */
export function computeRoundInt(v: Ext, rc: Rc): void {
  resetResult(0);
  const cls = classify(v.se, v.hi, v.lo);
  if (cls === FClass.Unsupported) return setInvalid();
  if (nanOperands(v, cls, v, FClass.Zero)) return;
  if (cls === FClass.Zero || cls === FClass.Infinity) {
    result.v.set(v.se, v.hi, v.lo);
    return;
  }
  if (cls === FClass.Denormal) result.flags |= Fsw.DE;
  const r = roundToInteger(v, cls, rc);
  if (r.inexact) result.flags |= Fsw.PE | (r.up ? Fsw.C1 : 0);
  if (r.mag === 0n) {
    result.v.set(r.neg ? 0x8000 : 0, 0, 0);
    return;
  }
  const n = normFromBig(r.neg, r.mag, 0, n2);
  result.v.set((r.neg ? 0x8000 : 0) | (n.e + 16383), n.hi, n.lo);
}

// ---------------------------------------------------------------------------------------------
// Packed BCD (SDM Vol. 1 4.7: 18 digits in bytes 0-8, sign in bit 7 of byte 9)
// ---------------------------------------------------------------------------------------------

/** FBLD: 10 BCD bytes → extended, exactly. Invalid digits are taken at face value. */
export function extFromBcd(bytes: ArrayLike<number>, out: Ext): Ext {
  let v = 0n;
  for (let i = 8; i >= 0; i--) {
    const b = bytes[i]!;
    v = v * 100n + BigInt((b >> 4) * 10 + (b & 15));
  }
  const neg = (bytes[9]! & 0x80) !== 0;
  if (v === 0n) return out.set(neg ? 0x8000 : 0, 0, 0);
  return extFromMagnitude(neg, v, out);
}

/**
 * FBSTP: ST(0) → 10 BCD bytes in `bcdResult` under RC. Returns IE for NaN, infinity or
 * |value| ≥ 10^18 (the bytes then hold the BCD indefinite), PE/C1 when rounded.
 */
export function toBcd(v: Ext, rc: Rc): number {
  const cls = classify(v.se, v.hi, v.lo);
  const out = bcdResult;
  const indefinite = () => {
    out.fill(0);
    out[7] = 0xc0;
    out[8] = 0xff;
    out[9] = 0xff;
  };
  if (cls === FClass.QNaN || cls === FClass.SNaN || cls === FClass.Infinity || cls === FClass.Unsupported) {
    indefinite();
    return Fsw.IE;
  }
  let flags = 0; // no #D either (SDM FBSTP)
  const r = roundToInteger(v, cls, rc);
  if (r.mag >= 1000000000000000000n) {
    indefinite();
    return flags | Fsw.IE;
  }
  let m = r.mag;
  for (let i = 0; i < 9; i++) {
    const two = Number(m % 100n);
    m /= 100n;
    out[i] = ((Math.floor(two / 10) << 4) | (two % 10)) & 0xff;
  }
  out[9] = r.neg ? 0x80 : 0;
  if (r.inexact) flags |= Fsw.PE | (r.up ? Fsw.C1 : 0);
  return flags;
}

export const bcdResult = new Uint8Array(10);

// ---------------------------------------------------------------------------------------------
// FSCALE, FXTRACT
// ---------------------------------------------------------------------------------------------

function setExactNorm(neg: boolean, e: number, hi: number, lo: number): void {
  result.exact = false;
  result.neg = neg;
  result.e = e;
  result.m = 0;
  result.sticky = 0;
  exactSig.active = true;
  exactSig.hi = hi;
  exactSig.lo = lo;
}

/** FSCALE: ST(0) · 2^trunc(ST(1)) into `result` (SDM FSCALE, Table 3-x special cases). */
export function computeScale(a: Ext, b: Ext): void {
  resetResult(0);
  const ca = classify(a.se, a.hi, a.lo);
  const cb = classify(b.se, b.hi, b.lo);
  if (ca === FClass.Unsupported || cb === FClass.Unsupported) return setInvalid();
  if (nanOperands(a, ca, b, cb)) return;
  const sa = (a.se & 0x8000) !== 0;
  const sb = (b.se & 0x8000) !== 0;
  if (cb === FClass.Infinity) {
    // 0 · 2^+inf and inf · 2^-inf are invalid; otherwise the infinity wins.
    if ((ca === FClass.Zero && !sb) || (ca === FClass.Infinity && sb)) return setInvalid();
    if (ca === FClass.Denormal) result.flags |= Fsw.DE;
    if (ca === FClass.Zero || ca === FClass.Infinity) {
      result.v.set(a.se, a.hi, a.lo);
    } else {
      // Finite · 2^+inf = inf, finite · 2^-inf = 0, with the operand's sign.
      result.v.set((a.se & 0x8000) | (sb ? 0 : 0x7fff), sb ? 0 : 0x80000000, 0);
    }
    return;
  }
  if (ca === FClass.Denormal || cb === FClass.Denormal) result.flags |= Fsw.DE;
  if (ca === FClass.Zero || ca === FClass.Infinity) {
    result.v.set(a.se, a.hi, a.lo);
    return;
  }
  const r = roundToInteger(b, cb, Rc.Chop);
  // Beyond ±2^20 every finite operand overflows or underflows the same way.
  const s = r.mag > 1048576n ? 1048576 : Number(r.mag);
  const na = normalize(a.se, a.hi, a.lo, n1);
  setExactNorm(sa, na.e + (r.neg ? -s : s), na.hi, na.lo);
}

/** FXTRACT: `exponent` and `significand` of `a` (SDM FXTRACT); returns the flags. */
export function computeExtract(a: Ext, exponent: Ext, significand: Ext): number {
  const c = classify(a.se, a.hi, a.lo);
  switch (c) {
    case FClass.Unsupported:
      exponent.setIndefinite();
      significand.setIndefinite();
      return Fsw.IE;
    case FClass.QNaN: case FClass.SNaN:
      exponent.set(a.se, a.hi | 0x40000000, a.lo);
      significand.set(a.se, a.hi | 0x40000000, a.lo);
      return c === FClass.SNaN ? Fsw.IE : 0;
    case FClass.Zero:
      // Zero divide (SDM FXTRACT): exponent -inf, significand the zero.
      exponent.set(0xffff, 0x80000000, 0);
      significand.set(a.se, a.hi, a.lo);
      return Fsw.ZE;
    case FClass.Infinity:
      exponent.set(0x7fff, 0x80000000, 0);
      significand.set(a.se, a.hi, a.lo);
      return 0;
    default: {
      const n = normalize(a.se, a.hi, a.lo, n2);
      significand.set((a.se & 0x8000) | 0x3fff, n.hi, n.lo);
      extFromInt(n.e, exponent);
      return c === FClass.Denormal ? Fsw.DE : 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// FPREM, FPREM1
// ---------------------------------------------------------------------------------------------

/**
 * FPREM (`ieee` false: quotient truncated) or FPREM1 (`ieee`: quotient rounded to nearest)
 * of a = ST(0) by b = ST(1) into `result`. Returns the condition codes: C2 set for a partial
 * remainder, else C0 C3 C1 = quotient bits 2, 1, 0.
 *
 * A partial remainder (exponent difference D ≥ 64) reduces the exponent by N = 32 + D mod 32
 * bits' worth of quotient, which is what the host CPUs the fixtures came from do (the SDM
 * leaves N implementation-specific between 32 and 63).
 */
export function computeRemainder(a: Ext, b: Ext, ieee: boolean): number {
  resetResult(0);
  const ca = classify(a.se, a.hi, a.lo);
  const cb = classify(b.se, b.hi, b.lo);
  if (ca === FClass.Unsupported || cb === FClass.Unsupported) {
    setInvalid();
    return 0;
  }
  if (nanOperands(a, ca, b, cb)) return 0;
  if (ca === FClass.Infinity || cb === FClass.Zero) {
    setInvalid();
    return 0;
  }
  if (ca === FClass.Denormal || cb === FClass.Denormal) result.flags |= Fsw.DE;
  if (ca === FClass.Zero || cb === FClass.Infinity) {
    if (ca === FClass.Zero) {
      result.v.set(a.se, a.hi, a.lo);
    } else {
      setExactFinite(a);
    }
    return 0;
  }
  const na = normalize(a.se, a.hi, a.lo, n1);
  const nb = normalize(b.se, b.hi, b.lo, n2);
  const A = na.sig();
  const B = nb.sig();
  const d = na.e - nb.e;
  let q: bigint;
  let rem: bigint; // signed remainder, in units of 2^(unitExp)
  let unitExp: number; // exponent of the remainder's unit (value = rem · 2^(unitExp - 63))
  let cc = 0;
  if (d >= 64) {
    const n = 32 + (d % 32);
    const num = A << BigInt(n);
    q = num / B;
    rem = num - q * B;
    unitExp = na.e - n;
    cc = Fsw.C2;
    return finishRemainder(na.neg, rem, nb.e + (d - n), cc);
  }
  if (d >= 0) {
    const num = A << BigInt(d);
    q = num / B;
    rem = num - q * B;
    unitExp = nb.e;
    if (ieee) {
      const twice = rem * 2n;
      if (twice > B || (twice === B && (q & 1n) === 1n)) {
        q += 1n;
        rem -= B;
      }
    }
  } else if (ieee && d === -1) {
    // |a| lies between |b|/4 and |b|: quotient 0 or 1 to nearest (a tie goes to even 0).
    unitExp = na.e;
    if (A > B) {
      q = 1n;
      rem = A - 2n * B;
    } else {
      q = 0n;
      rem = A;
    }
  } else {
    q = 0n;
    rem = A;
    unitExp = na.e;
  }
  const qn = Number(q & 7n);
  if (qn & 4) cc |= Fsw.C0;
  if (qn & 2) cc |= Fsw.C3;
  if (qn & 1) cc |= Fsw.C1;
  return finishRemainder(na.neg, rem, unitExp, cc);
}

function finishRemainder(neg: boolean, rem: bigint, unitExp: number, cc: number): number {
  if (rem === 0n) {
    result.v.set(neg ? 0x8000 : 0, 0, 0);
    return cc;
  }
  let rneg = neg;
  if (rem < 0n) {
    rem = -rem;
    rneg = !neg;
  }
  const n = normFromBig(rneg, rem, unitExp - 63, n2);
  setExactNorm(rneg, n.e, n.hi, n.lo);
  return cc;
}
