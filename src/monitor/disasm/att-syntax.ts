/**
 * AT&T syntax as capstone 4 prints it (the engine behind QEMU 7.2's `x/i`, arch/X86/
 * X86ATTInstPrinter.c): operands source first, registers with `%`, immediates with `$`,
 * memory as `seg:disp(base, index, scale)` with a space after each comma, numbers above 9 in
 * hex (`0x…`), 9 and below in decimal, negatives as `-0x…`; AND/OR/XOR immediates and
 * branch targets never negative.
 */
import type { Instruction, Operand } from './operands.js';

/** capstone's HEX_THRESHOLD. */
const HEX_THRESHOLD = 9n;

function number(v: bigint): string {
  if (v < 0n) return v < -HEX_THRESHOLD ? `-0x${(-v).toString(16)}` : `-${-v}`;
  return v > HEX_THRESHOLD ? `0x${v.toString(16)}` : v.toString();
}

/** The width in bits of the instruction's operand size, from its AT&T suffix. */
function suffixBits(mnemonic: string): number {
  const last = mnemonic[mnemonic.length - 1];
  return last === 'b' ? 8 : last === 'w' ? 16 : last === 'q' ? 64 : 32;
}

function operand(o: Operand, insn: Instruction, stem: string, absWidth: number): string {
  switch (o.kind) {
    case 'reg': return `%${o.name}`;
    case 'imm': {
      let v = o.value;
      // Logical ops print their immediate as an unsigned number of the operand's size.
      if (v < 0n && /^(and|or|xor)[bwlq]$/.test(stem)) v = BigInt.asUintN(suffixBits(stem), v);
      return `$${number(v)}`;
    }
    case 'rel': return number(o.target);
    case 'far': return `$0x${o.seg.toString(16)}:$0x${o.offset.toString(16)}`;
    case 'mem': {
      let s = o.seg ? `%${o.seg}:` : '';
      if (!o.base && !o.index) {
        // An absolute address prints as an unsigned number of the address width.
        s += number(BigInt.asUintN(absWidth, o.disp));
      } else {
        if (o.hasDisp && o.disp !== 0n) s += number(o.disp);
        s += `(${o.base ? `%${o.base}` : ''}`;
        if (o.index) s += `, %${o.index}`;
        if (o.index && o.scale !== 1) s += `, ${o.scale}`;
        s += ')';
      }
      if (s === '' || s.endsWith(':')) s += '0';
      return s;
    }
  }
  void insn;
}

/** The mnemonic and the operand text (capstone's insn->mnemonic and insn->op_str). */
export function formatAtt(insn: Instruction, absWidth: number): { mnemonic: string; operands: string } {
  let mnemonic = insn.mnemonic;
  const indirect = mnemonic.startsWith('*') || mnemonic.includes(' *');
  mnemonic = mnemonic.replace('*', '');
  const stem = mnemonic.slice(mnemonic.lastIndexOf(' ') + 1);
  const ops = insn.operands.map((o) => operand(o, insn, stem, absWidth)).reverse();
  if (indirect && ops.length > 0) ops[0] = `*${ops[0]}`;
  return { mnemonic, operands: ops.join(', ') };
}
