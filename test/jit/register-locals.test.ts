import { describe, expect, it } from 'vitest';
import { cacheRegisters } from '../../src/cpu/x86/jit/register-locals.js';

/** Runs a block body as the compiler would (g, h: the register halves; f: a helper) and returns both arrays. */
function run(body: string, g: number[], h: number[] = [0, 0, 0, 0], f: (x: number) => number = (x) => x): number[][] {
  const lo = Int32Array.from(g);
  const hi = Int32Array.from(h);
  new Function('g', 'h', 'alu', 'mulAcc', body)(lo, hi, f, f);
  return [[...lo], [...hi]];
}

describe('cacheRegisters (guest registers read from JavaScript locals, written through)', () => {
  it('reads each register read more than once at entry, writes through, and computes the same', () => {
    const body = '{ g[0] = (g[1] >>> 0) + 5; h[0] = h[1] + h[1]; }\n' +
      '{ const v = g[0] >>> 0; g[2] = v * 3; h[2] = (h[0] + 1) | 0; }\n' +
      'if (g[2] !== 0) g[3] = g[0] - g[2];\n' +
      'g[1] = 4294967295;\n' +
      '{ const w = g[1]; g[3] = w + h[0]; }';
    const out = cacheRegisters(body);
    expect(out.startsWith('let g0 = g[0], g1 = g[1], g2 = g[2], h0 = h[0], h1 = h[1], rt = 0;\n')).toBe(true);
    // No cached register is read from its array after entry.
    expect(out.split('\n').slice(1).join('\n')).not.toMatch(/[gh]\[\d\](?! = )/);
    // A register only written keeps a plain store; a cached one is written through its local.
    expect(out).toContain('g[3] = g0 - g2');
    expect(out).toContain('g[2] = (g2 = (v * 3) | 0)');
    for (const [g, h] of [[[1, 2, 3, 4], [5, 6, 7, 8]], [[-1, -7, 0, 9], [-1, 0x7fffffff, 0, 1]], [[0x7ffffffb, 0, 0, 0], [0, -1, 0, 0]]]) {
      expect(run(out, g!, h!)).toEqual(run(body, g!, h!));
    }
  });

  it('keeps int32 semantics: a local holds what the array would return (>>> 0 and doubles wrap)', () => {
    const body = 'g[0] = (g[1] >>> 0) * 2; g[1] = g[0] + 0.5; g[2] = g[0] === -2 ? 1 : 0; g[3] = g[1];';
    const out = cacheRegisters(body);
    expect(out).not.toBe(body);
    expect(run(out, [0, -1, 0, 0])).toEqual(run(body, [0, -1, 0, 0]));
    expect(run(out, [0, -1, 0, 0])[0]).toEqual([-2, -1, 1, -1]); // -1.5 truncates to -1, as the array stores it
  });

  it('leaves the block alone when a call may write registers behind its back', () => {
    const body = 'g[0] = alu(g[1]); mulAcc(cpu, g[2]); g[3] = g[0];';
    expect(cacheRegisters(body)).toBe(body);
    // A pure helper is fine.
    expect(cacheRegisters('g[0] = alu(g[1]); g[3] = g[0] + g[0];')).not.toBe('g[0] = alu(g[1]); g[3] = g[0] + g[0];');
  });

  it('leaves a register read only once in its array (a local would only add a load at entry)', () => {
    const body = 'g[0] = g[1] + g[2]; g[3] = g[1];';
    expect(cacheRegisters(body)).toBe('let g1 = g[1], rt = 0;\ng[0] = g1 + g[2]; g[3] = g1;');
    expect(cacheRegisters('g[0] = g[1] + g[2];')).toBe('g[0] = g[1] + g[2];');
  });

  it('leaves the block alone for a computed index, the array passed on, or a compound write', () => {
    for (const body of [
      'g[0] = g[k];',
      'g[0] = g[1]; use(g);',
      'g[0] = g[1]; g[1] += 2;',
      'g[0] = g[1]; g[1]++;',
      'g[0] = (g[1] = 3, 4);',
      'const g1 = 2; g[0] = g[1];',
    ]) {
      expect(cacheRegisters(body)).toBe(body);
    }
  });

  it('a write inside an expression keeps the assignment\'s value (the unconverted right-hand side)', () => {
    // A POP's stack-pointer update inside a comma expression, and a chained assignment whose
    // value (2.5, not the stored 2) is used.
    const body = '{ let ms = 0, mv = 0; const v = (ms = g[1] >>> 0, g[1] = ms + 4, mv = 7, mv); g[3] = v + g[1]; }\n' +
      '{ let x = 0; x = g[0] = g[2] + 0.5; g[2] = x * 2 + g[2]; g[3] = g[3] + g[0] + g[0]; }';
    const out = cacheRegisters(body);
    expect(out).toContain('g[1] = (rt = (ms + 4), g1 = rt | 0, rt)');
    expect(out).toContain('x = g[0] = (rt = (g2 + 0.5), g0 = rt | 0, rt)');
    for (const g of [[1, 2, 2, 4], [0, -4, -3, 0], [0, 0x7ffffffd, 0x7fffffff, 1]]) expect(run(out, g)).toEqual(run(body, g));
  });

  it('does not take a comparison for a write', () => {
    const body = 'if (g[0] === 3) g[1] = g[0]; if (g[2] == 1) g[1] = 9 + g[2];';
    const out = cacheRegisters(body);
    expect(out).toContain('if (g0 === 3) g[1] = g0;');
    expect(out).toContain('if (g2 == 1) g[1] = 9 + g2;');
    expect(run(out, [3, 0, 1, 0])).toEqual(run(body, [3, 0, 1, 0]));
  });
});
