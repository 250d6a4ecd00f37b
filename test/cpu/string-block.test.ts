/**
 * REP MOVS and REP STOS over RAM run a page at a time (string-ops.ts blockMove). These cases
 * check that the result is still what the SDM's per-iteration definition gives (Vol. 2 MOVS:
 * each iteration reads one element, writes it, then steps ESI/EDI by the element size in the
 * direction of DF): every width, both directions, overlaps of less than, equal to and more
 * than one element, a page boundary in the middle, and 16-bit offsets that wrap.
 * The expected memory comes from a direct model of that definition over a byte array.
 */
import { describe, expect, it } from 'vitest';
import { CpuHarness, DATA_ADDR } from '../helpers/cpu-harness.js';

const DF = 1 << 10;

/** The SDM's iteration applied `count` times to `mem` (a copy of the window at `base`). */
function modelMovs(mem: number[], base: number, si: number, di: number, count: number, bytes: number, down: boolean): void {
  for (let k = 0; k < count; k++) {
    const v = mem.slice(si - base, si - base + bytes);
    for (let j = 0; j < bytes; j++) mem[di - base + j] = v[j]!;
    si += down ? -bytes : bytes;
    di += down ? -bytes : bytes;
  }
}

describe('REP MOVS a page at a time keeps the per-element semantics', () => {
  const h = CpuHarness.flat32();
  const base = DATA_ADDR + 0x1000; // the window spans DATA_ADDR+0x1000 .. +0x3000
  const count = 40;
  for (const bytes of [1, 2, 4]) {
    for (const down of [false, true]) {
      for (const delta of [-9, -4, -3, -1, 0, 1, 2, 3, 4, 5, 64, -64]) {
        it(`${['', 'MOVSB', 'MOVSW', '', 'MOVSD'][bytes]} DF=${down ? 1 : 0} destination ${delta} bytes from the source, across a page boundary`, () => {
          const window = Array.from({ length: 0x2000 }, (_, i) => (i * 37 + 11) & 0xff);
          // Put the boundary (DATA_ADDR + 0x2000) inside the source range.
          const si = down ? DATA_ADDR + 0x2000 + 3 * bytes : DATA_ADDR + 0x2000 - 5 * bytes;
          const di = si + delta;
          const code = bytes === 1 ? [0xf3, 0xa4] : bytes === 2 ? [0x66, 0xf3, 0xa5] : [0xf3, 0xa5];
          const r = h.run({ code, regs: { esi: si, edi: di, ecx: count }, eflags: down ? DF : 0, mem: [{ addr: base, bytes: window }] });
          const expected = window.slice();
          modelMovs(expected, base, si, di, count, bytes, down);
          const step = (down ? -bytes : bytes) * count;
          expect(r.exception).toBeUndefined();
          expect(r.regs.ecx).toBe(0);
          expect(r.regs.esi).toBe(si + step);
          expect(r.regs.edi).toBe(di + step);
          expect(Array.from(r.read(base, 0x2000))).toEqual(expected);
        });
      }
    }
  }

  for (const bytes of [1, 2, 4]) {
    for (const down of [false, true]) {
      it(`REP STOS width ${bytes} DF=${down ? 1 : 0} across a page boundary writes exactly count elements`, () => {
        const di = DATA_ADDR + 0x2000 - 6 * bytes;
        const code = bytes === 1 ? [0xf3, 0xaa] : bytes === 2 ? [0x66, 0xf3, 0xab] : [0xf3, 0xab];
        const r = h.run({ code, regs: { eax: 0x8483_8281, edi: di, ecx: 13 }, eflags: down ? DF : 0, clear: [{ addr: base, length: 0x2000 }] });
        const expected = new Array<number>(0x2000).fill(0);
        const value = [0x81, 0x82, 0x83, 0x84];
        let d = di;
        for (let k = 0; k < 13; k++, d += down ? -bytes : bytes) for (let j = 0; j < bytes; j++) expected[d - base + j] = value[j]!;
        expect(r.regs.edi).toBe(d);
        expect(Array.from(r.read(base, 0x2000))).toEqual(expected);
      });
    }
  }

  it('a 16-bit REP MOVSB whose offsets wrap at 0xFFFF continues at offset 0 of the segment', () => {
    const rm = CpuHarness.real16();
    const ds = 0x2000;
    const src = [1, 2, 3, 4, 5, 6, 7, 8];
    const r = rm.run({
      code: [0xf3, 0xa4], // rep movsb
      segs: { ds, es: 0x3000 },
      regs: { esi: 0xfffc, edi: 0x100, ecx: 8 },
      mem: [{ addr: ds * 16 + 0xfffc, bytes: src.slice(0, 4) }, { addr: ds * 16, bytes: src.slice(4) }],
    });
    expect(r.regs.esi).toBe(4);
    expect(Array.from(r.read(0x30000 + 0x100, 8))).toEqual(src);
  });
});
