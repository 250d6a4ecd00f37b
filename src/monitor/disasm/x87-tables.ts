/**
 * The x87 escape opcodes D8-DF (Intel SDM Vol. 2, Appendix A.4, Tables) with the
 * AT&T mnemonics GNU as and capstone use: memory forms carry the operand type in the suffix
 * (s single, l double or 32-bit integer, t extended, s/l/ll for 16/32/64-bit integers);
 * register forms name %st and %st(i). As in GNU as, the reversed-operand forms of DC and DE
 * (fsub/fsubr, fdiv/fdivr with %st(i) as destination) swap their names (the "AT&T fsub bug").
 */
import type { DecodeState } from './decoder.js';
import type { Instruction, Operand } from './operands.js';

const MEM: string[][] = [
  ['fadds', 'fmuls', 'fcoms', 'fcomps', 'fsubs', 'fsubrs', 'fdivs', 'fdivrs'],
  ['flds', '', 'fsts', 'fstps', 'fldenv', 'fldcw', 'fnstenv', 'fnstcw'],
  ['fiaddl', 'fimull', 'ficoml', 'ficompl', 'fisubl', 'fisubrl', 'fidivl', 'fidivrl'],
  ['fildl', 'fisttpl', 'fistl', 'fistpl', '', 'fldt', '', 'fstpt'],
  ['faddl', 'fmull', 'fcoml', 'fcompl', 'fsubl', 'fsubrl', 'fdivl', 'fdivrl'],
  ['fldl', 'fisttpll', 'fstl', 'fstpl', 'frstor', '', 'fnsave', 'fnstsw'],
  ['fiadds', 'fimuls', 'ficoms', 'ficomps', 'fisubs', 'fisubrs', 'fidivs', 'fidivrs'],
  ['filds', 'fisttps', 'fists', 'fistps', 'fbld', 'fildll', 'fbstp', 'fistpll'],
];

/** D9 E0-FF and the other single-encoding register forms. */
const FIXED: Record<number, string> = {
  0xd9d0: 'fnop', 0xd9e0: 'fchs', 0xd9e1: 'fabs', 0xd9e4: 'ftst', 0xd9e5: 'fxam', 0xd9e8: 'fld1',
  0xd9e9: 'fldl2t', 0xd9ea: 'fldl2e', 0xd9eb: 'fldpi', 0xd9ec: 'fldlg2', 0xd9ed: 'fldln2', 0xd9ee: 'fldz',
  0xd9f0: 'f2xm1', 0xd9f1: 'fyl2x', 0xd9f2: 'fptan', 0xd9f3: 'fpatan', 0xd9f4: 'fxtract', 0xd9f5: 'fprem1',
  0xd9f6: 'fdecstp', 0xd9f7: 'fincstp', 0xd9f8: 'fprem', 0xd9f9: 'fyl2xp1', 0xd9fa: 'fsqrt', 0xd9fb: 'fsincos',
  0xd9fc: 'frndint', 0xd9fd: 'fscale', 0xd9fe: 'fsin', 0xd9ff: 'fcos', 0xdae9: 'fucompp', 0xdbe2: 'fnclex',
  0xdbe3: 'fninit', 0xded9: 'fcompp',
};

const st = (i: number): Operand => ({ kind: 'reg', name: `st(${i})` });
const ST0: Operand = { kind: 'reg', name: 'st(0)' };

/**
 * Register forms: mnemonic and operands per escape and reg field, as capstone prints them:
 * 'i' one operand %st(i); '0,i' Intel `st(0), st(i)` (printed `%st(i), %st(0)`); 'i,0' Intel
 * `st(i), st(0)` (printed `%st(0), %st(i)`).
 */
const REG: Record<number, ([string, 'i' | 'i,0' | '0,i'] | undefined)[]> = {
  0xd8: [['fadd', 'i'], ['fmul', 'i'], ['fcom', 'i'], ['fcomp', 'i'], ['fsub', 'i'], ['fsubr', 'i'], ['fdiv', 'i'], ['fdivr', 'i']],
  0xd9: [['fld', 'i'], ['fxch', 'i'], undefined, undefined, undefined, undefined, undefined, undefined],
  0xda: [['fcmovb', '0,i'], ['fcmove', '0,i'], ['fcmovbe', '0,i'], ['fcmovu', '0,i'], undefined, undefined, undefined, undefined],
  0xdb: [['fcmovnb', '0,i'], ['fcmovne', '0,i'], ['fcmovnbe', '0,i'], ['fcmovnu', '0,i'], undefined, ['fucomi', 'i'], ['fcomi', 'i'], undefined],
  0xdc: [['fadd', 'i,0'], ['fmul', 'i,0'], undefined, undefined, ['fsub', 'i,0'], ['fsubr', 'i,0'], ['fdiv', 'i,0'], ['fdivr', 'i,0']],
  0xdd: [['ffree', 'i'], ['fxch', '0,i'], ['fst', 'i'], ['fstp', 'i'], ['fucom', 'i'], ['fucomp', 'i'], undefined, undefined],
  0xde: [['faddp', 'i'], ['fmulp', 'i'], undefined, undefined, ['fsubp', 'i'], ['fsubrp', 'i'], ['fdivp', 'i'], ['fdivrp', 'i']],
  0xdf: [['ffreep', 'i'], ['fxch', '0,i'], undefined, undefined, undefined, ['fucomip', 'i'], ['fcomip', 'i'], undefined],
};

export function x87Entry(s: DecodeState, esc: number): Instruction | undefined {
  const modrm = s.modrm;
  const reg = (modrm >> 3) & 7;
  if (modrm < 0xc0) {
    const name = MEM[esc - 0xd8]![reg]!;
    if (!name) return undefined;
    const mem = s.memory();
    return { length: s.pos, mnemonic: name, operands: [mem] };
  }
  const fixed = FIXED[(esc << 8) | modrm];
  if (fixed) return { length: s.pos, mnemonic: fixed, operands: [] };
  if (esc === 0xdf && modrm === 0xe0) return { length: s.pos, mnemonic: 'fnstsw', operands: [{ kind: 'reg', name: 'ax' }] };
  const form = REG[esc]![reg];
  if (!form) return undefined;
  const i = modrm & 7;
  const [name, order] = form;
  const operands = order === 'i' ? [st(i)] : order === 'i,0' ? [st(i), ST0] : [ST0, st(i)];
  return { length: s.pos, mnemonic: name, operands };
}
