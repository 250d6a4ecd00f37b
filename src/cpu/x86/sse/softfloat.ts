/**
 * Exact IEEE 754 rounding for the SSE arithmetic (SDM Vol. 1 4.8 and 11.5): the result of an
 * operation is formed exactly (BigInt significand, power-of-two exponent, and a sticky bit for
 * the infinite tail of a quotient or square root), then rounded once to single or double
 * precision under MXCSR.RC, with the precision, overflow and underflow conditions the
 * hardware reports.
 *
 * This is the slow path: the hot path (round to nearest, results in the normal range) uses
 * host arithmetic with an error-free check of inexactness in sse-fp.ts. Everything else —
 * directed rounding, overflow, results near or below the smallest normal — comes here.
 *
 * Tininess is detected AFTER rounding (as if the exponent range were unbounded), as x86
 * processors do for SSE (SDM Vol. 1 4.9.1.5; Berkeley SoftFloat's x86 specialization); the
 * host-CPU fixtures check the boundary cases.
 */
import { Mxcsr, Rc } from './sse-state.js';

/** A binary floating-point format: precision (significand bits incl. the hidden one), exponents. */
export interface FloatFormat {
  readonly p: number;
  /** Smallest normal exponent (the value 2^emin). */
  readonly emin: number;
  /** Largest exponent: the largest finite value is (2 - 2^(1-p)) * 2^emax. */
  readonly emax: number;
}

export const SINGLE: FloatFormat = { p: 24, emin: -126, emax: 127 };
export const DOUBLE: FloatFormat = { p: 53, emin: -1022, emax: 1023 };

/** Result of `roundExact`: the rounded value and the MXCSR flags it raises (OE, UE, PE). */
export class Rounded {
  value = 0;
  flags = 0;
  /** The result is tiny (below the smallest normal after rounding with unbounded exponent). */
  tiny = false;
}

const out = new Rounded();

/** 2^e for any integer e in the double range, exact (Math.pow is exact for powers of two, but not below 2^-1022 on every engine). */
export function pow2(e: number): number {
  if (e >= -1022) return 2 ** e;
  return 2 ** (e + 1022) * 2 ** -1022;
}

/** q * 2^e where the result is known to be exactly representable as a double. */
function ldexpExact(q: number, e: number): number {
  if (e < -1022) return q * 2 ** -1022 * pow2(e + 1022);
  if (e > 1023) return q * 2 ** 1023 * 2 ** (e - 1023);
  return q * 2 ** e;
}

function bitLength(m: bigint): number {
  return m.toString(2).length;
}

/**
 * Rounds (-1)^neg * (mant + sticky-tail) * 2^exp to `fmt` under `rc`. `mant` > 0; `sticky`
 * says that nonzero bits follow below mant's last bit (callers then give mant at least p+2
 * bits). The returned object is reused: read it before the next call.
 */
export function roundExact(neg: boolean, mant: bigint, exp: number, sticky: boolean, fmt: FloatFormat, rc: number): Rounded {
  const p = fmt.p;
  const L = bitLength(mant);
  // Quantum exponent of the smallest subnormal: values are integers times 2^qmin.
  const qmin = fmt.emin - (p - 1);
  // Unbounded-exponent rounding first (for overflow and tininess after rounding).
  const [qu, eu, inexU] = roundBits(neg, mant, exp, sticky, L - p, rc);
  const lead = eu + bitLength(qu) - 1; // exponent of the leading bit of the rounded value
  out.flags = 0;
  out.tiny = lead < fmt.emin;
  if (lead > fmt.emax) {
    out.flags = Mxcsr.OE | Mxcsr.PE;
    const toInf = rc === Rc.Nearest || (rc === Rc.Up && !neg) || (rc === Rc.Down && neg);
    const max = (2 - 2 ** (1 - p)) * 2 ** fmt.emax;
    out.value = toInf ? (neg ? -Infinity : Infinity) : neg ? -max : max;
    return out;
  }
  if (!out.tiny) {
    out.value = ldexpExact(Number(qu), eu) * (neg ? -1 : 1);
    if (inexU) out.flags = Mxcsr.PE;
    return out;
  }
  // Tiny: round again at the subnormal quantum.
  const drop = Math.max(L - p, qmin - exp);
  const [q, e, inex] = roundBits(neg, mant, exp, sticky, drop, rc);
  out.value = q === 0n ? (neg ? -0 : 0) : ldexpExact(Number(q), e) * (neg ? -1 : 1);
  if (inex) out.flags = Mxcsr.UE | Mxcsr.PE;
  return out;
}

/** Drops `drop` low bits of mant (shifting left if negative) with rounding: [q, exp of q's bit 0, inexact]. */
function roundBits(neg: boolean, mant: bigint, exp: number, sticky: boolean, drop: number, rc: number): [bigint, number, boolean] {
  if (drop <= 0) {
    // No bits dropped; callers with sticky set always give enough bits to make drop > 1.
    return [mant << BigInt(-drop), exp + drop, sticky];
  }
  const d = BigInt(drop);
  let q = mant >> d;
  const rem = mant & ((1n << d) - 1n);
  const half = 1n << (d - 1n);
  const inexact = rem !== 0n || sticky;
  let up = false;
  switch (rc) {
    case Rc.Nearest: up = rem > half || (rem === half && (sticky || (q & 1n) === 1n)); break;
    case Rc.Up: up = !neg && inexact; break;
    case Rc.Down: up = neg && inexact; break;
    default: break;
  }
  if (up) q += 1n;
  return [q, exp + drop, inexact];
}

// ---------------------------------------------------------------------------------------------
// Exact operands
// ---------------------------------------------------------------------------------------------

const cvBuf = new ArrayBuffer(8);
const cvF64 = new Float64Array(cvBuf);
const cvU32 = new Uint32Array(cvBuf);

/** A finite nonzero value as mant * 2^exp, mant an integer (sign separate). */
export class Exact {
  neg = false;
  mant = 0n;
  exp = 0;
}

/** Decomposes a finite double exactly. */
export function exactOf(x: number, e: Exact): Exact {
  cvF64[0] = x;
  const hi = cvU32[1]!;
  const lo = cvU32[0]!;
  const be = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  e.neg = (hi >>> 31) !== 0;
  if (be === 0) {
    e.mant = frac;
    e.exp = -1074;
  } else {
    e.mant = frac | (1n << 52n);
    e.exp = be - 1075;
  }
  return e;
}

const ea = new Exact();
const eb = new Exact();

export const enum ExactOp {
  Add, Sub, Mul, Div, Sqrt,
}

/**
 * Computes a op b exactly and rounds it to `fmt` under `rc`. a and b are finite doubles (single
 * operands are exactly representable as doubles); the caller has dealt with NaNs, infinities,
 * invalid operations and division by zero. `b` is ignored for Sqrt (a > 0 there).
 * Zero results get the IEEE sign: x - x is +0, or -0 when rounding down.
 */
export function exactOp(op: ExactOp, a: number, b: number, fmt: FloatFormat, rc: number): Rounded {
  if (op === ExactOp.Sub) {
    b = -b;
    op = ExactOp.Add;
  }
  if (op === ExactOp.Add) {
    if (a === 0 && b === 0) return zero(Object.is(a, -0) && Object.is(b, -0) ? true : Object.is(a, -0) !== Object.is(b, -0) ? rc === Rc.Down : false);
    if (a === 0) return roundExactOf(b, fmt, rc);
    if (b === 0) return roundExactOf(a, fmt, rc);
    exactOf(a, ea);
    exactOf(b, eb);
    const e = Math.min(ea.exp, eb.exp);
    const ma = (ea.neg ? -ea.mant : ea.mant) << BigInt(ea.exp - e);
    const mb = (eb.neg ? -eb.mant : eb.mant) << BigInt(eb.exp - e);
    const m = ma + mb;
    if (m === 0n) return zero(rc === Rc.Down);
    return roundExact(m < 0n, m < 0n ? -m : m, e, false, fmt, rc);
  }
  if (op === ExactOp.Mul) {
    const neg = (a < 0 || Object.is(a, -0)) !== (b < 0 || Object.is(b, -0));
    if (a === 0 || b === 0) return zero(neg);
    exactOf(a, ea);
    exactOf(b, eb);
    return roundExact(neg, ea.mant * eb.mant, ea.exp + eb.exp, false, fmt, rc);
  }
  if (op === ExactOp.Div) {
    const neg = (a < 0 || Object.is(a, -0)) !== (b < 0 || Object.is(b, -0));
    if (a === 0) return zero(neg);
    exactOf(a, ea);
    exactOf(b, eb);
    // 2^(K) scaling gives a quotient of at least K - 53 bits: far more than p + 2.
    const K = 64 + bitLength(eb.mant);
    const num = ea.mant << BigInt(K);
    const q = num / eb.mant;
    const sticky = q * eb.mant !== num;
    return roundExact(neg, q, ea.exp - eb.exp - K, sticky, fmt, rc);
  }
  // Sqrt of a positive finite value.
  exactOf(a, ea);
  let m = ea.mant;
  let e = ea.exp;
  if (e & 1) {
    m <<= 1n;
    e -= 1;
  }
  const K = 128; // even: the root gets at least 64 bits
  m <<= BigInt(K);
  const r = isqrt(m);
  return roundExact(false, r, (e - K) / 2, r * r !== m, fmt, rc);
}

function zero(neg: boolean): Rounded {
  out.value = neg ? -0 : 0;
  out.flags = 0;
  out.tiny = false;
  return out;
}

/** Rounds a finite double to `fmt` (conversions, and x + 0). */
export function roundExactOf(x: number, fmt: FloatFormat, rc: number): Rounded {
  if (x === 0) return zero(Object.is(x, -0));
  exactOf(x, ea);
  return roundExact(ea.neg, ea.mant, ea.exp, false, fmt, rc);
}

/** floor(sqrt(n)) for n >= 0 (Newton's method from an over-estimate). */
function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLength(n) + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}
