/**
 * Turns a run of 64-bit-mode instructions into one JavaScript function: the 64-bit
 * counterpart of block-compiler.ts, with the same contract towards the run loop and the same
 * code shape — `cpu.startEip` (and `startRipHi`) set by the catch block from the local
 * instruction number `k` when a fault leaves the block, EIP left after the last instruction
 * retired, `cpu.retired` counted, a stop after a store that invalidated the block, a Jcc as a
 * side exit, a block that branches back to its start running as a loop while the budget
 * lasts, dead lazy-flag stores dropped, the TLB hit of memory accesses inlined
 * (operands64.ts). Translated code also stops, as the interpreter's loop does after every
 * instruction, after a store that went to a device (through the CPU's path) if the run loop
 * must look now: an exit request or a deliverable interrupt. RIP is ripHi:eip; a block lies
 * in one code page, so its instructions share RIP's high half (a fault restarts the
 * instruction at startRipHi:startEip).
 *
 * Prefixes (SDM Vol. 2A 2.2.1): REX counts only directly before the opcode (a later legacy
 * prefix cancels it); ES/CS/SS/DS overrides are ignored; 67h, F2 and F3 end the block.
 */
import { alu, dec, divAcc, doubleShift, idivAcc, imulAcc, imulTrunc, inc, mulAcc, neg, shift, signExtend } from '../alu.js';
import {
  alu64, bswap64, dec64, divAcc64, doubleShift64, idivAcc64, imulAcc64, imulTrunc64, inc64, mulAcc64, neg64, shift64,
} from '../alu64.js';
import { SegReg } from '../state.js';
import type { X86Cpu } from '../cpu.js';
import { emitSwitchBody, liveFlagCode, MAY_GO_ROUND, retire, withInnerBranches, type BlockExits, type CompiledBlock } from './block-compiler.js';
import { CodeReader, OutOfBytes } from './code-reader.js';
import type { LongAccess } from './long-memory.js';
import { tlbRamPrelude } from './tlb-ram-view.js';
import { hoistBlockLocals } from './hoist-locals.js';
import { cacheRegisters } from './register-locals.js';
import { LongOperands, NEXT_RIP } from './operands64.js';
import { FlagWrite, Flow, type Translation } from './translate.js';
import { setRipConst, setRipRaw, translateInsn64, type LongContext } from './translate64.js';
import { PARITY } from '../flags.js';

const TWO_32 = 4294967296;

/**
 * The offset of a memory operand summed from two registers, from its exact halves: `lo` the
 * low halves plus the displacement (any integer below 2^36), `hi` the high halves (int32);
 * as decodeEaLong computes eaOff.
 */
function eaOf(lo: number, hi: number): number {
  return ((hi + Math.floor(lo / TWO_32)) | 0) * TWO_32 + (lo >>> 0);
}

/** The functions translated code calls, passed in once per block. */
const HELPERS = {
  alu, inc, dec, neg, shift, doubleShift, imulTrunc, mulAcc, imulAcc, divAcc, idivAcc, signExtend,
  alu64, inc64, dec64, neg64, shift64, doubleShift64, imulTrunc64, mulAcc64, imulAcc64, divAcc64, idivAcc64, bswap64, eaOf,
  PARITY,
};
const HELPER_NAMES = Object.keys(HELPERS).join(', ');
const ACCESS_NAMES = 'rd8, rd16, rd32, rd64, wr8, wr16, wr32, wr64';

/** More prefixes than this and the interpreter decodes the instruction (and its #GP). */
const MAX_PREFIXES = 8;

export interface LongBlockSource {
  ram: Uint8Array;
  /** The CPL's TLB set. */
  tlbSet: number;
  /** Index of the first byte in `ram`. */
  index: number;
  /** Bytes from there that may be fetched (the rest of the code page). */
  bytes: number;
  /** RIP of the first byte: low half (unsigned) and high half. */
  eip: number;
  ripHi: number;
  maxInstructions: number;
}

/** Reads the prefixes and translates one instruction, or returns undefined. */
function translateOne(r: CodeReader, o: LongOperands, c: LongContext): Translation | undefined {
  let op = r.u8();
  let rex = 0;
  for (let n = 0; ; n++) {
    if ((op & 0xf0) === 0x40) {
      rex = op;
    } else {
      if (op === 0x66) o.prefix66 = true;
      else if (op === 0x64 || op === 0x65) o.segOverride = op === 0x64 ? SegReg.FS : SegReg.GS;
      else if (op === 0xf0) o.lock = true;
      else if (op !== 0x26 && op !== 0x2e && op !== 0x36 && op !== 0x3e) break;
      rex = 0;
    }
    if (n >= MAX_PREFIXES) return undefined;
    op = r.u8();
  }
  if (op === 0x67 || op === 0xf2 || op === 0xf3) return undefined;
  o.rex = rex;
  o.rexR = (rex & 4) << 1;
  o.rexX = (rex & 2) << 2;
  o.rexB = (rex & 1) << 3;
  o.os = (rex & 8) !== 0 ? 64 : o.prefix66 ? 16 : 32;
  return translateInsn64(r, o, op, c);
}

/** One pass of translation over a 64-bit block's instructions (translateBlock64). */
interface LongRun {
  done: Translation[];
  /** RIP of each instruction: low halves (unsigned), and whole. */
  eips: number[];
  rips: number[];
  nexts: number[];
  jumped: boolean;
  nextRip: number;
  end: number;
}

/**
 * Translates the instructions from `src` up to the first that ends a block; at the RIPs in
 * `mergePoints` (targets of branches inside the block) nothing is known of the lazy flags.
 */
function translateRun64(src: LongBlockSource, mergePoints?: ReadonlySet<number>): LongRun {
  const r = new CodeReader(src.ram, src.index, src.index + src.bytes);
  const base = src.ripHi * TWO_32 + src.eip;
  const ripAt = (pos: number) => base + (pos - src.index);
  const context: LongContext = { next: () => ripAt(r.pos), flags: -1 };
  const eips: number[] = [];
  const rips: number[] = [];
  const done: Translation[] = [];
  const nexts: number[] = [];
  let jumped = false;
  let nextRip = base;
  let end = src.index;
  while (eips.length < src.maxInstructions) {
    const rip = ripAt(r.pos);
    if (mergePoints?.has(rip) === true) context.flags = -1;
    let t: Translation | undefined;
    try {
      t = translateOne(r, new LongOperands(src.tlbSet), context);
    } catch (e) {
      if (!(e instanceof OutOfBytes)) throw e;
      t = undefined;
    }
    if (t === undefined) break;
    nextRip = ripAt(r.pos);
    end = r.pos;
    eips.push(rip >>> 0);
    rips.push(rip);
    nexts.push(nextRip);
    t.code = t.code.split(NEXT_RIP).join(`(${nextRip})`);
    done.push(t);
    if ((t.writesFlags ?? FlagWrite.Some) !== FlagWrite.None) context.flags = t.lazy ?? -1;
    if (t.flow === Flow.Jump) {
      jumped = true;
      break;
    }
  }
  return { done, eips, rips, nexts, jumped, nextRip, end };
}

const EXITS64: BlockExits = {
  toTarget: setRipConst,
  toAddress: setRipRaw,
  // After a store to a device, the run loop may have to look (mustStop).
  afterStore: (leave) => `if ((B.valid === false || M.slowWrite) && mustStop()) { ${leave} }`,
};

/**
 * Translates the 64-bit block at `src`. Returns its source text, instruction EIPs (low halves)
 * and the RAM index just past its last byte; for a block with branches to its own
 * instructions (block-compiler.ts emitSwitchBody) also each instruction's case start.
 */
export function translateBlock64(src: LongBlockSource): { body: string; eips: number[]; end: number; segStart?: number[] } {
  const base = src.ripHi * TWO_32 + src.eip;
  const { run, inner } = withInnerBranches((mergePoints) => translateRun64(src, mergePoints), (r) => r.rips);
  const { done, eips, nexts, jumped, nextRip, end } = run;
  const locals = 'let k = 0, ml = 0, mh = 0, mt = 0, mo = 0, mq = 0, mi = 0, mp = 0, mv = 0, mw = 0';
  if (inner.size > 0) {
    const { parts, segStart } = emitSwitchBody(done, nexts, run.rips, inner, base, jumped ? undefined : nextRip, EXITS64);
    return {
      body: `${locals}, pc = 0, c = 0;\ntry {\nfor (;;) switch (pc) {\n${parts.join('\n')}\n}\n} ` +
        `catch (e) { cpu.startEip = E[k]; cpu.startRipHi = ${src.ripHi}; B.passesDone = c - B.segStart[k]; throw e; }`,
      eips,
      end,
      segStart,
    };
  }
  // A branch or jump back to the block's first instruction makes it a loop (as block-compiler.ts).
  const loop = done.some((t) => (t.flow === Flow.Branch || t.flow === Flow.Jump) && t.target === base);
  const parts = emitBody64(done, nexts, base, loop);
  if (!jumped) parts.push(setRipRaw(nextRip));
  parts.push(retire(eips.length, loop));
  const body = loop ? `for (;;) {\n${parts.join('\n')}\n}` : parts.join('\n');
  return {
    body: `${locals}${loop ? ', D = 0' : ''};\ntry {\n${body}\n} ` +
      `catch (e) { cpu.startEip = E[k]; cpu.startRipHi = ${src.ripHi};${loop ? ' B.passesDone = D;' : ''} throw e; }`,
    eips,
    end,
  };
}

/**
 * The statements of the block (as block-compiler.ts's emitBody): each instruction's code with
 * dead flag stores dropped, after `k = i` when it can throw; after a store the check for
 * self-modified code and for a device store that needs the run loop; a Jcc as a side exit;
 * and in a loop block the branch back to the start as the next pass.
 */
function emitBody64(done: readonly Translation[], nexts: readonly number[], start: number, loop: boolean): string[] {
  const codes = liveFlagCode(done);
  const parts: string[] = [];
  const total = done.length;
  for (let i = 0; i < total; i++) {
    const t = done[i]!;
    const n = i + 1;
    if (t.target === start && loop && (t.flow === Flow.Branch || t.flow === Flow.Jump)) {
      // Back to the start: another pass when it fits the budget and nothing is pending (a
      // device the block wrote to may have raised an interrupt or asked for an exit).
      const again = `D += ${n}; if (D + ${total} <= budget && ${MAY_GO_ROUND}) continue; ` +
        `${setRipRaw(start)} cpu.retired += D; return D;`;
      parts.push(t.flow === Flow.Branch ? `if (${t.cond!}) { ${again} }` : again);
      continue;
    }
    if (t.mayFault ?? true) parts.push(`k = ${i};`);
    if (t.flow === Flow.Branch) {
      parts.push(`if (${t.cond!}) { ${setRipConst(t.target!)} ${retire(n, loop)} }`);
      continue;
    }
    parts.push(codes[i]!);
    if (t.flow === Flow.Store) parts.push(`if ((B.valid === false || M.slowWrite) && mustStop()) { ${setRipRaw(nexts[i]!)} ${retire(n, loop)} }`);
  }
  return parts;
}

/** Compiles `body` into the block's `run`. */
export function compileBlock64(cpu: X86Cpu, access: LongAccess, block: CompiledBlock, body: string): void {
  if (block.length === 0) return;
  body = cacheRegisters(hoistBlockLocals(body));
  const factory = new Function('cpu', 's', 'g', 'h', 'B', 'H', 'M', 'E',
    `const { ${HELPER_NAMES} } = H;\nconst { ${ACCESS_NAMES} } = M;\nconst L = cpu.lazy;\nconst I = cpu.bus.interrupts;\n` +
    tlbRamPrelude('M') +
    // After a store to a device: stop as the interpreter's run loop would after the instruction.
    'function mustStop() { M.slowWrite = false; return B.valid === false || cpu.exitRequested || ((s.eflags & 0x200) !== 0 && I.hasInterrupt()); }\n' +
    // Parenthesized: compiled now, not lazily at the first call (see block-compiler.ts).
    `return (function block64_${(block.eip >>> 0).toString(16)}(budget) {\n${body}\n});`) as
    (cpu: X86Cpu, s: X86Cpu['s'], g: Int32Array, h: Int32Array, b: CompiledBlock, helpers: typeof HELPERS, m: LongAccess,
      e: readonly number[]) => (budget: number) => number;
  block.run = factory(cpu, cpu.s, cpu.s.gpr, cpu.s.gprHi, block, HELPERS, access, block.eips);
}
