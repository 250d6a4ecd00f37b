/**
 * The JIT: finds, translates and runs blocks of guest code (block-compiler.ts), and drops
 * them when the memory they came from is written.
 *
 * Blocks are keyed by where their first byte lies in guest RAM, so a page mapped at several
 * linear addresses (or remapped by a new CR3) shares its translations, and a write through
 * any mapping or by DMA reaches them: PhysicalMemory.codePages marks the RAM pages that have
 * translations and every write path into RAM reports writes to such pages (onCodeWrite).
 * A block is also tagged with the EIP (in 64-bit mode RIP: ripHi too) and the CPU mode it was
 * translated for, and runs only when they match. 32-bit protected-mode code goes through
 * block-compiler.ts, 64-bit-mode code through block-compiler64.ts.
 *
 * Writes to a page with translations drop its blocks only when they touch the bytes the
 * blocks were made from (kernels keep data next to code); a page whose code keeps being
 * rewritten is left to the interpreter after INVALIDATIONS_BEFORE_GIVING_UP rounds.
 *
 * An EIP is translated once it has been reached `threshold` times: translating and compiling
 * a block costs about as much as interpreting tens of thousands of instructions (see
 * DEFAULT_THRESHOLD), so code that runs a few times is cheaper to interpret. The cache is
 * direct-mapped; a block pushed out of its slot by a colliding one stays in its page's index
 * (PageCode.byIndex) and is found there again without being translated anew.
 */
import { Fl, SegReg } from '../state.js';
import type { BlockEngine, X86Cpu } from '../cpu.js';
import type { PhysicalMemory } from '../../../memory/physical-memory.js';
import { CompiledBlock, compileBlock, segmentIsFlat, translateBlock } from './block-compiler.js';
import { makeFlatAccess, type FlatAccess } from './flat-memory.js';
import { compileBlock64, translateBlock64 } from './block-compiler64.js';
import { makeLongAccess, type LongAccess } from './long-memory.js';

const SLOT_BITS = 16;
const SLOTS = 1 << SLOT_BITS;
const SLOT_MASK = SLOTS - 1;
const PAGE = 4096;
/**
 * Visits before an EIP is translated (see above). A translation (our translator, V8's parse
 * and its optimizing compile) costs milliseconds, as much as interpreting tens of thousands of
 * instructions. Measured on whole boots to GUEST-READY (idle host, per-EIP heat): i386 126.6 s
 * at 1024 and 122.8 s at 2048; amd64 190.9 s and 177.6 s. (Earlier, on the i386 guest's
 * `dd … | md5sum` from a booted state: 256 → 27 CPU-s, 1024 → 18.5 s, 2048 → 8.8 s, 8192 → 12.1 s.)
 */
const DEFAULT_THRESHOLD = 2048;
/**
 * log2 of the visit counters (JitEngine.heat), one per RAM index modulo a hash. A counter per
 * cache slot (64 Ki) was shared by every instruction 64 KiB apart: in a kernel's init, which
 * runs megabytes of code a few times each, the visits of hundreds of cold instructions added
 * up and got code that ran once translated — 6,750 translations from the cold-init snapshot
 * to "Freeing initrd" against 2,870 with a counter per instruction, and 59 s against 42 s.
 * 4 Mi counters keep a kernel's text and a user space's libraries apart.
 */
const HEAT_BITS = 22;
const HEAT_MASK = (1 << HEAT_BITS) - 1;
/** JitEngine.heat entries: visits in the low 16 bits, kept translations from KEPT_ONE up. */
const VISITS_MASK = 0xffff;
const KEPT_ONE = 0x10000;

/**
 * Longest block, in instructions. Longer blocks keep more of a loop in one function (a block
 * with branches to its own instructions runs them as a switch) and pay the dispatch less often,
 * and cost more to translate. 48 → 96, amd64 snapshot windows, 3 runs each interleaved:
 * decompressor 13.7 → 10.3 s, module loading (Run /init + 425 M instructions) 10.7 → 9.1 s
 * (2 runs), cold tracefs init 6.7 → 7.5 s (noise about ±1 s).
 */
const DEFAULT_MAX_INSTRUCTIONS = 96;
/** Rounds of invalidation a page may go through before its code is only interpreted. */
const INVALIDATIONS_BEFORE_GIVING_UP = 32;
/** Translations kept before everything is dropped (bounds memory on long runs). */
const MAX_BLOCKS = 200_000;
/** The entry of RAM index `index` in JitEngine.heat. */
function heatHash(index: number): number {
  return (index ^ Math.floor(index / 2 ** HEAT_BITS)) & HEAT_MASK;
}

/** The translations made from one RAM page. */
interface PageCode {
  blocks: CompiledBlock[];
  /** The latest block translated at each RAM index (what a slot miss looks up). */
  byIndex: Map<number, CompiledBlock>;
  /** RAM index range [lo, hi) their bytes lie in. */
  lo: number;
  hi: number;
}

export interface JitOptions {
  /** Visits of an EIP before it is translated (0: at once; tests). */
  threshold?: number;
  /** Longest block, in instructions. */
  maxInstructions?: number;
}

export class JitEngine implements BlockEngine {
  private readonly slots: (CompiledBlock | undefined)[] = new Array<CompiledBlock | undefined>(SLOTS).fill(undefined);
  /**
   * The RAM index of the block in each slot, or -1: a miss is told from this dense array
   * without loading the slot's block, an object anywhere in the heap. Cold code, each of
   * whose interpreted instructions looks up its slot, spent a third of the dispatch time on
   * those two cache misses.
   */
  private readonly slotIndex = new Int32Array(SLOTS).fill(-1);
  /**
   * By heatHash of a RAM index, two counts in one entry, so that a slot miss on code never
   * translated (each branch target in cold code) costs one load, not two cache misses in two
   * tables of 8 and 2 MiB as before, nor two Map lookups:
   *  - bits 0-15: visits of the not-yet-translated EIPs with this hash (VISITS_MASK);
   *  - bits 16-30: how many RAM indices with this hash have an entry in their page's byIndex
   *    (in KEPT_ONE units): a slot miss looks there only when this is not 0.
   */
  private readonly heat = new Int32Array(1 << HEAT_BITS);
  /** RAM page → blocks translated from it and the RAM index range they cover. */
  private readonly pageBlocks = new Map<number, PageCode>();
  /** RAM page → how many times its translations were dropped. */
  private readonly pageInvalidations = new Map<number, number>();
  private blockCount = 0;
  lastWasCold = false;
  /** The block running now, and the instructions run before it in this runBlock call (for abortBlock). */
  private current: CompiledBlock | undefined;
  private doneBefore = 0;
  private readonly flat: FlatAccess;
  private readonly long: LongAccess;
  private readonly threshold: number;
  private readonly maxInstructions: number;
  /** Counters for `info jit` and the benchmarks. */
  readonly stats = { translated: 0, invalidated: 0, flushes: 0, guardFailures: 0, blocksRun: 0 };

  constructor(cpu: X86Cpu, private readonly mem: PhysicalMemory, options: JitOptions = {}) {
    this.threshold = Math.min(options.threshold ?? DEFAULT_THRESHOLD, 65535);
    this.maxInstructions = options.maxInstructions ?? DEFAULT_MAX_INSTRUCTIONS;
    this.flat = makeFlatAccess(cpu);
    this.long = makeLongAccess(cpu);
    mem.onCodeWrite = (index, length) => this.codeWritten(index, length);
    cpu.blockEngine = this;
  }

  /**
   * The mode bits a translation depends on: 64-bit mode (bit 3) and the CPL; outside 64-bit
   * mode (CS.D is always 1 here) SS.B too.
   */
  private static signature(cpu: X86Cpu): number {
    return cpu.mode64 ? 8 | (cpu.cpl << 1) : (cpu.ss32 ? 1 : 0) | (cpu.cpl << 1);
  }

  /**
   * Runs blocks one after another while each next one is translated and fits the budget, and
   * nothing asks the run loop to look (an exit request, a deliverable interrupt).
   */
  runBlock(cpu: X86Cpu, budget: number): number {
    // 32-bit protected-mode and 64-bit-mode code; single-stepping (TF) stays with the interpreter.
    // Real mode, 16-bit code segments and virtual-8086 mode (protectedMode and cs32 are false
    // while EFLAGS.VM = 1: its 8086-style segments, CPL 3 and IOPL-sensitive instructions are
    // never translated) are interpreted. VMX non-root operation checks for VM exits at every
    // instruction boundary: interpreter only.
    const s = cpu.s;
    this.doneBefore = 0;
    this.lastWasCold = false;
    if (!JitEngine.translatable(cpu) || (s.eflags & Fl.TF) !== 0 || cpu.vmxNonRoot) return 0;
    const interrupts = cpu.bus.interrupts;
    let total = 0;
    for (;;) {
      this.doneBefore = total;
      const n = this.runOne(cpu, budget - total);
      total += n;
      if (n === 0 || total >= budget || cpu.exitRequested || ((s.eflags & Fl.IF) !== 0 && interrupts.hasInterrupt())) {
        // Nothing of this call is left to abort: a fault before the next call (the debug
        // hook's instruction breakpoint) must not count these instructions again.
        this.doneBefore = 0;
        return total;
      }
    }
  }

  /** The modes translated code exists for: 64-bit mode and 32-bit protected mode (not VM86). */
  private static translatable(cpu: X86Cpu): boolean {
    return cpu.mode64 || (cpu.cs32 && cpu.protectedMode && (cpu.s.eflags & Fl.VM) === 0);
  }

  /** Whether `b` is the translation for this RAM index, EIP (int32), RIP high half, mode and CS limit (int32). */
  private static fits(b: CompiledBlock | undefined, index: number, eip: number, ripHi: number, sig: number, csLimit: number): b is CompiledBlock {
    return b !== undefined && b.index === index && b.eip === eip && b.ripHi === ripHi && b.sig === sig && b.csLimit === csLimit;
  }

  private runOne(cpu: X86Cpu, budget: number): number {
    // A chained block may have left the translatable modes (it ends at any instruction that
    // can change them, but the check is one load).
    if (!JitEngine.translatable(cpu)) return 0;
    let index = cpu.mode64 ? cpu.codeIndex64() : cpu.codeIndex();
    // Outside the cached code page (a jump to another page, a new run slice): load the page
    // as the interpreter's next fetch would, so that a block can start there at once.
    if (index < 0) index = cpu.loadCodePage();
    if (index < 0) return 0;
    const s = cpu.s;
    const eip = s.eip >>> 0;
    const slot = index & SLOT_MASK;
    let b = this.slotIndex[slot] === index ? this.slots[slot] : undefined;
    const sig = JitEngine.signature(cpu);
    const csLimit = s.segLimit[SegReg.CS]! | 0;
    if (!JitEngine.fits(b, index, eip | 0, s.ripHi, sig, csLimit)) {
      // The slot holds another block (or none): the block may still exist, pushed out by a
      // colliding one — hot kernel and user code can share a slot and would otherwise be
      // translated again and again.
      const heat = heatHash(index);
      const entry = this.heat[heat]!;
      const kept = entry < KEPT_ONE ? undefined : this.pageBlocks.get(Math.floor(index / PAGE))?.byIndex.get(index);
      if (JitEngine.fits(kept, index, eip | 0, s.ripHi, sig, csLimit)) {
        b = kept;
        this.setSlot(slot, b);
      } else {
        if ((entry & VISITS_MASK) < this.threshold) {
          this.heat[heat] = entry + 1;
          this.lastWasCold = true;
          return 0;
        }
        // Hot: translate it (its counter starts again for when the block is dropped).
        this.heat[heat] = entry & ~VISITS_MASK;
        b = this.translate(cpu, index, eip, sig);
        this.setSlot(slot, b);
      }
    }
    if (b.length === 0 || b.length > budget + cpu.budgetSlack) return 0;
    // A debugger's breakpoint among the block's bytes, or a step or watchpoint: interpret.
    const hook = cpu.debugHook;
    // (A block that follows jumps is not one run of bytes from EIP: interpreted under a debugger.)
    if (hook !== undefined && (b.followsJumps || !hook.mayRunBlock(cpu, b.end - b.index))) return 0;
    this.current = b;
    this.stats.blocksRun++;
    const n = b.run(budget);
    this.current = undefined;
    if (n < 0) {
      this.stats.guardFailures++;
      // A segment the block took as flat no longer is: translate it again for next time.
      this.setSlot(slot, this.translate(cpu, index, eip, sig));
      return 0;
    }
    return n;
  }

  private setSlot(slot: number, b: CompiledBlock | undefined): void {
    this.slots[slot] = b;
    this.slotIndex[slot] = b === undefined ? -1 : b.index;
  }

  abortBlock(cpu: X86Cpu): number {
    const b = this.current;
    // A fault between blocks (loading the next code page): the blocks before it completed.
    if (b === undefined) return this.doneBefore;
    this.current = undefined;
    // The block's instructions before the faulting one completed (and, in a loop block, the
    // passes before this one): count them as retired.
    const k = Math.max(0, b.eips.indexOf(cpu.startEip >>> 0)) + b.passesDone;
    b.passesDone = 0;
    cpu.retired += k;
    return this.doneBefore + k;
  }

  flush(): void {
    this.slots.fill(undefined);
    this.slotIndex.fill(-1);
    this.heat.fill(0);
    for (const page of this.pageBlocks.keys()) this.mem.codePages[page] = 0;
    for (const code of this.pageBlocks.values()) for (const b of code.blocks) b.valid = false;
    this.pageBlocks.clear();
    this.pageInvalidations.clear();
    this.blockCount = 0;
    this.stats.flushes++;
  }

  /**
   * RAM bytes `[index, index + length)` were written: drops the blocks of each page touched
   * if the write reaches the bytes they were translated from.
   */
  codeWritten(index: number, length: number): void {
    const last = index + Math.max(length, 1) - 1;
    for (let page = Math.floor(index / PAGE); page <= Math.floor(last / PAGE); page++) {
      const code = this.pageBlocks.get(page);
      if (code === undefined) {
        this.mem.codePages[page] = 0;
        continue;
      }
      if (last >= code.lo && index < code.hi) this.invalidatePage(page);
    }
  }

  /** Drops every block translated from RAM page `page`. */
  invalidatePage(page: number): void {
    this.mem.codePages[page] = 0;
    const code = this.pageBlocks.get(page);
    if (code === undefined) return;
    const list = code.blocks;
    this.pageBlocks.delete(page);
    for (const index of code.byIndex.keys()) this.heat[heatHash(index)]! -= KEPT_ONE;
    this.pageInvalidations.set(page, (this.pageInvalidations.get(page) ?? 0) + 1);
    for (const b of list) {
      b.valid = false;
      const slot = b.index & SLOT_MASK;
      if (this.slots[slot] === b) this.setSlot(slot, undefined);
    }
    this.blockCount -= list.length;
    this.stats.invalidated += list.length;
  }

  private translate(cpu: X86Cpu, index: number, eip: number, sig: number): CompiledBlock {
    // A translation's host time is not the guest's (machine/clock.ts excludeHostTime).
    const t0 = performance.now();
    const b = this.translateTimed(cpu, index, eip, sig);
    cpu.bus.excludeHostTime?.((performance.now() - t0) * 1e6);
    return b;
  }

  private translateTimed(cpu: X86Cpu, index: number, eip: number, sig: number): CompiledBlock {
    if (this.blockCount >= MAX_BLOCKS) this.flush();
    const page = Math.floor(index / PAGE);
    if ((this.pageInvalidations.get(page) ?? 0) >= INVALIDATIONS_BEFORE_GIVING_UP) {
      // Code that keeps changing: interpret it (an empty block says so without a lookup miss).
      return new CompiledBlock(index, eip, sig, cpu.s.segLimit[SegReg.CS]!, [], index, cpu.s.ripHi);
    }
    const b = cpu.mode64 ? this.translate64(cpu, index, eip, sig) : this.translate32(cpu, index, eip, sig);
    let code = this.pageBlocks.get(page);
    if (code === undefined) {
      code = { blocks: [], byIndex: new Map(), lo: index, hi: index + 1 };
      this.pageBlocks.set(page, code);
    }
    code.blocks.push(b);
    if (!code.byIndex.has(index)) this.heat[heatHash(index)]! += KEPT_ONE;
    code.byIndex.set(index, b);
    code.lo = Math.min(code.lo, b.lo);
    code.hi = Math.max(code.hi, b.end, index + 1);
    this.blockCount++;
    this.mem.codePages[page] = 1;
    if (b.length > 0) this.stats.translated++;
    return b;
  }

  private translate64(cpu: X86Cpu, index: number, eip: number, sig: number): CompiledBlock {
    const ripHi = cpu.s.ripHi;
    const { body, eips, end, segStart } = translateBlock64({
      ram: this.mem.ram,
      tlbSet: cpu.tlbSet,
      index,
      bytes: cpu.codeBytesLeft64(),
      eip,
      ripHi,
      maxInstructions: this.maxInstructions,
    });
    const b = new CompiledBlock(index, eip, sig, cpu.s.segLimit[SegReg.CS]!, eips, end, ripHi);
    if (segStart !== undefined) b.segStart = segStart;
    compileBlock64(cpu, this.long, b, body);
    return b;
  }

  private translate32(cpu: X86Cpu, index: number, eip: number, sig: number): CompiledBlock {
    let flatMask = 0;
    for (let seg = 0; seg < 6; seg++) if (segmentIsFlat(cpu.s, seg)) flatMask |= 1 << seg;
    const { body, eips, lo, end, followsJumps, segStart } = translateBlock({
      ram: this.mem.ram,
      flatMask,
      tlbSet: cpu.tlbSet,
      index,
      bytes: cpu.codeBytesLeft(),
      eip,
      ss32: cpu.ss32,
      maxInstructions: this.maxInstructions,
    });
    const b = new CompiledBlock(index, eip, sig, cpu.s.segLimit[SegReg.CS]!, eips, end);
    b.lo = lo;
    b.followsJumps = followsJumps;
    if (segStart !== undefined) b.segStart = segStart;
    compileBlock(cpu, this.flat, b, body);
    return b;
  }
}
