/**
 * Lazy arithmetic flags. Most instructions set OF SF ZF AF PF CF and most results are never
 * looked at, so instead of computing six flags per ADD we remember the operation, its
 * operands and result, and compute a flag only when something reads it (Jcc, PUSHF, ADC...).
 *
 * The carry and overflow formulas used work for the carry-in forms too:
 *   carry out of bit n-1 of a + b + cin   = MSB((a & b) | ((a | b) & ~r))
 *   borrow out of bit n-1 of a - b - cin  = MSB((~a & b) | ((~a | b) & r))
 *   signed overflow of addition           = MSB((a ^ r) & (b ^ r))
 *   signed overflow of subtraction        = MSB((a ^ b) & (a ^ r))
 *   auxiliary carry (bit 3 → 4)           = (a ^ b ^ r) & 0x10
 *
 * Undefined flags: after logic ops AF is cleared (as Intel parts do in practice and QEMU does).
 */
import { Fl } from './state.js';

export const enum LazyOp {
  /** Flags are not lazy: everything is in eflags. */
  None = 0,
  Add = 1,
  Sub = 2,
  Logic = 3,
  /** INC/DEC: like Add/Sub with b = 1, but CF is kept from before (in eflags). */
  Inc = 4,
  Dec = 5,
  /** The same five at 64-bit operand size (set64 adds WIDE): halves in a/aHi, b/bHi, r/rHi. */
  Add64 = 6,
  Sub64 = 7,
  Logic64 = 8,
  Inc64 = 9,
  Dec64 = 10,
}

/** LazyOp.X + WIDE = LazyOp.X64. */
const WIDE = 5;

/** PF (0 or Fl.PF) of each byte value. */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let bits = 0;
  for (let b = i; b; b >>= 1) bits += b & 1;
  PARITY[i] = bits & 1 ? 0 : Fl.PF;
}

/** PF for the low byte of `v`. */
export function parityFlag(v: number): number {
  return PARITY[v & 0xff]!;
}

/**
 * Lazy flag state. `size` is the operand width in bits (8, 16, 32, 64). A 64-bit operation
 * keeps its operands and result as 32-bit halves: the carry and overflow formulas above only
 * look at the top bit, so they work on the high halves unchanged, while AF and PF come from
 * the low halves and ZF from both.
 */
export class LazyFlags {
  op = LazyOp.None;
  a = 0;
  b = 0;
  r = 0;
  /** High halves of a 64-bit operation (op >= Add64); stale otherwise. */
  aHi = 0;
  bHi = 0;
  rHi = 0;
  /** Sign bit of the operand width (0x80, 0x8000, 0x80000000). */
  sign = 0x80;
  /** All-ones mask of the operand width. */
  mask = 0xff;

  set(op: LazyOp, a: number, b: number, r: number, sizeBits: number): void {
    this.op = op;
    this.a = a;
    this.b = b;
    this.r = r;
    this.sign = sizeBits === 32 ? 0x80000000 : sizeBits === 16 ? 0x8000 : 0x80;
    this.mask = sizeBits === 32 ? 0xffffffff : sizeBits === 16 ? 0xffff : 0xff;
  }

  /** A 64-bit operation: operands and result as low (unsigned) and high halves. */
  set64(op: LazyOp, a: number, aHi: number, b: number, bHi: number, r: number, rHi: number): void {
    this.op = op + WIDE;
    this.a = a;
    this.b = b;
    this.r = r;
    this.aHi = aHi;
    this.bHi = bHi;
    this.rHi = rHi;
    this.sign = 0x80000000;
    this.mask = 0xffffffff;
  }

  /**
   * The six arithmetic flags as EFLAGS bits. `prevCf` is the CF bit of eflags, used by
   * Inc/Dec, which leave CF alone.
   */
  compute(prevCf: number): number {
    if (this.op >= LazyOp.Add64) return this.compute64(prevCf);
    const { a, b, r, sign, mask } = this;
    const res = (r & mask) >>> 0;
    let f = PARITY[res & 0xff]!;
    if (res === 0) f |= Fl.ZF;
    if (res & sign) f |= Fl.SF;
    switch (this.op) {
      case LazyOp.Add:
        if (((a & b) | ((a | b) & ~r)) & sign) f |= Fl.CF;
        if ((a ^ r) & (b ^ r) & sign) f |= Fl.OF;
        f |= (a ^ b ^ r) & Fl.AF;
        break;
      case LazyOp.Sub:
        if (((~a & b) | ((~a | b) & r)) & sign) f |= Fl.CF;
        if ((a ^ b) & (a ^ r) & sign) f |= Fl.OF;
        f |= (a ^ b ^ r) & Fl.AF;
        break;
      case LazyOp.Logic:
        break;
      case LazyOp.Inc:
        f |= prevCf & Fl.CF;
        if (res === sign) f |= Fl.OF;
        f |= (a ^ 1 ^ r) & Fl.AF;
        break;
      case LazyOp.Dec:
        f |= prevCf & Fl.CF;
        if (res === sign - 1) f |= Fl.OF;
        f |= (a ^ 1 ^ r) & Fl.AF;
        break;
      default:
        return 0;
    }
    return f;
  }

  private compute64(prevCf: number): number {
    const { a, b, r, aHi, bHi, rHi } = this;
    const sign = 0x80000000;
    let f = PARITY[r & 0xff]!;
    if ((r | rHi) === 0) f |= Fl.ZF;
    if (rHi & sign) f |= Fl.SF;
    switch (this.op - WIDE) {
      case LazyOp.Add:
        if (((aHi & bHi) | ((aHi | bHi) & ~rHi)) & sign) f |= Fl.CF;
        if ((aHi ^ rHi) & (bHi ^ rHi) & sign) f |= Fl.OF;
        f |= (a ^ b ^ r) & Fl.AF;
        break;
      case LazyOp.Sub:
        if (((~aHi & bHi) | ((~aHi | bHi) & rHi)) & sign) f |= Fl.CF;
        if ((aHi ^ bHi) & (aHi ^ rHi) & sign) f |= Fl.OF;
        f |= (a ^ b ^ r) & Fl.AF;
        break;
      case LazyOp.Logic:
        break;
      case LazyOp.Inc:
        f |= prevCf & Fl.CF;
        if ((rHi | 0) === -0x80000000 && (r | 0) === 0) f |= Fl.OF;
        f |= (a ^ 1 ^ r) & Fl.AF;
        break;
      case LazyOp.Dec:
        f |= prevCf & Fl.CF;
        if ((rHi | 0) === 0x7fffffff && (r | 0) === -1) f |= Fl.OF;
        f |= (a ^ 1 ^ r) & Fl.AF;
        break;
      default:
        return 0;
    }
    return f;
  }

  /** CF alone, cheaper than compute() for ADC/SBB/Jb. */
  carry(prevCf: number): number {
    const { a, b, r, sign } = this;
    switch (this.op) {
      case LazyOp.Add: return ((a & b) | ((a | b) & ~r)) & sign ? 1 : 0;
      case LazyOp.Sub: return ((~a & b) | ((~a | b) & r)) & sign ? 1 : 0;
      case LazyOp.Logic: return 0;
      case LazyOp.Inc: case LazyOp.Dec: return prevCf & 1;
      default: return this.carry64(prevCf);
    }
  }

  private carry64(prevCf: number): number {
    const { aHi, bHi, rHi } = this;
    switch (this.op) {
      case LazyOp.Add64: return ((aHi & bHi) | ((aHi | bHi) & ~rHi)) & 0x80000000 ? 1 : 0;
      case LazyOp.Sub64: return ((~aHi & bHi) | ((~aHi | bHi) & rHi)) & 0x80000000 ? 1 : 0;
      case LazyOp.Logic64: return 0;
      default: return prevCf & 1;
    }
  }

  /**
   * SF != OF alone, for JL/JGE/JLE/JG after CMP/SUB/TEST. Only for ops below Add64 (the
   * caller checks); the formulas are those of compute().
   */
  less(): boolean {
    const { a, b, r, sign } = this;
    let of: number;
    switch (this.op) {
      case LazyOp.Add: of = (a ^ r) & (b ^ r); break;
      case LazyOp.Sub: of = (a ^ b) & (a ^ r); break;
      case LazyOp.Inc: of = ((r & this.mask) >>> 0) === sign ? sign : 0; break;
      case LazyOp.Dec: of = ((r & this.mask) >>> 0) === sign - 1 ? sign : 0; break;
      default: of = 0; break; // Logic
    }
    return ((r ^ of) & sign) !== 0;
  }

  /** ZF alone (the commonest flag read: JZ/JNZ after CMP/TEST/DEC). */
  zero(): boolean {
    if (this.op >= LazyOp.Add64) return (this.r | this.rHi) === 0;
    return (this.r & this.mask) === 0;
  }
}
