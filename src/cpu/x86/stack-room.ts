/**
 * Whether a frame fits on a stack segment before anything is pushed: the "IF new stack does
 * not have room for N bytes" checks of the INT n, CALL (call gates) and task-gate pseudocode
 * (SDM Vol. 2 INT n/INTO/INT3/INT1 and CALL; Vol. 3A 5.3 for the limit rules). Interrupt
 * delivery and call gates check the whole frame first so that a #SS leaves the interrupted
 * state and memory untouched, and the handler of the #SS sees the original stack pointer.
 *
 * Outside 64-bit mode a stack slot is valid when all its bytes lie in the segment:
 * expand-up segments allow offsets [0, limit], expand-down ones (limit, 0xFFFF] or
 * (limit, 0xFFFFFFFF] by the B flag. Each push wraps the stack pointer at 16 bits (B = 0) or
 * 32 bits (B = 1), so the slots are checked one by one (a 16-bit SP may wrap through 0).
 */
import { Ar } from './state.js';
import type { X86Cpu } from './cpu.js';

/**
 * True when `count` pushes of `width` bytes (2 or 4) below `sp` fit in the stack segment with
 * access rights `ar` (VMX layout: type in bits 3:0, D/B in bit 14) and byte limit `limit`.
 */
export function stackHasRoom(ar: number, limit: number, sp: number, count: number, width: number): boolean {
  const mask = ar & Ar.DB ? 0xffffffff : 0xffff;
  const expandDown = (ar & 0xc) === 0x4;
  for (let i = 1; i <= count; i++) {
    const off = ((sp - i * width) & mask) >>> 0;
    const last = off + width - 1;
    if (expandDown ? off <= limit || last > mask : last > limit) return false;
  }
  return true;
}

/**
 * Stores `frame[0..count)` downward below `sp` in `width`-byte slots of the stack segment at
 * linear `base` with access rights `ar` (the pointer wraps at 16 or 32 bits by the B flag), and
 * returns the stack pointer after the pushes. Only memory changes, so a #PF from a store is
 * delivered with the interrupted state intact; the caller loads SS and ESP afterwards.
 */
export function writeStackFrame(cpu: X86Cpu, base: number, ar: number, sp: number, frame: ArrayLike<number>, count: number, width: number): number {
  const mask = ar & Ar.DB ? 0xffffffff : 0xffff;
  const size = width === 4 ? 4 : 2;
  for (let i = 0; i < count; i++) cpu.writeLinear(base + (((sp - (i + 1) * width) & mask) >>> 0), size, frame[i]!);
  return ((sp - count * width) & mask) >>> 0;
}

/** ESP once the stack pointer is `sp` on a stack with access rights `ar`: a 16-bit stack keeps ESP's upper half. */
export function espWithSp(ar: number, esp: number, sp: number): number {
  return ar & Ar.DB ? sp : (esp & ~0xffff) | sp;
}
