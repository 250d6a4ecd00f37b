/**
 * The TLB's int32 view for translated code (Tlb.jitTagRead/jitTagWrite/jitRamOffset, which
 * blocks inline as TR/TW/RO): it says "hit" exactly where the full tags do and the frame is
 * RAM the block can index with int32 arithmetic, and never after an invalidation.
 */
import { describe, expect, it } from 'vitest';
import { Tlb, TLB_BITS, TLB_SIZE, TLB_USER } from '../../src/cpu/x86/tlb.js';

describe('TLB int32 view for translated code', () => {
  it('holds the page number bits above the slot for RAM frames, and -1 for ROM/MMIO, RAM past 2 GiB, denied accesses and cleared slots', () => {
    const t = new Tlb();
    const vpn = 0xffff8_1234; // a 36-bit page number of a kernel half address
    const slot = Tlb.slot(0, vpn);
    t.fill(0, vpn, 0x5000, 0x5000, true, true, false, false, 1);
    expect(t.jitTagRead[slot]).toBe(Math.floor(vpn / TLB_SIZE));
    expect(t.jitTagWrite[slot]).toBe(Math.floor(vpn / TLB_SIZE));
    expect(t.jitRamOffset[slot]).toBe(0x5000);
    // Read-only: no write hit. Not RAM (ramOffset -1): no hit at all.
    const ro = 0x345;
    t.fill(TLB_USER, ro, 0x6000, 0x6000, true, false, false, false, 1);
    expect(t.jitTagRead[Tlb.slot(TLB_USER, ro)]).toBe(ro >>> TLB_BITS);
    expect(t.jitTagWrite[Tlb.slot(TLB_USER, ro)]).toBe(-1);
    t.fill(0, 0x346, 0xfee00000, -1, true, true, false, false, 1);
    expect(t.jitTagRead[Tlb.slot(0, 0x346)]).toBe(-1);
    // RAM beyond what an int32 RAM index reaches goes the out-of-line way.
    t.fill(0, 0x347, 2 ** 31, 2 ** 31, true, true, false, false, 1);
    expect(t.jitTagRead[Tlb.slot(0, 0x347)]).toBe(-1);
    expect(t.tagRead[Tlb.slot(0, 0x347)]).toBe(0x347);
    t.invalidatePage(vpn);
    expect(t.jitTagRead[slot]).toBe(-1);
    expect(t.jitRamOffset[slot]).toBe(-1);
    t.flushAll();
    expect(t.jitTagRead[Tlb.slot(TLB_USER, ro)]).toBe(-1);
  });
});
