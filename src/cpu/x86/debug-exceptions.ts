/**
 * The debug architecture the guest sees (SDM Vol. 3B chapter 18, 18.1-18.3; Vol. 3A 6.8.3,
 * 6.9 and 2.3 for RF): the debug registers DR0-DR7 acted on, and the debug exception (#DB,
 * vector 1) from each of its sources:
 *
 *  - instruction breakpoints (DR7 R/Wn = 00): a fault before the instruction at the linear
 *    address, unless EFLAGS.RF = 1 (18.3.1.1). RF is cleared at the start of every instruction,
 *    after that check (18.3.1.1); every other fault pushes RF = 1 (cpu.ts deliverFault);
 *  - data breakpoints (R/Wn = 01 writes, 11 reads or writes; LENn 1, 2, 8 or 4 bytes with the
 *    address masked to that alignment, 18.2.5): a trap after the instruction (18.3.1.2), seen
 *    on every linear access through the MMU, implicit ones too (descriptor tables, the stacks
 *    of event delivery). Pages holding one get no read/write TLB tags, so the MMU's fast path
 *    misses and its slow path calls `dataAccess`; the REP MOVS/STOS block path avoids them;
 *  - I/O breakpoints (R/Wn = 10 with CR4.DE = 1): a trap after IN/OUT/INS/OUTS (18.3.1.2);
 *  - general detect (DR7.GD): a fault on MOV to or from any DRn, DR6.BD, GD cleared when the
 *    #DB handler is entered (18.2.4, 18.3.1.3);
 *  - single step (EFLAGS.TF at the start of an instruction): a trap after it with DR6.BS
 *    (18.3.1.4) — none after POPF/IRET set TF, none for an instruction that faults or raises an
 *    event (the delivery drops the traps of the instruction, INT n / INT3 / INTO clear TF), one
 *    per iteration of a REP string instruction (string-ops.ts);
 *  - the T bit of a new TSS: a trap after the task switch with DR6.BT (18.3.1.5);
 *  - INT1 (ICEBP, F1): a #DB trap delivered as a privileged software exception — no gate DPL
 *    check, no DR6 change (exec-primary.ts).
 *
 * Traps wait in `CpuState.pendingDebug` (DR6 layout) for the next instruction boundary, where
 * they come before NMI and INTR (SDM Table 6-2); MOV SS / POP SS defer them, and the
 * instruction breakpoint check, by one instruction (6.8.3; `Shadow.MovSs`). DR6 B0-B3 are
 * replaced by the conditions of the #DB being delivered (an instruction breakpoint reports
 * every DRn with R/W = 00 at that address, enabled or not, as the SDM allows); BD, BS and BT
 * are only ever set. In VMX non-root operation a #DB that causes a VM exit leaves DR6 and DR7
 * alone and reports its bits in the exit qualification (SDM 27.1); VM exits save the pending
 * traps in the guest's pending-debug-exceptions field and VM entry loads them back.
 *
 * The run loop reaches this unit through `X86Cpu.debugHook` (debug-hook.ts), installed only
 * while something needs per-instruction checks (TF, RF, a pending trap, an enabled breakpoint),
 * so a guest that uses none pays one test per instruction as before. The JIT runs no block
 * while TF, RF, a trap or a data/I-O breakpoint is live, nor a block holding an enabled
 * instruction breakpoint (`mayRunBlock`).
 *
 * Not implemented: IA32_DEBUGCTL (BTF branch stepping, LBR; msr-platform.ts), RTM's DR6.RTM,
 * SMM. XXX: the pending traps a VM exit saves are those carried into the exiting instruction
 * (a MOV SS deferral) or, for exits between instructions, all of them; a #DB that is itself
 * intercepted by the exception bitmap is reported only in the exit qualification.
 */
import { Fl, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import { EventKind } from './interrupts.js';
import { linear48 } from './long-decode.js';
import type { CpuDebugHook } from './debug-hook.js';
import type { X86Cpu } from './cpu.js';

/** DR6 bits (SDM Figure 18-1). */
export const enum Dr6 {
  /** B0-B3: the condition of breakpoint n was met. */
  B_MASK = 0xf,
  /** The #DB is a general-detect fault (MOV DR with DR7.GD = 1). */
  BD = 1 << 13,
  /** Single step. */
  BS = 1 << 14,
  /** Task switch to a TSS with T = 1. */
  BT = 1 << 15,
  /** Bits 4-11 and 16-31 read as 1 (bit 16, RTM, too: no RTM here). */
  FIXED1 = 0xffff0ff0,
}

/** DR7 bits (SDM Figure 18-1). */
export const enum Dr7 {
  /** L0 G0 L1 G1 L2 G2 L3 G3. */
  ENABLES = 0xff,
  /** Bit 10 reads as 1. */
  FIXED1 = 0x400,
  /** General detect enable. */
  GD = 1 << 13,
  /** Bits 12, 14 and 15 read as 0. */
  WRITABLE = 0xffff2fff,
}

/** What `CpuState.interruptShadow` holds (SDM Vol. 3C Table 25-3: blocking by STI / by MOV SS). */
export const enum Shadow {
  None = 0,
  /** STI: maskable interrupts wait one instruction; debug exceptions do not. */
  Sti = 1,
  /** MOV SS / POP SS: interrupts, NMI and debug exceptions wait one instruction. */
  MovSs = 2,
}

/** The DR6 bits a pending #DB trap may hold (CpuState.pendingDebug). */
export const PENDING_DEBUG_MASK = Dr6.B_MASK | Dr6.BS | Dr6.BT;

/** DR6 as MOV to DR6 leaves it. */
export function dr6Value(v: number): number {
  return (v | Dr6.FIXED1) >>> 0;
}

/** DR7 as MOV to DR7 leaves it. */
export function dr7Value(v: number): number {
  return ((v | Dr7.FIXED1) & Dr7.WRITABLE) >>> 0;
}

/** LENn (DR7 bits 18+4n, 19+4n) to a length in bytes: 00 = 1, 01 = 2, 10 = 8, 11 = 4 (SDM 18.2.5). */
const LENGTHS = [1, 2, 8, 4] as const;

const PAGE = 4096;

export class DebugUnit implements CpuDebugHook {
  /** The guest's own debugging never holds interrupts back (that is the gdbstub's step). */
  readonly holdsInterrupts = false;
  /** The per-instruction checks are needed (the CPU installs this unit as a hook). */
  active = false;
  /** Any enabled data breakpoint: the MMU's slow paths call `dataAccess`. */
  dataArmed = false;
  /** Any enabled I/O breakpoint: port accesses call `ioAccess`. */
  ioArmed = false;
  /** Enabled breakpoints (bit n = DRn) by R/Wn: instruction, data, I/O. */
  private execMask = 0;
  private dataMask = 0;
  private ioMask = 0;
  /** Data breakpoints: first byte (linear, aligned to the length), length, writes only. */
  private readonly dataStart = new Float64Array(4);
  private readonly dataLength = new Uint8Array(4);
  private readonly dataWriteOnly = new Uint8Array(4);
  /** Linear page numbers of the enabled data breakpoints (-1: none). */
  private readonly watchPages = new Float64Array(4).fill(-1);
  /** `cpu.retired` when the run loop ended a MOV SS shadow: that instruction is not checked. */
  private movSsRetired = -1;
  /** `cpu.retired` at the start of the instruction running now, and the traps carried into it. */
  private startRetired = -1;
  private carried = 0;
  /** The #DB being raised is an instruction breakpoint's (its EFLAGS image keeps RF as it is). */
  private codeBreakpoint = false;
  /** DR6 bits of the #DB being delivered, committed to DR6 when it goes through the IDT. */
  private status = 0;

  constructor(private readonly cpu: X86Cpu) {}

  // ============================================================================================
  // Configuration

  /**
   * Recomputes what is armed from DR7, DR0-DR3, EFLAGS and the pending traps, and installs or
   * removes the hook. Call after any change to them (MOV DR, task switch, VM entry/exit, load).
   */
  update(): void {
    const s = this.cpu.s;
    const dr7 = s.dr[7]!;
    let exec = 0, data = 0, io = 0;
    for (let n = 0; n < 4; n++) {
      const page = this.watchPages[n]!;
      this.watchPages[n] = -1;
      if (((dr7 >>> (2 * n)) & 3) === 0) continue;
      const rw = (dr7 >>> (16 + 4 * n)) & 3;
      if (rw === 0) {
        exec |= 1 << n;
      } else if (rw === 2) {
        io |= 1 << n;
      } else {
        data |= 1 << n;
        const len = LENGTHS[(dr7 >>> (18 + 4 * n)) & 3]!;
        const start = s.dr[n]! - (s.dr[n]! % len);
        this.dataStart[n] = start;
        this.dataLength[n] = len;
        this.dataWriteOnly[n] = rw === 1 ? 1 : 0;
        const vpn = Math.floor(start / PAGE);
        this.watchPages[n] = vpn;
        // The TLB may hold the page with fast-path tags from before: drop them.
        if (vpn !== page) this.cpu.mmu.tlb.invalidatePage(vpn);
      }
    }
    this.execMask = exec;
    this.dataMask = data;
    this.ioMask = io;
    this.dataArmed = data !== 0;
    this.ioArmed = io !== 0;
    this.active = (s.eflags & (Fl.TF | Fl.RF)) !== 0 || s.pendingDebug !== 0 || (exec | data | io) !== 0;
    this.cpu.updateDebugHook();
  }

  /** Whether linear page `vpn` holds an enabled data breakpoint (the MMU then keeps it off its fast path). */
  watchesPage(vpn: number): boolean {
    const p = this.watchPages;
    return p[0] === vpn || p[1] === vpn || p[2] === vpn || p[3] === vpn;
  }

  /** Forgets everything transient (reset, snapshot load). */
  resetTransient(): void {
    this.movSsRetired = this.startRetired = -1;
    this.carried = this.status = 0;
    this.codeBreakpoint = false;
    this.update();
  }

  // ============================================================================================
  // CpuDebugHook: the run loop's per-instruction check

  beforeInstruction(cpu: X86Cpu): boolean {
    const s = cpu.s;
    // The instruction after MOV SS / POP SS runs with debug exceptions held (SDM 6.8.3).
    const afterMovSs = this.movSsRetired === cpu.retired;
    this.movSsRetired = -1;
    if (!afterMovSs) {
      // A trap of the previous instruction: the run loop delivers it (before NMI and INTR).
      if (s.pendingDebug !== 0) return true;
      if (this.execMask !== 0 && (s.eflags & Fl.RF) === 0) this.checkInstructionBreakpoints();
    }
    this.startRetired = cpu.retired;
    this.carried = s.pendingDebug;
    // RF is cleared at the start of every instruction, after the instruction breakpoint check.
    if (s.eflags & Fl.RF) s.eflags &= ~Fl.RF;
    // TF at the start of an instruction asks for a trap after it; an event delivered by the
    // instruction (a fault, INT n) drops it again.
    if (s.eflags & Fl.TF) s.pendingDebug |= Dr6.BS;
    if (!this.stillActive()) this.update();
    return false;
  }

  mayRunBlock(cpu: X86Cpu, bytes: number): boolean {
    const s = cpu.s;
    if ((s.eflags & (Fl.TF | Fl.RF)) !== 0 || s.pendingDebug !== 0 || (this.dataMask | this.ioMask) !== 0) return false;
    // Only instruction breakpoints: any block that does not hold one may run.
    const pc = this.linearPc();
    const space = cpu.lma ? 2 ** 48 : 2 ** 32;
    for (let n = 0; n < 4; n++) {
      if ((this.execMask & (1 << n)) === 0) continue;
      const d = s.dr[n]! - pc;
      if ((d < 0 ? d + space : d) < bytes) return false;
    }
    return true;
  }

  private stillActive(): boolean {
    const s = this.cpu.s;
    return (s.eflags & (Fl.TF | Fl.RF)) !== 0 || s.pendingDebug !== 0 || (this.execMask | this.dataMask | this.ioMask) !== 0;
  }

  /** Linear address of the next instruction in the MMU's form (what DR0-DR3 hold). */
  private linearPc(): number {
    const cpu = this.cpu;
    if (cpu.mode64) return linear48(cpu.rip);
    return (cpu.s.segBase[SegReg.CS]! + (cpu.s.eip >>> 0)) >>> 0;
  }

  /** An enabled instruction breakpoint at the next instruction: #DB, a fault (SDM 18.3.1.1). */
  private checkInstructionBreakpoints(): void {
    const cpu = this.cpu;
    const s = cpu.s;
    const pc = this.linearPc();
    const dr7 = s.dr[7]!;
    let hits = 0;
    for (let n = 0; n < 4; n++) {
      if (((dr7 >>> (16 + 4 * n)) & 3) === 0 && s.dr[n] === pc) hits |= 1 << n;
    }
    if ((hits & this.execMask) === 0) return;
    cpu.startEip = s.eip;
    cpu.startRipHi = s.ripHi;
    this.status = hits;
    this.codeBreakpoint = true;
    cpu.raise(Vec.DB);
  }

  // ============================================================================================
  // Conditions met during an instruction

  /** A linear data access of `size` bytes at `lin` (the MMU's slow paths, while `dataArmed`). */
  dataAccess(lin: number, size: number, write: boolean): void {
    const mask = this.dataMask;
    let hits = 0;
    for (let n = 0; n < 4; n++) {
      if ((mask & (1 << n)) === 0 || (!write && this.dataWriteOnly[n] === 1)) continue;
      const start = this.dataStart[n]!;
      if (lin < start + this.dataLength[n]! && lin + size > start) hits |= 1 << n;
    }
    if (hits !== 0) this.cpu.s.pendingDebug |= hits;
  }

  /** An I/O access of `size` bytes at `port` (IN/OUT/INS/OUTS, while `ioArmed`): SDM 18.2.5. */
  ioAccess(port: number, size: number): void {
    const s = this.cpu.s;
    if ((s.cr4 & 0x8) === 0) return; // R/W = 10 means I/O only with CR4.DE = 1
    const dr7 = s.dr[7]!;
    let hits = 0;
    for (let n = 0; n < 4; n++) {
      if ((this.ioMask & (1 << n)) === 0) continue;
      const len = LENGTHS[(dr7 >>> (18 + 4 * n)) & 3]!;
      const start = (s.dr[n]! & 0xffff) - ((s.dr[n]! & 0xffff) % len);
      if (port < start + len && port + size > start) hits |= 1 << n;
    }
    if (hits !== 0) s.pendingDebug |= hits;
  }

  /**
   * MOV to or from a debug register with DR7.GD = 1: #DB, a fault with DR6.BD (SDM 18.2.4).
   * Called after the privilege, CR4.DE and VMX checks.
   */
  generalDetect(): void {
    const cpu = this.cpu;
    if ((cpu.s.dr[7]! & Dr7.GD) === 0) return;
    this.status = Dr6.BD;
    cpu.raise(Vec.DB);
  }

  /** A task switch loaded a TSS with T = 1: #DB after it, with DR6.BT (SDM 18.3.1.5). */
  taskSwitchTrap(): void {
    this.cpu.s.pendingDebug |= Dr6.BT;
    this.update();
  }

  // ============================================================================================
  // Delivery

  /**
   * The run loop's step at an instruction boundary when a trap is pending and no MOV SS
   * shadow holds it: delivers #DB with the pending conditions.
   */
  deliverPending(): void {
    const cpu = this.cpu;
    const s = cpu.s;
    this.status = s.pendingDebug;
    s.pendingDebug = 0;
    // The STI shadow ends with the delivery (the handler's first instruction may be interrupted).
    s.interruptShadow = Shadow.None;
    s.halted = false;
    cpu.startEip = s.eip;
    cpu.startRipHi = s.ripHi;
    cpu.deliverException(Vec.DB, false, 0);
    this.status = 0;
    this.update();
  }

  /**
   * cpu.ts deliverFault: a fault's EFLAGS image has RF = 1, except for an instruction
   * breakpoint's #DB (SDM 18.3.1.1, "when calling an event handler").
   */
  beforeFaultDelivery(): void {
    if (this.codeBreakpoint) this.codeBreakpoint = false;
    else this.cpu.s.eflags |= Fl.RF;
  }

  /**
   * interrupts.ts: an event is being delivered through the IDT/IVT. Traps of the instruction
   * that raised it are dropped (a fault, INT n: the instruction did not complete as stepped
   * code; Bochs does the same); a #DB the CPU detected commits its bits to DR6 and clears
   * DR7.GD (SDM 18.2.3, 18.2.4).
   */
  onDelivery(vector: number, kind: EventKind): void {
    const s = this.cpu.s;
    this.movSsRetired = this.startRetired = -1;
    this.carried = 0;
    if (vector === Vec.DB && kind === EventKind.Exception && this.status !== 0) {
      s.dr[6] = ((s.dr[6]! & ~Dr6.B_MASK) | this.status | Dr6.FIXED1) >>> 0;
      s.dr[7] = (s.dr[7]! & ~Dr7.GD) >>> 0;
      this.status = 0;
    }
    if (s.pendingDebug !== 0) {
      s.pendingDebug = 0;
      this.update();
    }
  }

  /**
   * A #DB that causes a VM exit instead of being delivered (exception bitmap): its DR6-format
   * bits for the exit qualification; DR6 and DR7 stay as they are (SDM 27.1).
   */
  takeStatus(): number {
    const v = this.status;
    this.status = 0;
    this.codeBreakpoint = false;
    return v;
  }

  /** The run loop ended a MOV SS / POP SS shadow: the next instruction runs with #DB held. */
  endMovSsShadow(): void {
    this.movSsRetired = this.cpu.retired;
  }

  // ============================================================================================
  // VMX: the guest's pending debug exceptions (SDM 25.4.2 Table 25-4, 27.3.4, 26.7.3)

  /**
   * The pending-debug-exceptions field for a VM exit: B0-B3 (bit 12: an enabled breakpoint)
   * and BS. Inside an instruction only what was carried into it counts (the instruction did
   * not complete). The traps stay with the guest state: they are cleared here.
   */
  takePendingForVmExit(): number {
    const cpu = this.cpu;
    const s = cpu.s;
    const bits = cpu.retired === this.startRetired ? this.carried : s.pendingDebug;
    s.pendingDebug = 0;
    this.startRetired = -1;
    this.carried = 0;
    let field = bits & (Dr6.B_MASK | Dr6.BS);
    if (field & Dr6.B_MASK) field |= 1 << 12;
    return field;
  }

  /** VM entry: the guest's pending debug exceptions become pending traps. */
  loadPendingFromVmEntry(field: number): void {
    this.cpu.s.pendingDebug = field & (Dr6.B_MASK | Dr6.BS);
    this.update();
  }
}

/**
 * The CPU's hook when both the gdbstub's debugger and the guest's debug unit need the
 * per-instruction checks: the debugger first (it sees the instruction before the guest's
 * #DB), then the guest.
 */
export class CombinedDebugHook implements CpuDebugHook {
  constructor(readonly debuggerHook: CpuDebugHook, readonly guest: DebugUnit) {}

  get holdsInterrupts(): boolean {
    return this.debuggerHook.holdsInterrupts;
  }

  beforeInstruction(cpu: X86Cpu): boolean {
    return this.debuggerHook.beforeInstruction(cpu) || this.guest.beforeInstruction(cpu);
  }

  mayRunBlock(cpu: X86Cpu, bytes: number): boolean {
    return this.debuggerHook.mayRunBlock(cpu, bytes) && this.guest.mayRunBlock(cpu, bytes);
  }
}
