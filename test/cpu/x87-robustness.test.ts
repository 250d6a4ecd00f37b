/**
 * A hostile guest must never make the CPU throw a host exception: random x87 instructions
 * (every escape byte and ModRM, random displacements) on random register files, control words
 * and tag words either complete or raise a guest exception.
 */
import { describe, expect, it } from 'vitest';
import { CpuHarness, DATA_ADDR } from '../helpers/cpu-harness.js';

describe('random x87 instructions on random state', () => {
  it('never throw a host exception', () => {
    const h = CpuHarness.flat32();
    let x = 0x9e3779b9;
    const next = () => {
      x ^= x << 13; x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5; x >>>= 0;
      return x;
    };
    const specials = [0x0000, 0x7fff, 0xffff, 0x8000, 0x3fff, 0x403e, 0x0001, 0x7ffe];
    let faults = 0;
    for (let n = 0; n < 4000; n++) {
      const code: number[] = [];
      for (let k = 0; k < 4; k++) {
        const modrm = next() & 0xff;
        // Memory forms address [esi + disp8]; register forms take the ModRM as it is.
        code.push(0xd8 + (next() & 7), modrm >= 0xc0 ? modrm : (modrm & 0x38) | 0x46, next() & 0x3f);
        if (modrm >= 0xc0) code.pop();
      }
      const r = h.run({
        code,
        regs: { esi: DATA_ADDR },
        mem: [{ addr: DATA_ADDR, bytes: Array.from({ length: 128 }, () => next() & 0xff) }],
        setup: (cpu) => {
          const f = cpu.fpu;
          for (let i = 0; i < 16; i++) f.mant[i] = next();
          for (let i = 0; i < 8; i++) f.exp[i] = next() & 1 ? specials[next() & 7]! | (next() & 0x8000) : next() & 0xffff;
          f.fcw = next() & 0x1f7f;
          f.fsw = next() & 0x47ff & ~0x80;
          f.top = next() & 7;
          f.ftw = next() & 0xffff;
        },
      });
      expect(r.exit).toBe('halt');
      if (r.exception) faults++;
    }
    // Some encodings are undefined (#UD): the loop must have met both outcomes.
    expect(faults).toBeGreaterThan(0);
    expect(faults).toBeLessThan(4000);
  });
});
