/**
 * Turns a run of guest instructions (a basic block: up to the first jump, the first
 * instruction the JIT leaves to the interpreter, or the end of the code page) into one
 * JavaScript function, compiled by the host engine like any other code.
 *
 * The function's contract with the run loop (X86Cpu.run):
 * - when a fault is thrown from inside (CpuFault, as the interpreter throws) `cpu.startEip`
 *   is the EIP of the instruction that faulted, so that it restarts there and the engine can
 *   tell how many instructions before it completed: the function keeps the instruction's
 *   number in a local (`k`, set before each instruction that can throw) and its catch block
 *   stores that instruction's EIP before rethrowing — no per-instruction store of an EIP
 *   (kernel EIPs are not small integers: every store would be a heap number's);
 * - it leaves EIP after the last instruction it ran, adds them to `cpu.retired` and returns
 *   their number;
 * - after an instruction that may write memory it checks that the block is still valid (a
 *   write into its own page invalidates it: self-modifying code) and stops there if not.
 */
import { alu, dec, divAcc, doubleShift, idivAcc, imulAcc, imulTrunc, inc, mulAcc, neg, shift, signExtend } from '../alu.js';
import { setIp } from '../exec-primary.js';
import { stringOp } from '../string-ops.js';
import type { X86Cpu } from '../cpu.js';
import { CodeReader, OutOfBytes } from './code-reader.js';
import { BlockMemory, InsnOperands } from './operands.js';
import type { FlatAccess } from './flat-memory.js';
import { tlbRamPrelude } from './tlb-ram-view.js';
import { hoistBlockLocals } from './hoist-locals.js';
import { cacheRegisters } from './register-locals.js';
import { FlagWrite, Flow, translateInsn, type Translation } from './translate.js';
import { PARITY } from '../flags.js';

/** The functions translated code calls, passed in once per block. */
const HELPERS = { alu, inc, dec, neg, shift, doubleShift, imulTrunc, mulAcc, imulAcc, divAcc, idivAcc, setIp, signExtend, PARITY, stringOp };
const HELPER_NAMES = Object.keys(HELPERS).join(', ');
const FLAT_NAMES = 'rd8, rd16, rd32, wr8, wr16, wr32';

/** Attribute bits that make a data segment flat-usable: present-usable, writable, expand-up. */
const AR_FLAT_MASK = 0x1000e;
const AR_FLAT = 0x2;

/**
 * Whether segment `seg` is flat: base 0, limit 4 GiB, a usable writable expand-up data
 * segment — then every offset is its own linear address and no access can fail the segment
 * checks except one whose last byte passes 4 GiB (the slow path's business).
 */
export function segmentIsFlat(s: X86Cpu['s'], seg: number): boolean {
  return s.segBase[seg] === 0 && s.segLimit[seg] === 0xffffffff && (s.segAr[seg]! & AR_FLAT_MASK) === AR_FLAT;
}

/** A translated block. `length` 0 marks an EIP whose first instruction is not translated. */
export class CompiledBlock {
  /** False once its page was written: never run again. */
  valid = true;
  /** Runs the block with at most `budget` instructions (a loop block may go round several times). */
  run: (budget: number) => number = () => 0;
  /**
   * Set when a fault leaves a loop block: the instructions of the completed passes. In a
   * block with branches to its own instructions (emitSwitchBody): the instructions run
   * before the faulting one, less its index.
   */
  passesDone = 0;
  /** A block with branches to its own instructions: the first instruction of each one's case. */
  segStart: readonly number[] = [];
  /**
   * Index in guest RAM of its lowest byte: `index` unless it follows a jump backwards
   * (translateBlock); with `followsJumps` its bytes are pieces of [lo, end), not one run.
   */
  lo: number;
  followsJumps = false;
  /** Its instructions (eips.length). */
  readonly length: number;
  /**
   * EIP of the first instruction and the CS limit when translated (the block never runs past
   * it), both as signed 32-bit values: kernel addresses and a 4 GiB limit would otherwise be
   * heap numbers, and the engine compares them on every block it runs.
   */
  readonly eip: number;
  readonly csLimit: number;

  constructor(
    /** Index in guest RAM of the first byte. */
    readonly index: number,
    eip: number,
    /** The CPU mode it was translated for (see JitEngine.signature). */
    readonly sig: number,
    csLimit: number,
    /** EIP of each instruction (a fault's position). */
    readonly eips: readonly number[],
    /** Index in guest RAM just past the block's last byte. */
    readonly end: number,
    /** RIP's high half (64-bit mode; 0 otherwise). */
    readonly ripHi = 0,
  ) {
    this.eip = eip | 0;
    this.csLimit = csLimit | 0;
    this.lo = index;
    this.length = eips.length;
  }
}

const PAGE_BYTES = 4096;

/** Segment prefixes (SDM Vol. 2A 2.1.1) → SegReg. */
const SEG_PREFIX: Record<number, number> = { 0x26: 0, 0x2e: 1, 0x36: 2, 0x3e: 3, 0x64: 4, 0x65: 5 };

export interface BlockSource {
  ram: Uint8Array;
  /** Segments flat at translation time (bit k: segment register k), and the CPL's TLB set. */
  flatMask: number;
  tlbSet: number;
  /** Index of the first byte in `ram`. */
  index: number;
  /** Bytes from there that may be fetched. */
  bytes: number;
  eip: number;
  ss32: boolean;
  maxInstructions: number;
}

/** One pass of translation over a block's instructions (translateBlock). */
interface BlockRun {
  done: Translation[];
  eips: number[];
  /** EIP after each instruction (its fall-through, or a followed JMP's target). */
  nexts: number[];
  /** Whether the last instruction sets EIP itself (a jump the block ends with). */
  jumped: boolean;
  nextEip: number;
  lo: number;
  endPos: number;
  followsJumps: boolean;
  mem: BlockMemory;
}

/**
 * Translates the instructions from `src` up to the first that ends a block. At the EIPs in
 * `mergePoints` (targets of branches inside the block) the lazy flags may come from another
 * path, so the instruction there is translated without knowing what produced them.
 */
function translateRun(src: BlockSource, mergePoints?: ReadonlySet<number>): BlockRun {
  const windowEnd = src.index + src.bytes;
  /** RAM index of the first byte of the block's page: a jump is followed only inside it. */
  const pageStart = src.index - (src.index & (PAGE_BYTES - 1));
  let r = new CodeReader(src.ram, src.index, windowEnd);
  const mem = new BlockMemory(src.flatMask, src.tlbSet, src.ss32);
  const eips: number[] = [];
  const done: Translation[] = [];
  let jumped = false;
  let nextEip = src.eip;
  let endPos = src.index;
  let lo = src.index;
  let followsJumps = false;
  /** What the lazy flags hold at this point of the block (translate.ts LazyKind), or -1. */
  let producer = -1;
  const nexts: number[] = [];
  while (eips.length < src.maxInstructions) {
    const start = r.pos;
    const eip = (src.eip + (start - src.index)) >>> 0;
    if (mergePoints?.has(eip) === true) producer = -1;
    const o = new InsnOperands(mem);
    let t;
    try {
      let op = r.u8();
      for (;;) {
        if (op === 0x66) o.os = 16;
        else if (op === 0xf0) o.lock = true;
        else if (op === 0xf2 || op === 0xf3) o.rep = op;
        else if (SEG_PREFIX[op] !== undefined) o.segOverride = SEG_PREFIX[op]!;
        else break;
        op = r.u8();
      }
      t = translateInsn(r, o, op, {
        eip,
        next: () => (src.eip + (r.pos - src.index)) >>> 0,
        ss32: src.ss32,
        flags: producer,
      });
    } catch (e) {
      if (!(e instanceof OutOfBytes)) throw e;
      t = undefined;
    }
    if (t === undefined) break;
    nextEip = (src.eip + (r.pos - src.index)) >>> 0;
    endPos = Math.max(endPos, r.pos);
    eips.push(eip);
    nexts.push(nextEip);
    done.push(t);
    if ((t.writesFlags ?? FlagWrite.Some) !== FlagWrite.None) producer = t.lazy ?? -1;
    if (t.flow === Flow.Jump && t.target !== undefined && t.target !== src.eip) {
      // A direct JMP to the same page, inside the fetch window (so within the CS limit): the
      // block goes on at the target, as one piece of code. A jump back to the block's first
      // instruction stays a jump: it makes the block a loop (below).
      const at = src.index + (t.target - src.eip);
      if (at >= pageStart && at < windowEnd) {
        t.code = '';
        t.flow = Flow.Next;
        t.mayFault = false;
        nextEip = t.target;
        nexts[nexts.length - 1] = t.target;
        r = new CodeReader(src.ram, at, windowEnd);
        lo = Math.min(lo, at);
        followsJumps = true;
        continue;
      }
    }
    if (t.flow === Flow.Jump) {
      jumped = true;
      break;
    }
  }
  return { done, eips, nexts, jumped, nextEip, lo, endPos, followsJumps, mem };
}

/**
 * A block's translation (`translate`, one pass) and its branches to its own instructions
 * (innerBranches, by the instruction addresses `addrs` gives). Branches to the block's own
 * instructions go there inside the function (emitSwitchBody), so when there are any the
 * block is translated again knowing nothing of the lazy flags at their targets, where other
 * paths meet. Shared by the 32-bit and 64-bit block compilers.
 */
export function withInnerBranches<R extends { done: Translation[] }>(translate: (mergePoints?: ReadonlySet<number>) => R,
  addrs: (run: R) => readonly number[]): { run: R; inner: Map<number, number> } {
  const run = translate();
  const inner = innerBranches(run.done, addrs(run));
  if (inner.size === 0) return { run, inner };
  const first = addrs(run);
  const again = translate(new Set([...inner.values()].map((j) => first[j]!)));
  const same = addrs(again);
  // The same instructions, only differently translated: else keep the first and leave no branch inside.
  if (same.length === first.length && same.every((addr, i) => addr === first[i])) return { run: again, inner };
  return { run, inner: new Map() };
}

/**
 * The conditional branches of a block whose target is one of its own instructions other
 * than the first (instruction addresses `addrs`): branch index → target index. Empty unless
 * the addresses are distinct (a followed JMP can bring an instruction in twice), since a
 * fault's position is found by its address.
 */
function innerBranches(done: readonly Translation[], addrs: readonly number[]): Map<number, number> {
  const at = new Map<number, number>();
  addrs.forEach((addr, i) => at.set(addr, i));
  const inner = new Map<number, number>();
  if (at.size !== addrs.length) return inner;
  done.forEach((t, i) => {
    const j = t.flow === Flow.Branch && t.target !== undefined ? at.get(t.target) : undefined;
    if (j !== undefined && j > 0) inner.set(i, j);
  });
  return inner;
}

/** Translates the block at `src`. Returns its source text and instruction EIPs. */
export function translateBlock(src: BlockSource): { body: string; eips: number[]; lo: number; end: number; followsJumps: boolean; segStart?: number[] } {
  const { run, inner } = withInnerBranches((mergePoints) => translateRun(src, mergePoints), (r) => r.eips);
  const { done, eips, nexts, jumped, nextEip, mem } = run;
  // Entry check: the segments the flat path uses are still flat, else -1 (translate again).
  const guards: string[] = [];
  for (let seg = 0; seg < 6; seg++) {
    if (mem.used & (1 << seg)) guards.push(`s.segBase[${seg}] !== 0 || s.segLimit[${seg}] !== 4294967295 || (s.segAr[${seg}] & ${AR_FLAT_MASK}) !== ${AR_FLAT}`);
  }
  const guard = guards.length > 0 ? `if (${guards.join(' || ')}) return -1;\n` : '';
  const result = { eips, lo: run.lo, end: run.endPos, followsJumps: run.followsJumps };
  if (inner.size > 0) {
    const { parts, segStart } = emitSwitchBody(done, nexts, eips, inner, src.eip, jumped ? undefined : nextEip, EXITS32);
    return {
      ...result,
      body: `let k = 0, mi = 0, mp = 0, ms = 0, mv = 0, pc = 0, c = 0;\ntry {\n${guard}for (;;) switch (pc) {\n${parts.join('\n')}\n}\n} catch (e) { cpu.startEip = E[k]; B.passesDone = c - B.segStart[k]; throw e; }`,
      segStart,
    };
  }
  // A branch or jump back to the block's first instruction makes it a loop: the function goes
  // round itself while the budget lasts and nothing asks the run loop to look.
  const loop = done.some((t) => (t.flow === Flow.Branch || t.flow === Flow.Jump) && t.target === src.eip);
  const parts = emitBody(done, nexts, src.eip, loop);
  if (!jumped) parts.push(`s.eip = ${nextEip};`);
  parts.push(retire(eips.length, loop));
  const body = loop ? `for (;;) {\n${parts.join('\n')}\n}` : parts.join('\n');
  return {
    ...result,
    body: `let k = 0, mi = 0, mp = 0, ms = 0, mv = 0${loop ? ', D = 0' : ''};\ntry {\n${guard}${body}\n} catch (e) { cpu.startEip = E[k];${loop ? ' B.passesDone = D;' : ''} throw e; }`,
  };
}

/**
 * Whether a loop in translated code may go round again (given that another pass fits the
 * budget): the block is still valid and nothing asks the run loop to look — an exit request,
 * an NMI, a deliverable interrupt (a device the block wrote to may have raised one).
 */
export const MAY_GO_ROUND = 'B.valid && !cpu.exitRequested && !s.nmiPending && ((s.eflags & 512) === 0 || !I.hasInterrupt())';

/** Marks the lazy-flag stores of a translation (translate.ts), dropped when they are dead. */
const FLAG_STORE = /\/\*F\{\*\/[^]*?\/\*\}F\*\//g;

/**
 * The code of each instruction of a block with its dead flag stores dropped (shared with
 * block-compiler64.ts): an instruction's flag stores are dead when a later instruction of
 * the block replaces all six arithmetic flags before anything can see them — a flag read, a
 * possible fault (the fault handler sees EFLAGS as of the faulting instruction), a block exit
 * (the end, or the check after a store). An instruction that can fault keeps its own stores
 * (the interpreter sets the flags before a memory destination is written, so a fault there
 * sees them). A rotate's CF/OF update is dead the same way, and then it needs no flags from
 * before it either.
 */
export function liveFlagCode(done: readonly Translation[]): string[] {
  const codes: string[] = new Array<string>(done.length);
  let live = true; // flags needed after the instruction being looked at
  for (let i = done.length - 1; i >= 0; i--) {
    const t = done[i]!;
    const mayFault = t.mayFault ?? true;
    const writes = t.writesFlags ?? FlagWrite.Some;
    if (t.flow === Flow.Store) live = true;
    // A rotate whose CF/OF are dead reads nothing either (Translation.mergesFlags); ADC and
    // SBB still read CF when their own flags are dead.
    const deadMerge = !live && !mayFault && t.mergesFlags === true;
    codes[i] = deadMerge || (!live && !mayFault && writes === FlagWrite.All) ? t.code.replace(FLAG_STORE, '') : t.code;
    if (mayFault || (!deadMerge && (t.readsFlags ?? true))) live = true;
    else if (writes === FlagWrite.All) live = false;
  }
  return codes;
}

/**
 * The statements of the block: each instruction's code (liveFlagCode), after `k = i` when it
 * can throw, and after an instruction that may write memory the self-modification check.
 */
function emitBody(done: readonly Translation[], nexts: readonly number[], start: number, loop: boolean): string[] {
  const codes = liveFlagCode(done);
  const parts: string[] = [];
  const total = done.length;
  for (let i = 0; i < total; i++) {
    const t = done[i]!;
    const n = i + 1;
    if (t.target === start && loop && (t.flow === Flow.Branch || t.flow === Flow.Jump)) {
      // Back to the start: another pass when it fits the budget and nothing is pending (a
      // device the block wrote to may have raised an interrupt or asked for an exit).
      const again = `D += ${n}; if (D + ${total} <= budget && ${MAY_GO_ROUND}) continue; s.eip = ${start}; cpu.retired += D; return D;`;
      parts.push(t.flow === Flow.Branch ? `if (${t.cond!}) { ${again} }` : again);
      continue;
    }
    if (t.mayFault ?? true) parts.push(`k = ${i};`);
    if (t.flow === Flow.Branch) {
      parts.push(`if (${t.cond!}) { setIp(cpu, ${t.target!}); ${retire(n, loop)} }`);
      continue;
    }
    if (t.mayRestart === true) {
      parts.push(`s.eip = ${nexts[i]!}; ${codes[i]!}`, `if (s.eip !== ${nexts[i]!}) { ${retire(n, loop)} }`);
    } else {
      parts.push(codes[i]!);
    }
    if (t.flow === Flow.Store) parts.push(`if (B.valid === false) { s.eip = ${nexts[i]!}; ${retire(n, loop)} }`);
  }
  return parts;
}

/** How translated code leaves a block: 32-bit and 64-bit code set (R)IP differently. */
export interface BlockExits {
  /** A statement setting (R)IP to a branch's target outside the block. */
  toTarget(target: number): string;
  /** A statement setting (R)IP to an instruction's address (the next one, a loop's start). */
  toAddress(addr: number): string;
  /** The check after a store, leaving the block with the statements `leave` when it must. */
  afterStore(leave: string): string;
}

const EXITS32: BlockExits = {
  toTarget: (target) => `setIp(cpu, ${target});`,
  toAddress: (addr) => `s.eip = ${addr};`,
  afterStore: (leave) => `if (B.valid === false) { ${leave} }`,
};

/**
 * The statements of a block with branches to its own instructions (innerBranches). The
 * instructions are the cases of a `switch (pc)` in a loop, a case starting at each branch
 * target, so that a branch inside the block sets `pc` and continues the loop instead of
 * leaving the block for the run loop to find the next one. `c` counts the instructions this
 * call ran before the current case; the instructions of the case so far are a constant at
 * each exit. A branch backwards (or back to the first instruction) goes round again only
 * while another full pass fits the budget and nothing is pending, as a loop block does.
 * Returns the statements and each instruction's case start (for a fault's count, see
 * JitEngine.abortBlock).
 */
export function emitSwitchBody(done: readonly Translation[], nexts: readonly number[], addrs: readonly number[], inner: ReadonlyMap<number, number>,
  start: number, fallThrough: number | undefined, exits: BlockExits): { parts: string[]; segStart: number[] } {
  const codes = liveFlagCode(done);
  const total = done.length;
  const labels = new Set<number>([0, ...inner.values()]);
  const segStart: number[] = [];
  for (let i = 0, at = 0; i < total; i++) {
    if (labels.has(i)) at = i;
    segStart.push(at);
  }
  /** Instructions this call ran through instruction i. */
  const ran = (i: number): string => `c + ${i + 1 - segStart[i]!}`;
  const exit = (i: number): string => `cpu.retired += ${ran(i)}; return ${ran(i)};`;
  const back = (i: number, j: number): string =>
    `c += ${i + 1 - segStart[i]!}; if (c + ${total} <= budget && ${MAY_GO_ROUND}) { pc = ${j}; continue; } ${exits.toAddress(addrs[j]!)} cpu.retired += c; return c;`;
  const parts: string[] = [];
  for (let i = 0; i < total; i++) {
    if (labels.has(i)) {
      // Falling into the next case: the previous one ran to its end.
      if (i > 0) parts.push(`c += ${i - segStart[i - 1]!};`);
      parts.push(`case ${i}:`);
    }
    const t = done[i]!;
    if (t.mayFault ?? true) parts.push(`k = ${i};`);
    const toStart = (t.flow === Flow.Branch || t.flow === Flow.Jump) && t.target === start;
    const j = inner.get(i) ?? (toStart ? 0 : undefined);
    if (t.flow === Flow.Branch) {
      if (j === undefined) parts.push(`if (${t.cond!}) { ${exits.toTarget(t.target!)} ${exit(i)} }`);
      else if (j > i) parts.push(`if (${t.cond!}) { c += ${i + 1 - segStart[i]!}; pc = ${j}; continue; }`);
      else parts.push(`if (${t.cond!}) { ${back(i, j)} }`);
      continue;
    }
    if (t.flow === Flow.Jump && j === 0) {
      parts.push(back(i, 0));
      continue;
    }
    if (t.mayRestart === true) {
      // (32-bit only: 64-bit blocks translate no REP string instruction.)
      parts.push(`s.eip = ${nexts[i]!}; ${codes[i]!}`, `if (s.eip !== ${nexts[i]!}) { ${exit(i)} }`);
    } else {
      parts.push(codes[i]!);
    }
    if (t.flow === Flow.Store) parts.push(exits.afterStore(`${exits.toAddress(nexts[i]!)} ${exit(i)}`));
  }
  if (fallThrough !== undefined) parts.push(exits.toAddress(fallThrough));
  parts.push(exit(total - 1));
  return { parts, segStart };
}

/** The block's exit after its first `n` instructions (in a loop block: of this pass). */
export function retire(n: number, loop: boolean): string {
  return loop ? `cpu.retired += D + ${n}; return D + ${n};` : `cpu.retired += ${n}; return ${n};`;
}

/** Compiles `body` into the block's `run`. */
export function compileBlock(cpu: X86Cpu, flat: FlatAccess, block: CompiledBlock, body: string): void {
  if (block.length === 0) return;
  body = cacheRegisters(hoistBlockLocals(body));
  const factory = new Function('cpu', 's', 'g', 'B', 'H', 'F', 'E', 'I',
    `const { ${HELPER_NAMES} } = H;\nconst { ${FLAT_NAMES} } = F;\nconst L = cpu.lazy;\n` +
    tlbRamPrelude('F') +
    // Parenthesized, V8 compiles the function now (inside the timed translation), not lazily
    // at its first call.
    `return (function block_${(block.eip >>> 0).toString(16)}(budget) {\n${body}\n});`) as
    (cpu: X86Cpu, s: X86Cpu['s'], g: Int32Array, b: CompiledBlock, h: typeof HELPERS, f: FlatAccess, e: readonly number[],
      i: X86Cpu['bus']['interrupts']) => (budget: number) => number;
  block.run = factory(cpu, cpu.s, cpu.s.gpr, block, HELPERS, flat, block.eips, cpu.bus.interrupts);
}
