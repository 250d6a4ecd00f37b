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
import {
  aluKind, aluTo, carryExpr, condExpr, FLAG_OPS, FlagWrite, Flow, imulTrunc32, incDec, LazyKind, lockable, meta, mulAcc32,
  shiftCl32, shiftImm32, shiftImmNarrow, type Translation,
} from './translate.js';
import { maskOfSize, signExtendConst } from './operands.js';
import {
  decodeModrm64, eaDecl, LongOperands, memRead64, memWrite64, regPlus, regRead, regWrite, regWrite64, rmRead, rmRead64, rmWrite,
  rmWrite64,
} from './operands64.js';

/** What a translator knows about the instruction's place. */
export interface LongContext {
  /** RIP (a signed number) after the bytes read so far: the end once all are read. */
  next(): number;
  /** What the lazy flags hold before the instruction (LazyKind or LazyKind64), or -1 when not known here. */
  flags: number;
}

/**
 * What the lazy flags hold after a translated 64-bit operation (flags.ts LazyOp.Add64..Dec64):
 * operands and result as halves in L.a/L.aHi, L.b/L.bHi, L.r/L.rHi.
 */
export const enum LazyKind64 {
  Add = 6,
  Sub = 7,
  Logic = 8,
  Inc = 9,
  Dec = 10,
}

/** CF as an expression (0 or 1), given what the lazy flags hold (LazyKind, LazyKind64, or -1). */
export function carryExpr64(kind: number): string {
  switch (kind) {
    case LazyKind64.Add: return '(((L.aHi & L.bHi) | ((L.aHi | L.bHi) & ~L.rHi)) >>> 31)';
    case LazyKind64.Sub: return '(((~L.aHi & L.bHi) | ((~L.aHi | L.bHi) & L.rHi)) >>> 31)';
    case LazyKind64.Logic: return '0';
    case LazyKind64.Inc: case LazyKind64.Dec: return '(s.eflags & 1)';
    default: return carryExpr(kind);
  }
}

/**
 * Condition `cc` as an expression: after a 64-bit operation of the block straight from the
 * lazy halves (the formulas of flags.ts compute64: carry and overflow from the high halves,
 * ZF from both), else as translate.ts's condExpr.
 */
export function condExpr64(cc: number, kind: number): string {
  if (kind < LazyKind64.Add || kind > LazyKind64.Dec) return condExpr(cc, kind);
  const z = '((L.r | L.rHi) === 0)';
  const sf = '((L.rHi | 0) < 0)';
  let e: (string | undefined)[];
  switch (kind) {
    case LazyKind64.Add: case LazyKind64.Sub: {
      const of = kind === LazyKind64.Add ? '((L.aHi ^ L.rHi) & (L.bHi ^ L.rHi))' : '((L.aHi ^ L.bHi) & (L.aHi ^ L.rHi))';
      const cf = kind === LazyKind64.Add ? '(((L.aHi & L.bHi) | ((L.aHi | L.bHi) & ~L.rHi)) < 0)' : '(((~L.aHi & L.bHi) | ((~L.aHi | L.bHi) & L.rHi)) < 0)';
      const less = `((L.rHi ^ ${of}) < 0)`;
      e = [`(${of} < 0)`, cf, z, `(${cf} || ${z})`, sf, undefined, less, `(${z} || ${less})`];
      break;
    }
    case LazyKind64.Logic:
      e = ['false', 'false', z, z, sf, undefined, sf, `(${z} || ${sf})`];
      break;
    default: {
      const of = kind === LazyKind64.Inc ? '((L.rHi | 0) === -2147483648 && (L.r | 0) === 0)' : '((L.rHi | 0) === 2147483647 && (L.r | 0) === -1)';
      const less = `(${sf} !== ${of})`;
      e = [of, undefined, z, undefined, sf, undefined, less, `(${z} || ${less})`];
      break;
    }
  }
  const x = e[cc >> 1];
  if (x === undefined) return `cpu.condition(${cc})`;
  return cc & 1 ? `!${x}` : x;
}

const ALU_ADC = 2;
const ALU_SBB = 3;
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

/** JS operator of the 64-bit logic ops (OR, AND, XOR). */
const LOGIC64: Record<number, string> = { 1: '|', 4: '&', 6: '^' };

/** Wraps the statements that store flags, so that the block compiler can drop them when dead. */
function flagStore(code: string): string {
  return `/*F{*/ ${code} /*}F*/`;
}

/**
 * A 64-bit ALU op on a:aHi and b:bHi, inlined: result halves and lazy flags exactly as alu64
 * (setLazy64; L.sign and L.mask, which nothing reads after a 64-bit operation, stay as they
 * are). `store` gets the result's halves (CMP and TEST store nothing); ADC and SBB take the
 * carry in from the expression `cf`.
 */
function alu64To(aop: number, a: string, aHi: string, b: string, bHi: string, cf: string, store?: (lo: string, hi: string) => string): string {
  const carry = aop === ALU_ADC ? ' + cin' : aop === ALU_SBB ? ' - cin' : '';
  let body: string;
  let kind: LazyKind64;
  if (aop === 0 || aop === ALU_ADC) {
    body = `const t = x + y${carry}, z = t >>> 0, zh = (xh + yh + (t > 4294967295 ? 1 : 0)) | 0;`;
    kind = LazyKind64.Add;
  } else if (aop === 5 || aop === ALU_SBB || aop === ALU_CMP) {
    body = `const t = x - y${carry}, z = t >>> 0, zh = (xh - yh - (t < 0 ? 1 : 0)) | 0;`;
    kind = LazyKind64.Sub;
  } else {
    const op = LOGIC64[aop]!;
    body = `const z = (x ${op} y) >>> 0, zh = xh ${op} yh;`;
    kind = LazyKind64.Logic;
  }
  const keep = aop !== ALU_CMP && store !== undefined;
  return `{ const x = ${a}, xh = ${aHi}, y = ${b}, yh = ${bHi}${carry === '' ? '' : `, cin = ${cf}`}; ${body} ` +
    flagStore(`L.op = ${kind}; L.a = x; L.b = y; L.r = z; L.aHi = xh; L.bHi = yh; L.rHi = zh;`) + ` ${keep ? store('z', 'zh') : ''} }`;
}

/** The lazy flags alu64To leaves for `aop`. */
function aluKind64(aop: number): LazyKind64 {
  return aop === 0 || aop === ALU_ADC ? LazyKind64.Add : aop === 5 || aop === ALU_SBB || aop === ALU_CMP ? LazyKind64.Sub : LazyKind64.Logic;
}

/** The statement that freezes CF into eflags before INC/DEC replace the lazy flags (setLazy/setLazy64). */
function freezeCarry(kind: number): string {
  if (kind === LazyKind.Inc || kind === LazyKind.Dec || kind === LazyKind64.Inc || kind === LazyKind64.Dec) return '';
  const cf = carryExpr64(kind);
  if (cf !== 'cpu.getCF()') return `s.eflags = (s.eflags & -2) | ${cf}; `;
  return 'if (L.op !== 0) s.eflags = (s.eflags & -2) | L.carry(s.eflags); ';
}

/** INC/DEC of a:aHi at 64 bits, inlined as inc64/dec64 (CF frozen first: they keep it). */
function incDec64(isDec: boolean, a: string, aHi: string, store: (lo: string, hi: string) => string, kind: number): string {
  const r = isDec ? 'z = (x - 1) >>> 0, zh = z === 4294967295 ? (xh - 1) | 0 : xh | 0' : 'z = (x + 1) >>> 0, zh = z === 0 ? (xh + 1) | 0 : xh | 0';
  return `{ const x = ${a}, xh = ${aHi}, ${r}; ${freezeCarry(kind)}L.op = ${isDec ? LazyKind64.Dec : LazyKind64.Inc}; ` +
    `L.a = x; L.b = 1; L.r = z; L.aHi = xh; L.bHi = 0; L.rHi = zh; ${store('z', 'zh')} }`;
}

/** The halves `[lo, hi]` of a:aHi rotated left by c (1..63), as expressions. */
function rotl64(c: number): [string, string] {
  if (c === 32) return ['a', 'aHi'].reverse() as [string, string];
  const [x, y] = c < 32 ? ['a', 'aHi'] : ['aHi', 'a'];
  const n = c & 31;
  return [`((${x} << ${n}) | (${y} >>> ${32 - n}))`, `((${y} << ${n}) | (${x} >>> ${32 - n}))`];
}

/**
 * SHL/SHR/SAR/ROL/ROR of the 64-bit operand a:aHi (locals) by a constant count 1..63,
 * exactly as shift64: the shifts set SF ZF PF CF OF eagerly (AF cleared), the rotates only
 * CF and OF (the others made concrete first).
 */
function shiftImm64(kind: number, c: number, store: (lo: string, hi: string) => string): string | undefined {
  let lo: string;
  let hi: string;
  let cf: string;
  let of: string;
  switch (kind) {
    case 0: case 1: {
      [lo, hi] = rotl64(kind === 0 ? c : 64 - c);
      cf = kind === 0 ? 'r & 1' : 'rh >>> 31';
      of = kind === 0 ? '(rh >>> 31) ^ cf' : 'cf ^ ((rh >>> 30) & 1)';
      return `{ const r = ${lo} >>> 0, rh = ${hi} | 0, cf = ${cf}; ${flagStore(`cpu.materializeFlags(); s.eflags = (s.eflags & ${~0x801}) | cf | ((${of}) << 11);`)} ${store('r', 'rh')} }`;
    }
    // CF is the last bit shifted out: bit 64 - c of a for SHL, bit c - 1 for SHR and SAR
    // (JavaScript shift counts are taken mod 32, hence the cases at 32).
    case 4: case 6:
      if (c < 32) [lo, hi, cf] = [`a << ${c}`, `(aHi << ${c}) | (a >>> ${32 - c})`, `(aHi >>> ${32 - c}) & 1`];
      else [lo, hi, cf] = ['0', `a << ${c - 32}`, c === 32 ? 'aHi & 1' : `(a >>> ${64 - c}) & 1`];
      of = '((rh >>> 31) ^ cf)';
      break;
    case 5:
      if (c < 32) [lo, hi, cf] = [`(a >>> ${c}) | (aHi << ${32 - c})`, `aHi >>> ${c}`, `(a >>> ${c - 1}) & 1`];
      else [lo, hi, cf] = [`aHi >>> ${c - 32}`, '0', c === 32 ? 'a >>> 31' : `(aHi >>> ${c - 33}) & 1`];
      of = '(aHi >>> 31)';
      break;
    case 7:
      if (c < 32) [lo, hi, cf] = [`(a >>> ${c}) | (aHi << ${32 - c})`, `aHi >> ${c}`, `(a >>> ${c - 1}) & 1`];
      else [lo, hi, cf] = [`aHi >> ${c - 32}`, 'aHi >> 31', c === 32 ? 'a >>> 31' : `(aHi >> ${c - 33}) & 1`];
      of = '0';
      break;
    default:
      return undefined;
  }
  return `{ const r = (${lo}) >>> 0, rh = (${hi}) | 0, cf = ${cf}; ` +
    flagStore(`s.eflags = (s.eflags & ${~0x8d5}) | PARITY[r & 255] | ((r | rh) === 0 ? 64 : 0) | ((rh >>> 24) & 128) | cf | (${of} << 11); L.op = 0;`) +
    ` ${store('r', 'rh')} }`;
}

/** Register `r` as the halves of a 64-bit operand. */
function reg64(r: number): [string, string] {
  return [`(g[${r}] >>> 0)`, `h[${r}]`];
}

/**
 * A statement moving RSP by the constant `n` (|n| < 2^31) as X86Cpu.setSp(rsp + n) does: the
 * low halves add in int32, and the high half takes the carry or borrow.
 */
function addRsp(n: number): string {
  if (n > 0) return `g[4] = (g[4] + ${n}) | 0; h[4] = (h[4] + ((g[4] >>> 0) < ${n} ? 1 : 0)) | 0;`;
  return `h[4] = (h[4] - ((g[4] >>> 0) < ${-n} ? 1 : 0)) | 0; g[4] = (g[4] - ${-n}) | 0;`;
}

/** PUSH of the quadword lo:hi (X86Cpu.push at size 64: memory first, then RSP; long-memory.ts push64). */
function push64(o: LongOperands, lo: string, hi: string): string {
  return `{ ${memWrite64(o, SegReg.SS, lo, hi, regPlus(4, -8))} ${addRsp(-8)} }`;
}

/** POP of a quadword into the locals `name`, `nameHi` (X86Cpu.pop: read, then RSP moves). */
function pop64(o: LongOperands, name: string): string {
  return `${memRead64(o, SegReg.SS, name, regPlus(4, 0))}${addRsp(8)} `;
}

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

/** A near branch or jump to the constant `target`: #GP(0) when it is not canonical. */
function branchMeta(t: Translation, target: number): Translation {
  t.target = target;
  return meta(t, t.flow === Flow.Branch, FlagWrite.None, !isCanonical(target));
}

function translatePrimary64(r: CodeReader, o: LongOperands, op: number, c: LongContext): Translation | undefined {
  const os = o.os;
  const seq = (code: string): Translation => ({ code, flow: Flow.Next });
  const store = (code: string): Translation => ({ code, flow: o.isMem ? Flow.Store : Flow.Next });
  const jump = (code: string): Translation => ({ code, flow: Flow.Jump });
  /** No flag touched; faults only through its memory operand. */
  const plain = (t: Translation): Translation => meta(t, false, FlagWrite.None, o.isMem);
  /** No flag touched, may fault (the stack, a computed RIP). */
  const faulting = (t: Translation): Translation => meta(t, false, FlagWrite.None, true);
  /** d64 forms with a 16-bit operand size are left to the interpreter. */
  const narrowStack = o.prefix66 && !o.rexW;
  const cf = carryExpr64(c.flags);

  if (op < 0x40 && (op & 7) < 6) {
    // ALU Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / rAX,Iz.
    const aop = op >> 3;
    const size = op & 1 ? os : 8;
    const reads = aop === ALU_ADC || aop === ALU_SBB;
    const kind = size === 64 ? aluKind64(aop) : aluKind(aop, size);
    switch (op & 7) {
      case 0: case 1: {
        decodeModrm64(r, o);
        const R = o.regNum;
        if (size === 64) {
          const [b, bHi] = reg64(R);
          return meta(store(`{ ${eaDecl(o)}${rmRead64(o, 'a')}${alu64To(aop, 'a', 'aHi', b, bHi, cf, (lo, hi) => rmWrite64(o, lo, hi))} }`),
            reads, FlagWrite.All, o.isMem, kind);
        }
        return meta(store(`{ ${eaDecl(o)}${aluTo(aop, size, rmRead(o, size), regRead(o, size, R), (v) => rmWrite(o, size, v), cf)} }`),
          reads, FlagWrite.All, o.isMem, kind);
      }
      case 2: case 3: {
        decodeModrm64(r, o);
        const R = o.regNum;
        if (size === 64) {
          const [a, aHi] = reg64(R);
          return meta(seq(`{ ${eaDecl(o)}${rmRead64(o, 'b')}${alu64To(aop, a, aHi, 'b', 'bHi', cf, (lo, hi) => regWrite64(R, lo, hi))} }`),
            reads, FlagWrite.All, o.isMem, kind);
        }
        return meta(seq(`{ ${eaDecl(o)}${aluTo(aop, size, regRead(o, size, R), rmRead(o, size), (v) => regWrite(o, size, R, v), cf)} }`),
          reads, FlagWrite.All, o.isMem, kind);
      }
      default: {
        const imm = readImm(r, size);
        if (typeof imm !== 'string') {
          const [a, aHi] = reg64(0);
          return meta(seq(alu64To(aop, a, aHi, imm[0], imm[1], cf, (lo, hi) => regWrite64(0, lo, hi))), reads, FlagWrite.All, false, kind);
        }
        return meta(seq(aluTo(aop, size, regRead(o, size, 0), imm, (v) => regWrite(o, size, 0, v), cf)), reads, FlagWrite.All, false, kind);
      }
    }
  }
  if (op >= 0x50 && op < 0x58) { // PUSH r64
    if (narrowStack) return undefined;
    const [lo, hi] = reg64((op & 7) | o.rexB);
    return faulting({ code: push64(o, lo, hi), flow: Flow.Store });
  }
  if (op >= 0x58 && op < 0x60) { // POP r64: RSP moves before the register is written
    if (narrowStack) return undefined;
    const R = (op & 7) | o.rexB;
    return faulting(seq(`{ ${pop64(o, 'v')}g[${R}] = v; h[${R}] = vHi; }`));
  }
  if (op >= 0x70 && op < 0x80) { // Jcc rel8: a side exit
    if (o.prefix66) return undefined;
    const rel = r.s8();
    return branchMeta({ code: '', flow: Flow.Branch, cond: condExpr64(op & 0xf, c.flags) }, c.next() + rel);
  }
  if (op >= 0x90 && op < 0x98) { // NOP; XCHG r, rAX (90 with REX.B is XCHG R8, rAX)
    const R = (op & 7) | o.rexB;
    if (R === 0) return plain(seq(''));
    if (os === 64) return plain(seq(`{ const t = g[${R}], tHi = h[${R}]; g[${R}] = g[0]; h[${R}] = h[0]; g[0] = t; h[0] = tHi; }`));
    return plain(seq(`{ const t = ${regRead(o, os, R)}; ${regWrite(o, os, R, regRead(o, os, 0))} ${regWrite(o, os, 0, 't')} }`));
  }
  if (op >= 0xb0 && op < 0xb8) return plain(seq(regWrite(o, 8, (op & 7) | o.rexB, String(r.u8()))));
  if (op >= 0xb8 && op < 0xc0) { // MOV r, imm (REX.W: the full imm64)
    const R = (op & 7) | o.rexB;
    if (os === 64) {
      const lo = r.u32();
      return plain(seq(regWrite64(R, String(lo), String(r.u32() | 0))));
    }
    return plain(seq(regWrite(o, os, R, String(r.imm(os)))));
  }

  switch (op) {
    case 0x63: { // MOVSXD r64, r/m32; without REX.W a plain move
      decodeModrm64(r, o);
      const R = o.regNum;
      if (os === 64) return plain(seq(`{ ${eaDecl(o)}const v = ${rmRead(o, 32)}; g[${R}] = v; h[${R}] = (v | 0) >> 31; }`));
      return plain(seq(`{ ${eaDecl(o)}${regWrite(o, os, R, rmRead(o, os))} }`));
    }
    case 0x68: case 0x6a: { // PUSH imm32 / imm8, sign-extended to 64 bits
      if (narrowStack) return undefined;
      const [lo, hi] = imm64(op === 0x68 ? r.u32() : r.s8());
      return faulting({ code: push64(o, lo, hi), flow: Flow.Store });
    }
    case 0x69: case 0x6b: { // IMUL Gv, Ev, Iz/Ib
      decodeModrm64(r, o);
      const R = o.regNum;
      if (os === 64) {
        const [lo, hi] = imm64(op === 0x69 ? r.u32() : r.s8());
        return meta(seq(`{ ${eaDecl(o)}${rmRead64(o, 'a')}const v = imulTrunc64(cpu, a, aHi, ${lo}, ${hi}); g[${R}] = v; h[${R}] = cpu.hi; }`),
          false, FlagWrite.All, o.isMem);
      }
      const imm = op === 0x69 ? r.imm(os) : (signExtendConst(r.u8(), 8) & maskOfSize(os)) >>> 0;
      if (os === 32) return meta(seq(`{ ${eaDecl(o)}${imulTrunc32(rmRead(o, os), String(imm), (v) => regWrite(o, os, R, v))} }`), false, FlagWrite.All, o.isMem);
      return meta(seq(`{ ${eaDecl(o)}${regWrite(o, os, R, `imulTrunc(cpu, ${os}, ${rmRead(o, os)}, ${imm})`)} }`), false, FlagWrite.All, o.isMem);
    }
    case 0x80: case 0x81: case 0x83: { // group 1 (82 is invalid in 64-bit mode)
      const size = op === 0x80 ? 8 : os;
      decodeModrm64(r, o);
      const aop = o.reg;
      const reads = aop === ALU_ADC || aop === ALU_SBB;
      if (size === 64) {
        const [lo, hi] = imm64(op === 0x81 ? r.u32() : r.s8());
        return meta(store(`{ ${eaDecl(o)}${rmRead64(o, 'a')}${alu64To(aop, 'a', 'aHi', lo, hi, cf, (l, h) => rmWrite64(o, l, h))} }`),
          reads, FlagWrite.All, o.isMem, aluKind64(aop));
      }
      const imm = op === 0x81 ? r.imm(size) : op === 0x83 ? (signExtendConst(r.u8(), 8) & maskOfSize(size)) >>> 0 : r.u8();
      return meta(store(`{ ${eaDecl(o)}${aluTo(aop, size, rmRead(o, size), String(imm), (v) => rmWrite(o, size, v), cf)} }`),
        reads, FlagWrite.All, o.isMem, aluKind(aop, size));
    }
    case 0x84: case 0x85: { // TEST
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      if (size === 64) {
        const [b, bHi] = reg64(o.regNum);
        return meta(seq(`{ ${eaDecl(o)}${rmRead64(o, 'a')}${alu64To(ALU_AND, 'a', 'aHi', b, bHi, cf)} }`), false, FlagWrite.All, o.isMem, LazyKind64.Logic);
      }
      return meta(seq(`{ ${eaDecl(o)}${aluTo(ALU_AND, size, rmRead(o, size), regRead(o, size, o.regNum), () => '')} }`),
        false, FlagWrite.All, o.isMem, aluKind(ALU_AND, size));
    }
    case 0x86: case 0x87: { // XCHG r/m, r
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      const R = o.regNum;
      if (size === 64) {
        const [b, bHi] = reg64(R);
        return plain(store(`{ ${eaDecl(o)}${rmRead64(o, 'a')}${rmWrite64(o, b, bHi)} ${regWrite64(R, 'a', 'aHi')} }`));
      }
      return plain(store(`{ ${eaDecl(o)}const a = ${rmRead(o, size)}; ${rmWrite(o, size, regRead(o, size, R))} ${regWrite(o, size, R, 'a')} }`));
    }
    case 0x88: case 0x89: {
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      const R = o.regNum;
      if (size === 64) {
        const [b, bHi] = reg64(R);
        return plain(store(`{ ${eaDecl(o)}${rmWrite64(o, b, bHi)} }`));
      }
      return plain(store(`{ ${eaDecl(o)}${rmWrite(o, size, regRead(o, size, R))} }`));
    }
    case 0x8a: case 0x8b: {
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      const R = o.regNum;
      if (size === 64) return plain(seq(`{ ${eaDecl(o)}${rmRead64(o, 'v')}${regWrite64(R, 'v', 'vHi')} }`));
      return plain(seq(`{ ${eaDecl(o)}${regWrite(o, size, R, rmRead(o, size))} }`));
    }
    case 0x8d: { // LEA: the exact low half (and at 64 bits the high half) of the address
      decodeModrm64(r, o);
      if (!o.isMem) return undefined;
      const R = o.regNum;
      if (os === 64) {
        // The int32 halves of the address where the TLB test has them (regPlus: no double).
        if (o.at.halves !== '') return meta(seq(`{ ${o.at.halves}; g[${R}] = ml; h[${R}] = mh; }`), false, FlagWrite.None, false);
        return meta(seq(`{ const lo = ${o.eaLo}; g[${R}] = lo; h[${R}] = (${o.eaHi} + Math.floor(lo / 4294967296)) | 0; }`), false, FlagWrite.None, false);
      }
      return meta(seq(regWrite(o, os, R, o.eaLo)), false, FlagWrite.None, false);
    }
    case 0x98: // CBW / CWDE / CDQE
      if (os === 16) return plain(seq(regWrite(o, 16, 0, '((g[0] << 24) >> 24)')));
      if (os === 32) return plain(seq('g[0] = (g[0] << 16) >> 16; h[0] = 0;'));
      return plain(seq('h[0] = g[0] >> 31;'));
    case 0x99: // CWD / CDQ / CQO
      if (os === 16) return plain(seq(regWrite(o, 16, 2, '(g[0] & 0x8000 ? 0xffff : 0)')));
      if (os === 32) return plain(seq('g[2] = g[0] >> 31; h[2] = 0;'));
      return plain(seq('{ const sign = h[0] >> 31; g[2] = sign; h[2] = sign; }'));
    case 0xa8: return meta(seq(aluTo(ALU_AND, 8, regRead(o, 8, 0), String(r.u8()), () => '')), false, FlagWrite.All, false);
    case 0xa9: {
      const imm = readImm(r, os);
      if (typeof imm !== 'string') return meta(seq(alu64To(ALU_AND, '(g[0] >>> 0)', 'h[0]', imm[0], imm[1], cf)), false, FlagWrite.All, false, LazyKind64.Logic);
      return meta(seq(aluTo(ALU_AND, os, regRead(o, os, 0), imm, () => '')), false, FlagWrite.All, false, aluKind(ALU_AND, os));
    }
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: { // group 2
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      const countMask = size === 64 ? 0x3f : 0x1f;
      const n = op <= 0xc1 ? r.u8() & countMask : op <= 0xd1 ? 1 : -1;
      // The rotates keep SF ZF AF PF: they read the flags before them. By CL the count may be
      // 0: then every flag passes through (Some, not All).
      const reads = o.reg < 2;
      const writes = o.reg < 2 || n < 0 ? FlagWrite.Some : FlagWrite.All;
      if (n > 0 && (size === 64 || size === 32)) {
        const code = size === 64
          ? shiftImm64(o.reg, n, (lo, hi) => rmWrite64(o, lo, hi))
          : shiftImm32(o.reg, n, rmRead(o, size), (v) => rmWrite(o, size, v));
        if (code !== undefined) {
          const t = meta(store(`{ ${eaDecl(o)}${size === 64 ? rmRead64(o, 'a') : ''}${code} }`), reads, writes, o.isMem);
          if (reads) t.mergesFlags = true;
          return t;
        }
      }
      if ((size === 16 || size === 8) && n > 0) {
        const code = shiftImmNarrow(o.reg, size, n, rmRead(o, size), (v) => rmWrite(o, size, v));
        if (code !== undefined) return meta(store(`{ ${eaDecl(o)}${code} }`), false, FlagWrite.All, o.isMem);
      }
      if (size === 32 && n < 0) {
        const code = shiftCl32(o.reg, rmRead(o, size), (v) => rmWrite(o, size, v));
        if (code !== undefined) return meta(store(`{ ${eaDecl(o)}${code} }`), false, writes, o.isMem);
      }
      const count = n >= 0 ? String(n) : `(g[1] & ${countMask})`;
      if (size === 64) {
        return store(`{ ${eaDecl(o)}${rmRead64(o, 'a')}const v = shift64(cpu, ${o.reg}, a, aHi, ${count}); ${rmWrite64(o, 'v', 'cpu.hi')} }`);
      }
      return store(`{ ${eaDecl(o)}const a = ${rmRead(o, size)}; ${rmWrite(o, size, `shift(cpu, ${o.reg}, ${size}, a, ${count})`)} }`);
    }
    case 0xc2: case 0xc3: { // RET [imm16]: read, set RIP (may #GP), then move RSP
      if (narrowStack) return undefined;
      const n = op === 0xc2 ? r.u16() : 0;
      return faulting(jump(`{ ${memRead64(o, SegReg.SS, 'ip', regPlus(4, 0))}cpu.setRip(ipHi * 4294967296 + ip); ${addRsp(8 + n)} }`));
    }
    case 0xc6: case 0xc7: { // MOV Eb/Ev, Ib/Iz
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      if (o.reg !== 0) return undefined;
      const imm = readImm(r, size);
      if (typeof imm !== 'string') return plain(store(`{ ${eaDecl(o)}${rmWrite64(o, imm[0], imm[1])} }`));
      return plain(store(`{ ${eaDecl(o)}${rmWrite(o, size, imm)} }`));
    }
    case 0xc9: // LEAVE: RSP = RBP, pop RBP
      if (narrowStack) return undefined;
      return faulting(seq(`{ ${memRead64(o, SegReg.SS, 'v', regPlus(5, 0))}` +
        `g[4] = (g[5] + 8) | 0; h[4] = (h[5] + ((g[4] >>> 0) < 8 ? 1 : 0)) | 0; g[5] = v; h[5] = vHi; }`));
    case 0xe8: { // CALL rel32
      if (o.prefix66) return undefined;
      const rel = r.u32() | 0;
      const next = c.next();
      const [lo, hi] = ripHalves(next);
      return faulting(jump(`${push64(o, lo, hi)} ${setRipConst(next + rel)}`));
    }
    case 0xe9: case 0xeb: {
      if (o.prefix66) return undefined;
      const rel = op === 0xe9 ? r.u32() | 0 : r.s8();
      const target = c.next() + rel;
      return branchMeta(jump(setRipConst(target)), target);
    }
    case 0xfc: case 0xfd: return meta(seq(FLAG_OPS[op]!), false, FlagWrite.None, false); // DF only
    case 0xf5: case 0xf8: case 0xf9: return meta(seq(FLAG_OPS[op]!), true, FlagWrite.Some, false);
    case 0xf6: case 0xf7: return group3(r, o, op & 1 ? os : 8, c);
    case 0xfe: { // INC/DEC Eb
      decodeModrm64(r, o);
      if (o.reg > 1) return undefined;
      return meta(store(`{ ${eaDecl(o)}${incDec(o.reg === 1, 8, rmRead(o, 8), (v) => rmWrite(o, 8, v), c.flags)} }`), true, FlagWrite.Some, o.isMem);
    }
    case 0xff: return group5(r, o, c);
    default: return undefined;
  }
}

function group3(r: CodeReader, o: LongOperands, size: number, c: LongContext): Translation | undefined {
  decodeModrm64(r, o);
  const ea = eaDecl(o);
  const seq = (code: string): Translation => ({ code: `{ ${ea}${code} }`, flow: Flow.Next });
  const store = (code: string): Translation => ({ code: `{ ${ea}${code} }`, flow: o.isMem ? Flow.Store : Flow.Next });
  const cf = carryExpr64(c.flags);
  if (size === 64) {
    const a = rmRead64(o, 'a');
    switch (o.reg) {
      case 0: case 1: {
        const [lo, hi] = imm64(r.u32());
        return meta(seq(`${a}${alu64To(ALU_AND, 'a', 'aHi', lo, hi, cf)}`), false, FlagWrite.All, o.isMem, LazyKind64.Logic);
      }
      case 2: return meta(store(`${a}${rmWrite64(o, '~a >>> 0', '~aHi')}`), false, FlagWrite.None, o.isMem);
      case 3: return meta(store(`${a}${alu64To(5, '0', '0', 'a', 'aHi', cf, (lo, hi) => rmWrite64(o, lo, hi))}`), false, FlagWrite.All, o.isMem, LazyKind64.Sub);
      case 4: return meta(seq(`${a}mulAcc64(cpu, a, aHi);`), false, FlagWrite.All, o.isMem);
      case 5: return meta(seq(`${a}imulAcc64(cpu, a, aHi);`), false, FlagWrite.All, o.isMem);
      case 6: return seq(`${a}divAcc64(cpu, a, aHi);`);
      default: return seq(`${a}idivAcc64(cpu, a, aHi);`);
    }
  }
  switch (o.reg) {
    case 0: case 1:
      return meta(seq(aluTo(ALU_AND, size, rmRead(o, size), String(r.imm(size)), () => '')), false, FlagWrite.All, o.isMem, aluKind(ALU_AND, size));
    case 2: return meta(store(rmWrite(o, size, `~${rmRead(o, size)} & ${maskOfSize(size)}`)), false, FlagWrite.None, o.isMem);
    case 3: return meta(store(rmWrite(o, size, `neg(cpu, ${size}, ${rmRead(o, size)})`)), false, FlagWrite.All, o.isMem,
      size === 32 ? LazyKind.Sub : undefined);
    case 4: case 5:
      // A 32-bit MUL/IMUL zero-extends RAX and RDX.
      if (size === 32) return meta(seq(`${mulAcc32(o.reg === 5, rmRead(o, size))} h[0] = 0; h[2] = 0;`), false, FlagWrite.All, o.isMem);
      return meta(seq(`${o.reg === 4 ? 'mulAcc' : 'imulAcc'}(cpu, ${size}, ${rmRead(o, size)});`), false, FlagWrite.All, o.isMem);
    case 6: return seq(`divAcc(cpu, ${size}, ${rmRead(o, size)});`);
    default: return seq(`idivAcc(cpu, ${size}, ${rmRead(o, size)});`);
  }
}

function group5(r: CodeReader, o: LongOperands, c: LongContext): Translation | undefined {
  const os = o.os;
  decodeModrm64(r, o);
  const ea = eaDecl(o);
  const narrowStack = o.prefix66 && !o.rexW;
  const faulting = (t: Translation): Translation => meta(t, false, FlagWrite.None, true);
  switch (o.reg) {
    case 0: case 1: { // INC/DEC Ev
      const isDec = o.reg === 1;
      const flow = o.isMem ? Flow.Store : Flow.Next;
      if (os === 64) {
        return meta({ code: `{ ${ea}${rmRead64(o, 'a')}${incDec64(isDec, 'a', 'aHi', (lo, hi) => rmWrite64(o, lo, hi), c.flags)} }`, flow },
          true, FlagWrite.Some, o.isMem, isDec ? LazyKind64.Dec : LazyKind64.Inc);
      }
      return meta({ code: `{ ${ea}${incDec(isDec, os, rmRead(o, os), (v) => rmWrite(o, os, v), c.flags)} }`, flow },
        true, FlagWrite.Some, o.isMem, os === 32 ? (isDec ? LazyKind.Dec : LazyKind.Inc) : undefined);
    }
    case 2: { // CALL r/m64: the target is read before the push
      if (narrowStack) return undefined;
      const [lo, hi] = ripHalves(c.next());
      return faulting({ code: `{ ${ea}${rmRead64(o, 't')}${push64(o, lo, hi)} cpu.setRip(tHi * 4294967296 + t); }`, flow: Flow.Jump });
    }
    case 4: // JMP r/m64
      if (narrowStack) return undefined;
      return faulting({ code: `{ ${ea}${rmRead64(o, 't')}cpu.setRip(tHi * 4294967296 + t); }`, flow: Flow.Jump });
    case 6: // PUSH r/m64
      if (narrowStack) return undefined;
      return faulting({ code: `{ ${ea}${rmRead64(o, 'v')}${push64(o, 'v', 'vHi')} }`, flow: Flow.Store });
    default:
      return undefined; // far CALL/JMP, #UD
  }
}

function translate0f64(r: CodeReader, o: LongOperands, op: number, c: LongContext): Translation | undefined {
  const os = o.os;
  const seq = (code: string): Translation => ({ code, flow: Flow.Next });
  const store = (code: string): Translation => ({ code, flow: o.isMem ? Flow.Store : Flow.Next });
  const plain = (t: Translation): Translation => meta(t, false, FlagWrite.None, o.isMem);
  if (op >= 0x80 && op < 0x90) { // Jcc rel32: a side exit
    if (o.prefix66) return undefined;
    const rel = r.u32() | 0;
    return branchMeta({ code: '', flow: Flow.Branch, cond: condExpr64(op & 0xf, c.flags) }, c.next() + rel);
  }
  if (op >= 0x90 && op < 0xa0) { // SETcc
    decodeModrm64(r, o);
    return meta(store(`{ ${eaDecl(o)}${rmWrite(o, 8, `${condExpr64(op & 0xf, c.flags)} ? 1 : 0`)} }`), true, FlagWrite.None, o.isMem);
  }
  if (op >= 0x40 && op < 0x50) { // CMOVcc: the source is read whether or not it moves
    decodeModrm64(r, o);
    const R = o.regNum;
    const cc = condExpr64(op & 0xf, c.flags);
    if (os === 64) return meta(seq(`{ ${eaDecl(o)}${rmRead64(o, 'v')}if (${cc}) { ${regWrite64(R, 'v', 'vHi')} } }`), true, FlagWrite.None, o.isMem);
    // A 32-bit CMOV zero-extends its destination even when the condition is false.
    if (os === 32) return meta(seq(`{ ${eaDecl(o)}const v = ${rmRead(o, 32)}; if (${cc}) g[${R}] = v; h[${R}] = 0; }`), true, FlagWrite.None, o.isMem);
    return meta(seq(`{ ${eaDecl(o)}const v = ${rmRead(o, 16)}; if (${cc}) { ${regWrite(o, 16, R, 'v')} } }`), true, FlagWrite.None, o.isMem);
  }
  if (op >= 0xc8 && op < 0xd0) { // BSWAP
    const R = (op & 7) | o.rexB;
    if (os === 64) return plain(seq(`{ const v = bswap64(cpu, g[${R}], h[${R}]); g[${R}] = v; h[${R}] = cpu.hi; }`));
    if (os === 16) return plain(seq(regWrite(o, 16, R, '0'))); // undefined; zeroed as the interpreter does
    return plain(seq(`{ const v = g[${R}]; g[${R}] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24); h[${R}] = 0; }`));
  }
  switch (op) {
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f: // hint NOPs
      decodeModrm64(r, o);
      return meta(seq(''), false, FlagWrite.None, false);
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
      if (os === 64) {
        return meta(seq(`{ ${eaDecl(o)}${rmRead64(o, 'b')}const v = imulTrunc64(cpu, g[${R}] >>> 0, h[${R}], b, bHi); g[${R}] = v; h[${R}] = cpu.hi; }`),
          false, FlagWrite.All, o.isMem);
      }
      if (os === 32) return meta(seq(`{ ${eaDecl(o)}${imulTrunc32(regRead(o, os, R), rmRead(o, os), (v) => regWrite(o, os, R, v))} }`), false, FlagWrite.All, o.isMem);
      return meta(seq(`{ ${eaDecl(o)}${regWrite(o, os, R, `imulTrunc(cpu, ${os}, ${regRead(o, os, R)}, ${rmRead(o, os)})`)} }`), false, FlagWrite.All, o.isMem);
    }
    case 0xb0: case 0xb1: { // CMPXCHG: the destination is always written (a locked cycle)
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      const R = o.regNum;
      if (size === 64) {
        const [src, srcHi] = reg64(R);
        return meta(store(`{ ${eaDecl(o)}${rmRead64(o, 'd')}const acc = g[0] >>> 0, accHi = h[0]; alu64(cpu, 7, acc, accHi, d, dHi); ` +
          `if (acc === d && accHi === dHi) { ${rmWrite64(o, src, srcHi)} } else { ${rmWrite64(o, 'd', 'dHi')} g[0] = d; h[0] = dHi; } }`),
          false, FlagWrite.All, o.isMem, LazyKind64.Sub);
      }
      return meta(store(`{ ${eaDecl(o)}const d = ${rmRead(o, size)}; const acc = ${regRead(o, size, 0)}; alu(cpu, 7, ${size}, acc, d); ` +
        `if (acc === d) { ${rmWrite(o, size, regRead(o, size, R))} } else { ${rmWrite(o, size, 'd')} ${regWrite(o, size, 0, 'd')} } }`),
        false, FlagWrite.All, o.isMem, size === 32 ? LazyKind.Sub : undefined);
    }
    case 0xb6: case 0xb7: { // MOVZX
      decodeModrm64(r, o);
      const from = op & 1 ? 16 : 8;
      const R = o.regNum;
      if (os === 64) return plain(seq(`{ ${eaDecl(o)}g[${R}] = ${rmRead(o, from)}; h[${R}] = 0; }`));
      return plain(seq(`{ ${eaDecl(o)}${regWrite(o, os, R, rmRead(o, from))} }`));
    }
    case 0xbe: case 0xbf: { // MOVSX
      const from = op & 1 ? 16 : 8;
      decodeModrm64(r, o);
      const R = o.regNum;
      if (os === 64) return plain(seq(`{ ${eaDecl(o)}const v = signExtend(${rmRead(o, from)}, ${from}); g[${R}] = v; h[${R}] = v >> 31; }`));
      return plain(seq(`{ ${eaDecl(o)}${regWrite(o, os, R, `signExtend(${rmRead(o, from)}, ${from}) & ${maskOfSize(os)}`)} }`));
    }
    case 0xc0: case 0xc1: { // XADD
      const size = op & 1 ? os : 8;
      decodeModrm64(r, o);
      const R = o.regNum;
      if (size === 64) {
        return meta(store(`{ ${eaDecl(o)}${rmRead64(o, 'd')}const sum = alu64(cpu, 0, d, dHi, g[${R}] >>> 0, h[${R}]); ` +
          `${rmWrite64(o, 'sum', 'cpu.hi')} ${regWrite64(R, 'd', 'dHi')} }`), false, FlagWrite.All, o.isMem, LazyKind64.Add);
      }
      return meta(store(`{ ${eaDecl(o)}const d = ${rmRead(o, size)}; const sum = alu(cpu, 0, ${size}, d, ${regRead(o, size, R)}); ` +
        `${rmWrite(o, size, 'sum')} ${regWrite(o, size, R, 'd')} }`), false, FlagWrite.All, o.isMem, size === 32 ? LazyKind.Add : undefined);
    }
    default:
      return undefined;
  }
}
