/**
 * The 64-bit-mode instructions the JIT translates (SDM Vol. 2A 2.2.1; Vol. 2D Tables A-2 and
 * A-3 with the "d64" and "o64" marks), each into JavaScript that does what the interpreter's
 * handler does (exec-long.ts, or exec-primary.ts / exec-0f.ts where 64-bit mode changes
 * nothing but register numbers and zero-extension) with the decoding done once.
 *
 * Operations at 64 bits call the interpreter's alu64.ts functions, so flags are identical;
 * 8/16/32-bit ALU ops are inlined as in translate.ts. Near branches set RIP through the same
 * canonical check (#GP(0)) as X86Cpu.setRip; constant targets are checked at translation time.
 *
 * Scope: 64-bit address size (no 67h), REX, 66h, LOCK, segment prefixes (FS/GS bases; the
 * others are ignored in 64-bit mode). Left to the interpreter (the block ends before it): F2/F3
 * (string, SSE, PAUSE), 16-bit stack and branch operand sizes (66h on PUSH/POP/CALL/RET/Jcc),
 * moffs, bit tests and scans, x87/SSE, anything touching segments, system registers, flags
 * other than CF/DF, or I/O.
 */
import { isCanonical } from '../long-decode.js';
import { SegReg } from '../state.js';
import type { CodeReader } from './code-reader.js';
import { aluTo, FLAG_OPS, Flow, lockable, type Translation } from './translate.js';
import { maskOfSize, signExtendConst } from './operands.js';
import {
  decodeModrm64, eaDecl, LongOperands, regRead, regWrite, regWrite64, rmRead, rmRead64, rmWrite,
  rmWrite64,
} from './operands64.js';

/** What a translator knows about the instruction's place. */
export interface LongContext {
  /** RIP (a signed number) after the bytes read so far: the end once all are read. */
  next(): number;
}

const ALU_AND = 4;
const ALU_CMP = 7;
const TWO_32 = 4294967296;

/** A statement setting RIP to the constant `v`; #GP(0) if it is not canonical (X86Cpu.setRip). */
export function setRipConst(v: number): string {
  if (!isCanonical(v)) return `cpu.setRip(${v});`;
  return `s.eip = ${v >>> 0}; s.ripHi = ${Math.floor(v / TWO_32) | 0};`;
}

/** A statement setting RIP to `v` as instruction fetch moves it (a fall-through): the next fetch checks it. */
export function setRipRaw(v: number): string {
  return `s.eip = ${v >>> 0}; s.ripHi = ${Math.floor(v / TWO_32) | 0};`;
}

/** Halves of an immediate sign-extended to 64 bits. */
function imm64(v: number): [string, string] {
  const x = v | 0;
  return [String(x >>> 0), String(x >> 31)];
}

/** A 64-bit ALU op (alu64: flags as the interpreter's); `store` gets the result's halves. */
function alu64To(aop: number, a: string, aHi: string, b: string, bHi: string, store?: (lo: string, hi: string) => string): string {
  const keep = aop !== ALU_CMP && store !== undefined;
  return `${keep ? 'const r = ' : ''}alu64(cpu, ${aop}, ${a}, ${aHi}, ${b}, ${bHi}); ${keep ? store('r', 'cpu.hi') : ''}`;
}

/** Register `r` as the halves of a 64-bit operand. */
function reg64(r: number): [string, string] {
  return [`(g[${r}] >>> 0)`, `h[${r}]`];
}

/** A statement setting RSP to the signed number `v` (an expression), as X86Cpu.setSp. */
function setRsp(v: string): string {
  return `{ const nsp = ${v}; g[4] = nsp; h[4] = Math.floor(nsp / 4294967296) | 0; }`;
}

/** RSP as a signed number (X86Cpu.reg64(ESP)). */
const RSP = '(h[4] * 4294967296 + (g[4] >>> 0))';

/** The halves of a RIP constant, for a pushed return address. */
function ripHalves(v: number): [string, string] {
  return [String(v >>> 0), String(Math.floor(v / TWO_32) | 0)];
}

/**
 * Translates the instruction at the reader's position (prefixes already read into `o`), or
 * returns undefined when the interpreter must execute it.
 */
export function translateInsn64(r: CodeReader, o: LongOperands, op: number, c: LongContext): Translation | undefined {
  let t: Translation | undefined;
  let key = op;
  if (op === 0x0f) {
    const op2 = r.u8();
    key = 0x100 | op2;
    t = translate0f64(r, o, op2, c);
  } else {
    t = translatePrimary64(r, o, op, c);
  }
  // LOCK on anything but a read-modify-write of memory is #UD: the interpreter raises it.
  if (t === undefined || (o.lock && !lockable(key, o))) return undefined;
  return t;
}

/** An immediate of operand size 8/16/32 (unsigned), or at 64 the sign-extended imm32's halves. */
function readImm(r: CodeReader, size: number): string | [string, string] {
  if (size === 64) return imm64(r.u32());
  return String(r.imm(size));
}

function translatePrimary64(r: CodeReader, o: LongOperands, op: number, c: LongContext): Translation | undefined {
  const os = o.os;
  const set = o.set;
  const seq = (code: string): Translation => ({ code, flow: Flow.Next });
  const store = (code: string): Translation => ({ code, flow: o.isMem ? Flow.Store : Flow.Next });
  const jump = (code: string): Translation => ({ code, flow: Flow.Jump });
  /** d64 forms with a 16-bit operand size are left to the interpreter. */
  const narrowStack = o.prefix66 && !o.rexW;

  if (op < 0x40 && (op & 7) < 6) {
    // ALU Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / rAX,Iz.
    const aop = op >> 3;
    const size = op & 1 ? os : 8;
    switch (op & 7) {
      case 0: case 1: {
        decodeModrm64(r, o);
        const R = o.regNum;
        if (size === 64) {
          const [b, bHi] = reg64(R);
          return store(`{ ${eaDecl(o)}${rmRead64(o, 'a')}${alu64To(aop, 'a', 'aHi', b, bHi, (lo, hi) => rmWrite64(o, lo, hi))} }`);
        }
        return store(`{ ${eaDecl(o)}${aluTo(aop, size, rmRead(o, size), regRead(o, size, R), (v) => rmWrite(o, size, v))} }`);
      }
      case 2: case 3: {
        decodeModrm64(r, o);
        const R = o.regNum;
        if (size === 64) {
          const [a, aHi] = reg64(R);
          return seq(`{ ${eaDecl(o)}${rmRead64(o, 'b')}${alu64To(aop, a, aHi, 'b', 'bHi', (lo, hi) => regWrite64(R, lo, hi))} }`);
        }
        return seq(`{ ${eaDecl(o)}${aluTo(aop, size, regRead(o, size, R), rmRead(o, size), (v) => regWrite(o, size, R, v))} }`);
      }
      default: {
        const imm = readImm(r, size);
        if (typeof imm !== 'string') {
          const [a, aHi] = reg64(0);
          return seq(`{ ${alu64To(aop, a, aHi, imm[0], imm[1], (lo, hi) => regWrite64(0, lo, hi))} }`);
        }
        return seq(aluTo(aop, size, regRead(o, size, 0), imm, (v) => regWrite(o, size, 0, v)));
      }
    }
  }
  if (op >= 0x50 && op < 0x58) { // PUSH r64
    if (narrowStack) return undefined;
    const [lo, hi] = reg64((op & 7) | o.rexB);
    return { code: `push64(${set}, ${lo}, ${hi});`, flow: Flow.Store };
  }
  if (op >= 0x58 && op < 0x60) { // POP r64: RSP moves before the register is written
    if (narrowStack) return undefined;
    const R = (op & 7) | o.rexB;
    return seq(`{ const v = pop64(${set}); g[${R}] = v; h[${R}] = cpu.hi; }`);
  }
  if (op >= 0x70 && op < 0x80) { // Jcc rel8
    if (o.prefix66) return undefined;
    const rel = r.s8();
    const next = c.next();
    return jump(`if (cpu.condition(${op & 0xf})) { ${setRipConst(next + rel)} } else { ${setRipRaw(next)} }`);
  }
  if (op >= 0x90 && op < 0x98) { // NOP; XCHG r, rAX (90 with REX.B is XCHG R8, rAX)
    const R = (op & 7) | o.rexB;
    if (R === 0) return seq('');
    if (os === 64) return seq(`{ const t = g[${R}], tHi = h[${R}]; g[${R}] = g[0]; h[${R}] = h[0]; g[0] = t; h[0] = tHi; }`);
    return seq(`{ const t = ${regRead(o, os, R)}; ${regWrite(o, os, R, regRead(o, os, 0))} ${regWrite(o, os, 0, 't')} }`);
  }
  if (op >= 0xb0 && op < 0xb8) return seq(regWrite(o, 8, (op & 7) | o.rexB, String(r.u8())));
  if (op >= 0xb8 && op < 0xc0) { // MOV r, imm (REX.W: the full imm64)
    const R = (op & 7) | o.rexB;
    if (os === 64) {
      const lo = r.u32();
      return seq(regWrite64(R, String(lo), String(r.u32() | 0)));
    }
    return seq(regWrite(o, os, R, String(r.imm(os))));
  }

  switch (op) {
    case 0x63: { // MOVSXD r64, r/m32; without REX.W a plain move
      decodeModrm64(r, o);
      const R = o.regNum;
      if (os === 64) return seq(`{ ${eaDecl(o)}const v = ${rmRead(o, 32)}; g[${R}] = v; h[${R}] = (v | 0) >> 31; }`);
      return seq(`{ ${eaDecl(o)}${regWrite(o, os, R, rmRead(o, os))} }`);
    }
    case 0x68: case 0x6a: { // PUSH imm32 / imm8, sign-extended to 64 bits
      if (narrowStack) return undefined;
      const [lo, hi] = imm64(op === 0x68 ? r.u32() : r.s8());
      return { code: `push64(${set}, ${lo}, ${hi});`, flow: Flow.Store };
    }
    case 0x69: case 0x6b: { // IMUL Gv, Ev, Iz/Ib
      decodeModrm64(r, o);
      const R = o.regNum;
      if (os === 64) {
        const [lo, hi] = imm64(op === 0x69 ? r.u32() : r.s8());
        return seq(`{ ${eaDecl(o)}${rmRead64(o, 'a')}const v = imulTrunc64(cpu, a, aHi, ${lo}, ${hi}); g[${R}] = v; h[${R}] = cpu.hi; }`);
      }
      const imm = op === 0x69 ? r.imm(os) : (signExtendConst(r.u8(), 8) & maskOfSize(os)) >>> 0;
      return seq(`{ ${eaDecl(o)}${regWrite(o, os, R, `imulTrunc(cpu, ${os}, ${rmRead(o, os)}, ${imm})`)} }`);
    }
    case 0x80: case 0x81: case 0x83: { // group 1 (82 is invalid in 64-bit mode)
      const size = op === 0x80 ? 8 : os;
      decodeModrm64(r, o);
      if (size === 64) {
        const [lo, hi] = imm64(op === 0x81 ? r.u32() : r.s8());
        return store(`{ ${eaDecl(o)}${rmRead64(o, 'a')}${alu64To(o.reg, 'a', 'aHi', lo, hi, (l, h) => rmWrite64(o, l, h))} }`);
      }
      const imm = op === 0x81 ? r.imm(size) : op === 0x83 ? (signExtendConst(r.u8(), 8) & maskOfSize(size)) >>> 0 : r.u8();
      return store(`{ ${eaDecl(o)}${aluTo(o.reg, size, rmRead(o, size), String(imm), (v) => rmWrite(o, size, v))} }`);
    }
    case 0x84: case 0x85: { // TEST
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      if (size === 64) {
        const [b, bHi] = reg64(o.regNum);
        return seq(`{ ${eaDecl(o)}${rmRead64(o, 'a')}${alu64To(ALU_AND, 'a', 'aHi', b, bHi)} }`);
      }
      return seq(`{ ${eaDecl(o)}${aluTo(ALU_AND, size, rmRead(o, size), regRead(o, size, o.regNum), () => '')} }`);
    }
    case 0x86: case 0x87: { // XCHG r/m, r
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      const R = o.regNum;
      if (size === 64) {
        const [b, bHi] = reg64(R);
        return store(`{ ${eaDecl(o)}${rmRead64(o, 'a')}${rmWrite64(o, b, bHi)} ${regWrite64(R, 'a', 'aHi')} }`);
      }
      return store(`{ ${eaDecl(o)}const a = ${rmRead(o, size)}; ${rmWrite(o, size, regRead(o, size, R))} ${regWrite(o, size, R, 'a')} }`);
    }
    case 0x88: case 0x89: {
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      const R = o.regNum;
      if (size === 64) {
        const [b, bHi] = reg64(R);
        return store(`{ ${eaDecl(o)}${rmWrite64(o, b, bHi)} }`);
      }
      return store(`{ ${eaDecl(o)}${rmWrite(o, size, regRead(o, size, R))} }`);
    }
    case 0x8a: case 0x8b: {
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      const R = o.regNum;
      if (size === 64) return seq(`{ ${eaDecl(o)}${rmRead64(o, 'v')}${regWrite64(R, 'v', 'vHi')} }`);
      return seq(`{ ${eaDecl(o)}${regWrite(o, size, R, rmRead(o, size))} }`);
    }
    case 0x8d: { // LEA: the exact low half (and at 64 bits the high half) of the address
      decodeModrm64(r, o);
      if (!o.isMem) return undefined;
      const R = o.regNum;
      if (os === 64) return seq(`{ const lo = ${o.eaLo}; g[${R}] = lo; h[${R}] = (${o.eaHi} + Math.floor(lo / 4294967296)) | 0; }`);
      return seq(regWrite(o, os, R, o.eaLo));
    }
    case 0x98: // CBW / CWDE / CDQE
      if (os === 16) return seq(regWrite(o, 16, 0, '((g[0] << 24) >> 24)'));
      if (os === 32) return seq('g[0] = (g[0] << 16) >> 16; h[0] = 0;');
      return seq('h[0] = g[0] >> 31;');
    case 0x99: // CWD / CDQ / CQO
      if (os === 16) return seq(regWrite(o, 16, 2, '(g[0] & 0x8000 ? 0xffff : 0)'));
      if (os === 32) return seq('g[2] = g[0] >> 31; h[2] = 0;');
      return seq('{ const sign = h[0] >> 31; g[2] = sign; h[2] = sign; }');
    case 0xa8: return seq(aluTo(ALU_AND, 8, regRead(o, 8, 0), String(r.u8()), () => ''));
    case 0xa9: {
      const imm = readImm(r, os);
      if (typeof imm !== 'string') return seq(`{ ${alu64To(ALU_AND, '(g[0] >>> 0)', 'h[0]', imm[0], imm[1])} }`);
      return seq(aluTo(ALU_AND, os, regRead(o, os, 0), imm, () => ''));
    }
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: { // group 2
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      const countMask = size === 64 ? 0x3f : 0x1f;
      const count = op <= 0xc1 ? String(r.u8() & countMask) : op <= 0xd1 ? '1' : `(g[1] & ${countMask})`;
      if (size === 64) {
        return store(`{ ${eaDecl(o)}${rmRead64(o, 'a')}const v = shift64(cpu, ${o.reg}, a, aHi, ${count}); ${rmWrite64(o, 'v', 'cpu.hi')} }`);
      }
      return store(`{ ${eaDecl(o)}const a = ${rmRead(o, size)}; ${rmWrite(o, size, `shift(cpu, ${o.reg}, ${size}, a, ${count})`)} }`);
    }
    case 0xc2: case 0xc3: { // RET [imm16]: read, set RIP (may #GP), then move RSP
      if (narrowStack) return undefined;
      const n = op === 0xc2 ? r.u16() : 0;
      return jump(`{ const rsp = ${RSP}; const ip = rd64(rsp, ${set}, ${SegReg.SS}); cpu.setRip(cpu.hi * 4294967296 + ip); ${setRsp(`rsp + ${8 + n}`)} }`);
    }
    case 0xc6: case 0xc7: { // MOV Eb/Ev, Ib/Iz
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      if (o.reg !== 0) return undefined;
      const imm = readImm(r, size);
      if (typeof imm !== 'string') return store(`{ ${eaDecl(o)}${rmWrite64(o, imm[0], imm[1])} }`);
      return store(`{ ${eaDecl(o)}${rmWrite(o, size, imm)} }`);
    }
    case 0xc9: // LEAVE: RSP = RBP, pop RBP
      if (narrowStack) return undefined;
      return seq(`{ const bp = (h[5] * 4294967296 + (g[5] >>> 0)); const v = rd64(bp, ${set}, ${SegReg.SS}), vHi = cpu.hi; ` +
        `${setRsp('bp + 8')} g[5] = v; h[5] = vHi; }`);
    case 0xe8: { // CALL rel32
      if (o.prefix66) return undefined;
      const rel = r.u32() | 0;
      const next = c.next();
      const [lo, hi] = ripHalves(next);
      return jump(`push64(${set}, ${lo}, ${hi}); ${setRipConst(next + rel)}`);
    }
    case 0xe9: case 0xeb: {
      if (o.prefix66) return undefined;
      const rel = op === 0xe9 ? r.u32() | 0 : r.s8();
      return jump(setRipConst(c.next() + rel));
    }
    case 0xf5: case 0xf8: case 0xf9: case 0xfc: case 0xfd: return seq(FLAG_OPS[op]!);
    case 0xf6: case 0xf7: return group3(r, o, op & 1 ? os : 8);
    case 0xfe: { // INC/DEC Eb
      decodeModrm64(r, o);
      if (o.reg > 1) return undefined;
      return store(`{ ${eaDecl(o)}${rmWrite(o, 8, `${o.reg === 0 ? 'inc' : 'dec'}(cpu, 8, ${rmRead(o, 8)})`)} }`);
    }
    case 0xff: return group5(r, o, c);
    default: return undefined;
  }
}

function group3(r: CodeReader, o: LongOperands, size: number): Translation | undefined {
  decodeModrm64(r, o);
  const ea = eaDecl(o);
  const seq = (code: string): Translation => ({ code: `{ ${ea}${code} }`, flow: Flow.Next });
  const store = (code: string): Translation => ({ code: `{ ${ea}${code} }`, flow: o.isMem ? Flow.Store : Flow.Next });
  if (size === 64) {
    const a = rmRead64(o, 'a');
    switch (o.reg) {
      case 0: case 1: {
        const [lo, hi] = imm64(r.u32());
        return seq(`${a}${alu64To(ALU_AND, 'a', 'aHi', lo, hi)}`);
      }
      case 2: return store(`${a}${rmWrite64(o, '~a >>> 0', '~aHi')}`);
      case 3: return store(`${a}const v = neg64(cpu, a, aHi); ${rmWrite64(o, 'v', 'cpu.hi')}`);
      case 4: return seq(`${a}mulAcc64(cpu, a, aHi);`);
      case 5: return seq(`${a}imulAcc64(cpu, a, aHi);`);
      case 6: return seq(`${a}divAcc64(cpu, a, aHi);`);
      default: return seq(`${a}idivAcc64(cpu, a, aHi);`);
    }
  }
  switch (o.reg) {
    case 0: case 1: return seq(aluTo(ALU_AND, size, rmRead(o, size), String(r.imm(size)), () => ''));
    case 2: return store(rmWrite(o, size, `~${rmRead(o, size)} & ${maskOfSize(size)}`));
    case 3: return store(rmWrite(o, size, `neg(cpu, ${size}, ${rmRead(o, size)})`));
    case 4: return seq(`mulAcc(cpu, ${size}, ${rmRead(o, size)});`);
    case 5: return seq(`imulAcc(cpu, ${size}, ${rmRead(o, size)});`);
    case 6: return seq(`divAcc(cpu, ${size}, ${rmRead(o, size)});`);
    default: return seq(`idivAcc(cpu, ${size}, ${rmRead(o, size)});`);
  }
}

function group5(r: CodeReader, o: LongOperands, c: LongContext): Translation | undefined {
  const os = o.os;
  decodeModrm64(r, o);
  const ea = eaDecl(o);
  const narrowStack = o.prefix66 && !o.rexW;
  switch (o.reg) {
    case 0: case 1: { // INC/DEC Ev
      const fn = o.reg === 0 ? 'inc' : 'dec';
      const flow = o.isMem ? Flow.Store : Flow.Next;
      if (os === 64) return { code: `{ ${ea}${rmRead64(o, 'a')}const v = ${fn}64(cpu, a, aHi); ${rmWrite64(o, 'v', 'cpu.hi')} }`, flow };
      return { code: `{ ${ea}${rmWrite(o, os, `${fn}(cpu, ${os}, ${rmRead(o, os)})`)} }`, flow };
    }
    case 2: { // CALL r/m64: the target is read before the push
      if (narrowStack) return undefined;
      const [lo, hi] = ripHalves(c.next());
      return { code: `{ ${ea}${rmRead64(o, 't')}push64(${o.set}, ${lo}, ${hi}); cpu.setRip(tHi * 4294967296 + t); }`, flow: Flow.Jump };
    }
    case 4: // JMP r/m64
      if (narrowStack) return undefined;
      return { code: `{ ${ea}${rmRead64(o, 't')}cpu.setRip(tHi * 4294967296 + t); }`, flow: Flow.Jump };
    case 6: // PUSH r/m64
      if (narrowStack) return undefined;
      return { code: `{ ${ea}${rmRead64(o, 'v')}push64(${o.set}, v, vHi); }`, flow: Flow.Store };
    default:
      return undefined; // far CALL/JMP, #UD
  }
}

function translate0f64(r: CodeReader, o: LongOperands, op: number, c: LongContext): Translation | undefined {
  const os = o.os;
  const seq = (code: string): Translation => ({ code, flow: Flow.Next });
  const store = (code: string): Translation => ({ code, flow: o.isMem ? Flow.Store : Flow.Next });
  if (op >= 0x80 && op < 0x90) { // Jcc rel32
    if (o.prefix66) return undefined;
    const rel = r.u32() | 0;
    const next = c.next();
    return { code: `if (cpu.condition(${op & 0xf})) { ${setRipConst(next + rel)} } else { ${setRipRaw(next)} }`, flow: Flow.Jump };
  }
  if (op >= 0x90 && op < 0xa0) { // SETcc
    decodeModrm64(r, o);
    return store(`{ ${eaDecl(o)}${rmWrite(o, 8, `cpu.condition(${op & 0xf}) ? 1 : 0`)} }`);
  }
  if (op >= 0x40 && op < 0x50) { // CMOVcc: the source is read whether or not it moves
    decodeModrm64(r, o);
    const R = o.regNum;
    const cc = `cpu.condition(${op & 0xf})`;
    if (os === 64) return seq(`{ ${eaDecl(o)}${rmRead64(o, 'v')}if (${cc}) { ${regWrite64(R, 'v', 'vHi')} } }`);
    // A 32-bit CMOV zero-extends its destination even when the condition is false.
    if (os === 32) return seq(`{ ${eaDecl(o)}const v = ${rmRead(o, 32)}; if (${cc}) g[${R}] = v; h[${R}] = 0; }`);
    return seq(`{ ${eaDecl(o)}const v = ${rmRead(o, 16)}; if (${cc}) { ${regWrite(o, 16, R, 'v')} } }`);
  }
  if (op >= 0xc8 && op < 0xd0) { // BSWAP
    const R = (op & 7) | o.rexB;
    if (os === 64) return seq(`{ const v = bswap64(cpu, g[${R}], h[${R}]); g[${R}] = v; h[${R}] = cpu.hi; }`);
    if (os === 16) return seq(regWrite(o, 16, R, '0')); // undefined; zeroed as the interpreter does
    return seq(`{ const v = g[${R}]; g[${R}] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24); h[${R}] = 0; }`);
  }
  switch (op) {
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f: // hint NOPs
      decodeModrm64(r, o);
      return seq('');
    case 0xa4: case 0xa5: case 0xac: case 0xad: { // SHLD / SHRD
      decodeModrm64(r, o);
      const R = o.regNum;
      const left = op < 0xa8;
      if (os === 64) {
        const count = op & 1 ? '(g[1] & 63)' : String(r.u8() & 63);
        return store(`{ ${eaDecl(o)}${rmRead64(o, 'a')}const v = doubleShift64(cpu, ${left}, a, aHi, g[${R}] >>> 0, h[${R}], ${count}); ${rmWrite64(o, 'v', 'cpu.hi')} }`);
      }
      const count = op & 1 ? '(g[1] & 31)' : String(r.u8() & 31);
      return store(`{ ${eaDecl(o)}const a = ${rmRead(o, os)}; ${rmWrite(o, os, `doubleShift(cpu, ${left}, ${os}, a, ${regRead(o, os, R)}, ${count})`)} }`);
    }
    case 0xaf: { // IMUL Gv, Ev
      decodeModrm64(r, o);
      const R = o.regNum;
      if (os === 64) return seq(`{ ${eaDecl(o)}${rmRead64(o, 'b')}const v = imulTrunc64(cpu, g[${R}] >>> 0, h[${R}], b, bHi); g[${R}] = v; h[${R}] = cpu.hi; }`);
      return seq(`{ ${eaDecl(o)}${regWrite(o, os, R, `imulTrunc(cpu, ${os}, ${regRead(o, os, R)}, ${rmRead(o, os)})`)} }`);
    }
    case 0xb0: case 0xb1: { // CMPXCHG: the destination is always written (a locked cycle)
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      const R = o.regNum;
      if (size === 64) {
        const [src, srcHi] = reg64(R);
        return store(`{ ${eaDecl(o)}${rmRead64(o, 'd')}const acc = g[0] >>> 0, accHi = h[0]; alu64(cpu, 7, acc, accHi, d, dHi); ` +
          `if (acc === d && accHi === dHi) { ${rmWrite64(o, src, srcHi)} } else { ${rmWrite64(o, 'd', 'dHi')} g[0] = d; h[0] = dHi; } }`);
      }
      return store(`{ ${eaDecl(o)}const d = ${rmRead(o, size)}; const acc = ${regRead(o, size, 0)}; alu(cpu, 7, ${size}, acc, d); ` +
        `if (acc === d) { ${rmWrite(o, size, regRead(o, size, R))} } else { ${rmWrite(o, size, 'd')} ${regWrite(o, size, 0, 'd')} } }`);
    }
    case 0xb6: case 0xb7: { // MOVZX
      decodeModrm64(r, o);
      const from = op & 1 ? 16 : 8;
      const R = o.regNum;
      if (os === 64) return seq(`{ ${eaDecl(o)}g[${R}] = ${rmRead(o, from)}; h[${R}] = 0; }`);
      return seq(`{ ${eaDecl(o)}${regWrite(o, os, R, rmRead(o, from))} }`);
    }
    case 0xbe: case 0xbf: { // MOVSX
      const from = op & 1 ? 16 : 8;
      decodeModrm64(r, o);
      const R = o.regNum;
      if (os === 64) return seq(`{ ${eaDecl(o)}const v = signExtend(${rmRead(o, from)}, ${from}); g[${R}] = v; h[${R}] = v >> 31; }`);
      return seq(`{ ${eaDecl(o)}${regWrite(o, os, R, `signExtend(${rmRead(o, from)}, ${from}) & ${maskOfSize(os)}`)} }`);
    }
    case 0xc0: case 0xc1: { // XADD
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      const R = o.regNum;
      if (size === 64) {
        return store(`{ ${eaDecl(o)}${rmRead64(o, 'd')}const sum = alu64(cpu, 0, d, dHi, g[${R}] >>> 0, h[${R}]); ` +
          `${rmWrite64(o, 'sum', 'cpu.hi')} ${regWrite64(R, 'd', 'dHi')} }`);
      }
      return store(`{ ${eaDecl(o)}const d = ${rmRead(o, size)}; const sum = alu(cpu, 0, ${size}, d, ${regRead(o, size, R)}); ` +
        `${rmWrite(o, size, 'sum')} ${regWrite(o, size, R, 'd')} }`);
    }
    default:
      return undefined;
  }
}
