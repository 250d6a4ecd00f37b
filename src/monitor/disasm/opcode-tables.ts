/**
 * x86 opcode maps for the monitor's disassembler (Intel SDM Vol. 2, Appendix A: one-byte map
 * two-byte map, group table A-6), written as one entry per opcode:
 * `mnemonic operands flags`.
 *
 * Operands use the SDM's addressing-method codes (destination first): E/G ModRM r/m and reg,
 * I immediate (Ibs: imm8 sign-extended to the operand size), J relative, O moffs, M memory only,
 * S segment register, C/D control/debug register, R register-only r/m, X/Y string source and
 * destination, A far pointer, Z register in the opcode's low bits, P/Q/N MMX reg/rm/reg-only,
 * V/W/U XMM reg/rm/reg-only; size letters b w d q v (16/32/64 by operand size) z (16/32) y
 * (32/64) p (far). Fixed registers are written as themselves (`al`, `dx`, `eAX` sized).
 *
 * Flags: `s` append the AT&T size suffix of the operand size; `d64` 64-bit default operand size
 * in long mode; `i64` invalid in long mode; `o64` valid only in long mode. A mnemonic with `|`
 * lists the name per operand size (16|32|64).
 */

export interface OpEntry {
  mnemonic: string;
  operands: string[];
  flags: string;
}

function entry(text: string): OpEntry | undefined {
  if (text === '') return undefined;
  const [mnemonic, ops = '', flags = ''] = text.split(' ');
  return { mnemonic: mnemonic!, operands: ops === '-' || ops === '' ? [] : ops.split(','), flags };
}

const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

/** The one-byte map; prefixes (26 2E 36 3E 64 65 66 67 F0 F2 F3) and 0F are handled by the decoder. */
export const PRIMARY: (OpEntry | undefined)[] = (() => {
  const t: string[] = new Array<string>(256).fill('');
  ALU.forEach((op, i) => {
    const b = i * 8;
    t[b] = `${op} Eb,Gb s`;
    t[b + 1] = `${op} Ev,Gv s`;
    t[b + 2] = `${op} Gb,Eb s`;
    t[b + 3] = `${op} Gv,Ev s`;
    t[b + 4] = `${op} al,Ib s`;
    t[b + 5] = `${op} eAX,Iz s`;
  });
  t[0x06] = 'push es s,i64'; t[0x07] = 'pop es s,i64'; t[0x0e] = 'push cs s,i64';
  t[0x16] = 'push ss s,i64'; t[0x17] = 'pop ss s,i64'; t[0x1e] = 'push ds s,i64'; t[0x1f] = 'pop ds s,i64';
  t[0x27] = 'daa - i64'; t[0x2f] = 'das - i64'; t[0x37] = 'aaa - i64'; t[0x3f] = 'aas - i64';
  for (let r = 0; r < 8; r++) {
    t[0x40 + r] = `inc Zv s,i64`;
    t[0x48 + r] = `dec Zv s,i64`;
    t[0x50 + r] = `push Zv s,d64`;
    t[0x58 + r] = `pop Zv s,d64`;
    t[0xb0 + r] = `mov Zb,Ib s`;
    t[0xb8 + r] = `mov Zv,Iv s`;
  }
  t[0x60] = 'pusha - s,i64'; t[0x61] = 'popa - s,i64'; t[0x62] = 'bound Gv,M i64'; t[0x63] = 'arpl Ew,Gw -,i64';
  t[0x68] = 'push Iz s,d64'; t[0x69] = 'imul Gv,Ev,Iz s'; t[0x6a] = 'push Ibs s,d64'; t[0x6b] = 'imul Gv,Ev,Ibs s';
  t[0x6c] = 'ins Yb,dx s'; t[0x6d] = 'ins Yz,dx s'; t[0x6e] = 'outs dx,Xb s'; t[0x6f] = 'outs dx,Xz s';
  CC.forEach((c, i) => {
    t[0x70 + i] = `j${c} Jb`;
  });
  t[0x84] = 'test Eb,Gb s'; t[0x85] = 'test Ev,Gv s'; t[0x86] = 'xchg Eb,Gb s'; t[0x87] = 'xchg Ev,Gv s';
  t[0x88] = 'mov Eb,Gb s'; t[0x89] = 'mov Ev,Gv s'; t[0x8a] = 'mov Gb,Eb s'; t[0x8b] = 'mov Gv,Ev s';
  t[0x8c] = 'mov Ev,Sw s'; t[0x8d] = 'lea Gv,M s'; t[0x8e] = 'mov Sw,Ev s'; t[0x8f] = 'pop Ev s,d64';
  t[0x90] = 'nop'; for (let r = 1; r < 8; r++) t[0x90 + r] = 'xchg eAX,Zv s';
  t[0x98] = 'cbtw|cwtl|cltq'; t[0x99] = 'cwtd|cltd|cqto';
  t[0x9a] = 'lcall Ap s,i64'; t[0x9b] = 'wait'; t[0x9c] = 'pushf - s,d64'; t[0x9d] = 'popf - s,d64';
  t[0x9e] = 'sahf'; t[0x9f] = 'lahf';
  t[0xa0] = 'mov al,Ob s'; t[0xa1] = 'mov eAX,Ov s'; t[0xa2] = 'mov Ob,al s'; t[0xa3] = 'mov Ov,eAX s';
  t[0xa4] = 'movs Yb,Xb s'; t[0xa5] = 'movs Yv,Xv s'; t[0xa6] = 'cmps Xb,Yb s'; t[0xa7] = 'cmps Xv,Yv s';
  t[0xa8] = 'test al,Ib s'; t[0xa9] = 'test eAX,Iz s';
  t[0xaa] = 'stos Yb,al s'; t[0xab] = 'stos Yv,eAX s'; t[0xac] = 'lods al,Xb s'; t[0xad] = 'lods eAX,Xv s';
  t[0xae] = 'scas al,Yb s'; t[0xaf] = 'scas eAX,Yv s';
  t[0xc2] = 'ret Iw s,d64'; t[0xc3] = 'ret - s,d64'; t[0xc4] = 'les Gz,Mp s,i64'; t[0xc5] = 'lds Gz,Mp s,i64';
  t[0xc6] = 'mov Eb,Ib s'; t[0xc7] = 'mov Ev,Iz s';
  t[0xc8] = 'enter Iw,Ib d64'; t[0xc9] = 'leave - d64'; t[0xca] = 'lret Iw s'; t[0xcb] = 'lret - s';
  t[0xcc] = 'int3'; t[0xcd] = 'int Ib'; t[0xce] = 'into - i64'; t[0xcf] = 'iret - s';
  t[0xd4] = 'aam Ib10 i64'; t[0xd5] = 'aad Ib10 i64'; t[0xd6] = 'salc - i64'; t[0xd7] = 'xlatb';
  t[0xe0] = 'loopne Jb'; t[0xe1] = 'loope Jb'; t[0xe2] = 'loop Jb'; t[0xe3] = 'j#cxz Jb';
  t[0xe4] = 'in al,Ib s'; t[0xe5] = 'in eAXz,Ib s'; t[0xe6] = 'out Ib,al s'; t[0xe7] = 'out Ib,eAXz s';
  t[0xe8] = 'call Jz s,d64'; t[0xe9] = 'jmp Jz d64'; t[0xea] = 'ljmp Ap s,i64'; t[0xeb] = 'jmp Jb';
  t[0xec] = 'in al,dx s'; t[0xed] = 'in eAXz,dx s'; t[0xee] = 'out dx,al s'; t[0xef] = 'out dx,eAXz s';
  t[0xf1] = 'int1'; t[0xf4] = 'hlt'; t[0xf5] = 'cmc';
  t[0xf8] = 'clc'; t[0xf9] = 'stc'; t[0xfa] = 'cli'; t[0xfb] = 'sti'; t[0xfc] = 'cld'; t[0xfd] = 'std';
  return t.map(entry);
})();

/** Group opcodes: the ModRM reg field selects the entry (SDM Table A-6). */
export const GROUPS: Record<number, string[]> = {
  0x80: ALU.map((op) => `${op} Eb,Ib s`),
  0x81: ALU.map((op) => `${op} Ev,Iz s`),
  0x82: ALU.map((op) => `${op} Eb,Ib s,i64`),
  0x83: ALU.map((op) => `${op} Ev,Ibs s`),
  0xc0: ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'].map((op) => `${op} Eb,Ib s`),
  0xc1: ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'].map((op) => `${op} Ev,Ib s`),
  0xd0: ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'].map((op) => `${op} Eb,one s`),
  0xd1: ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'].map((op) => `${op} Ev,one s`),
  0xd2: ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'].map((op) => `${op} Eb,cl s`),
  0xd3: ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'].map((op) => `${op} Ev,cl s`),
  0xf6: ['test Eb,Ib s', 'test Eb,Ib s', 'not Eb s', 'neg Eb s', 'mul Eb s', 'imul Eb s', 'div Eb s', 'idiv Eb s'],
  0xf7: ['test Ev,Iz s', 'test Ev,Iz s', 'not Ev s', 'neg Ev s', 'mul Ev s', 'imul Ev s', 'div Ev s', 'idiv Ev s'],
  0xfe: ['inc Eb s', 'dec Eb s', '', '', '', '', '', ''],
  0xff: ['inc Ev s', 'dec Ev s', 'call *Ev s,d64', 'lcall *Mp s', 'jmp *Ev s,d64', 'ljmp *Mp s', 'push Ev s,d64', ''],
  0x8f: ['pop Ev s,d64', '', '', '', '', '', '', ''],
  0xc6: ['mov Eb,Ib s', '', '', '', '', '', '', ''],
  0xc7: ['mov Ev,Iz s', '', '', '', '', '', '', ''],
};

/** The two-byte map (0F xx) without mandatory-prefix SSE rows (see sse-tables.ts). */
export const SECONDARY: (OpEntry | undefined)[] = (() => {
  const t: string[] = new Array<string>(256).fill('');
  t[0x02] = 'lar Gv,Ev s'; t[0x03] = 'lsl Gv,Ev s'; t[0x05] = 'syscall'; t[0x06] = 'clts';
  t[0x07] = 'sysret - lq'; t[0x08] = 'invd'; t[0x09] = 'wbinvd'; t[0x0b] = 'ud2';
  for (let o = 0x19; o <= 0x1f; o++) t[o] = 'nop Ev s';
  t[0x20] = 'mov Ry,Cd s'; t[0x21] = 'mov Ry,Dd s'; t[0x22] = 'mov Cd,Ry s'; t[0x23] = 'mov Dd,Ry s';
  t[0x30] = 'wrmsr'; t[0x31] = 'rdtsc'; t[0x32] = 'rdmsr'; t[0x33] = 'rdpmc';
  t[0x34] = 'sysenter'; t[0x35] = 'sysexit'; t[0x0e] = 'femms'; t[0xb9] = 'ud2b'; t[0xff] = 'ud0';
  CC.forEach((c, i) => {
    t[0x40 + i] = `cmov${c} Gv,Ev s`;
    t[0x80 + i] = `j${c} Jz`;
    t[0x90 + i] = `set${c} Eb`;
  });
  t[0xa0] = 'push fs s,d64'; t[0xa1] = 'pop fs s,d64'; t[0xa2] = 'cpuid'; t[0xa3] = 'bt Ev,Gv s';
  t[0xa4] = 'shld Ev,Gv,Ib s'; t[0xa5] = 'shld Ev,Gv,cl s'; t[0xa8] = 'push gs s,d64'; t[0xa9] = 'pop gs s,d64';
  t[0xaa] = 'rsm'; t[0xab] = 'bts Ev,Gv s'; t[0xac] = 'shrd Ev,Gv,Ib s'; t[0xad] = 'shrd Ev,Gv,cl s';
  t[0xaf] = 'imul Gv,Ev s'; t[0xb0] = 'cmpxchg Eb,Gb s'; t[0xb1] = 'cmpxchg Ev,Gv s';
  t[0xb2] = 'lss Gv,Mp s'; t[0xb3] = 'btr Ev,Gv s'; t[0xb4] = 'lfs Gv,Mp s'; t[0xb5] = 'lgs Gv,Mp s';
  t[0xb6] = 'movzb Gv,Eb s'; t[0xb7] = 'movzw Gv,Ew s'; t[0xbb] = 'btc Ev,Gv s';
  t[0xbc] = 'bsf Gv,Ev s'; t[0xbd] = 'bsr Gv,Ev s'; t[0xbe] = 'movsb Gv,Eb s'; t[0xbf] = 'movsw Gv,Ew s';
  t[0xc0] = 'xadd Eb,Gb s'; t[0xc1] = 'xadd Ev,Gv s';
  for (let r = 0; r < 8; r++) t[0xc8 + r] = 'bswap Zy s';
  return t.map(entry);
})();

/** Two-byte groups (0F 00, 0F 01 memory forms, 0F BA, 0F C7, 0F 18, 0F AE memory forms). */
export const GROUPS_0F: Record<number, string[]> = {
  0x00: ['sldt Ev s', 'str Ev s', 'lldt Ew w', 'ltr Ew w', 'verr Ew', 'verw Ew', '', ''],
  0x01: ['sgdt M s,d64', 'sidt M s,d64', 'lgdt M s,d64', 'lidt M s,d64', 'smsw Ev s', '', 'lmsw Ew w', 'invlpg M'],
  0xba: ['', '', '', '', 'bt Ev,Ib s', 'bts Ev,Ib s', 'btr Ev,Ib s', 'btc Ev,Ib s'],
  0xc7: ['', 'cmpxchg8b M', '', '', '', '', '', ''],
  0x18: ['prefetchnta M', 'prefetcht0 M', 'prefetcht1 M', 'prefetcht2 M', 'nopl Ev', 'nopl Ev', 'nopl Ev', 'nopl Ev'],
  0x0d: ['', 'prefetchw M', '', '', '', '', '', ''],
  0xae: ['fxsave M', 'fxrstor M', 'ldmxcsr M', 'stmxcsr M', 'xsave M', 'xrstor M', 'xsaveopt M', 'clflush M'],
};

export function groupEntry(table: Record<number, string[]>, opcode: number, reg: number): OpEntry | undefined {
  const row = table[opcode];
  return row ? entry(row[reg]!) : undefined;
}
