/**
 * RCPPS/RCPSS and RSQRTPS/RSQRTSS (SDM Vol. 2 pages): approximations whose relative error the
 * SDM bounds by 1.5 * 2^-12. Intel's lookup tables are not published, so results are the exact
 * value rounded to 12 fraction bits (error below 2^-13 + 2^-24), which meets the documented
 * bound but does not reproduce Intel's (or AMD's) bits. Special cases follow the SDM: zeros and
 * denormals give infinities of the same sign, infinities give zeros, tiny reciprocals are
 * flushed to signed zeros, a negative RSQRT operand gives the QNaN indefinite, NaNs are quieted.
 * No MXCSR flags are raised.
 */
import { bitsOfF32, f32Of, QNAN_INDEFINITE_S } from './sse-fp.js';

/**
 * RCP inputs from |1.11111111110100000000000B * 2^125| up are "guaranteed to produce tiny
 * results" (flushed to zero); the SDM leaves the few inputs just below to the implementation,
 * and both Intel and AMD parts flush there too. This is the bit pattern of that bound.
 */
const RCP_TINY_FROM = 0x7e7fe800;

export function approxS(x: number, rsqrt: boolean): number {
  const sign = x & 0x80000000;
  const e = x & 0x7f800000;
  const f = x & 0x7fffff;
  if (e === 0x7f800000) {
    if (f !== 0) return (x | 0x400000) >>> 0;
    if (rsqrt && sign) return QNAN_INDEFINITE_S;
    return sign >>> 0; // 1/±inf = ±0, 1/sqrt(+inf) = +0
  }
  if (e === 0) return (sign | 0x7f800000) >>> 0; // zeros and denormals
  if (rsqrt && sign) return QNAN_INDEFINITE_S;
  if (!rsqrt && (x & 0x7fffffff) >= RCP_TINY_FROM) return sign >>> 0;
  const v = f32Of(x);
  const r = rsqrt ? 1 / Math.sqrt(v) : 1 / v;
  const bits = bitsOfF32(Math.fround(r));
  return ((bits + 0x400) & ~0x7ff) >>> 0;
}
