/**
 * The MMX, SSE and SSE2 rows of the two-byte map (Intel SDM Vol. 2, Table A-3), selected by
 * the mandatory prefix (none, 66, F3, F2), with AT&T mnemonics as GNU as and capstone print
 * them (`cvtsi2ssl`, `cmpeqps` for the CMPPS predicates 0-7, `movd`/`movq`).
 *
 * Operand codes: V/W XMM reg/rm, U XMM rm register only, P/Q MMX reg/rm, N MMX rm register
 * only, Ey/Gy general register or memory of 32 bits (64 with REX.W), M memory only, Ib imm8.
 */
import type { DecodeState } from './decoder.js';
import type { Instruction, Operand } from './operands.js';

type Row = [none: string, p66: string, pF3: string, pF2: string];

const ARITH = (n: string): Row => [`${n}ps V,W`, `${n}pd V,W`, `${n}ss V,W`, `${n}sd V,W`];
/** An MMX/SSE2 integer op: MMX form without prefix, XMM form with 66. */
const INT = (n: string): Row => [`${n} P,Q`, `${n} V,W`, '', ''];

const ROWS: Record<number, Row> = {
  0x10: ['movups V,W', 'movupd V,W', 'movss V,W', 'movsd V,W'],
  0x11: ['movups W,V', 'movupd W,V', 'movss W,V', 'movsd W,V'],
  0x12: ['movlps V,W', 'movlpd V,M', '', ''],
  0x13: ['movlps M,V', 'movlpd M,V', '', ''],
  0x14: ['unpcklps V,W', 'unpcklpd V,W', '', ''],
  0x15: ['unpckhps V,W', 'unpckhpd V,W', '', ''],
  0x16: ['movhps V,W', 'movhpd V,M', '', ''],
  0x17: ['movhps M,V', 'movhpd M,V', '', ''],
  0x28: ['movaps V,W', 'movapd V,W', '', ''],
  0x29: ['movaps W,V', 'movapd W,V', '', ''],
  0x2a: ['cvtpi2ps V,Q', 'cvtpi2pd V,Q', 'cvtsi2ss+ V,Ey', 'cvtsi2sd+ V,Ey'],
  0x2b: ['movntps M,V', 'movntpd M,V', '', ''],
  0x2c: ['cvttps2pi P,W', 'cvttpd2pi P,W', 'cvttss2si Gy,W', 'cvttsd2si Gy,W'],
  0x2d: ['cvtps2pi P,W', 'cvtpd2pi P,W', 'cvtss2si Gy,W', 'cvtsd2si Gy,W'],
  0x2e: ['ucomiss V,W', 'ucomisd V,W', '', ''],
  0x2f: ['comiss V,W', 'comisd V,W', '', ''],
  0x50: ['movmskps Gd,U', 'movmskpd Gd,U', '', ''],
  0x51: ARITH('sqrt'),
  0x52: ['rsqrtps V,W', '', 'rsqrtss V,W', ''],
  0x53: ['rcpps V,W', '', 'rcpss V,W', ''],
  0x54: ['andps V,W', 'andpd V,W', '', ''],
  0x55: ['andnps V,W', 'andnpd V,W', '', ''],
  0x56: ['orps V,W', 'orpd V,W', '', ''],
  0x57: ['xorps V,W', 'xorpd V,W', '', ''],
  0x58: ARITH('add'),
  0x59: ARITH('mul'),
  0x5a: ['cvtps2pd V,W', 'cvtpd2ps V,W', 'cvtss2sd V,W', 'cvtsd2ss V,W'],
  0x5b: ['cvtdq2ps V,W', 'cvtps2dq V,W', 'cvttps2dq V,W', ''],
  0x5c: ARITH('sub'),
  0x5d: ARITH('min'),
  0x5e: ARITH('div'),
  0x5f: ARITH('max'),
  0x60: INT('punpcklbw'), 0x61: INT('punpcklwd'), 0x62: INT('punpckldq'), 0x63: INT('packsswb'),
  0x64: INT('pcmpgtb'), 0x65: INT('pcmpgtw'), 0x66: INT('pcmpgtd'), 0x67: INT('packuswb'),
  0x68: INT('punpckhbw'), 0x69: INT('punpckhwd'), 0x6a: INT('punpckhdq'), 0x6b: INT('packssdw'),
  0x6c: ['', 'punpcklqdq V,W', '', ''],
  0x6d: ['', 'punpckhqdq V,W', '', ''],
  0x6e: ['movd* P,Ey', 'movd* V,Ey', '', ''],
  0x6f: ['movq P,Q', 'movdqa V,W', 'movdqu V,W', ''],
  0x70: ['pshufw P,Q,Ib', 'pshufd V,W,Ib', 'pshufhw V,W,Ib', 'pshuflw V,W,Ib'],
  0x74: INT('pcmpeqb'), 0x75: INT('pcmpeqw'), 0x76: INT('pcmpeqd'),
  0x77: ['emms', '', '', ''],
  0x7e: ['movd* Ey,P', 'movd* Ey,V', 'movq V,W', ''],
  0x7f: ['movq Q,P', 'movdqa W,V', 'movdqu W,V', ''],
  0xc2: ['cmp#ps V,W,Ib', 'cmp#pd V,W,Ib', 'cmp#ss V,W,Ib', 'cmp#sd V,W,Ib'],
  0xc3: ['movnti+ M,Gy', '', '', ''],
  0xc4: ['pinsrw P,Ed,Ib', 'pinsrw V,Ed,Ib', '', ''],
  0xc5: ['pextrw Gd,N,Ib', 'pextrw Gd,U,Ib', '', ''],
  0xc6: ['shufps V,W,Ib', 'shufpd V,W,Ib', '', ''],
  0xd1: INT('psrlw'), 0xd2: INT('psrld'), 0xd3: INT('psrlq'), 0xd4: INT('paddq'), 0xd5: INT('pmullw'),
  0xd6: ['', 'movq W,V', 'movq2dq V,N', 'movdq2q P,U'],
  0xd7: ['pmovmskb Gd,N', 'pmovmskb Gd,U', '', ''],
  0xd8: INT('psubusb'), 0xd9: INT('psubusw'), 0xda: INT('pminub'), 0xdb: INT('pand'),
  0xdc: INT('paddusb'), 0xdd: INT('paddusw'), 0xde: INT('pmaxub'), 0xdf: INT('pandn'),
  0xe0: INT('pavgb'), 0xe1: INT('psraw'), 0xe2: INT('psrad'), 0xe3: INT('pavgw'),
  0xe4: INT('pmulhuw'), 0xe5: INT('pmulhw'),
  0xe6: ['', 'cvttpd2dq V,W', 'cvtdq2pd V,W', 'cvtpd2dq V,W'],
  0xe7: ['movntq M,P', 'movntdq M,V', '', ''],
  0xe8: INT('psubsb'), 0xe9: INT('psubsw'), 0xea: INT('pminsw'), 0xeb: INT('por'),
  0xec: INT('paddsb'), 0xed: INT('paddsw'), 0xee: INT('pmaxsw'), 0xef: INT('pxor'),
  0xf1: INT('psllw'), 0xf2: INT('pslld'), 0xf3: INT('psllq'), 0xf4: INT('pmuludq'),
  0xf5: INT('pmaddwd'), 0xf6: INT('psadbw'),
  0xf7: ['maskmovq P,N', 'maskmovdqu V,U', '', ''],
  0xf8: INT('psubb'), 0xf9: INT('psubw'), 0xfa: INT('psubd'), 0xfb: INT('psubq'),
  0xfc: INT('paddb'), 0xfd: INT('paddw'), 0xfe: INT('paddd'),
};

/** 0F 71-73: shifts by an immediate, the operation in the reg field. */
const SHIFT_GROUPS: Record<number, (string | undefined)[]> = {
  0x71: [undefined, undefined, 'psrlw', undefined, 'psraw', undefined, 'psllw', undefined],
  0x72: [undefined, undefined, 'psrld', undefined, 'psrad', undefined, 'pslld', undefined],
  0x73: [undefined, undefined, 'psrlq', 'psrldq', undefined, undefined, 'psllq', 'pslldq'],
};

/** CMPPS/CMPPD/CMPSS/CMPSD predicates 0-7 (SDM Table 3-1), printed as pseudo-ops. */
const CMP_PREDICATES = ['eq', 'lt', 'le', 'unord', 'neq', 'nlt', 'nle', 'ord'];

/**
 * The SSE/MMX instruction at 0F `op`, or null when `op` is not in these rows (the caller then
 * uses the integer map), or undefined when the prefix/ModRM combination is invalid.
 */
export function sseEntry(s: DecodeState, op: number): Instruction | undefined | null {
  const shift = SHIFT_GROUPS[op];
  const row = ROWS[op];
  if (!row && !shift) return null;
  // XXX: capstone 4 ignores 66 as a mandatory prefix in 16-bit code (66 0F EF is `pxor %mm`
  // there, although a CPU runs PXOR xmm); QEMU shows capstone's reading, so this does too.
  const prefix = s.mandatory === 0x66 && s.mode === 16 ? 0 : s.mandatory;
  const col = prefix === 0x66 ? 1 : prefix === 0xf3 ? 2 : prefix === 0xf2 ? 3 : 0;
  if (shift) {
    if (s.mod !== 3) return undefined;
    const name = shift[s.regField];
    if (!name || (col !== 0 && col !== 1) || (col === 0 && name.endsWith('dq'))) return undefined;
    const rm = (s.modrm & 7) | (s.rex & 1 ? 8 : 0);
    const imm = s.imm(1, false);
    return finish(s, name, [{ kind: 'reg', name: col === 1 ? `xmm${rm}` : `mm${s.modrm & 7}` }, { kind: 'imm', value: imm }], col);
  }
  // An F2/F3 prefix an MMX/SSE row does not use is ignored, as capstone does.
  const text = row![col] || (col >= 2 ? row![0] : '');
  if (!text) return undefined;
  let [name, ops = ''] = text.split(' ') as [string, string?];
  const operands: Operand[] = [];
  const rexR = s.rex & 4 ? 8 : 0;
  const rexB = s.rex & 1 ? 8 : 0;
  const wide = s.rexW;
  for (const code of ops.split(',').filter((c) => c !== '')) {
    switch (code) {
      case 'V': operands.push({ kind: 'reg', name: `xmm${s.regField | rexR}` }); break;
      case 'P': operands.push({ kind: 'reg', name: `mm${s.regField}` }); break;
      case 'W': operands.push(s.mod === 3 ? { kind: 'reg', name: `xmm${(s.modrm & 7) | rexB}` } : s.memory()); break;
      case 'Q': operands.push(s.mod === 3 ? { kind: 'reg', name: `mm${s.modrm & 7}` } : s.memory()); break;
      case 'U': if (s.mod !== 3) return undefined; operands.push({ kind: 'reg', name: `xmm${(s.modrm & 7) | rexB}` }); break;
      case 'N': if (s.mod !== 3) return undefined; operands.push({ kind: 'reg', name: `mm${s.modrm & 7}` }); break;
      case 'M': if (s.mod === 3) return undefined; operands.push(s.memory()); break;
      case 'Ey': case 'Ed': operands.push(s.mod === 3 ? { kind: 'reg', name: s.gpr((s.modrm & 7) | rexB, wide && code === 'Ey' ? 64 : 32) } : s.memory()); break;
      case 'Gy': case 'Gd': operands.push({ kind: 'reg', name: s.gpr(s.regField | rexR, wide && code === 'Gy' ? 64 : 32) }); break;
      case 'Ib': operands.push({ kind: 'imm', value: s.imm(1, false) }); break;
      default: throw new Error(`sse table: unknown operand ${code}`);
    }
  }
  if (name.endsWith('+')) name = name.slice(0, -1) + (wide ? 'q' : 'l');
  // capstone prints 0F 6E/7E as movd even with REX.W (a 64-bit register).
  if (name.endsWith('*')) name = 'movd';
  if ((op === 0x12 || op === 0x16) && col === 0 && s.mod === 3) name = op === 0x12 ? 'movhlps' : 'movlhps';
  if (name.includes('#')) {
    const imm = operands[operands.length - 1] as { kind: 'imm'; value: bigint };
    if (imm.value < 8n) {
      operands.pop();
      name = name.replace('#', CMP_PREDICATES[Number(imm.value)]!);
    } else name = name.replace('#', '');
  }
  return finish(s, name, operands, col);
}

function finish(s: DecodeState, name: string, operands: Operand[], col: number): Instruction {
  const insn: Instruction & { sse?: boolean } = { length: s.pos, mnemonic: name, operands };
  // The mandatory prefix is part of the opcode, not a rep prefix to print.
  if (col === 2 || col === 3) insn.sse = true;
  return insn;
}
