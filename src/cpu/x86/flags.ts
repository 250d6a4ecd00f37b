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
}

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let bits = 0;
  for (let b = i; b; b >>= 1) bits += b & 1;
  PARITY[i] = bits & 1 ? 0 : Fl.PF;
}

/** PF for the low byte of `v`. */
export function parityFlag(v: number): number {
  return PARITY[v & 0xff]!;
}

/** Lazy flag state. `size` is the operand width in bits (8, 16, 32). */
export class LazyFlags {
  op = LazyOp.None;
  a = 0;
  b = 0;
  r = 0;
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

  /**
   * The six arithmetic flags as EFLAGS bits. `prevCf` is the CF bit of eflags, used by
   * Inc/Dec, which leave CF alone.
   */
  compute(prevCf: number): number {
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

  /** CF alone, cheaper than compute() for ADC/SBB/Jb. */
  carry(prevCf: number): number {
    const { a, b, r, sign } = this;
    switch (this.op) {
      case LazyOp.Add: return ((a & b) | ((a | b) & ~r)) & sign ? 1 : 0;
      case LazyOp.Sub: return ((~a & b) | ((~a | b) & r)) & sign ? 1 : 0;
      case LazyOp.Logic: return 0;
      default: return prevCf & 1;
    }
  }

  /** ZF alone (the commonest flag read: JZ/JNZ after CMP/TEST/DEC). */
  zero(): boolean {
    return (this.r & this.mask) === 0;
  }
}
