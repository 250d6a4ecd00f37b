/**
 * The instructions the JIT translates, each into JavaScript that does what the interpreter's
 * handler does (exec-primary.ts, exec-0f.ts) with the decoding done once, at translation time.
 * The translated code calls the interpreter's own ALU, shift, multiply and divide functions and
 * the CPU's memory, stack and condition accessors, so flags, faults and their order are the
 * interpreter's.
 *
 * Scope: 32-bit code segments (CS.D = 1) outside 64-bit mode, 32-bit addressing, operand size
 * 32 or 16 (66h), segment and LOCK prefixes. Everything else — other prefixes, string, x87 and
 * SSE instructions, anything touching segments, control registers, EFLAGS.IF or the I/O space,
 * far transfers — is left to the interpreter: the block ends before it.
 */
import { SegReg } from '../state.js';
import type { CodeReader } from './code-reader.js';
import {
  decodeModrm32, eaDecl, InsnOperands, maskOfSize, memRead, memWrite, pop, push, regRead, regWrite, rmRead, rmWrite,
  signExtendConst,
} from './operands.js';

/** How a translated instruction continues. */
export const enum Flow {
  /** Falls through; writes no memory. */
  Next,
  /** Falls through; may write memory (which may be this block's own code). */
  Store,
  /** Sets EIP itself: the block ends here. */
  Jump,
}

export interface Translation {
  code: string;
  flow: Flow;
}

/** What a translator knows about the instruction's place and the code segment. */
export interface InsnContext {
  /** EIP of the instruction's first byte. */
  eip: number;
  /** EIP after the instruction; valid once all its bytes are read. */
  next(): number;
  /** SS.B: 32-bit stack pointer. */
  ss32: boolean;
}

const ALU_CMP = 7;
const ALU_AND = 4;

/** JS operator and LazyOp (flags.ts: Add 1, Sub 2, Logic 3) of the ALU ops inlined. */
const INLINE_ALU: Record<number, [string, number]> = {
  0: ['+', 1], 1: ['|', 3], 4: ['&', 3], 5: ['-', 2], 6: ['^', 3], 7: ['-', 2],
};

/**
 * One ALU op on operands `a` and `b`; stores the result unless it is CMP. ADD, SUB, CMP and
 * the logic ops are inlined — result and lazy flags exactly as alu() computes them (`L` is
 * cpu.lazy); ADC and SBB, which read CF, call alu().
 */
export function aluTo(aop: number, size: number, a: string, b: string, store: (v: string) => string): string {
  const inline = INLINE_ALU[aop];
  if (inline === undefined) return store(`alu(cpu, ${aop}, ${size}, ${a}, ${b})`);
  const [operator, lazyOp] = inline;
  const mask = maskOfSize(size);
  const sign = size === 32 ? 0x80000000 : size === 16 ? 0x8000 : 0x80;
  const r = size === 32 ? `(a ${operator} b) >>> 0` : `(a ${operator} b) & ${mask}`;
  return `{ const a = ${a}, b = ${b}, r = ${r}; L.op = ${lazyOp}; L.a = a; L.b = b; L.r = r; L.sign = ${sign}; L.mask = ${mask}; ` +
    `${aop === ALU_CMP ? '' : store('r')} }`;
}

/** CMC, CLC, STC, CLD, STD: the same in every mode. */
export const FLAG_OPS: Readonly<Record<number, string>> = {
  0xf5: 'cpu.materializeFlags(); s.eflags ^= 1;',
  0xf8: 'cpu.materializeFlags(); s.eflags &= ~1;',
  0xf9: 'cpu.materializeFlags(); s.eflags |= 1;',
  0xfc: 's.eflags &= ~0x400;',
  0xfd: 's.eflags |= 0x400;',
};

/** A near jump target from the end of the instruction (the interpreter's jumpRel). */
function relTarget(next: number, rel: number, os: number): number {
  return os === 16 ? (next + rel) & 0xffff : (next + rel) >>> 0;
}

export function lockable(op: number, o: Pick<InsnOperands, 'isMem' | 'reg'>): boolean {
  // SDM Vol. 2A LOCK: read-modify-write forms with a memory destination (as X86Cpu.lockable).
  if (!o.isMem) return false;
  const reg = o.reg;
  if (op < 0x40) return (op & 7) < 2 && (op & 0x38) !== 0x38;
  if (op >= 0x80 && op <= 0x83) return reg !== 7;
  if (op === 0x86 || op === 0x87) return true;
  if (op === 0xf6 || op === 0xf7) return reg === 2 || reg === 3;
  if (op === 0xfe || op === 0xff) return reg < 2;
  if (op === 0x1b0 || op === 0x1b1 || op === 0x1c0 || op === 0x1c1) return true;
  return false;
}

/**
 * Translates the instruction at the reader's position (prefixes already read into `o`), or
 * returns undefined when the interpreter must execute it.
 */
export function translateInsn(r: CodeReader, o: InsnOperands, op: number, c: InsnContext): Translation | undefined {
  let t: Translation | undefined;
  let key = op;
  if (op === 0x0f) {
    const op2 = r.u8();
    key = 0x100 | op2;
    t = translate0f(r, o, op2, c);
  } else {
    t = translatePrimary(r, o, op, c);
  }
  // LOCK on anything but a read-modify-write of memory is #UD: the interpreter raises it.
  if (t === undefined || (o.lock && !lockable(key, o))) return undefined;
  return t;
}

function translatePrimary(r: CodeReader, o: InsnOperands, op: number, c: InsnContext): Translation | undefined {
  const os = o.os;
  const seq = (code: string): Translation => ({ code, flow: Flow.Next });
  const store = (code: string): Translation => ({ code, flow: o.isMem ? Flow.Store : Flow.Next });
  const jump = (code: string): Translation => ({ code, flow: Flow.Jump });

  if (op < 0x40 && (op & 7) < 6) {
    // ALU Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / eAX,Iv.
    const aop = op >> 3;
    const size = op & 1 ? os : 8;
    switch (op & 7) {
      case 0: case 1: {
        decodeModrm32(r, o);
        return store(`{ ${eaDecl(o)}${aluTo(aop, size, rmRead(o, size), regRead(size, o.reg), (v) => rmWrite(o, size, v))} }`);
      }
      case 2: case 3: {
        decodeModrm32(r, o);
        return seq(`{ ${eaDecl(o)}${aluTo(aop, size, regRead(size, o.reg), rmRead(o, size), (v) => regWrite(size, o.reg, v))} }`);
      }
      default: {
        const imm = r.imm(size);
        return seq(aluTo(aop, size, regRead(size, 0), String(imm), (v) => regWrite(size, 0, v)));
      }
    }
  }
  if (op >= 0x40 && op < 0x48) return seq(regWrite(os, op & 7, `inc(cpu, ${os}, ${regRead(os, op & 7)})`));
  if (op >= 0x48 && op < 0x50) return seq(regWrite(os, op & 7, `dec(cpu, ${os}, ${regRead(os, op & 7)})`));
  if (op >= 0x50 && op < 0x58) return { code: push(o.mem, os, `${regRead(os, op & 7)}`), flow: Flow.Store };
  if (op >= 0x58 && op < 0x60) return seq(`{ const v = ${pop(o.mem, os)}; ${regWrite(os, op & 7, 'v')} }`);
  if (op >= 0x70 && op < 0x80) {
    const rel = r.s8();
    const target = relTarget(c.next(), rel, os);
    return jump(`if (cpu.condition(${op & 0xf})) setIp(cpu, ${target}); else s.eip = ${c.next()};`);
  }
  if (op >= 0x91 && op < 0x98) {
    const reg = op & 7;
    return seq(`{ const t = ${regRead(os, reg)}; ${regWrite(os, reg, regRead(os, 0))} ${regWrite(os, 0, 't')} }`);
  }
  if (op >= 0xb0 && op < 0xb8) return seq(regWrite(8, op & 7, String(r.u8())));
  if (op >= 0xb8 && op < 0xc0) return seq(regWrite(os, op & 7, String(r.imm(os))));

  switch (op) {
    case 0x68: return { code: push(o.mem, os, `${r.imm(os)}`), flow: Flow.Store };
    case 0x6a: return { code: push(o.mem, os, `${(signExtendConst(r.u8(), 8) & maskOfSize(os)) >>> 0}`), flow: Flow.Store };
    case 0x69: case 0x6b: { // IMUL Gv, Ev, Iv/Ib
      decodeModrm32(r, o);
      const imm = op === 0x69 ? r.imm(os) : (signExtendConst(r.u8(), 8) & maskOfSize(os)) >>> 0;
      return seq(`{ ${eaDecl(o)}${regWrite(os, o.reg, `imulTrunc(cpu, ${os}, ${rmRead(o, os)}, ${imm})`)} }`);
    }
    case 0x80: case 0x81: case 0x82: case 0x83: {
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      const imm = op === 0x81 ? r.imm(size) : op === 0x83 ? (signExtendConst(r.u8(), 8) & maskOfSize(size)) >>> 0 : r.u8();
      return store(`{ ${eaDecl(o)}${aluTo(o.reg, size, rmRead(o, size), String(imm), (v) => rmWrite(o, size, v))} }`);
    }
    case 0x84: case 0x85: {
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      return seq(`{ ${eaDecl(o)}${aluTo(ALU_AND, size, rmRead(o, size), regRead(size, o.reg), () => '')} }`);
    }
    case 0x86: case 0x87: { // XCHG
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      return store(`{ ${eaDecl(o)}const a = ${rmRead(o, size)}; ${rmWrite(o, size, regRead(size, o.reg))} ${regWrite(size, o.reg, 'a')} }`);
    }
    case 0x88: case 0x89: {
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      return store(`{ ${eaDecl(o)}${rmWrite(o, size, regRead(size, o.reg))} }`);
    }
    case 0x8a: case 0x8b: {
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      return seq(`{ ${eaDecl(o)}${regWrite(size, o.reg, rmRead(o, size))} }`);
    }
    case 0x8d: // LEA
      decodeModrm32(r, o);
      if (!o.isMem) return undefined;
      return seq(regWrite(os, o.reg, o.eaExpr));
    case 0x90: return seq('');
    case 0x98: // CBW / CWDE
      return seq(os === 16 ? regWrite(16, 0, '((g[0] << 24) >> 24)') : 'g[0] = (g[0] << 16) >> 16;');
    case 0x99: // CWD / CDQ
      return seq(os === 16 ? regWrite(16, 2, '(g[0] & 0x8000 ? 0xffff : 0)') : 'g[2] = g[0] >> 31;');
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: { // MOV moffs
      const off = r.u32();
      const size = op & 1 ? os : 8;
      if (op < 0xa2) return seq(regWrite(size, 0, memRead(o.mem, size, o.dataSeg, String(off))));
      return { code: memWrite(o.mem, size, o.dataSeg, regRead(size, 0), String(off)), flow: Flow.Store };
    }
    case 0xa8: return seq(aluTo(ALU_AND, 8, regRead(8, 0), String(r.u8()), () => ''));
    case 0xa9: return seq(aluTo(ALU_AND, os, regRead(os, 0), String(r.imm(os)), () => ''));
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: { // group 2
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      const count = op <= 0xc1 ? String(r.u8() & 0x1f) : op <= 0xd1 ? '1' : '(g[1] & 0x1f)';
      return store(`{ ${eaDecl(o)}const a = ${rmRead(o, size)}; ${rmWrite(o, size, `shift(cpu, ${o.reg}, ${size}, a, ${count})`)} }`);
    }
    case 0xc2: { // RET imm16
      const n = r.u16();
      return jump(`{ const ip = ${pop(o.mem, os)}; cpu.setSp(cpu.sp + ${n}); setIp(cpu, ip); }`);
    }
    case 0xc3: return jump(`setIp(cpu, ${pop(o.mem, os)});`);
    case 0xc6: case 0xc7: { // MOV Eb/Ev, Ib/Iv
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      if (o.reg !== 0) return undefined;
      return store(`{ ${eaDecl(o)}${rmWrite(o, size, String(r.imm(size)))} }`);
    }
    case 0xc9: { // LEAVE
      const bp = c.ss32 ? '(g[5] >>> 0)' : '(g[5] & 0xffff)';
      return seq(`{ const bp = ${bp}; const v = ${memRead(o.mem, os, SegReg.SS, 'bp')}; cpu.setSp(bp + ${os / 8}); ${regWrite(os, 5, 'v')} }`);
    }
    case 0xe8: { // CALL rel
      const rel = os === 16 ? signExtendConst(r.u16(), 16) : r.u32() | 0;
      return jump(`${push(o.mem, os, String(c.next()))} setIp(cpu, ${relTarget(c.next(), rel, os)});`);
    }
    case 0xe9: {
      const rel = os === 16 ? signExtendConst(r.u16(), 16) : r.u32() | 0;
      return jump(`setIp(cpu, ${relTarget(c.next(), rel, os)});`);
    }
    case 0xeb: {
      const rel = r.s8(); // read before c.next(): it is part of the instruction
      return jump(`setIp(cpu, ${relTarget(c.next(), rel, os)});`);
    }
    case 0xf5: case 0xf8: case 0xf9: case 0xfc: case 0xfd: return seq(FLAG_OPS[op]!);
    case 0xf6: case 0xf7: return group3(r, o, op & 1 ? os : 8);
    case 0xfe: { // INC/DEC Eb
      decodeModrm32(r, o);
      if (o.reg > 1) return undefined;
      return store(`{ ${eaDecl(o)}${rmWrite(o, 8, `${o.reg === 0 ? 'inc' : 'dec'}(cpu, 8, ${rmRead(o, 8)})`)} }`);
    }
    case 0xff: return group5(r, o, c);
    default: return undefined;
  }
}

function group3(r: CodeReader, o: InsnOperands, size: number): Translation | undefined {
  decodeModrm32(r, o);
  const ea = eaDecl(o);
  const seq = (code: string): Translation => ({ code: `{ ${ea}${code} }`, flow: Flow.Next });
  switch (o.reg) {
    case 0: case 1: return seq(aluTo(ALU_AND, size, rmRead(o, size), String(r.imm(size)), () => ''));
    case 2: return { code: `{ ${ea}${rmWrite(o, size, `~${rmRead(o, size)} & ${maskOfSize(size)}`)} }`, flow: o.isMem ? Flow.Store : Flow.Next };
    case 3: return { code: `{ ${ea}${rmWrite(o, size, `neg(cpu, ${size}, ${rmRead(o, size)})`)} }`, flow: o.isMem ? Flow.Store : Flow.Next };
    case 4: return seq(`mulAcc(cpu, ${size}, ${rmRead(o, size)});`);
    case 5: return seq(`imulAcc(cpu, ${size}, ${rmRead(o, size)});`);
    case 6: return seq(`divAcc(cpu, ${size}, ${rmRead(o, size)});`);
    default: return seq(`idivAcc(cpu, ${size}, ${rmRead(o, size)});`);
  }
}

function group5(r: CodeReader, o: InsnOperands, c: InsnContext): Translation | undefined {
  const os = o.os;
  decodeModrm32(r, o);
  const ea = eaDecl(o);
  switch (o.reg) {
    case 0: case 1:
      return { code: `{ ${ea}${rmWrite(o, os, `${o.reg === 0 ? 'inc' : 'dec'}(cpu, ${os}, ${rmRead(o, os)})`)} }`, flow: o.isMem ? Flow.Store : Flow.Next };
    case 2: // CALL Ev
      return { code: `{ ${ea}const t = ${rmRead(o, os)}; ${push(o.mem, os, String(c.next()))} setIp(cpu, t); }`, flow: Flow.Jump };
    case 4: // JMP Ev
      return { code: `{ ${ea}setIp(cpu, ${rmRead(o, os)}); }`, flow: Flow.Jump };
    case 6: // PUSH Ev
      return { code: `{ ${ea}${push(o.mem, os, rmRead(o, os))} }`, flow: Flow.Store };
    default:
      return undefined; // far CALL/JMP, #UD
  }
}

function translate0f(r: CodeReader, o: InsnOperands, op: number, c: InsnContext): Translation | undefined {
  const os = o.os;
  const seq = (code: string): Translation => ({ code, flow: Flow.Next });
  const store = (code: string): Translation => ({ code, flow: o.isMem ? Flow.Store : Flow.Next });
  if (op >= 0x80 && op < 0x90) { // Jcc rel16/32
    const rel = os === 32 ? r.u32() | 0 : signExtendConst(r.u16(), 16);
    return { code: `if (cpu.condition(${op & 0xf})) setIp(cpu, ${relTarget(c.next(), rel, os)}); else s.eip = ${c.next()};`, flow: Flow.Jump };
  }
  if (op >= 0x90 && op < 0xa0) { // SETcc
    decodeModrm32(r, o);
    return store(`{ ${eaDecl(o)}${rmWrite(o, 8, `cpu.condition(${op & 0xf}) ? 1 : 0`)} }`);
  }
  if (op >= 0x40 && op < 0x50) { // CMOVcc: the source is read whether or not it moves
    decodeModrm32(r, o);
    return seq(`{ ${eaDecl(o)}const v = ${rmRead(o, os)}; if (cpu.condition(${op & 0xf})) ${regWrite(os, o.reg, 'v')} }`);
  }
  if (op >= 0xc8 && op < 0xd0) { // BSWAP
    if (os !== 32) return undefined;
    const reg = op & 7;
    return seq(`{ const v = g[${reg}]; g[${reg}] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24); }`);
  }
  switch (op) {
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f: // hint NOPs
      decodeModrm32(r, o);
      return seq('');
    case 0xa4: case 0xa5: case 0xac: case 0xad: { // SHLD / SHRD
      decodeModrm32(r, o);
      const count = op & 1 ? '(g[1] & 31)' : String(r.u8() & 31);
      return store(`{ ${eaDecl(o)}const a = ${rmRead(o, os)}; ${rmWrite(o, os, `doubleShift(cpu, ${op < 0xa8}, ${os}, a, ${regRead(os, o.reg)}, ${count})`)} }`);
    }
    case 0xaf: // IMUL Gv, Ev
      decodeModrm32(r, o);
      return seq(`{ ${eaDecl(o)}${regWrite(os, o.reg, `imulTrunc(cpu, ${os}, ${regRead(os, o.reg)}, ${rmRead(o, os)})`)} }`);
    case 0xb0: case 0xb1: { // CMPXCHG: the destination is always written (a locked cycle)
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      return store(`{ ${eaDecl(o)}const d = ${rmRead(o, size)}; const acc = ${regRead(size, 0)}; alu(cpu, 7, ${size}, acc, d); ` +
        `if (acc === d) { ${rmWrite(o, size, regRead(size, o.reg))} } else { ${rmWrite(o, size, 'd')} ${regWrite(size, 0, 'd')} } }`);
    }
    case 0xb6: case 0xb7: // MOVZX
      decodeModrm32(r, o);
      return seq(`{ ${eaDecl(o)}${regWrite(os, o.reg, rmRead(o, op & 1 ? 16 : 8))} }`);
    case 0xbe: case 0xbf: { // MOVSX
      const from = op & 1 ? 16 : 8;
      decodeModrm32(r, o);
      return seq(`{ ${eaDecl(o)}${regWrite(os, o.reg, `signExtend(${rmRead(o, from)}, ${from}) & ${maskOfSize(os)}`)} }`);
    }
    case 0xc0: case 0xc1: { // XADD
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      return store(`{ ${eaDecl(o)}const d = ${rmRead(o, size)}; const sum = alu(cpu, 0, ${size}, d, ${regRead(size, o.reg)}); ` +
        `${rmWrite(o, size, 'sum')} ${regWrite(size, o.reg, 'd')} }`);
    }
    default:
      return undefined;
  }
}
