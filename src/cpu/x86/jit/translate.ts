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
import { Sensitive } from '../cpu.js';
import { isTranslatedString, translateString } from './translate-strings.js';
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
  /**
   * A conditional branch (Jcc): when `cond` holds, the block leaves for `target` (a side
   * exit); otherwise it goes on with the next instruction.
   */
  Branch,
}

/** How much of the six arithmetic flags (OF SF ZF AF PF CF) an instruction replaces. */
export const enum FlagWrite {
  None = 0,
  /** Some of them, or not known (the default). */
  Some = 1,
  /** All six, whatever they were. */
  All = 2,
}

/**
 * What the lazy flags hold after a translated operation, so that the instructions after it in
 * the block can read a flag straight from `L`: 32-bit results (values of flags.ts LazyOp),
 * and 8- and 16-bit ALU results, whose `L.a`, `L.b` and `L.r` are masked to their size
 * (translate64.ts's LazyKind64 takes 6-10).
 */
export const enum LazyKind {
  Add = 1,
  Sub = 2,
  Logic = 3,
  Inc = 4,
  Dec = 5,
  Add8 = 11,
  Sub8 = 12,
  Logic8 = 13,
  Add16 = 14,
  Sub16 = 15,
  Logic16 = 16,
}

/**
 * The lazy-flag operands of `kind` as int32 expressions with the operation's sign bit at bit
 * 31 (8- and 16-bit values shifted up), so that one set of formulas serves every size; and
 * the kind at 32 bits. Undefined for kinds other than ADD, SUB and logic results.
 */
function aluOperands(kind: number | undefined): { a: string; b: string; r: string; kind32: LazyKind } | undefined {
  if (kind === LazyKind.Add || kind === LazyKind.Sub || kind === LazyKind.Logic) return { a: 'L.a', b: 'L.b', r: 'L.r', kind32: kind };
  if (kind === undefined || kind < LazyKind.Add8 || kind > LazyKind.Logic16) return undefined;
  const up = kind >= LazyKind.Add16 ? 16 : 24;
  const kind32 = (kind - (kind >= LazyKind.Add16 ? LazyKind.Add16 : LazyKind.Add8) + LazyKind.Add) as LazyKind;
  return { a: `(L.a << ${up})`, b: `(L.b << ${up})`, r: `(L.r << ${up})`, kind32 };
}

/** The carry (ADD) or borrow (SUB) out of the top bit of `x`'s operands: the sign bit of this int32 expression. */
function carryWord(x: { a: string; b: string; r: string; kind32: LazyKind }): string {
  const { a, b, r } = x;
  return x.kind32 === LazyKind.Add ? `((${a} & ${b}) | ((${a} | ${b}) & ~${r}))` : `((~${a} & ${b}) | ((~${a} | ${b}) & ${r}))`;
}

/**
 * A translated instruction. The optional fields describe it for the block compiler (dead flag
 * stores, block-known lazy flags); left out, they take the safe answer.
 */
export interface Translation {
  code: string;
  flow: Flow;
  /** Whether it reads any arithmetic flag (default true). */
  readsFlags?: boolean;
  /** The arithmetic flags it replaces (default Some). */
  writesFlags?: FlagWrite;
  /** Whether it may throw a fault (default true). A false here must be certain. */
  mayFault?: boolean;
  /**
   * Set when it reads the flags only to keep those it does not write (ROL/ROR) and all its
   * flag code is in flagStore markers: then, when a later instruction replaces all six before
   * anything sees them, its flag code is dropped and it reads nothing.
   */
  mergesFlags?: boolean;
  /** The lazy flags it leaves, when known (a 32-bit operation; translate64.ts adds its LazyKind64), else undefined. */
  lazy?: number;
  /**
   * Set when it may leave EIP pointing at itself, not finished (a REP string instruction cut
   * into chunks): the block compiler sets EIP to the next instruction before it and, when it
   * finds EIP moved back, ends the block there with the instruction retired.
   */
  mayRestart?: boolean;
  /** Flow.Branch: the condition, as an expression. */
  cond?: string;
  /** Flow.Branch, and a Flow.Jump to a constant address: where it goes. */
  target?: number;
}

/** `t` with its description for the block compiler. */
export function meta(t: Translation, readsFlags: boolean, writesFlags: FlagWrite, mayFault: boolean, lazy?: number): Translation {
  t.readsFlags = readsFlags;
  t.writesFlags = writesFlags;
  t.mayFault = mayFault;
  if (lazy !== undefined) t.lazy = lazy;
  return t;
}

/** What a translator knows about the instruction's place and the code segment. */
export interface InsnContext {
  /** EIP of the instruction's first byte. */
  eip: number;
  /** EIP after the instruction; valid once all its bytes are read. */
  next(): number;
  /** SS.B: 32-bit stack pointer. */
  ss32: boolean;
  /** What the lazy flags hold before the instruction (LazyKind), or -1 when not known here. */
  flags?: number;
}

const ALU_CMP = 7;
const ALU_AND = 4;
const ALU_ADC = 2;
const ALU_SBB = 3;

/** JS operator and LazyOp (flags.ts: Add 1, Sub 2, Logic 3) of the ALU ops inlined. */
const INLINE_ALU: Record<number, [string, number]> = {
  0: ['+', 1], 1: ['|', 3], 4: ['&', 3], 5: ['-', 2], 6: ['^', 3], 7: ['-', 2],
};

/** Wraps the statements that store flags, so that the block compiler can drop them when dead. */
export function flagStore(code: string): string {
  return `/*F{*/ ${code} /*}F*/`;
}

/**
 * One ALU op on operands `a` and `b`; stores the result unless it is CMP. ADD, SUB, CMP and
 * the logic ops are inlined — result and lazy flags exactly as alu() computes them (`L` is
 * cpu.lazy); so are ADC and SBB when `cf` gives the carry in as an expression, else they call
 * alu().
 */
export function aluTo(aop: number, size: number, a: string, b: string, store: (v: string) => string, cf?: string): string {
  let inline = INLINE_ALU[aop];
  let carry = '';
  if (inline === undefined && cf !== undefined && (aop === ALU_ADC || aop === ALU_SBB)) {
    inline = aop === ALU_ADC ? ['+', 1] : ['-', 2];
    carry = ` ${inline[0]} c`;
  }
  if (inline === undefined) return store(`alu(cpu, ${aop}, ${size}, ${a}, ${b})`);
  const [operator, lazyOp] = inline;
  const mask = maskOfSize(size);
  const sign = size === 32 ? 0x80000000 : size === 16 ? 0x8000 : 0x80;
  const r = size === 32 ? `(a ${operator} b${carry}) >>> 0` : `(a ${operator} b${carry}) & ${mask}`;
  return `{ const a = ${a}, b = ${b}${carry === '' ? '' : `, c = ${cf}`}, r = ${r}; ` +
    flagStore(`L.op = ${lazyOp}; L.a = a; L.b = b; L.r = r; L.sign = ${sign}; L.mask = ${mask};`) +
    ` ${aop === ALU_CMP ? '' : store('r')} }`;
}

/** The lazy flags an inlined ALU op (aluTo) leaves at `size` bits. */
export function aluKind(aop: number, size: number): LazyKind {
  const kind = aop === 0 || aop === ALU_ADC ? LazyKind.Add : aop === 5 || aop === 7 || aop === ALU_SBB ? LazyKind.Sub : LazyKind.Logic;
  if (size === 32) return kind;
  return kind - LazyKind.Add + (size === 16 ? LazyKind.Add16 : LazyKind.Add8);
}

/** CF as an expression (0 or 1), given what the lazy flags hold (LazyKind, or -1). */
export function carryExpr(kind: number | undefined): string {
  if (kind === LazyKind.Inc || kind === LazyKind.Dec) return '(s.eflags & 1)';
  const x = aluOperands(kind);
  if (x === undefined) return 'cpu.getCF()';
  return x.kind32 === LazyKind.Logic ? '0' : `(${carryWord(x)} >>> 31)`;
}

/**
 * Condition `cc` (Jcc/SETcc/CMOVcc's low nibble) as an expression: read straight from the
 * lazy flags when the block knows what they hold (the formulas of flags.ts), else through
 * cpu.condition.
 */
export function condExpr(cc: number, kind: number | undefined): string {
  const z = '(L.r === 0)';
  let e: (string | undefined)[] = [];
  const x = aluOperands(kind);
  if (x !== undefined) {
    const { a, b, r } = x;
    const sf = `((${r} | 0) < 0)`;
    if (x.kind32 === LazyKind.Logic) {
      e = ['false', 'false', z, z, sf, undefined, sf, `(${z} || ${sf})`];
    } else {
      const add = x.kind32 === LazyKind.Add;
      const of = add ? `((${a} ^ ${r}) & (${b} ^ ${r}))` : `((${a} ^ ${b}) & (${a} ^ ${r}))`;
      const cf = `(${carryWord(x)} < 0)`;
      const less = `((${r} ^ ${of}) < 0)`;
      e = [`(${of} < 0)`, cf, z, `(${cf} || ${z})`, sf, undefined, less, `(${z} || ${less})`];
    }
  } else if (kind === LazyKind.Inc || kind === LazyKind.Dec) {
    const sf = '((L.r | 0) < 0)';
    const of = kind === LazyKind.Inc ? '(L.r === 2147483648)' : '(L.r === 2147483647)';
    const less = `(${sf} !== ${of})`;
    e = [of, undefined, z, undefined, sf, undefined, less, `(${z} || ${less})`];
  }
  const c = e[cc >> 1];
  if (c === undefined) return `cpu.condition(${cc})`;
  return cc & 1 ? `!${c}` : c;
}

/** The statement setting the arithmetic flags eagerly (X86Cpu.setArithFlags) from SF ZF PF of the 32-bit `r` and `rest` (CF, OF bits). */
function eagerFlags32(r: string, rest: string): string {
  return flagStore(`s.eflags = (s.eflags & ${~0x8d5}) | PARITY[${r} & 255] | (${r} === 0 ? 64 : 0) | ((${r} >>> 24) & 128) | ${rest}; L.op = 0;`);
}

/**
 * INC/DEC of `a` at `size` bits, stored by `store`: as inc()/dec() with X86Cpu.setLazy — CF
 * is frozen into eflags before the lazy flags are replaced (INC and DEC keep it).
 */
export function incDec(isDec: boolean, size: number, a: string, store: (v: string) => string, kind: number | undefined): string {
  const mask = maskOfSize(size);
  const sign = size === 32 ? 0x80000000 : size === 16 ? 0x8000 : 0x80;
  const op = isDec ? '-' : '+';
  const r = size === 32 ? `(a ${op} 1) >>> 0` : `(a ${op} 1) & ${mask}`;
  let freeze: string;
  if (kind === LazyKind.Inc || kind === LazyKind.Dec) freeze = '';
  else if (aluOperands(kind) !== undefined) freeze = `s.eflags = (s.eflags & -2) | ${carryExpr(kind)}; `;
  else freeze = 'if (L.op !== 0) s.eflags = (s.eflags & -2) | L.carry(s.eflags); ';
  return `{ const a = ${a}, r = ${r}; ${freeze}L.op = ${isDec ? 5 : 4}; L.a = a; L.b = 1; L.r = r; L.sign = ${sign}; L.mask = ${mask}; ${store('r')} }`;
}

/** 32-bit MUL/IMUL r/m (group 3 /4 /5) of EAX by `src`: EDX:EAX exact (16-bit limbs, no division), flags as mulAcc/imulAcc. */
export function mulAcc32(signed: boolean, src: string): string {
  const hi = signed
    ? `((hu - (a >> 31 & b) - (b >> 31 & a)) >>> 0)` // signed high half from the unsigned one
    : 'hu';
  const overflow = signed ? `hw !== (lo >> 31 >>> 0)` : 'hw !== 0';
  return `{ const a = g[0] >>> 0, b = ${src}; const lo = Math.imul(a, b), al = a & 65535, ah = a >>> 16, bl = b & 65535, bh = b >>> 16; ` +
    `const lh = al * bh, hl = ah * bl; ` +
    `const hu = (ah * bh + (lh >>> 16) + (hl >>> 16) + ((((al * bl) >>> 16) + (lh & 65535) + (hl & 65535)) >>> 16)) >>> 0; ` +
    `const hw = ${hi}; g[0] = lo; g[2] = hw; ${eagerFlags32('(lo >>> 0)', `(${overflow} ? 2049 : 0)`)} }`;
}

/** 32-bit two/three-operand IMUL: the truncated product (imulTrunc), OF/CF when it does not fit. */
export function imulTrunc32(a: string, b: string, store: (v: string) => string): string {
  // A product that fits in 32 bits is exact as a double; one that does not is at least 2^31
  // in magnitude as a double too, so it differs from the truncated one.
  return `{ const x = ${a} | 0, y = ${b} | 0, lo = Math.imul(x, y); ${eagerFlags32('(lo >>> 0)', '(x * y !== lo ? 2049 : 0)')} ${store('lo >>> 0')} }`;
}

/**
 * 32-bit SHL/SHR/SAR/ROL/ROR by a constant count 1..31, exactly as shift() (CF, OF by its
 * formulas; the rotates change only CF and OF, so the others are made concrete first).
 */
export function shiftImm32(kind: number, count: number, a: string, store: (v: string) => string): string | undefined {
  let r: string;
  let cf: string;
  let of: string;
  switch (kind) {
    case 0: case 1: {
      r = kind === 0 ? `((a << ${count}) | (a >>> ${32 - count})) >>> 0` : `((a >>> ${count}) | (a << ${32 - count})) >>> 0`;
      cf = kind === 0 ? 'r & 1' : 'r >>> 31';
      of = kind === 0 ? '(r >>> 31) ^ cf' : 'cf ^ ((r >>> 30) & 1)';
      return `{ const a = ${a}, r = ${r}, cf = ${cf}; ${flagStore(`cpu.materializeFlags(); s.eflags = (s.eflags & ${~0x801}) | cf | ((${of}) << 11);`)} ${store('r')} }`;
    }
    case 4: case 6: r = `(a << ${count}) >>> 0`; cf = `(a >>> ${32 - count}) & 1`; of = '((r >>> 31) ^ cf) << 11'; break;
    case 5: r = `a >>> ${count}`; cf = `(a >>> ${count - 1}) & 1`; of = '(a >>> 31) << 11'; break;
    case 7: r = `(a >> ${count}) >>> 0`; cf = `(a >> ${count - 1}) & 1`; of = '0'; break;
    default: return undefined;
  }
  return `{ const a = ${a}, r = ${r}, cf = ${cf}; ${eagerFlags32('r', `cf | (${of})`)} ${store('r')} }`;
}

/**
 * 8- and 16-bit SHL/SHR/SAR by a constant count 1..31 (imm8 & 31, which may pass the operand
 * size), exactly as shift(): SF ZF PF of the result, CF the last bit shifted out, OF as SDM
 * Vol. 2B SAL/SAR/SHL/SHR gives it for a count of 1 (and shift() for every count), AF 0. LZMA
 * decoders (the kernels' XZ decompressors) update their 16-bit probabilities with `shr r16, 5`.
 */
export function shiftImmNarrow(kind: number, size: 8 | 16, count: number, a: string, store: (v: string) => string): string | undefined {
  const top = size - 1;
  const mask = size === 16 ? 0xffff : 0xff;
  let calc: string;
  switch (kind) {
    case 4: case 6: calc = `t = (a << ${count - 1}) >>> 0, cf = (t >>> ${top}) & 1, r = (t << 1) & ${mask}, of = ((r >>> ${top}) ^ cf) << 11`; break;
    case 5: calc = `t = a >>> ${count - 1}, cf = t & 1, r = t >>> 1, of = ((a >>> ${top}) & 1) << 11`; break;
    case 7: calc = `t = ((a << ${32 - size}) >> ${32 - size}) >> ${count - 1}, cf = t & 1, r = (t >> 1) & ${mask}, of = 0`; break;
    default: return undefined;
  }
  const sf = size === 16 ? '((r >>> 8) & 128)' : '(r & 128)';
  return `{ const a = ${a}, ${calc}; ${flagStore(`s.eflags = (s.eflags & ${~0x8d5}) | PARITY[r & 255] | (r === 0 ? 64 : 0) | ${sf} | cf | of; L.op = 0;`)} ${store('r')} }`;
}

/**
 * 32-bit SHL/SHR/SAR by CL, as shift(): a count of 0 (CL & 31) changes no flag, and the
 * operand is written back all the same.
 */
export function shiftCl32(kind: number, a: string, store: (v: string) => string): string | undefined {
  let r: string;
  let cf: string;
  let of: string;
  switch (kind) {
    case 4: case 6: r = '(a << n) >>> 0'; cf = '(a >>> (32 - n)) & 1'; of = '((r >>> 31) ^ cf) << 11'; break;
    case 5: r = 'a >>> n'; cf = '(a >>> (n - 1)) & 1'; of = '(a >>> 31) << 11'; break;
    case 7: r = '(a >> n) >>> 0'; cf = '(a >> (n - 1)) & 1'; of = '0'; break;
    default: return undefined;
  }
  return `{ const a = ${a}, n = g[1] & 31; let r = a; if (n !== 0) { r = ${r}; const cf = ${cf}; ` +
    `s.eflags = (s.eflags & ${~0x8d5}) | PARITY[r & 255] | (r === 0 ? 64 : 0) | ((r >>> 24) & 128) | cf | (${of}); L.op = 0; } ${store('r')} }`;
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
  if (o.rep !== 0) {
    // F2/F3: the string instructions, and PAUSE (F3 90: a NOP but for its VMX intercept,
    // called as the interpreter does; translated code never runs in VMX non-root operation).
    // Any other instruction with them is left to the interpreter.
    if (op === 0x90 && o.rep === 0xf3) return meta({ code: `cpu.intercept?.(cpu, ${Sensitive.Pause}, 0);`, flow: Flow.Next }, false, FlagWrite.None, false);
    return o.lock ? undefined : translateString(o, op, o.rep, c);
  }
  if (isTranslatedString(op)) return o.lock ? undefined : translateString(o, op, 0, c);
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
  /** No flag touched; faults only through its memory operand. */
  const plain = (t: Translation): Translation => meta(t, false, FlagWrite.None, o.isMem);
  const cf = carryExpr(c.flags);

  if (op < 0x40 && (op & 7) < 6) {
    // ALU Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / eAX,Iv.
    const aop = op >> 3;
    const size = op & 1 ? os : 8;
    const reads = aop === ALU_ADC || aop === ALU_SBB;
    switch (op & 7) {
      case 0: case 1: {
        decodeModrm32(r, o);
        return meta(store(`{ ${eaDecl(o)}${aluTo(aop, size, rmRead(o, size), regRead(size, o.reg), (v) => rmWrite(o, size, v), cf)} }`),
          reads, FlagWrite.All, o.isMem, aluKind(aop, size));
      }
      case 2: case 3: {
        decodeModrm32(r, o);
        return meta(seq(`{ ${eaDecl(o)}${aluTo(aop, size, regRead(size, o.reg), rmRead(o, size), (v) => regWrite(size, o.reg, v), cf)} }`),
          reads, FlagWrite.All, o.isMem, aluKind(aop, size));
      }
      default: {
        const imm = r.imm(size);
        return meta(seq(aluTo(aop, size, regRead(size, 0), String(imm), (v) => regWrite(size, 0, v), cf)), reads, FlagWrite.All, false, aluKind(aop, size));
      }
    }
  }
  if (op >= 0x40 && op < 0x50) {
    const reg = op & 7;
    return meta(seq(incDec(op >= 0x48, os, regRead(os, reg), (v) => regWrite(os, reg, v), c.flags)), true, FlagWrite.Some, false,
      os === 32 ? (op >= 0x48 ? LazyKind.Dec : LazyKind.Inc) : undefined);
  }
  if (op >= 0x50 && op < 0x58) return meta({ code: push(o.mem, os, `${regRead(os, op & 7)}`), flow: Flow.Store }, false, FlagWrite.None, true);
  if (op >= 0x58 && op < 0x60) return meta(seq(`{ const v = ${pop(o.mem, os)}; ${regWrite(os, op & 7, 'v')} }`), false, FlagWrite.None, true);
  if (op >= 0x70 && op < 0x80) {
    const rel = r.s8();
    return meta({ code: '', flow: Flow.Branch, cond: condExpr(op & 0xf, c.flags), target: relTarget(c.next(), rel, os) }, true, FlagWrite.None, true);
  }
  if (op >= 0x91 && op < 0x98) {
    const reg = op & 7;
    return plain(seq(`{ const t = ${regRead(os, reg)}; ${regWrite(os, reg, regRead(os, 0))} ${regWrite(os, 0, 't')} }`));
  }
  if (op >= 0xb0 && op < 0xb8) return plain(seq(regWrite(8, op & 7, String(r.u8()))));
  if (op >= 0xb8 && op < 0xc0) return plain(seq(regWrite(os, op & 7, String(r.imm(os)))));

  switch (op) {
    case 0x68: return meta({ code: push(o.mem, os, `${r.imm(os)}`), flow: Flow.Store }, false, FlagWrite.None, true);
    case 0x6a: return meta({ code: push(o.mem, os, `${(signExtendConst(r.u8(), 8) & maskOfSize(os)) >>> 0}`), flow: Flow.Store }, false, FlagWrite.None, true);
    case 0x69: case 0x6b: { // IMUL Gv, Ev, Iv/Ib
      decodeModrm32(r, o);
      const imm = op === 0x69 ? r.imm(os) : (signExtendConst(r.u8(), 8) & maskOfSize(os)) >>> 0;
      if (os === 32) return meta(seq(`{ ${eaDecl(o)}${imulTrunc32(rmRead(o, os), String(imm), (v) => regWrite(os, o.reg, v))} }`), false, FlagWrite.All, o.isMem);
      return seq(`{ ${eaDecl(o)}${regWrite(os, o.reg, `imulTrunc(cpu, ${os}, ${rmRead(o, os)}, ${imm})`)} }`);
    }
    case 0x80: case 0x81: case 0x82: case 0x83: {
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      const imm = op === 0x81 ? r.imm(size) : op === 0x83 ? (signExtendConst(r.u8(), 8) & maskOfSize(size)) >>> 0 : r.u8();
      return meta(store(`{ ${eaDecl(o)}${aluTo(o.reg, size, rmRead(o, size), String(imm), (v) => rmWrite(o, size, v), cf)} }`),
        o.reg === ALU_ADC || o.reg === ALU_SBB, FlagWrite.All, o.isMem, aluKind(o.reg, size));
    }
    case 0x84: case 0x85: {
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      return meta(seq(`{ ${eaDecl(o)}${aluTo(ALU_AND, size, rmRead(o, size), regRead(size, o.reg), () => '')} }`), false, FlagWrite.All, o.isMem, aluKind(ALU_AND, size));
    }
    case 0x86: case 0x87: { // XCHG
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      return plain(store(`{ ${eaDecl(o)}const a = ${rmRead(o, size)}; ${rmWrite(o, size, regRead(size, o.reg))} ${regWrite(size, o.reg, 'a')} }`));
    }
    case 0x88: case 0x89: {
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      return plain(store(`{ ${eaDecl(o)}${rmWrite(o, size, regRead(size, o.reg))} }`));
    }
    case 0x8a: case 0x8b: {
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      return plain(seq(`{ ${eaDecl(o)}${regWrite(size, o.reg, rmRead(o, size))} }`));
    }
    case 0x8d: // LEA
      decodeModrm32(r, o);
      if (!o.isMem) return undefined;
      return meta(seq(regWrite(os, o.reg, o.eaExpr)), false, FlagWrite.None, false);
    case 0x90: return plain(seq(''));
    case 0x98: // CBW / CWDE
      return plain(seq(os === 16 ? regWrite(16, 0, '((g[0] << 24) >> 24)') : 'g[0] = (g[0] << 16) >> 16;'));
    case 0x99: // CWD / CDQ
      return plain(seq(os === 16 ? regWrite(16, 2, '(g[0] & 0x8000 ? 0xffff : 0)') : 'g[2] = g[0] >> 31;'));
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: { // MOV moffs
      const off = r.u32();
      const size = op & 1 ? os : 8;
      if (op < 0xa2) return meta(seq(regWrite(size, 0, memRead(o.mem, size, o.dataSeg, String(off)))), false, FlagWrite.None, true);
      return meta({ code: memWrite(o.mem, size, o.dataSeg, regRead(size, 0), String(off)), flow: Flow.Store }, false, FlagWrite.None, true);
    }
    case 0xa8: return meta(seq(aluTo(ALU_AND, 8, regRead(8, 0), String(r.u8()), () => '')), false, FlagWrite.All, false);
    case 0xa9: return meta(seq(aluTo(ALU_AND, os, regRead(os, 0), String(r.imm(os)), () => '')), false, FlagWrite.All, false, aluKind(ALU_AND, os));
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: { // group 2
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      const n = op <= 0xc1 ? r.u8() & 0x1f : op <= 0xd1 ? 1 : -1;
      if (size === 32 && n > 0) {
        const code = shiftImm32(o.reg, n, rmRead(o, size), (v) => rmWrite(o, size, v));
        // The rotates keep SF ZF AF PF: they read the flags before them.
        if (code !== undefined) {
          const t = meta(store(`{ ${eaDecl(o)}${code} }`), o.reg < 2, o.reg < 2 ? FlagWrite.Some : FlagWrite.All, o.isMem);
          if (o.reg < 2) t.mergesFlags = true;
          return t;
        }
      }
      if ((size === 16 || size === 8) && n > 0) {
        const code = shiftImmNarrow(o.reg, size, n, rmRead(o, size), (v) => rmWrite(o, size, v));
        if (code !== undefined) return meta(store(`{ ${eaDecl(o)}${code} }`), false, FlagWrite.All, o.isMem);
      }
      if (size === 32 && n < 0) {
        const code = shiftCl32(o.reg, rmRead(o, size), (v) => rmWrite(o, size, v));
        // CL may be 0: then every flag passes through (Some, not All).
        if (code !== undefined) return meta(store(`{ ${eaDecl(o)}${code} }`), false, FlagWrite.Some, o.isMem);
      }
      const count = n >= 0 ? String(n) : '(g[1] & 0x1f)';
      return store(`{ ${eaDecl(o)}const a = ${rmRead(o, size)}; ${rmWrite(o, size, `shift(cpu, ${o.reg}, ${size}, a, ${count})`)} }`);
    }
    case 0xc2: { // RET imm16
      const n = r.u16();
      return meta(jump(`{ const ip = ${pop(o.mem, os)}; cpu.setSp(cpu.sp + ${n}); setIp(cpu, ip); }`), false, FlagWrite.None, true);
    }
    case 0xc3: return meta(jump(`setIp(cpu, ${pop(o.mem, os)});`), false, FlagWrite.None, true);
    case 0xc6: case 0xc7: { // MOV Eb/Ev, Ib/Iv
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      if (o.reg !== 0) return undefined;
      return plain(store(`{ ${eaDecl(o)}${rmWrite(o, size, String(r.imm(size)))} }`));
    }
    case 0xc9: { // LEAVE
      const bp = c.ss32 ? '(g[5] >>> 0)' : '(g[5] & 0xffff)';
      return meta(seq(`{ const bp = ${bp}; const v = ${memRead(o.mem, os, SegReg.SS, 'bp')}; cpu.setSp(bp + ${os / 8}); ${regWrite(os, 5, 'v')} }`), false, FlagWrite.None, true);
    }
    case 0xe8: { // CALL rel
      const rel = os === 16 ? signExtendConst(r.u16(), 16) : r.u32() | 0;
      return meta(jump(`${push(o.mem, os, String(c.next()))} setIp(cpu, ${relTarget(c.next(), rel, os)});`), false, FlagWrite.None, true);
    }
    case 0xe9: {
      const rel = os === 16 ? signExtendConst(r.u16(), 16) : r.u32() | 0;
      const target = relTarget(c.next(), rel, os);
      return meta({ ...jump(`setIp(cpu, ${target});`), target }, false, FlagWrite.None, true);
    }
    case 0xeb: {
      const rel = r.s8(); // read before c.next(): it is part of the instruction
      const target = relTarget(c.next(), rel, os);
      return meta({ ...jump(`setIp(cpu, ${target});`), target }, false, FlagWrite.None, true);
    }
    case 0xfc: case 0xfd: return meta(seq(FLAG_OPS[op]!), false, FlagWrite.None, false); // DF only
    case 0xf5: case 0xf8: case 0xf9: return seq(FLAG_OPS[op]!);
    case 0xf6: case 0xf7: return group3(r, o, op & 1 ? os : 8, c);
    case 0xfe: { // INC/DEC Eb
      decodeModrm32(r, o);
      if (o.reg > 1) return undefined;
      return meta(store(`{ ${eaDecl(o)}${incDec(o.reg === 1, 8, rmRead(o, 8), (v) => rmWrite(o, 8, v), c.flags)} }`), true, FlagWrite.Some, o.isMem);
    }
    case 0xff: return group5(r, o, c);
    default: return undefined;
  }
}

function group3(r: CodeReader, o: InsnOperands, size: number, c: InsnContext): Translation | undefined {
  decodeModrm32(r, o);
  const ea = eaDecl(o);
  const seq = (code: string): Translation => ({ code: `{ ${ea}${code} }`, flow: Flow.Next });
  switch (o.reg) {
    case 0: case 1: return meta(seq(aluTo(ALU_AND, size, rmRead(o, size), String(r.imm(size)), () => '')), false, FlagWrite.All, o.isMem, aluKind(ALU_AND, size));
    case 2: return meta({ code: `{ ${ea}${rmWrite(o, size, `~${rmRead(o, size)} & ${maskOfSize(size)}`)} }`, flow: o.isMem ? Flow.Store : Flow.Next },
      false, FlagWrite.None, o.isMem);
    case 3: return meta({ code: `{ ${ea}${rmWrite(o, size, `neg(cpu, ${size}, ${rmRead(o, size)})`)} }`, flow: o.isMem ? Flow.Store : Flow.Next },
      false, FlagWrite.All, o.isMem, size === 32 ? LazyKind.Sub : undefined);
    case 4: case 5:
      if (size === 32) return meta(seq(mulAcc32(o.reg === 5, rmRead(o, size))), false, FlagWrite.All, o.isMem);
      return seq(`${o.reg === 4 ? 'mulAcc' : 'imulAcc'}(cpu, ${size}, ${rmRead(o, size)});`);
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
      return meta({ code: `{ ${ea}${incDec(o.reg === 1, os, rmRead(o, os), (v) => rmWrite(o, os, v), c.flags)} }`, flow: o.isMem ? Flow.Store : Flow.Next },
        true, FlagWrite.Some, o.isMem, os === 32 ? (o.reg === 1 ? LazyKind.Dec : LazyKind.Inc) : undefined);
    case 2: // CALL Ev
      return meta({ code: `{ ${ea}const t = ${rmRead(o, os)}; ${push(o.mem, os, String(c.next()))} setIp(cpu, t); }`, flow: Flow.Jump }, false, FlagWrite.None, true);
    case 4: // JMP Ev
      return meta({ code: `{ ${ea}setIp(cpu, ${rmRead(o, os)}); }`, flow: Flow.Jump }, false, FlagWrite.None, true);
    case 6: // PUSH Ev
      return meta({ code: `{ ${ea}${push(o.mem, os, rmRead(o, os))} }`, flow: Flow.Store }, false, FlagWrite.None, true);
    default:
      return undefined; // far CALL/JMP, #UD
  }
}

function translate0f(r: CodeReader, o: InsnOperands, op: number, c: InsnContext): Translation | undefined {
  const os = o.os;
  const seq = (code: string): Translation => ({ code, flow: Flow.Next });
  const store = (code: string): Translation => ({ code, flow: o.isMem ? Flow.Store : Flow.Next });
  const plain = (t: Translation): Translation => meta(t, false, FlagWrite.None, o.isMem);
  if (op >= 0x80 && op < 0x90) { // Jcc rel16/32
    const rel = os === 32 ? r.u32() | 0 : signExtendConst(r.u16(), 16);
    return meta({ code: '', flow: Flow.Branch, cond: condExpr(op & 0xf, c.flags), target: relTarget(c.next(), rel, os) }, true, FlagWrite.None, true);
  }
  if (op >= 0x90 && op < 0xa0) { // SETcc
    decodeModrm32(r, o);
    return meta(store(`{ ${eaDecl(o)}${rmWrite(o, 8, `${condExpr(op & 0xf, c.flags)} ? 1 : 0`)} }`), true, FlagWrite.None, o.isMem);
  }
  if (op >= 0x40 && op < 0x50) { // CMOVcc: the source is read whether or not it moves
    decodeModrm32(r, o);
    return meta(seq(`{ ${eaDecl(o)}const v = ${rmRead(o, os)}; if (${condExpr(op & 0xf, c.flags)}) ${regWrite(os, o.reg, 'v')} }`), true, FlagWrite.None, o.isMem);
  }
  if (op >= 0xc8 && op < 0xd0) { // BSWAP
    if (os !== 32) return undefined;
    const reg = op & 7;
    return plain(seq(`{ const v = g[${reg}]; g[${reg}] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24); }`));
  }
  switch (op) {
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f: // hint NOPs
      decodeModrm32(r, o);
      return meta(seq(''), false, FlagWrite.None, false);
    case 0xa4: case 0xa5: case 0xac: case 0xad: { // SHLD / SHRD
      decodeModrm32(r, o);
      const count = op & 1 ? '(g[1] & 31)' : String(r.u8() & 31);
      return store(`{ ${eaDecl(o)}const a = ${rmRead(o, os)}; ${rmWrite(o, os, `doubleShift(cpu, ${op < 0xa8}, ${os}, a, ${regRead(os, o.reg)}, ${count})`)} }`);
    }
    case 0xaf: // IMUL Gv, Ev
      decodeModrm32(r, o);
      if (os === 32) return meta(seq(`{ ${eaDecl(o)}${imulTrunc32(regRead(os, o.reg), rmRead(o, os), (v) => regWrite(os, o.reg, v))} }`), false, FlagWrite.All, o.isMem);
      return seq(`{ ${eaDecl(o)}${regWrite(os, o.reg, `imulTrunc(cpu, ${os}, ${regRead(os, o.reg)}, ${rmRead(o, os)})`)} }`);
    case 0xb0: case 0xb1: { // CMPXCHG: the destination is always written (a locked cycle)
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      return meta(store(`{ ${eaDecl(o)}const d = ${rmRead(o, size)}; const acc = ${regRead(size, 0)}; alu(cpu, 7, ${size}, acc, d); ` +
        `if (acc === d) { ${rmWrite(o, size, regRead(size, o.reg))} } else { ${rmWrite(o, size, 'd')} ${regWrite(size, 0, 'd')} } }`),
        false, FlagWrite.All, o.isMem, size === 32 ? LazyKind.Sub : undefined);
    }
    case 0xb6: case 0xb7: // MOVZX
      decodeModrm32(r, o);
      return plain(seq(`{ ${eaDecl(o)}${regWrite(os, o.reg, rmRead(o, op & 1 ? 16 : 8))} }`));
    case 0xbe: case 0xbf: { // MOVSX
      const from = op & 1 ? 16 : 8;
      decodeModrm32(r, o);
      return plain(seq(`{ ${eaDecl(o)}${regWrite(os, o.reg, `signExtend(${rmRead(o, from)}, ${from}) & ${maskOfSize(os)}`)} }`));
    }
    case 0xc0: case 0xc1: { // XADD
      const size = op & 1 ? os : 8;
      decodeModrm32(r, o);
      return meta(store(`{ ${eaDecl(o)}const d = ${rmRead(o, size)}; const sum = alu(cpu, 0, ${size}, d, ${regRead(size, o.reg)}); ` +
        `${rmWrite(o, size, 'sum')} ${regWrite(size, o.reg, 'd')} }`), false, FlagWrite.All, o.isMem, size === 32 ? LazyKind.Add : undefined);
    }
    default:
      return undefined;
  }
}
