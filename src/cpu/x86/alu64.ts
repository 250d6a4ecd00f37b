/**
 * Integer arithmetic at 64-bit operand size (SDM Vol. 2, the same instruction pages as
 * alu.ts). Values travel as 32-bit halves: `lo` unsigned, `hi` signed int32. Every function
 * returns the low half of its result and leaves the high half in `cpu.hi`, the convention of
 * X86Cpu's 64-bit accessors.
 *
 * ADD/SUB/logic, INC/DEC/NEG, the shifts and the multiplies work on the halves directly (they
 * are the hot ones in 64-bit code: multi-precision arithmetic, e.g. the kernel's RSA checks,
 * is a chain of 64 x 64 -> 128-bit MULs, and sched_clock a MUL and a SHRD); the rotates
 * through carry and the divides (but for a dividend and divisor that doubles hold exactly) use BigInt, which
 * DESIGN.md allows where speed matters less. Undefined flags follow alu.ts.
 */
import { LazyOp, parityFlag } from './flags.js';
import { AluOp } from './alu.js';
import { Fl, Reg } from './state.js';
import { Vec } from './exceptions.js';
import type { X86Cpu } from './cpu.js';

const TWO_32 = 4294967296;

/** SF ZF PF of a 64-bit result. */
export function szp64(lo: number, hi: number): number {
  let f = parityFlag(lo);
  if ((lo | hi) === 0) f |= Fl.ZF;
  if (hi & 0x80000000) f |= Fl.SF;
  return f;
}

/** A 64-bit value as a signed BigInt. */
export function big64(lo: number, hi: number): bigint {
  return (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);
}

/** Splits the low 64 bits of `v`: returns the low half, the high half goes to `cpu.hi`. */
export function fromBig64(cpu: X86Cpu, v: bigint): number {
  cpu.hi = Number(BigInt.asIntN(32, v >> 32n));
  return Number(BigInt.asUintN(32, v));
}

/** One of the eight group-1 operations at 64 bits. CMP returns `a` (and `aHi` in cpu.hi). */
export function alu64(cpu: X86Cpu, op: number, a: number, aHi: number, b: number, bHi: number): number {
  a >>>= 0;
  b >>>= 0;
  aHi |= 0;
  bHi |= 0;
  let lo: number;
  let hi: number;
  let lazy: LazyOp;
  switch (op) {
    case AluOp.Add: case AluOp.Adc: {
      const sum = a + b + (op === AluOp.Adc ? cpu.getCF() : 0);
      lo = sum >>> 0;
      hi = (aHi + bHi + (sum >= TWO_32 ? 1 : 0)) | 0;
      lazy = LazyOp.Add;
      break;
    }
    case AluOp.Sub: case AluOp.Sbb: case AluOp.Cmp: {
      const diff = a - b - (op === AluOp.Sbb ? cpu.getCF() : 0);
      lo = diff >>> 0;
      hi = (aHi - bHi - (diff < 0 ? 1 : 0)) | 0;
      lazy = LazyOp.Sub;
      break;
    }
    case AluOp.Or: lo = (a | b) >>> 0; hi = aHi | bHi; lazy = LazyOp.Logic; break;
    case AluOp.And: lo = (a & b) >>> 0; hi = aHi & bHi; lazy = LazyOp.Logic; break;
    default: lo = (a ^ b) >>> 0; hi = aHi ^ bHi; lazy = LazyOp.Logic; break;
  }
  cpu.setLazy64(lazy, a, aHi, b, bHi, lo, hi);
  if (op === AluOp.Cmp) {
    cpu.hi = aHi;
    return a;
  }
  cpu.hi = hi;
  return lo;
}

export function inc64(cpu: X86Cpu, a: number, aHi: number): number {
  const lo = (a + 1) >>> 0;
  const hi = lo === 0 ? (aHi + 1) | 0 : aHi | 0;
  cpu.setLazy64(LazyOp.Inc, a >>> 0, aHi, 1, 0, lo, hi);
  cpu.hi = hi;
  return lo;
}

export function dec64(cpu: X86Cpu, a: number, aHi: number): number {
  const lo = (a - 1) >>> 0;
  const hi = lo === 0xffffffff ? (aHi - 1) | 0 : aHi | 0;
  cpu.setLazy64(LazyOp.Dec, a >>> 0, aHi, 1, 0, lo, hi);
  cpu.hi = hi;
  return lo;
}

export function neg64(cpu: X86Cpu, a: number, aHi: number): number {
  return alu64(cpu, AluOp.Sub, 0, 0, a, aHi);
}

// ---- Shifts --------------------------------------------------------------------------------

let shLo = 0;
let shHi = 0;

/** shLo:shHi = lo:hi << c, for c in 0..63. */
function shl(lo: number, hi: number, c: number): void {
  if (c === 0) { shLo = lo; shHi = hi; } else if (c < 32) { shHi = (hi << c) | (lo >>> (32 - c)); shLo = lo << c; } else { shHi = lo << (c - 32); shLo = 0; }
}

/** Logical right shift, c in 0..63. */
function shr(lo: number, hi: number, c: number): void {
  if (c === 0) { shLo = lo; shHi = hi; } else if (c < 32) { shLo = (lo >>> c) | (hi << (32 - c)); shHi = hi >>> c; } else { shLo = hi >>> (c - 32); shHi = 0; }
}

/** Arithmetic right shift, c in 0..63. */
function sar(lo: number, hi: number, c: number): void {
  if (c === 0) { shLo = lo; shHi = hi; } else if (c < 32) { shLo = (lo >>> c) | (hi << (32 - c)); shHi = hi >> c; } else { shLo = hi >> (c - 32); shHi = hi >> 31; }
}

/**
 * Group-2 shift/rotate `op` (ROL ROR RCL RCR SHL SHR SAL SAR) of a 64-bit value by `count`
 * (masked to 6 bits by the caller). A zero count changes neither the value nor any flag.
 */
export function shift64(cpu: X86Cpu, op: number, a: number, aHi: number, count: number): number {
  cpu.hi = aHi;
  if (count === 0) return a;
  const flags = cpu.getEflags();
  let lo: number;
  let hi: number;
  let cf: number;
  let of: number;
  switch (op) {
    case 0: case 1: { // ROL, ROR: only CF and OF change
      if (op === 0) {
        shl(a, aHi, count); lo = shLo; hi = shHi;
        shr(a, aHi, 64 - count); lo |= shLo; hi |= shHi;
        cf = lo & 1;
        of = (hi >>> 31) ^ cf;
      } else {
        shr(a, aHi, count); lo = shLo; hi = shHi;
        shl(a, aHi, 64 - count); lo |= shLo; hi |= shHi;
        cf = hi >>> 31;
        of = cf ^ ((hi >>> 30) & 1);
      }
      cpu.setArithFlags((flags & ~(Fl.CF | Fl.OF)) | cf | (of ? Fl.OF : 0));
      cpu.hi = hi | 0;
      return lo >>> 0;
    }
    case 2: case 3: { // RCL, RCR: a 65-bit rotation through CF
      const width = 65n;
      const c = BigInt(count);
      const v = (BigInt.asUintN(64, big64(a, aHi)) | (BigInt(flags & 1) << 64n));
      const rot = op === 2
        ? ((v << c) | (v >> (width - c))) & ((1n << width) - 1n)
        : ((v >> c) | (v << (width - c))) & ((1n << width) - 1n);
      cf = Number(rot >> 64n) & 1;
      lo = Number(BigInt.asUintN(32, rot));
      hi = Number(BigInt.asIntN(32, rot >> 32n));
      if (op === 2) of = (hi >>> 31) ^ cf;
      else of = ((aHi >>> 31) ^ (flags & 1)); // computed before the rotation (count 1), as alu.ts
      cpu.setArithFlags((flags & ~(Fl.CF | Fl.OF)) | cf | (of ? Fl.OF : 0));
      cpu.hi = hi;
      return lo;
    }
    case 4: case 6: // SHL/SAL
      shl(a, aHi, count - 1);
      cf = shHi >>> 31;
      shl(shLo, shHi, 1);
      lo = shLo; hi = shHi;
      of = (hi >>> 31) ^ cf;
      break;
    case 5: // SHR
      shr(a, aHi, count - 1);
      cf = shLo & 1;
      shr(shLo, shHi, 1);
      lo = shLo; hi = shHi;
      of = aHi >>> 31;
      break;
    default: // SAR
      sar(a, aHi | 0, count - 1);
      cf = shLo & 1;
      sar(shLo, shHi, 1);
      lo = shLo; hi = shHi;
      of = 0;
      break;
  }
  lo >>>= 0;
  hi |= 0;
  cpu.setArithFlags(szp64(lo, hi) | cf | (of ? Fl.OF : 0));
  cpu.hi = hi;
  return lo;
}

/** SHLD/SHRD at 64 bits: shift a left/right by `count` (masked to 6 bits), filling from b. */
export function doubleShift64(cpu: X86Cpu, left: boolean, a: number, aHi: number, b: number, bHi: number, count: number): number {
  count &= 63;
  cpu.hi = aHi;
  if (count === 0) return a;
  let lo: number;
  let hi: number;
  let cf: number;
  if (left) {
    shl(a, aHi, count); lo = shLo; hi = shHi;
    shr(b, bHi, 64 - count); lo |= shLo; hi |= shHi;
    // The last bit shifted out: bit 64 - count of a.
    shr(a, aHi, 64 - count);
    cf = shLo & 1;
  } else {
    shr(a, aHi, count); lo = shLo; hi = shHi;
    shl(b, bHi, 64 - count); lo |= shLo; hi |= shHi;
    shr(a, aHi, count - 1);
    cf = shLo & 1;
  }
  lo >>>= 0;
  hi |= 0;
  const of = ((hi ^ aHi) & 0x80000000) !== 0;
  cpu.setArithFlags(szp64(lo, hi) | cf | (of ? Fl.OF : 0));
  cpu.hi = hi;
  return lo;
}

// ---- Multiply and divide --------------------------------------------------------------------

function mulFlags64(cpu: X86Cpu, overflow: boolean, lo: number, hi: number): void {
  cpu.setArithFlags(szp64(lo, hi) | (overflow ? Fl.CF | Fl.OF : 0));
}

/** The 128-bit product of mul128, as four unsigned 32-bit words, least significant first. */
const prod = new Uint32Array(4);

/**
 * prod = (aHi:a) × (bHi:b), unsigned, column by column in 16-bit limbs: every partial product
 * is below 2^32 and a column of four plus the carry below 2^35, exact in doubles (`& 0xffff`
 * of such a double is its low 16 bits). Straight-line: it is the inner loop of multi-precision
 * multiplication (RSA).
 */
function mul128(a: number, aHi: number, b: number, bHi: number): void {
  const a0 = a & 0xffff, a1 = a >>> 16, a2 = aHi & 0xffff, a3 = aHi >>> 16;
  const b0 = b & 0xffff, b1 = b >>> 16, b2 = bHi & 0xffff, b3 = bHi >>> 16;
  let c = a0 * b0;
  const d0 = c & 0xffff;
  c = (c - d0) / 65536 + a0 * b1 + a1 * b0;
  const d1 = c & 0xffff;
  c = (c - d1) / 65536 + a0 * b2 + a1 * b1 + a2 * b0;
  const d2 = c & 0xffff;
  c = (c - d2) / 65536 + a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  const d3 = c & 0xffff;
  c = (c - d3) / 65536 + a1 * b3 + a2 * b2 + a3 * b1;
  const d4 = c & 0xffff;
  c = (c - d4) / 65536 + a2 * b3 + a3 * b2;
  const d5 = c & 0xffff;
  c = (c - d5) / 65536 + a3 * b3;
  const d6 = c & 0xffff;
  const d7 = ((c - d6) / 65536) & 0xffff;
  prod[0] = d0 | (d1 << 16);
  prod[1] = d2 | (d3 << 16);
  prod[2] = d4 | (d5 << 16);
  prod[3] = d6 | (d7 << 16);
}

/** The high quadword of prod as a signed product: subtract b·2^64 if a < 0 and a·2^64 if b < 0. */
function signedHigh(a: number, aHi: number, b: number, bHi: number): void {
  let lo = prod[2]!;
  let hi = prod[3]!;
  if (aHi < 0) {
    const d = lo - (b >>> 0);
    hi = (hi - (bHi >>> 0) - (d < 0 ? 1 : 0)) >>> 0;
    lo = d >>> 0;
  }
  if (bHi < 0) {
    const d = lo - (a >>> 0);
    hi = (hi - (aHi >>> 0) - (d < 0 ? 1 : 0)) >>> 0;
    lo = d >>> 0;
  }
  prod[2] = lo;
  prod[3] = hi;
}

/** MUL r/m64: RDX:RAX = RAX × src (unsigned). */
export function mulAcc64(cpu: X86Cpu, src: number, srcHi: number): void {
  const g = cpu.s.gpr;
  mul128(g[Reg.EAX]! >>> 0, cpu.s.gprHi[Reg.EAX]! | 0, src >>> 0, srcHi | 0);
  const lo = prod[0]!, hi = prod[1]! | 0;
  cpu.setReg64(Reg.EAX, lo, hi);
  cpu.setReg64(Reg.EDX, prod[2]!, prod[3]! | 0);
  mulFlags64(cpu, (prod[2]! | prod[3]!) !== 0, lo, hi);
}

/** IMUL r/m64: RDX:RAX = RAX × src (signed). */
export function imulAcc64(cpu: X86Cpu, src: number, srcHi: number): void {
  const a = cpu.s.gpr[Reg.EAX]! >>> 0, aHi = cpu.s.gprHi[Reg.EAX]! | 0;
  mul128(a, aHi, src >>> 0, srcHi | 0);
  signedHigh(a, aHi, src >>> 0, srcHi | 0);
  const lo = prod[0]!, hi = prod[1]! | 0;
  cpu.setReg64(Reg.EAX, lo, hi);
  cpu.setReg64(Reg.EDX, prod[2]!, prod[3]! | 0);
  mulFlags64(cpu, !fitsSigned64(hi), lo, hi);
}

/** Whether the signed 128-bit product in prod is the sign extension of its low quadword (high half `hi`). */
function fitsSigned64(hi: number): boolean {
  const ext = hi < 0 ? 0xffffffff : 0;
  return prod[2] === ext && prod[3] === ext;
}

/** Two- and three-operand IMUL at 64 bits: the truncated signed product. */
export function imulTrunc64(cpu: X86Cpu, a: number, aHi: number, b: number, bHi: number): number {
  if ((aHi | bHi) === 0) {
    // Both below 2^32 (compiled C multiplies 32-bit halves so: the kernel's generic
    // mpihelp_*mul_1 for RSA): the product is below 2^64 and not negative, so it fits the
    // 64 signed bits exactly when below 2^63. Three partial products in 16-bit limbs; `mid`
    // stays below 2^34, exact in a double.
    const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
    const low = a0 * b0;
    const mid = a0 * b1 + a1 * b0 + Math.floor(low / 65536);
    const lo = ((mid % 65536) * 65536 + (low & 0xffff)) >>> 0;
    const hi = (a1 * b1 + Math.floor(mid / 65536)) | 0;
    mulFlags64(cpu, hi < 0, lo, hi);
    cpu.hi = hi;
    return lo;
  }
  mul128(a >>> 0, aHi | 0, b >>> 0, bHi | 0);
  signedHigh(a >>> 0, aHi | 0, b >>> 0, bHi | 0);
  const lo = prod[0]!, hi = prod[1]! | 0;
  mulFlags64(cpu, !fitsSigned64(hi), lo, hi);
  cpu.hi = hi;
  return lo;
}

/** DIV r/m64: RAX = RDX:RAX / src, RDX = remainder; #DE on zero or a quotient above 64 bits. */
export function divAcc64(cpu: X86Cpu, src: number, srcHi: number): void {
  const s = cpu.s;
  const nHi = s.gprHi[Reg.EAX]! >>> 0;
  if ((s.gpr[Reg.EDX]! | s.gprHi[Reg.EDX]!) === 0 && nHi < 0x100000 && (srcHi | 0) === 0 && src !== 0) {
    // RDX = 0, RAX < 2^52, a 32-bit divisor: q·d stays below 2^53, so the remainder is exact
    // and corrects the rounded quotient.
    const n = nHi * TWO_32 + (s.gpr[Reg.EAX]! >>> 0);
    const d = src >>> 0;
    let q = Math.floor(n / d);
    let r = n - q * d;
    if (r < 0) { q--; r += d; } else if (r >= d) { q++; r -= d; }
    cpu.setReg64(Reg.EAX, q >>> 0, Math.floor(q / TWO_32));
    cpu.setReg64(Reg.EDX, r, 0);
    return;
  }
  const d = BigInt.asUintN(64, big64(src, srcHi));
  if (d === 0n) cpu.raise(Vec.DE);
  const n = (BigInt.asUintN(64, big64(s.gpr[Reg.EDX]!, s.gprHi[Reg.EDX]!)) << 64n) | BigInt.asUintN(64, big64(s.gpr[Reg.EAX]!, s.gprHi[Reg.EAX]!));
  const q = n / d;
  if (q >> 64n) cpu.raise(Vec.DE);
  const r = n % d;
  cpu.setReg64(Reg.EAX, fromBig64(cpu, q), cpu.hi);
  cpu.setReg64(Reg.EDX, fromBig64(cpu, r), cpu.hi);
}

/** IDIV r/m64: signed RDX:RAX / src, truncating toward zero; #DE on zero or overflow. */
export function idivAcc64(cpu: X86Cpu, src: number, srcHi: number): void {
  const s = cpu.s;
  const d = big64(src, srcHi);
  if (d === 0n) cpu.raise(Vec.DE);
  const n = (big64(s.gpr[Reg.EDX]!, s.gprHi[Reg.EDX]!) << 64n) | BigInt.asUintN(64, big64(s.gpr[Reg.EAX]!, s.gprHi[Reg.EAX]!));
  const q = n / d;
  if (BigInt.asIntN(64, q) !== q) cpu.raise(Vec.DE);
  const r = n % d;
  cpu.setReg64(Reg.EAX, fromBig64(cpu, q), cpu.hi);
  cpu.setReg64(Reg.EDX, fromBig64(cpu, r), cpu.hi);
}

// ---- Bit scans and byte swap ----------------------------------------------------------------

/** BSF/BSR index of a non-zero 64-bit value. */
export function bitScan64(forward: boolean, lo: number, hi: number): number {
  if (forward) return lo !== 0 ? 31 - Math.clz32(lo & -lo) : 63 - Math.clz32(hi & -hi);
  return hi !== 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(lo);
}

function bswap32(v: number): number {
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

/** BSWAP r64: returns the new low half, the new high half in cpu.hi. */
export function bswap64(cpu: X86Cpu, lo: number, hi: number): number {
  cpu.hi = bswap32(lo) | 0;
  return bswap32(hi) >>> 0;
}
