/**
 * REP string instructions at upper-half (kernel) addresses in 64-bit mode: RSI/RDI hold
 * negative canonical numbers, the copy goes a page at a time like any other, and the registers
 * end where the element-wise loop would leave them (SDM Vol. 2B MOVS/STOS).
 */
import { describe, expect, it, vi } from 'vitest';
import { HIGH_ALIAS, LongModeHarness, le64 } from '../../helpers/cpu-harness64.js';

const h = LongModeHarness.flat64();
const SRC = 0x40000, DST = 0x48000;

describe('REP MOVS/STOS at upper-half addresses', () => {
  it('REP STOSQ over a page at 0xffffffff80048000 fills it without element-wise accesses', () => {
    const spy = vi.spyOn(h.cpu, 'writeSized');
    const r = h.run({ code: [0xf3, 0x48, 0xab], regs: { rdi: HIGH_ALIAS + BigInt(DST), rcx: 512n, rax: 0x0123456789abcdefn } });
    expect(r.exception).toBeUndefined();
    expect(r.read64(DST)).toBe(0x0123456789abcdefn);
    expect(r.read64(DST + 4088)).toBe(0x0123456789abcdefn);
    expect(r.regs.rdi).toBe(HIGH_ALIAS + BigInt(DST + 4096));
    expect(r.regs.rcx).toBe(0n);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });

  it('REP MOVSB backwards (DF = 1) across a page boundary copies every byte and leaves RSI/RDI below the block', () => {
    const bytes = Array.from({ length: 0x1800 }, (_, i) => (i * 7) & 0xff);
    // std ; rep movsb ; cld
    const r = h.run({
      code: [0xfd, 0xf3, 0xa4, 0xfc],
      regs: { rsi: HIGH_ALIAS + BigInt(SRC + 0x17ff), rdi: HIGH_ALIAS + BigInt(DST + 0x17ff), rcx: 0x1800n },
      mem: [{ addr: SRC - 1, bytes: [0x55, ...bytes] }, { addr: DST - 1, bytes: [0xcc, ...new Array(0x1800).fill(0)] }],
    });
    expect(r.exception).toBeUndefined();
    expect(Array.from(h.mem.ram.subarray(DST, DST + 0x1800))).toEqual(bytes);
    expect(r.regs.rsi).toBe(HIGH_ALIAS + BigInt(SRC - 1));
    expect(r.regs.rdi).toBe(HIGH_ALIAS + BigInt(DST - 1));
    expect(h.mem.ram[DST - 1]).toBe(0xcc); // nothing below the block is written
  });
});
