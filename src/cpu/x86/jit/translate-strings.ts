/**
 * String instructions in translated 32-bit code (SDM Vol. 2B MOVS, CMPS, STOS, LODS, SCAS,
 * with or without REP/REPE/REPNE): the block calls the interpreter's own `stringOp` with the
 * decoder state it reads (address size, REP prefix, segment override, the instruction's EIP
 * for a restart), so every check, fault, page-at-a-time copy and flag is the interpreter's.
 * What translation saves is the block exit: a kernel's `lodsb`, `movsw` or `rep movsd` in a
 * hot loop used to end the block before it, and each one was a dispatch and an interpreted
 * step.
 *
 * A REP instruction left unfinished (stringOp does CHUNK iterations at a time, then sets EIP
 * back to the instruction so that interrupts are taken in between) ends the block there,
 * counted as one retired instruction as the interpreter counts it. INS and OUTS (port I/O)
 * stay with the interpreter.
 */
import { StrOp } from '../string-ops.js';
import { FlagWrite, Flow, meta, type InsnContext, type Translation } from './translate.js';
import type { InsnOperands } from './operands.js';

/** Opcode A4-AF (less A8/A9, TEST) → StrOp; odd opcodes are operand-size, even ones byte forms. */
const STRING_OPS: Readonly<Record<number, StrOp>> = {
  0xa4: StrOp.Movs, 0xa5: StrOp.Movs, 0xa6: StrOp.Cmps, 0xa7: StrOp.Cmps,
  0xaa: StrOp.Stos, 0xab: StrOp.Stos, 0xac: StrOp.Lods, 0xad: StrOp.Lods, 0xae: StrOp.Scas, 0xaf: StrOp.Scas,
};

/** Whether `op` is a string instruction this file translates. */
export function isTranslatedString(op: number): boolean {
  return STRING_OPS[op] !== undefined;
}

/**
 * The translation of string instruction `op` (prefixes in `o`: operand size, segment override,
 * `rep` 0, 0xF2 or 0xF3). `rep` ends the block when the instruction is not finished.
 */
export function translateString(o: InsnOperands, op: number, rep: number, c: InsnContext): Translation | undefined {
  const kind = STRING_OPS[op];
  if (kind === undefined) return undefined;
  const size = op & 1 ? o.os : 8;
  const call = `cpu.adSize = 32; cpu.repPrefix = ${rep}; cpu.segOverride = ${o.segOverride}; cpu.startEip = ${c.eip}; stringOp(cpu, ${kind}, ${size});`;
  // CMPS and SCAS set all six flags (a CMP); under REP only when ECX was not 0.
  const compares = kind === StrOp.Cmps || kind === StrOp.Scas;
  const writes = !compares ? FlagWrite.None : rep === 0 ? FlagWrite.All : FlagWrite.Some;
  // Every form may write memory (MOVS, STOS) or not, but Store is the safe flow for all: the
  // block checks after it that it is still valid.
  const flow = kind === StrOp.Movs || kind === StrOp.Stos ? Flow.Store : Flow.Next;
  // Under REP, unfinished: EIP is back at the instruction (stringOp's restart) and the block
  // leaves with it retired once, as the interpreter's step counts it (Translation.mayRestart).
  return meta({ code: call, flow, mayRestart: rep !== 0 }, false, writes, true);
}
