/**
 * The x87 80-bit extended format (SDM Vol. 1 4.2.2, 4.8.3.8, 8.2.2, Table 8-3): classification,
 * exact conversions from the 32- and 64-bit formats, conversion to a double-precision working
 * form, and the one rounding routine every x87 result passes through (`roundPack`).
 *
 * A value is held as `se` (sign bit 15, biased exponent bits 0-14) and a 64-bit significand
 * with an explicit integer bit, as two unsigned 32-bit halves `hi`/`lo`. Rounding follows the
 * x87 rules: round to the destination precision under RC, tininess detected before rounding
 * (SDM 4.9.1.5), C1 set when the result was rounded up in magnitude (SDM 8.1.3.1).
 */

/** Operand classes of SDM Table 8-3 (pseudo-denormals count as denormals). */
export const enum FClass {
  Zero, Normal, Denormal, Infinity, QNaN, SNaN,
  /** Pseudo-NaN, pseudo-infinity, unnormal: invalid operands on a 387 and later. */
  Unsupported,
}

/** Rounding control (FCW bits 10-11). */
export const enum Rc { Nearest = 0, Down = 1, Up = 2, Chop = 3 }

/** Destination formats of `roundPack`. */
export const enum Fmt { F32, F64, F80 }

/** FSW exception bits (SDM Vol. 1 8.1.3). */
export const enum Fsw {
  IE = 1 << 0, DE = 1 << 1, ZE = 1 << 2, OE = 1 << 3, UE = 1 << 4, PE = 1 << 5, SF = 1 << 6, ES = 1 << 7,
  C0 = 1 << 8, C1 = 1 << 9, C2 = 1 << 10, TOP = 7 << 11, C3 = 1 << 14, B = 1 << 15,
  /** The six exception flags. */
  EXC = 0x3f,
  CC = C0 | C1 | C2 | C3,
}

/** Returned by `roundPack` beside the FSW bits: the exact result was tiny (below the normal range). */
export const TINY = 1 << 16;

/** QNaN floating-point indefinite (SDM Table 4-3): negative, exponent all ones, 0xC000… significand. */
export const INDEFINITE_SE = 0xffff;
export const INDEFINITE_HI = 0xc0000000;

const TWO32 = 4294967296;

/** A scratch 80-bit value (also the output of the conversions below). */
export class Ext {
  se = 0;
  hi = 0;
  lo = 0;

  set(se: number, hi: number, lo: number): this {
    this.se = se;
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
    return this;
  }

  setIndefinite(): this {
    return this.set(INDEFINITE_SE, INDEFINITE_HI, 0);
  }
}

/** Class of an 80-bit value (SDM Vol. 1 Table 8-3). */
export function classify(se: number, hi: number, lo: number): FClass {
  const e = se & 0x7fff;
  const j = (hi & 0x80000000) !== 0;
  if (e === 0x7fff) {
    if (!j) return FClass.Unsupported;
    if ((hi & 0x7fffffff) === 0 && lo === 0) return FClass.Infinity;
    return hi & 0x40000000 ? FClass.QNaN : FClass.SNaN;
  }
  if (e === 0) return hi === 0 && lo === 0 ? FClass.Zero : FClass.Denormal;
  return j ? FClass.Normal : FClass.Unsupported;
}

/** The tag a register holding this value gets: 0 valid, 1 zero, 2 special (SDM 8.1.7). */
export function tagOf(se: number, hi: number, lo: number): number {
  const c = classify(se, hi, lo);
  return c === FClass.Normal ? 0 : c === FClass.Zero ? 1 : 2;
}

export function isNaNClass(c: FClass): boolean {
  return c === FClass.QNaN || c === FClass.SNaN;
}

// ---------------------------------------------------------------------------------------------
// Loads from the 32- and 64-bit formats (exact: every such value fits the extended format)
// ---------------------------------------------------------------------------------------------

/** Leading zeros of the 64-bit value hi:lo. */
function clz64(hi: number, lo: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

/** Sets `out` to sign, unbiased exponent `e` of bit 63 and a nonzero significand, normalizing it. */
function setNormalized(out: Ext, sign: number, e: number, hi: number, lo: number): Ext {
  const z = clz64(hi, lo);
  if (z >= 32) {
    hi = lo;
    lo = 0;
    e -= 32;
  }
  const s = z & 31;
  if (s) {
    hi = (hi << s) | (lo >>> (32 - s));
    lo <<= s;
    e -= s;
  }
  return out.set((sign << 15) | (e + 16383), hi, lo);
}

/** FLD m64 / FILD's format: IEEE double bits → extended, exactly (denormals are normalized). */
export function extFromF64Bits(lo: number, hi: number, out: Ext): Ext {
  const sign = hi >>> 31;
  const e = (hi >>> 20) & 0x7ff;
  const fh = hi & 0xfffff;
  if (e === 0x7ff) return out.set((sign << 15) | 0x7fff, 0x80000000 | (fh << 11) | (lo >>> 21), lo << 11);
  if (e === 0) {
    if (fh === 0 && lo === 0) return out.set(sign << 15, 0, 0);
    // Denormal: value = frac · 2^-1074, so bit 63 of frac << 11 stands for 2^-1022.
    return setNormalized(out, sign, -1022, (fh << 11) | (lo >>> 21), lo << 11);
  }
  return out.set((sign << 15) | (e - 1023 + 16383), 0x80000000 | (fh << 11) | (lo >>> 21), lo << 11);
}

/** FLD m32: IEEE single bits → extended, exactly. */
export function extFromF32Bits(b: number, out: Ext): Ext {
  const sign = b >>> 31;
  const e = (b >>> 23) & 0xff;
  const f = b & 0x7fffff;
  if (e === 0xff) return out.set((sign << 15) | 0x7fff, 0x80000000 | (f << 8), 0);
  if (e === 0) {
    if (f === 0) return out.set(sign << 15, 0, 0);
    return setNormalized(out, sign, -126, f << 8, 0); // bit 63 of f << 40 stands for 2^-126
  }
  return out.set((sign << 15) | (e - 127 + 16383), 0x80000000 | (f << 8), 0);
}

const f64 = new Float64Array(1);
const f64w = new Uint32Array(f64.buffer);
/** Index of the high word of a double in f64w (little-endian hosts: 1). */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** A double → extended, exactly. */
export function extFromDouble(x: number, out: Ext): Ext {
  f64[0] = x;
  return extFromF64Bits(f64w[1 - HI]!, f64w[HI]!, out);
}

/** Exponent of a positive finite double (floor(log2 x)), exactly. */
export function ilogb(x: number): number {
  f64[0] = x;
  const e = (f64w[HI]! >>> 20) & 0x7ff;
  if (e !== 0) return e - 1023;
  // Double denormal: find the leading bit.
  const hi = f64w[HI]! & 0xfffff;
  const lo = f64w[1 - HI]!;
  return -1023 - (clz64(hi, lo) - 12) ;
}

/** The next double away from zero / toward zero (x positive, finite, nonzero). */
export function nextUp(x: number): number {
  f64[0] = x;
  if (f64w[1 - HI] === 0xffffffff) {
    f64w[1 - HI] = 0;
    f64w[HI]!++;
  } else {
    f64w[1 - HI]!++;
  }
  return f64[0]!;
}

export function nextDown(x: number): number {
  f64[0] = x;
  if (f64w[1 - HI] === 0) {
    f64w[1 - HI] = 0xffffffff;
    f64w[HI]!--;
  } else {
    f64w[1 - HI]!--;
  }
  return f64[0]!;
}

// ---------------------------------------------------------------------------------------------
// The double working form: value = m * 2^e with m in [1, 2) (53 significant bits)
// ---------------------------------------------------------------------------------------------

/** Output of `unpack`: magnitude `m` in [1, 2), exponent `e`, sign `neg`. */
export class Unpacked {
  neg = false;
  e = 0;
  m = 0;
}

/**
 * A finite nonzero extended value (normal, denormal or pseudo-denormal) in the double working
 * form. The 64-bit significand is rounded to 53 bits, to nearest: this is where the emulated
 * x87 loses its extra 11 bits of precision (documented in docs/architecture.md).
 */
export function unpack(se: number, hi: number, lo: number, out: Unpacked): Unpacked {
  out.neg = (se & 0x8000) !== 0;
  let e = se & 0x7fff;
  e = e === 0 ? -16382 : e - 16383;
  const z = clz64(hi, lo);
  if (z >= 32) {
    hi = lo;
    lo = 0;
    e -= 32;
  }
  const s = z & 31;
  if (s) {
    hi = ((hi << s) | (lo >>> (32 - s))) >>> 0;
    lo = (lo << s) >>> 0;
    e -= s;
  }
  // hi * 2^32 + lo rounds once, to nearest even, at bit 53.
  let m = (hi * TWO32 + lo) / 9223372036854775808; // 2^63
  if (m >= 2) {
    m /= 2;
    e++;
  }
  out.e = e;
  out.m = m;
  return out;
}

/** The value of a finite extended number as a double (overflowing to ±Infinity, underflowing to 0). */
export function extToDouble(se: number, hi: number, lo: number): number {
  const c = classify(se, hi, lo);
  const neg = (se & 0x8000) !== 0;
  switch (c) {
    case FClass.Zero: return neg ? -0 : 0;
    case FClass.Infinity: return neg ? -Infinity : Infinity;
    case FClass.QNaN: case FClass.SNaN: case FClass.Unsupported: return NaN;
    default: break;
  }
  const u = unpack(se, hi, lo, scratchU);
  return (neg ? -u.m : u.m) * pow2(u.e);
}
const scratchU = new Unpacked();

/** 2^n as a double for any integer n (0 or Infinity outside the double range). */
export function pow2(n: number): number {
  if (n > 1023) return n > 2100 ? Infinity : Math.pow(2, 1023) * pow2(n - 1023);
  if (n < -1022) return n < -2200 ? 0 : Math.pow(2, -1022) * pow2(n + 1022);
  return Math.pow(2, n);
}

// ---------------------------------------------------------------------------------------------
// Rounding to a destination format
// ---------------------------------------------------------------------------------------------

/** Precision (bits), minimum normal exponent, maximum exponent and bias of each format. */
const PREC = [24, 53, 64];
const EMIN = [-126, -1022, -16382];
const EMAX = [127, 1023, 16383];
const BIAS = [127, 1023, 16383];

/** The output of `roundPack`: F80 in se/hi/lo; F64 bits in hi/lo; F32 bits in lo. */
export const packed = new Ext();

/**
 * Rounds the value (-1)^neg · hi:lo · 2^(e-63) (hi:lo normalized: bit 63 set) to `fmt` under
 * `rc` and encodes it in `packed`. `sticky` is the sign of (|exact value| - |hi:lo value|), an
 * amount smaller than any bit rounding looks at: 0 when hi:lo is exact. Returns the FSW bits
 * PE, UE (tiny and inexact), OE and C1 (rounded up), plus TINY. The masked overflow and
 * underflow responses are applied (SDM 4.9.1.4, 4.9.1.5); callers with unmasked OE/UE that
 * want the bias-adjusted result call again with e adjusted.
 */
export function roundPack(neg: boolean, e: number, hi: number, lo: number, sticky: number, fmt: Fmt, rc: Rc, prec = PREC[fmt]!): number {
  const emin = EMIN[fmt]!;
  const emax = EMAX[fmt]!;
  const sign = neg ? 1 : 0;
  // Fast paths: an extended result in the normal range whose significand fits the precision is
  // exact; a double in range rounds to nearest with two 32-bit halves.
  if (fmt === Fmt.F80 && e >= emin && e <= emax && (prec === 64 || (prec === 53 ? (lo & 0x7ff) === 0 : lo === 0 && (hi & 0xff) === 0))) {
    packed.set((sign << 15) | (e + 16383), hi, lo);
    return sticky === 0 ? 0 : sticky < 0 ? Fsw.PE | Fsw.C1 : Fsw.PE;
  }
  if (fmt === Fmt.F64 && rc === Rc.Nearest && sticky === 0 && e >= emin && e < emax) {
    const rem = lo & 0x7ff;
    let kept = (hi >>> 0) * 2097152 + (lo >>> 11); // 2^21: the top 53 bits, exact
    let up = false;
    if (rem > 0x400 || (rem === 0x400 && (kept % 2) === 1)) {
      kept++;
      up = true;
    }
    let be = e + 1023;
    if (kept >= 9007199254740992) { // 2^53: carried into the next binade
      kept /= 2;
      be++;
    }
    const frac = kept - 4503599627370496; // drop the implicit bit (2^52)
    packed.hi = ((sign << 31) | (be << 20) | Math.floor(frac / TWO32)) >>> 0;
    packed.lo = frac % TWO32;
    return rem === 0 ? 0 : up ? Fsw.PE | Fsw.C1 : Fsw.PE;
  }
  return roundPackSlow(sign, e, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0), sticky, fmt, rc, emin, emax, prec);
}

function roundPackSlow(sign: number, e: number, sig: bigint, sticky: number, fmt: Fmt, rc: Rc, emin: number, emax: number, prec: number): number {
  let flags = 0;
  const tiny = e < emin;
  if (tiny) flags |= TINY;
  // Bits to drop: 64 - prec, plus the denormalization shift for a tiny result.
  let shift = 64 - prec + (tiny ? emin - e : 0);
  const towardZero = rc === Rc.Chop || (rc === Rc.Down && sign === 0) || (rc === Rc.Up && sign === 1);
  if (shift > 0 && sticky < 0 && towardZero && (sig & ((1n << BigInt(Math.min(shift, 66))) - 1n)) === 0n) {
    // The exact value lies just below a representable one: truncation gives the one below.
    // Work with one more bit so that the step stays within the binade.
    // sig had bit 63 set, so 2·sig - 1 has bit 63 or bit 64 set.
    sig = sig * 2n - 1n;
    e -= 1;
    sticky = 1;
    if (sig >= 1n << 64n) {
      // 65 bits: fold the lowest bit into the sticky (it is 1, the sticky is +1 already).
      sig >>= 1n;
      e += 1;
    }
    shift = 64 - prec + (e < emin ? emin - e : 0);
  }
  let kept: bigint;
  let inexact: boolean;
  let up = false;
  if (shift <= 0) {
    kept = sig;
    inexact = sticky !== 0;
    if (sticky < 0) flags |= Fsw.C1;
  } else {
    const sh = BigInt(Math.min(shift, 66));
    kept = sig >> sh;
    const rem = sig & ((1n << sh) - 1n);
    const half = 1n << (sh - 1n);
    inexact = rem !== 0n || sticky !== 0;
    if (rc === Rc.Nearest) {
      up = rem > half || (rem === half && (sticky > 0 || (sticky === 0 && (kept & 1n) === 1n)));
    } else if (!towardZero) {
      up = rem !== 0n || sticky > 0;
    }
    if (up) kept += 1n;
    // Rounded up in magnitude: incremented, or kept above an exact value just below it.
    if (up || (rem === 0n && sticky < 0 && !towardZero)) flags |= Fsw.C1;
  }
  if (inexact) flags |= Fsw.PE;
  if (tiny && inexact) flags |= Fsw.UE;

  const P = BigInt(prec);
  // An extended result keeps its significand in the top `prec` bits of the 64-bit field.
  const field = BigInt(64 - prec);
  let be: number; // biased exponent of the result
  if (tiny) {
    // Denormal (or the smallest normal if rounding carried into the integer bit).
    be = kept >= 1n << (P - 1n) ? 1 : 0;
    if (fmt === Fmt.F80) {
      const k = kept << field;
      packed.set((sign << 15) | be, Number(k >> 32n), Number(k & 0xffffffffn));
    } else {
      encodeIeee(fmt, sign, 0, kept); // kept's integer bit, if set, carries into the exponent field
    }
    return flags;
  }
  let ue = e;
  if (kept >= 1n << P) {
    kept >>= 1n;
    ue++;
  }
  if (ue > emax) {
    // Masked overflow response (SDM 4.9.1.4): infinity or the largest finite value by RC.
    flags |= Fsw.OE | Fsw.PE;
    if (towardZero) {
      flags &= ~Fsw.C1;
      const max = (1n << P) - 1n;
      if (fmt === Fmt.F80) {
        const k = max << field;
        packed.set((sign << 15) | 0x7ffe, Number(k >> 32n), Number(k & 0xffffffffn));
      } else {
        encodeIeee(fmt, sign, emax + BIAS[fmt]!, max);
      }
    } else {
      flags |= Fsw.C1;
      if (fmt === Fmt.F80) packed.set((sign << 15) | 0x7fff, 0x80000000, 0);
      else encodeIeee(fmt, sign, emax + BIAS[fmt]! + 1, 1n << (P - 1n));
    }
    return flags;
  }
  be = ue + BIAS[fmt]!;
  if (fmt === Fmt.F80) {
    const k = kept << field;
    packed.set((sign << 15) | be, Number(k >> 32n), Number(k & 0xffffffffn));
  } else {
    encodeIeee(fmt, sign, be, kept);
  }
  return flags;
}

/** Encodes an IEEE single/double: biased exponent `be` and the significand with its integer bit. */
function encodeIeee(fmt: Fmt, sign: number, be: number, sig: bigint): void {
  if (fmt === Fmt.F32) {
    // A denormal passes be = 0 and its integer bit, if rounding set it, adds 1 to the exponent.
    const bits = (BigInt(sign) << 31n) + (BigInt(be) << 23n) + (be === 0 ? sig : sig - (1n << 23n));
    packed.hi = 0;
    packed.lo = Number(bits & 0xffffffffn);
  } else {
    const bits = (BigInt(sign) << 63n) + (BigInt(be) << 52n) + (be === 0 ? sig : sig - (1n << 52n));
    packed.hi = Number(bits >> 32n);
    packed.lo = Number(bits & 0xffffffffn);
  }
}

/**
 * Rounds the working-form value (-1)^neg · m · 2^e (m in [1, 2), a double) to extended with
 * `prec` significant bits under `rc` into `packed`; see `roundPack` for `sticky` and the result.
 */
export function roundPackDouble(neg: boolean, e: number, m: number, sticky: number, rc: Rc, prec = 64): number {
  const hi = Math.floor(m * 2147483648); // 2^31
  const lo = m * 9223372036854775808 - hi * TWO32; // exact: both are multiples of 2^11 below 2^64
  return roundPack(neg, e, hi, lo, sticky, Fmt.F80, rc, prec);
}

// ---------------------------------------------------------------------------------------------
// Exact normalized form: value = hi:lo · 2^(e-63), bit 63 set
// ---------------------------------------------------------------------------------------------

/** A finite nonzero value with a normalized 64-bit significand and an unbounded exponent. */
export class Norm {
  neg = false;
  e = 0;
  hi = 0;
  lo = 0;

  /** The significand as a BigInt. */
  sig(): bigint {
    return (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0);
  }
}

/** Normalizes a finite nonzero extended value (normal, denormal or pseudo-denormal). */
export function normalize(se: number, hi: number, lo: number, out: Norm): Norm {
  out.neg = (se & 0x8000) !== 0;
  let e = se & 0x7fff;
  e = e === 0 ? -16382 : e - 16383;
  const z = clz64(hi >>> 0, lo >>> 0);
  if (z >= 32) {
    hi = lo;
    lo = 0;
    e -= 32;
  }
  const s = z & 31;
  if (s) {
    hi = (hi << s) | (lo >>> (32 - s));
    lo <<= s;
    e -= s;
  }
  out.e = e;
  out.hi = hi >>> 0;
  out.lo = lo >>> 0;
  return out;
}

/** Sets `out` from a BigInt magnitude (nonzero) times 2^e2, normalized; exact only if it fits 64 bits. */
export function normFromBig(neg: boolean, mag: bigint, e2: number, out: Norm): Norm {
  let len = mag.toString(2).length;
  if (len > 64) {
    // Callers pass at most 64 bits; keep the top 64 if not (truncating).
    mag >>= BigInt(len - 64);
    e2 += len - 64;
    len = 64;
  }
  mag <<= BigInt(64 - len);
  out.neg = neg;
  out.e = e2 + len - 1;
  out.hi = Number(mag >> 32n);
  out.lo = Number(mag & 0xffffffffn);
  return out;
}
