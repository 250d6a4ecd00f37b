/**
 * MachineDebugger: breakpoints, watchpoints and single-step for a debugger front end (the
 * gdbstub, src/gdb). Nothing is written into guest memory: a breakpoint is an address the
 * CPU's run loop compares before each interpreted instruction (through `X86Cpu.debugHook`),
 * and translated code runs only in blocks that hold no breakpoint (mayRunBlock), as QEMU's
 * TCG checks its breakpoint list when it translates a block.
 *
 * Addresses are linear (CS base + EIP, as QEMU compares them): below 2^32 outside IA-32e
 * mode, the low 48 bits of a canonical address in it (the MMU's form).
 *
 * Watchpoints are trap-like, as x86 data breakpoints are (SDM Vol. 3B 17.3.1.2): the access
 * completes, the instruction finishes, and the stop is reported with the PC after it. They
 * are seen by wrapping the MMU's data accesses of this CPU (read, write, and the REP MOVS/STOS
 * block path, which falls back to element accesses on a watched page) only while any is set.
 * XXX: a REP string instruction reports after its current chunk (≤ 4,096 elements), not after
 * the iteration that touched the watched bytes.
 *
 * The hook is installed only while breakpoints, watchpoints or a step are active, so a VM
 * without a debugger pays nothing (see debug-hook.ts for what a JIT must do).
 */
import type { X86Cpu } from '../cpu/x86/cpu.js';
import type { CpuDebugHook } from '../cpu/x86/debug-hook.js';
import type { Mmu } from '../cpu/x86/mmu.js';
import { Access } from '../cpu/x86/paging.js';
import { SegReg } from '../cpu/x86/state.js';

export type WatchKind = 'write' | 'read' | 'access';

/** Why the debugger stopped the VM. */
export type DebugStop =
  | { readonly kind: 'breakpoint'; readonly address: number; readonly hardware: boolean }
  | { readonly kind: 'step' }
  | { readonly kind: 'watch'; readonly watch: WatchKind; readonly address: number };

interface Watchpoint {
  readonly address: number;
  readonly length: number;
  readonly kind: WatchKind;
}

/** x86 has four debug address registers (DR0-DR3): the limit on hardware breakpoints. */
export const MAX_HW_BREAKPOINTS = 4;

const PAGE = 4096;
const TWO_POW_48 = 2 ** 48;

export class MachineDebugger implements CpuDebugHook {
  private readonly swBreakpoints = new Set<number>();
  private readonly hwBreakpoints = new Set<number>();
  private readonly watchpoints: Watchpoint[] = [];
  /** Pages (linear page numbers) holding a watched byte. */
  private readonly watchedPages = new Set<number>();
  private stepping = false;
  private stepStarted = false;
  /** The step began on a halted CPU: the interrupt that wakes it is the step. */
  private stepFromHalt = false;
  /** Linear PC the VM resumes at: its breakpoint is not taken again before it executes. */
  private resumePc = -1;
  private pending: DebugStop | undefined;
  /** Why the VM stopped last because of the debugger (for the stop reply). */
  lastStop: DebugStop | undefined;
  private mmuWrapped = false;

  constructor(private readonly cpu: X86Cpu) {}

  /** The linear address of the next instruction (CS base + RIP), in the MMU's form. */
  linearPc(): number {
    const cpu = this.cpu;
    if (cpu.mode64) return toLinear(cpu.rip, true);
    return toLinear(cpu.s.segBase[SegReg.CS]! + (cpu.s.eip >>> 0), cpu.lma);
  }

  /** Converts a debugger address (a 64-bit value as a number or bigint) to the MMU's form. */
  linearOf(address: bigint): number {
    return Number(BigInt.asUintN(this.cpu.lma ? 48 : 32, address));
  }

  insertBreakpoint(address: number, hardware: boolean): boolean {
    const set = hardware ? this.hwBreakpoints : this.swBreakpoints;
    if (hardware && !set.has(address) && set.size >= MAX_HW_BREAKPOINTS) return false;
    set.add(address);
    this.update();
    return true;
  }

  removeBreakpoint(address: number, hardware: boolean): boolean {
    const removed = (hardware ? this.hwBreakpoints : this.swBreakpoints).delete(address);
    this.update();
    return removed;
  }

  insertWatchpoint(address: number, length: number, kind: WatchKind): boolean {
    if (length < 1 || length > PAGE) return false;
    if (!this.watchpoints.some((w) => w.address === address && w.length === length && w.kind === kind)) {
      this.watchpoints.push({ address, length, kind });
    }
    this.update();
    return true;
  }

  removeWatchpoint(address: number, length: number, kind: WatchKind): boolean {
    const i = this.watchpoints.findIndex((w) => w.address === address && w.length === length && w.kind === kind);
    if (i >= 0) this.watchpoints.splice(i, 1);
    this.update();
    return i >= 0;
  }

  /** Removes every breakpoint and watchpoint and cancels a step (gdb `D`, a new connection). */
  clearAll(): void {
    this.swBreakpoints.clear();
    this.hwBreakpoints.clear();
    this.watchpoints.length = 0;
    this.stepping = false;
    this.pending = undefined;
    this.update();
  }

  /** Arms a single step: the next `cont` executes one instruction and stops. */
  armStep(): void {
    this.stepping = true;
    this.stepStarted = false;
    this.stepFromHalt = this.cpu.s.halted;
    this.update();
  }

  /** Called before the VM resumes: remember the PC so that its breakpoint is stepped over. */
  prepareResume(): void {
    this.resumePc = this.linearPc();
    this.lastStop = undefined;
  }

  /** The stop the CPU asked for since the last call, if any (the Machine's run loop asks). */
  takeStop(): DebugStop | undefined {
    // A stepped HLT: no next instruction comes until an interrupt, so the step ends here,
    // with the PC after the HLT (as the single-step trap after a HLT reports it).
    if (this.stepping && this.stepStarted && this.cpu.s.halted && this.pending === undefined) {
      this.stepping = false;
      this.pending = { kind: 'step' };
      this.update();
    }
    const p = this.pending;
    if (p !== undefined) {
      this.pending = undefined;
      this.lastStop = p;
    }
    return p;
  }

  get active(): boolean {
    return this.stepping || this.swBreakpoints.size > 0 || this.hwBreakpoints.size > 0 || this.watchpoints.length > 0;
  }

  // ============================================================================================
  // CpuDebugHook

  /**
   * A single step holds interrupts (QEMU's SSTEP_NOIRQ), except on a halted CPU: there only
   * an interrupt can make progress, and the step ends on entry to its handler.
   */
  get holdsInterrupts(): boolean {
    return this.stepping && !this.cpu.s.halted;
  }

  mayRunBlock(_cpu: X86Cpu, bytes: number): boolean {
    if (this.stepping || this.watchpoints.length > 0 || this.pending !== undefined) return false;
    const pc = this.linearPc();
    const space = this.cpu.lma ? TWO_POW_48 : 2 ** 32;
    for (const set of [this.swBreakpoints, this.hwBreakpoints]) {
      for (const a of set) {
        const d = a - pc;
        if ((d < 0 ? d + space : d) < bytes) return false;
      }
    }
    return true;
  }

  beforeInstruction(cpu: X86Cpu): boolean {
    if (this.pending !== undefined) {
      // A watchpoint fired in the previous instruction: stop now, before the next one.
      cpu.exitRequested = true;
      return true;
    }
    if (this.stepping) {
      // The stepped instruction has run; or, woken from HLT, the CPU is at the first
      // instruction of the interrupt's handler.
      if (this.stepStarted || this.stepFromHalt) {
        this.stepping = false;
        this.update();
        return this.stopWith({ kind: 'step' });
      }
      this.stepStarted = true;
      this.resumePc = -1;
      return false;
    }
    const pc = this.linearPc();
    if (pc === this.resumePc) {
      this.resumePc = -1;
      return false;
    }
    this.resumePc = -1;
    if (this.swBreakpoints.has(pc)) return this.stopWith({ kind: 'breakpoint', address: pc, hardware: false });
    if (this.hwBreakpoints.has(pc)) return this.stopWith({ kind: 'breakpoint', address: pc, hardware: true });
    return false;
  }

  private stopWith(stop: DebugStop): true {
    this.pending = stop;
    this.cpu.exitRequested = true;
    return true;
  }

  // ============================================================================================
  // Installation

  /** Installs or removes the CPU hook and the MMU wrappers to match what is set. */
  private update(): void {
    this.cpu.setDebugger(this.active || this.pending !== undefined ? this : undefined);
    this.watchedPages.clear();
    for (const w of this.watchpoints) {
      for (let p = Math.floor(w.address / PAGE); p <= Math.floor((w.address + w.length - 1) / PAGE); p++) this.watchedPages.add(p);
    }
    const wantWrap = this.watchpoints.length > 0;
    if (wantWrap && !this.mmuWrapped) this.wrapMmu();
    else if (!wantWrap && this.mmuWrapped) this.unwrapMmu();
  }

  private wrapMmu(): void {
    const mmu = this.cpu.mmu;
    const proto = Object.getPrototypeOf(mmu) as Mmu;
    const read = proto.read;
    const write = proto.write;
    const ramIndex = proto.ramIndex;
    // Instance properties shadow the prototype's methods for this CPU only.
    mmu.read = (lin, size, set) => {
      const v = read.call(mmu, lin, size, set);
      this.checkAccess(lin, size, false);
      return v;
    };
    mmu.write = (lin, size, v, set) => {
      write.call(mmu, lin, size, v, set);
      this.checkAccess(lin, size, true);
    };
    // The block path of REP MOVS/STOS: -1 ("not RAM") on a watched page makes the string
    // instruction use element accesses, which the wrappers above see.
    mmu.ramIndex = (lin, access, set) => {
      if (access !== Access.Fetch && this.watchedPages.has(Math.floor(lin / PAGE))) return -1;
      return ramIndex.call(mmu, lin, access, set);
    };
    this.mmuWrapped = true;
  }

  private unwrapMmu(): void {
    const mmu = this.cpu.mmu;
    for (const k of ['read', 'write', 'ramIndex'] as const) Reflect.deleteProperty(mmu, k);
    this.mmuWrapped = false;
  }

  private checkAccess(lin: number, size: number, isWrite: boolean): void {
    if (this.pending !== undefined) return;
    for (const w of this.watchpoints) {
      if (lin + size <= w.address || lin >= w.address + w.length) continue;
      if (w.kind === 'write' && !isWrite) continue;
      if (w.kind === 'read' && isWrite) continue;
      this.stopWith({ kind: 'watch', watch: w.kind, address: w.address });
      this.cpu.setDebugger(this);
      return;
    }
  }
}

/** A linear address in the MMU's form: low 48 bits in IA-32e mode, else low 32 bits. */
function toLinear(v: number, lma: boolean): number {
  if (lma) {
    const m = v % TWO_POW_48;
    return m < 0 ? m + TWO_POW_48 : m;
  }
  return v >>> 0;
}
