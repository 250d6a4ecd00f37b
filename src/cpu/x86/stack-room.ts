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
