import { describe, expect, it } from 'vitest';
import { hoistBlockLocals } from '../../src/cpu/x86/jit/hoist-locals.js';

/** Runs a block body as the compiler would (g: the registers) and returns g. */
function run(body: string, g: number[]): number[] {
  const regs = Int32Array.from(g);
  new Function('g', body)(regs);
  return [...regs];
}

describe('hoistBlockLocals (one function-level variable per block-scoped const)', () => {
  it('turns each instruction\'s consts into assignments to shared lets, with the same result', () => {
    const body = 'let k = 0;\ntry {\n' +
      '{ const a = (g[0] >>> 0), b = (g[1] >>> 0), r = (a + b) >>> 0; g[0] = r; }\n' +
      '{ const a = (g[2] >>> 0), r = ((a << 8) | (a >>> 24)) >>> 0; g[2] = r; }\n' +
      '} catch (e) { throw e; }';
    const out = hoistBlockLocals(body);
    expect(out.startsWith('let a = 0, b = 0, r = 0;\n')).toBe(true);
    expect(out).not.toMatch(/\bconst\b/);
    expect(run(out, [5, 7, 0x12345678])).toEqual(run(body, [5, 7, 0x12345678]));
  });

  it('keeps a const that an inner block declares again, so the outer value survives', () => {
    const body = '{ const a = g[0]; { const a = g[1]; g[2] = a; } g[3] = a; }';
    const out = hoistBlockLocals(body);
    expect(out).toBe(body);
    expect(run(out, [1, 2, 0, 0])).toEqual([1, 2, 2, 1]);
  });

  it('never shadows a closure name used outside the blocks that declare it', () => {
    // `s` is the closure's state elsewhere in the function: a function-level `let s` would hide it.
    const body = 'g[0] = s.x; { const s = g[1]; g[2] = s; }';
    expect(hoistBlockLocals(body)).toBe(body);
  });

  it('leaves top-level and let declarations alone, and copies comments unchanged', () => {
    const body = 'let k = 0;\n{ let r = g[0]; { const t = r + 1; /*F{*/ g[1] = t; /*}F*/ } }';
    const out = hoistBlockLocals(body);
    expect(out).toBe('let t = 0;\nlet k = 0;\n{ let r = g[0]; { t = r + 1; /*F{*/ g[1] = t; /*}F*/ } }');
    expect(run(out, [4, 0])).toEqual([4, 5]);
  });

  it('splits declarators only at top-level commas (calls in initializers keep theirs)', () => {
    const body = '{ const v = Math.max(g[0], g[1]), w = Math.min(g[0], g[1]); g[2] = v - w; }';
    const out = hoistBlockLocals(body);
    expect(out).toBe('let v = 0, w = 0;\n{ v = Math.max(g[0], g[1]), w = Math.min(g[0], g[1]); g[2] = v - w; }');
    expect(run(out, [3, 9, 0])).toEqual([3, 9, 6]);
  });

  it('leaves a body it does not expect as it is (destructuring, a brace in an initializer)', () => {
    for (const body of ['{ const { x } = g; g[0] = x; }', '{ const f = () => { return 1; }; g[0] = f(); }', '{ const\na = 1; g[0] = a; }']) {
      expect(hoistBlockLocals(body)).toBe(body);
    }
  });
});
