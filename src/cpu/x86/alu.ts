/**
 * Integer arithmetic: the eight ALU operations, shifts and rotates, multiply and divide, and
 * the BCD adjustments (SDM Vol. 2 instruction pages for each).
 *
 * Values are unsigned numbers of the operand width (8, 16, 32 bits). Undefined flags follow
 * what QEMU computes (which matches Intel parts for the common cases): after MUL/IMUL, SF ZF
 * PF come from the low half of the result and AF is cleared; after shifts AF is cleared; for
 * shift counts greater than 1, OF is computed with the count-1 formula.
 */
import { LazyOp, parityFlag } from './flags.js';
import { Fl, Reg } from './state.js';
import { Vec } from './exceptions.js';
import type { X86Cpu } from './cpu.js';

export function maskOf(size: number): number {
  return size === 32 ? 0xffffffff : size === 16 ? 0xffff : 0xff;
}

export function signOf(size: number): number {
  return size === 32 ? 0x80000000 : size === 16 ? 0x8000 : 0x80;
}

/** Sign-extends an unsigned `size`-bit value to a signed 32-bit number. */
export function signExtend(v: number, size: number): number {
  return size === 32 ? v | 0 : size === 16 ? (v << 16) >> 16 : (v << 24) >> 24;
}

/** SF ZF PF of a `size`-bit result. */
export function szp(r: number, size: number): number {
  let f = parityFlag(r);
  if ((r & maskOf(size)) === 0) f |= Fl.ZF;
  if (r & signOf(size)) f |= Fl.SF;
  return f;
}

export const enum AluOp { Add = 0, Or = 1, Adc = 2, Sbb = 3, And = 4, Sub = 5, Xor = 6, Cmp = 7 }

/** One of the eight group-1 operations. Returns the result (CMP returns `a` unchanged). */
export function alu(cpu: X86Cpu, op: number, size: number, a: number, b: number): number {
  const mask = maskOf(size);
  let r: number;
  switch (op) {
    case AluOp.Add:
      r = ((a + b) & mask) >>> 0;
      cpu.setLazy(LazyOp.Add, a, b, r, size);
      return r;
    case AluOp.Or:
      r = ((a | b) & mask) >>> 0;
      cpu.setLazy(LazyOp.Logic, a, b, r, size);
      return r;
    case AluOp.Adc:
      r = ((a + b + cpu.getCF()) & mask) >>> 0;
      cpu.setLazy(LazyOp.Add, a, b, r, size);
      return r;
    case AluOp.Sbb:
      r = ((a - b - cpu.getCF()) & mask) >>> 0;
      cpu.setLazy(LazyOp.Sub, a, b, r, size);
      return r;
    case AluOp.And:
      r = ((a & b) & mask) >>> 0;
      cpu.setLazy(LazyOp.Logic, a, b, r, size);
      return r;
    case AluOp.Sub:
      r = ((a - b) & mask) >>> 0;
      cpu.setLazy(LazyOp.Sub, a, b, r, size);
      return r;
    case AluOp.Xor:
      r = ((a ^ b) & mask) >>> 0;
      cpu.setLazy(LazyOp.Logic, a, b, r, size);
      return r;
    default:
      r = ((a - b) & mask) >>> 0;
      cpu.setLazy(LazyOp.Sub, a, b, r, size);
      return a;
  }
}

export function inc(cpu: X86Cpu, size: number, a: number): number {
  const r = ((a + 1) & maskOf(size)) >>> 0;
  cpu.setLazy(LazyOp.Inc, a, 1, r, size);
  return r;
}

export function dec(cpu: X86Cpu, size: number, a: number): number {
  const r = ((a - 1) & maskOf(size)) >>> 0;
  cpu.setLazy(LazyOp.Dec, a, 1, r, size);
  return r;
}

export function neg(cpu: X86Cpu, size: number, a: number): number {
  const r = ((0 - a) & maskOf(size)) >>> 0;
  cpu.setLazy(LazyOp.Sub, 0, a, r, size);
  return r;
}

/**
 * Group-2 shift/rotate `op` (ROL ROR RCL RCR SHL SHR SAL SAR) of `a` by `count` (already
 * masked to 5 bits). A zero count changes neither the value nor any flag.
 */
export function shift(cpu: X86Cpu, op: number, size: number, a: number, count: number): number {
  if (count === 0) return a;
  const mask = maskOf(size);
  const sign = signOf(size);
  const flags = cpu.getEflags();
  let r: number;
  let cf: number;
  let of: number;
  switch (op) {
    case 0: { // ROL: only CF and OF change
      const c = count % size;
      r = c === 0 ? a : (((a << c) | (a >>> (size - c))) & mask) >>> 0;
      cf = r & 1;
      of = (r & sign ? 1 : 0) ^ cf;
      cpu.setArithFlags((flags & ~(Fl.CF | Fl.OF)) | cf | (of ? Fl.OF : 0));
      return r;
    }
    case 1: { // ROR
      const c = count % size;
      r = c === 0 ? a : (((a >>> c) | (a << (size - c))) & mask) >>> 0;
      cf = r & sign ? 1 : 0;
      of = cf ^ (r & (sign >>> 1) ? 1 : 0);
      cpu.setArithFlags((flags & ~(Fl.CF | Fl.OF)) | cf | (of ? Fl.OF : 0));
      return r;
    }
    case 2: { // RCL: rotate through carry, a (size+1)-bit rotation
      const c = size === 32 ? count : count % (size + 1);
      if (c === 0) return a;
      let v = a;
      cf = flags & Fl.CF;
      for (let i = 0; i < c; i++) {
        const out = v & sign ? 1 : 0;
        v = (((v << 1) | cf) & mask) >>> 0;
        cf = out;
      }
      r = v;
      of = (r & sign ? 1 : 0) ^ cf;
      cpu.setArithFlags((flags & ~(Fl.CF | Fl.OF)) | cf | (of ? Fl.OF : 0));
      return r;
    }
    case 3: { // RCR
      const c = size === 32 ? count : count % (size + 1);
      if (c === 0) return a;
      let v = a;
      cf = flags & Fl.CF;
      of = (v & sign ? 1 : 0) ^ cf; // OF is computed before the rotation (count 1)
      for (let i = 0; i < c; i++) {
        const out = v & 1;
        v = ((v >>> 1) | (cf ? sign : 0)) >>> 0;
        cf = out;
      }
      r = v;
      cpu.setArithFlags((flags & ~(Fl.CF | Fl.OF)) | cf | (of ? Fl.OF : 0));
      return r;
    }
    case 4: case 6: { // SHL/SAL
      const t = count > 32 ? 0 : (a << (count - 1)) >>> 0;
      cf = (t >>> (size - 1)) & 1;
      r = ((t << 1) & mask) >>> 0;
      of = (r & sign ? 1 : 0) ^ cf;
      break;
    }
    case 5: { // SHR
      const t = a >>> (count - 1);
      cf = t & 1;
      r = (t >>> 1) >>> 0;
      of = a & sign ? 1 : 0;
      break;
    }
    default: { // SAR
      const t = signExtend(a, size) >> (count - 1);
      cf = t & 1;
      r = ((t >> 1) & mask) >>> 0;
      of = 0;
      break;
    }
  }
  cpu.setArithFlags(szp(r, size) | cf | (of ? Fl.OF : 0));
  return r;
}

/** SHLD/SHRD: shift `a` left/right by `count` (masked to 5 bits), filling from `b`. */
export function doubleShift(cpu: X86Cpu, left: boolean, size: number, a: number, b: number, count: number): number {
  count &= 31;
  if (count === 0) return a;
  const mask = maskOf(size);
  const sign = signOf(size);
  let r: number;
  let cf: number;
  if (size === 16) {
    // XXX: counts above 16 on 16-bit operands are undefined; like Intel parts we shift the
    // 48-bit pattern a:b:a (exact in a double), which gives the defined result for 1..16.
    const x = a * 2 ** 32 + b * 2 ** 16 + a;
    if (left) {
      r = Math.floor(x / 2 ** (32 - count)) % 65536;
      cf = Math.floor(x / 2 ** (48 - count)) & 1;
    } else {
      r = Math.floor(x / 2 ** count) % 65536;
      cf = Math.floor(x / 2 ** (count - 1)) & 1;
    }
  } else if (left) {
    r = ((a << count) | (b >>> (32 - count))) >>> 0;
    cf = (a >>> (32 - count)) & 1;
  } else {
    r = ((a >>> count) | (b << (32 - count))) >>> 0;
    cf = (a >>> (count - 1)) & 1;
  }
  r = (r & mask) >>> 0;
  const of = ((r ^ a) & sign) !== 0;
  cpu.setArithFlags(szp(r, size) | cf | (of ? Fl.OF : 0));
  return r;
}

/** Unsigned 32×32→64 product, exact: `out[i]` gets the low half, `out[i + 1]` the high half. */
export function mul32(a: number, b: number, out: Uint32Array, i: number): void {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const ll = aLo * bLo;
  const mid = aHi * bLo + aLo * bHi; // < 2^33, exact
  const lowFull = ll + (mid % 65536) * 65536;
  out[i] = lowFull % 4294967296;
  out[i + 1] = aHi * bHi + Math.floor(mid / 65536) + Math.floor(lowFull / 4294967296);
}

/** Signed 32×32→64 product (two's complement) into `out[i]` (low) and `out[i + 1]` (high). */
export function imul32(a: number, b: number, out: Uint32Array, i: number): void {
  mul32(Math.abs(a | 0), Math.abs(b | 0), out, i);
  const lo = out[i]!;
  const hi = out[i + 1]!;
  if ((a | 0) < 0 === (b | 0) < 0 || (lo === 0 && hi === 0)) return;
  // Negate the 64-bit value.
  out[i] = ~lo + 1;
  out[i + 1] = ~hi + (lo === 0 ? 1 : 0);
}

/** Scratch for the 32-bit multiplies: the hot MUL/IMUL paths allocate nothing. */
const product = new Uint32Array(2);

function mulFlags(cpu: X86Cpu, overflow: boolean, low: number, size: number): void {
  cpu.setArithFlags(szp(low, size) | (overflow ? Fl.CF | Fl.OF : 0));
}

/** Group-3 MUL: AX/DX:AX/EDX:EAX = accumulator × src. */
export function mulAcc(cpu: X86Cpu, size: number, src: number): void {
  const g = cpu.s.gpr;
  if (size === 8) {
    const r = (g[Reg.EAX]! & 0xff) * src;
    cpu.setReg(16, Reg.EAX, r);
    mulFlags(cpu, r > 0xff, r & 0xff, 8);
  } else if (size === 16) {
    const r = (g[Reg.EAX]! & 0xffff) * src;
    cpu.setReg(16, Reg.EAX, r & 0xffff);
    cpu.setReg(16, Reg.EDX, r >>> 16);
    mulFlags(cpu, r > 0xffff, r & 0xffff, 16);
  } else {
    mul32(g[Reg.EAX]! >>> 0, src, product, 0);
    const lo = product[0]!;
    const hi = product[1]!;
    cpu.setReg32(Reg.EAX, lo);
    cpu.setReg32(Reg.EDX, hi);
    mulFlags(cpu, hi !== 0, lo, 32);
  }
}

/** Group-3 IMUL (one operand): signed accumulator × src. */
export function imulAcc(cpu: X86Cpu, size: number, src: number): void {
  const g = cpu.s.gpr;
  if (size === 8) {
    const r = signExtend(g[Reg.EAX]! & 0xff, 8) * signExtend(src, 8);
    cpu.setReg(16, Reg.EAX, r & 0xffff);
    mulFlags(cpu, r !== signExtend(r & 0xff, 8), r & 0xff, 8);
  } else if (size === 16) {
    const r = signExtend(g[Reg.EAX]! & 0xffff, 16) * signExtend(src, 16);
    cpu.setReg(16, Reg.EAX, r & 0xffff);
    cpu.setReg(16, Reg.EDX, (r >> 16) & 0xffff);
    mulFlags(cpu, r !== signExtend(r & 0xffff, 16), r & 0xffff, 16);
  } else {
    imul32(g[Reg.EAX]!, src, product, 0);
    const lo = product[0]!;
    const hi = product[1]!;
    cpu.setReg32(Reg.EAX, lo);
    cpu.setReg32(Reg.EDX, hi);
    mulFlags(cpu, hi !== ((lo | 0) < 0 ? 0xffffffff : 0), lo, 32);
  }
}

/** Two- and three-operand IMUL: truncated signed product of a and b; returns the result. */
export function imulTrunc(cpu: X86Cpu, size: number, a: number, b: number): number {
  if (size === 32) {
    imul32(a, b, product, 0);
    const lo = product[0]!;
    const hi = product[1]!;
    mulFlags(cpu, hi !== ((lo | 0) < 0 ? 0xffffffff : 0), lo, 32);
    return lo;
  }
  const r = signExtend(a, 16) * signExtend(b, 16);
  const lo = r & 0xffff;
  mulFlags(cpu, r !== signExtend(lo, 16), lo, 16);
  return lo;
}

/** Group-3 DIV: unsigned accumulator ÷ src; #DE on zero or quotient overflow. */
export function divAcc(cpu: X86Cpu, size: number, src: number): void {
  const g = cpu.s.gpr;
  if (src === 0) cpu.raise(Vec.DE);
  if (size === 8) {
    const n = g[Reg.EAX]! & 0xffff;
    const q = Math.floor(n / src);
    if (q > 0xff) cpu.raise(Vec.DE);
    cpu.setReg(16, Reg.EAX, ((n % src) << 8) | q);
  } else if (size === 16) {
    const n = (((g[Reg.EDX]! & 0xffff) << 16) | (g[Reg.EAX]! & 0xffff)) >>> 0;
    const q = Math.floor(n / src);
    if (q > 0xffff) cpu.raise(Vec.DE);
    cpu.setReg(16, Reg.EAX, q);
    cpu.setReg(16, Reg.EDX, n % src);
  } else {
    const hi = g[Reg.EDX]! >>> 0;
    const lo = g[Reg.EAX]! >>> 0;
    if (hi >= src) cpu.raise(Vec.DE); // quotient would not fit in 32 bits
    let q: number;
    let r: number;
    if (hi < 0x200000) {
      const n = hi * 4294967296 + lo; // < 2^53: exact
      q = Math.floor(n / src);
      r = n - q * src;
      if (r < 0) { q--; r += src; } else if (r >= src) { q++; r -= src; }
    } else {
      const n = (BigInt(hi) << 32n) | BigInt(lo);
      const d = BigInt(src);
      q = Number(n / d);
      r = Number(n % d);
    }
    cpu.setReg32(Reg.EAX, q);
    cpu.setReg32(Reg.EDX, r);
  }
}

/** Group-3 IDIV: signed accumulator ÷ src; #DE on zero or quotient overflow. */
export function idivAcc(cpu: X86Cpu, size: number, src: number): void {
  const g = cpu.s.gpr;
  if (src === 0) cpu.raise(Vec.DE);
  const d = signExtend(src, size);
  if (size === 8) {
    const n = signExtend(g[Reg.EAX]! & 0xffff, 16);
    const q = Math.trunc(n / d);
    if (q > 127 || q < -128) cpu.raise(Vec.DE);
    const r = n - q * d;
    cpu.setReg(16, Reg.EAX, ((r & 0xff) << 8) | (q & 0xff));
  } else if (size === 16) {
    const n = ((g[Reg.EDX]! & 0xffff) << 16) | (g[Reg.EAX]! & 0xffff);
    const q = Math.trunc(n / d);
    if (q > 32767 || q < -32768) cpu.raise(Vec.DE);
    cpu.setReg(16, Reg.EAX, q & 0xffff);
    cpu.setReg(16, Reg.EDX, (n - q * d) & 0xffff);
  } else {
    const n = (BigInt(g[Reg.EDX]! | 0) << 32n) | BigInt(g[Reg.EAX]! >>> 0);
    const dd = BigInt(d);
    const q = n / dd; // BigInt division truncates toward zero, as IDIV does
    if (q > 2147483647n || q < -2147483648n) cpu.raise(Vec.DE);
    cpu.setReg32(Reg.EAX, Number(q));
    cpu.setReg32(Reg.EDX, Number(n % dd));
  }
}

// ---- BCD (SDM Vol. 2: DAA, DAS, AAA, AAS, AAM, AAD) ------------------------------------------

export function daa(cpu: X86Cpu): void {
  const f = cpu.getEflags();
  const oldAl = cpu.reg8(0);
  const oldCf = f & Fl.CF;
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0xf) > 9 || (f & Fl.AF)) {
    al = (al + 6) & 0xff;
    cf = oldCf || oldAl + 6 > 0xff ? 1 : 0;
    af = Fl.AF;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al + 0x60) & 0xff;
    cf = 1;
  }
  cpu.setReg8(0, al);
  // OF is undefined; Intel parts compute it as for the addition: we report 0 like QEMU.
  cpu.setArithFlags(szp(al, 8) | cf | af);
}

export function das(cpu: X86Cpu): void {
  const f = cpu.getEflags();
  const oldAl = cpu.reg8(0);
  const oldCf = f & Fl.CF;
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0xf) > 9 || (f & Fl.AF)) {
    cf = oldCf || al < 6 ? 1 : 0;
    al = (al - 6) & 0xff;
    af = Fl.AF;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al - 0x60) & 0xff;
    cf = 1;
  }
  cpu.setReg8(0, al);
  cpu.setArithFlags(szp(al, 8) | cf | af);
}

/** AAA (add) and AAS (subtract): only AF and CF are defined; the others keep their values. */
export function aaa(cpu: X86Cpu, subtract: boolean): void {
  const f = cpu.getEflags();
  let ax = cpu.s.gpr[Reg.EAX]! & 0xffff;
  const adjust = (ax & 0xf) > 9 || (f & Fl.AF) !== 0;
  if (adjust) {
    // AX ± 6 carries/borrows from AL into AH, then AH ± 1 (SDM; matches QEMU).
    ax = subtract ? (ax - 6 - 0x100) & 0xffff : (ax + 0x106) & 0xffff;
  }
  cpu.setReg(16, Reg.EAX, ax & 0xff0f);
  cpu.setArithFlags((f & ~(Fl.AF | Fl.CF)) | (adjust ? Fl.AF | Fl.CF : 0));
}

export function aam(cpu: X86Cpu, base: number): void {
  if (base === 0) cpu.raise(Vec.DE);
  const al = cpu.reg8(0);
  const r = ((Math.floor(al / base) << 8) | (al % base)) & 0xffff;
  cpu.setReg(16, Reg.EAX, r);
  cpu.setArithFlags(szp(r & 0xff, 8));
}

export function aad(cpu: X86Cpu, base: number): void {
  const ax = cpu.s.gpr[Reg.EAX]! & 0xffff;
  const al = ((ax & 0xff) + (ax >> 8) * base) & 0xff;
  cpu.setReg(16, Reg.EAX, al);
  cpu.setArithFlags(szp(al, 8));
}
