/**
 * One x86 CPU: the reference interpreter's core. It owns the architectural state and the
 * machinery every instruction uses — linear/physical memory access with segmentation,
 * instruction fetch, ModRM/SIB decoding, exception and interrupt delivery — while the
 * instruction semantics live in the per-group files (exec-primary.ts, exec-0f.ts, alu.ts,
 * string-ops.ts, system.ts).
 *
 * The CPU never imports a device: it sees only the buses (CpuBus) the board hands it.
 * Sensitive instructions (CPUID, HLT, I/O, RDMSR/WRMSR, MOV CR, INVLPG, RDTSC, …) pass through
 * `intercept` so that VMX non-root operation can turn them into VM exits in one place.
 *
 * Intel SDM Vol. 3A chapters 3 (segmentation), 4 (paging: mmu.ts, paging.ts, tlb.ts),
 * 6 (interrupts and exceptions), 9 (reset).
 * Virtual-8086 mode is EFLAGS.VM = 1 with CR0.PE = 1: `protectedMode` is false and `cpl` is 3
 * there (updateMode); what sets it apart from real mode is in vm86.ts. Hardware task switches:
 * task-switch.ts. Call gates: call-gate.ts. x87 lives in fpu/, MMX/SSE/SSE2 in sse/.
 */
import type { PhysicalMemory } from '../../memory/physical-memory.js';
import type { IoPortBus, AccessSize } from '../../memory/io-bus.js';
import type { InterruptSource } from '../../machine/irq.js';
import type { Logger } from '../../machine/log.js';
import type { CpuApic } from './apic-interface.js';
import { LazyFlags, LazyOp } from './flags.js';
import { FpuState } from './fpu/fpu-state.js';
import { SseState } from './sse/sse-state.js';
import { Ar, Cr0, CpuState, Efer, Fl, Reg, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import { Mmu } from './mmu.js';
import { Access } from './paging.js';
import { TLB_USER } from './tlb.js';
import type { CpuDebugHook } from './debug-hook.js';
import { CombinedDebugHook, DebugUnit, Shadow } from './debug-exceptions.js';
import { execPrimary, PRIMARY_HANDLERS } from './exec-primary.js';
import { deliverEvent, EventKind } from './interrupts.js';
import { loadSegment } from './segmentation.js';
import { CPU_STATE_VERSION, loadCpuState, saveCpuState } from './state-io.js';
import { DEFAULT_CPU_MODEL, TSC_HZ, type CpuModel } from './cpu-model.js';
import { CANONICAL_LIMIT, decodeEaLong, linear48, stepLong } from './long-decode.js';
import type { CpuStateData } from './state.js';
import { VMEXIT_UNWIND, VmxUnit } from './vmx/vmx-unit.js';
import { loadVmxState, saveVmxState } from './vmx/vmx-snapshot.js';

/** What the board hands a CPU. */
export interface CpuBus {
  readonly mem: PhysicalMemory;
  readonly io: IoPortBus;
  readonly interrupts: InterruptSource;
  /** The local APIC's MSRs and TPR; absent on a CPU without an APIC. */
  readonly apic?: CpuApic;
  /** Virtual time in ns, for the TSC. */
  nowNs(): number;
  /**
   * `ns` of host time went into work the guest must not see as time passing (a JIT
   * translation); real-time virtual time leaves it out (machine/clock.ts).
   */
  excludeHostTime?(ns: number): void;
  readonly log: Logger;
}

/** Sensitive operations that pass the single intercept point (VMX plugs in here). */
export const enum Sensitive {
  Cpuid, Hlt, IoIn, IoOut, Rdmsr, Wrmsr, MovToCr, MovFromCr, Invlpg, Rdtsc, Rdtscp, Pause,
  MovDr, Clts, Lmsw, Invd, Wbinvd,
}

/**
 * Intercept hook: returns true if the operation was taken over (e.g. became a VM exit), in
 * which case the instruction does nothing further.
 */
export type InterceptHook = (cpu: X86Cpu, op: Sensitive, detail: number) => boolean;

/** Why `run` returned. */
/**
 * A block engine (the JIT) as the run loop sees it. Translated code keeps the interpreter's
 * contract: it stops at the instruction boundary before anything it cannot translate, sets
 * `startEip` before each instruction that can fault and leaves EIP past what it retired.
 */
export interface BlockEngine {
  /**
   * Runs translated code at EIP if there is a block for it of at most `budget` instructions
   * (plus `cpu.budgetSlack`); returns the instructions retired, or 0 when the interpreter must
   * step.
   */
  runBlock(cpu: X86Cpu, budget: number): number;
  /**
   * Whether the last `runBlock` that returned 0 did so because EIP is cold code (no block,
   * its visits counted). The run loop then asks again only after an interpreted instruction
   * that did not go on to the next one (a branch target: where blocks start).
   */
  readonly lastWasCold: boolean;
  /**
   * After a fault inside translated code: how many instructions completed in the `runBlock`
   * call before the faulting one (the engine has counted them in `retired`).
   */
  abortBlock(cpu: X86Cpu): number;
  /** Drops every translation (reset, snapshot load). */
  flush(): void;
}

export const enum CpuExit {
  /** The instruction budget ran out. */
  Budget = 0,
  /** HLT with nothing to wake it. */
  Halted = 1,
  /** Something asked the CPU to return early (a device request, a stop). */
  Requested = 2,
  /** Triple fault: the board resets the machine (or stops with -no-reboot). */
  TripleFault = 3,
}

/** The value thrown to unwind an instruction that faulted. One instance per CPU. */
export class CpuFault {
  vector = 0;
  errorCode = 0;
  hasErrorCode = false;
}

const SEG_DEFAULT = -1;

/** 1 for the legacy prefix bytes (SDM Vol. 2A 2.1.1), so that step() tests for them once. */
const IS_PREFIX = new Uint8Array(256);
for (const p of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]) IS_PREFIX[p] = 1;

export class X86Cpu {
  readonly s = new CpuState();
  readonly lazy = new LazyFlags();
  /** x87 registers (aliased by MMX); saved with FXSAVE. */
  readonly fpu = new FpuState();
  /** XMM registers and MXCSR. */
  readonly sse = new SseState();
  intercept: InterceptHook | undefined;
  /**
   * What the run loop calls before each instruction (debug-hook.ts): the debugger's hook
   * (`setDebugger`), the guest's debug unit while it needs the checks, both, or undefined.
   */
  debugHook: CpuDebugHook | undefined;
  /** The gdbstub's breakpoints and single-step (src/machine/debugger.ts), when it needs them. */
  private debuggerHook: CpuDebugHook | undefined;
  /** The guest's debug registers and #DB conditions (debug-exceptions.ts). */
  readonly debug: DebugUnit = new DebugUnit(this);
  /**
   * FERR# (SDM Vol. 1 D.2): with CR0.NE = 0, called with true when a waiting x87 instruction
   * finds an unmasked exception pending, and with false when the exception flags are cleared.
   * The board routes it to IRQ 13.
   */
  onFerr: ((asserted: boolean) => void) | undefined;
  /** Set by anyone (a device, the run loop) to make `run` return at the next instruction boundary. */
  exitRequested = false;
  /** Instructions retired since power-on. */
  retired = 0;
  /**
   * External interrupts and NMIs delivered since power-on. The clock tells a handler's
   * IRQ-off code from other IRQ-off code by it (machine/clock.ts, HANDLER_STALL_NS_PER_INSN).
   */
  interruptsDelivered = 0;
  /**
   * How many instructions translated code may run past `run`'s budget: 0 when the budget is
   * exact (-icount); in real-time mode the budget only spaces clock checks, and a block that
   * does not fit would otherwise be interpreted instruction by instruction.
   */
  budgetSlack = 0;
  /** Set when a triple fault happened; the board reads it. */
  tripleFault = false;
  /** Budget consumed by the last `run` call (instructions plus delivered faults). */
  lastRunCount = 0;
  /**
   * The JIT (src/cpu/x86/jit/), when the accelerator has one: `run` asks it for translated
   * code at every instruction boundary and steps the interpreter where it has none.
   */
  blockEngine: BlockEngine | undefined;
  /** VMX (vmx/), on models that advertise it. */
  readonly vmx: VmxUnit | undefined;
  /** In VMX non-root operation: the run loop checks VMX events at every instruction boundary. */
  vmxNonRoot = false;

  // --- Decoder state of the current instruction (reused, never allocated per instruction) ---
  /** Operand size in bits: 16, 32 or (64-bit mode) 64. */
  opSize = 16;
  /** Address size in bits: 16, 32 or (64-bit mode) 64. */
  adSize = 16;
  /** A 66h prefix is present (with REX.W, opSize alone no longer shows it). */
  prefix66 = false;
  /**
   * REX prefix (64-bit mode, SDM Vol. 2A 2.2.1): the byte (0x40-0x4F) or 0, and its bits
   * pre-shifted: rexR/rexX/rexB are 8 or 0 so that `| rexR` extends a 3-bit register number.
   */
  rex = 0;
  rexW = false;
  rexR = 0;
  rexX = 0;
  rexB = 0;
  /**
   * 64-bit mode: the opcode being executed (0x000-0x0FF one-byte map, 0x100 | op for 0F op),
   * so that a RIP-relative ModRM operand can account for the immediate that follows it.
   */
  opcode = 0;
  /**
   * High half (signed 32 bits) of 64-bit values: every read at size 64 returns the low half
   * (unsigned) and leaves the high half here; every write at size 64 takes its high half
   * from here.
   */
  hi = 0;
  /** Segment override prefix (SegReg) or SEG_DEFAULT. */
  segOverride = SEG_DEFAULT;
  /** 0, 0xF2 (REPNE) or 0xF3 (REP/REPE): the last of the two, which selects SSE instructions. */
  repPrefix = 0;
  lockPrefix = false;
  /** EIP of the first byte of the current instruction (faults restart here). */
  startEip = 0;
  /** High half of RIP at the start of the instruction (64-bit mode). */
  startRipHi = 0;
  modrm = 0;
  /** Memory operand: segment and offset (after decodeModrm with mod != 3). */
  eaSeg = 0;
  eaOff = 0;
  /** 64-bit mode: the effective address as exact halves (eaOff may round when not canonical). */
  eaLo = 0;
  eaHi = 0;

  // --- Cached mode bits, recomputed by updateMode() ---
  /** CS default size is 32 bits. */
  cs32 = false;
  /** SS B bit: stack is 32 bits wide. */
  ss32 = false;
  /** CR0.PE and not VM86. */
  protectedMode = false;
  /** IA-32e mode is active (EFER.LMA). */
  lma = false;
  /** 64-bit mode: IA-32e mode with CS.L = 1 (otherwise IA-32e runs in compatibility mode). */
  mode64 = false;
  cpl = 0;
  /** EIP is masked to 16 bits in 16-bit code segments. */
  ipMask = 0xffff;
  /** Physical address mask for the A20 gate. */
  a20Mask = -1;
  /** TLB set of explicit accesses: TLB_USER at CPL 3, else 0 (supervisor). */
  tlbSet = 0;

  /** Paging, the TLB and linear-address accesses. */
  readonly mmu: Mmu;

  // --- Instruction-fetch cache: the current code page, read straight from its RAM/ROM buffer.
  // EIPs in [fetchLo, fetchHi] lie in that page and within CS's limit; their byte is
  // fetchBuf[fetchDelta + eip]. An empty range (lo > hi) forces the slow path, which refills.
  private fetchBuf: Uint8Array = new Uint8Array(0);
  private fetchDelta = 0;
  private fetchLo = 1;
  private fetchHi = 0;
  // The same for 64-bit mode, where the page also belongs to one value of RIP's high half.
  private fetch64Buf: Uint8Array = new Uint8Array(0);
  private fetch64Delta = 0;
  private fetch64Lo = 1;
  private fetch64Hi = 0;
  private fetch64RipHi = 0;

  readonly fault = new CpuFault();
  /** Depth of nested exception delivery, for #DF and triple-fault detection. */
  private deliveringVector = -1;
  private readonly reportedUnimplemented = new Set<string>();

  /** `model`: what CPUID reports and which optional features exist (cpu-model.ts). */
  constructor(readonly bus: CpuBus, readonly model: CpuModel = DEFAULT_CPU_MODEL) {
    this.mmu = new Mmu(this);
    this.vmx = model.vmx ? new VmxUnit(this) : undefined;
    this.reset();
  }

  // ============================================================================================
  // Reset and mode
  // ============================================================================================

  /** Power-on/RESET state, SDM Vol. 3A 9.1.1 (Table 9-1). */
  reset(): void {
    const s = this.s;
    s.gpr.fill(0);
    s.gprHi.fill(0);
    s.ripHi = 0;
    s.long.reset();
    // EDX holds the processor signature (family/model/stepping) after reset.
    s.gpr[Reg.EDX] = this.model.signature;
    s.eip = 0xfff0;
    s.eflags = Fl.FIXED1;
    this.lazy.op = LazyOp.None;
    this.fpu.reset();
    this.sse.reset();
    for (let i = 0; i < 6; i++) {
      s.segSel[i] = 0;
      s.segBase[i] = 0;
      s.segLimit[i] = 0xffff;
      s.segAr[i] = Ar.P | Ar.S | 0x3; // present, read/write data, accessed
    }
    s.segSel[SegReg.CS] = 0xf000;
    s.segBase[SegReg.CS] = 0xffff0000;
    s.segAr[SegReg.CS] = Ar.P | Ar.S | 0xb; // present, execute/read code, accessed
    s.segSel[SegReg.LDTR] = 0;
    s.segBase[SegReg.LDTR] = 0;
    s.segLimit[SegReg.LDTR] = 0xffff;
    s.segAr[SegReg.LDTR] = Ar.P | 0x2;
    s.segSel[SegReg.TR] = 0;
    s.segBase[SegReg.TR] = 0;
    s.segLimit[SegReg.TR] = 0xffff;
    s.segAr[SegReg.TR] = Ar.P | 0xb;
    s.gdtBase = 0;
    s.gdtLimit = 0xffff;
    s.idtBase = 0;
    s.idtLimit = 0xffff;
    s.cr0 = Cr0.ET | Cr0.CD | Cr0.NW;
    s.cr2 = 0;
    s.cr3 = 0;
    s.cr4 = 0;
    s.efer = 0;
    s.pdpte.fill(0);
    s.dr.fill(0);
    s.dr[6] = 0xffff0ff0;
    s.dr[7] = 0x400;
    s.pendingDebug = 0;
    s.halted = false;
    // RESET re-enables A20 (QEMU's x86_cpu_reset clears the A20 mask); the chipset's gate
    // registers are reset with their devices.
    s.a20 = true;
    s.tscOffset = 0 - this.tscNow(0); // not -x: a -0 would not survive a JSON round trip
    s.tscAdjust = 0;
    s.sysenterCs = s.sysenterEsp = s.sysenterEip = 0;
    s.platform.reset(this.model.microcodeRevision);
    s.mca.reset();
    s.interruptShadow = 0;
    s.nmiPending = false;
    s.nmiBlocked = false;
    this.tripleFault = false;
    this.deliveringVector = -1;
    this.vmx?.reset();
    this.updateMode();
    this.mmu.flushAll();
    this.debug.resetTransient();
    this.blockEngine?.flush();
  }

  /** Installs (or with undefined removes) the debugger's hook (src/machine/debugger.ts). */
  setDebugger(hook: CpuDebugHook | undefined): void {
    this.debuggerHook = hook;
    this.updateDebugHook();
  }

  /** Recomputes `debugHook` from the debugger's hook and the guest's debug unit. */
  updateDebugHook(): void {
    const d = this.debuggerHook;
    const g = this.debug.active ? this.debug : undefined;
    const cur = this.debugHook;
    if (d === undefined || g === undefined) this.debugHook = d ?? g;
    else if (!(cur instanceof CombinedDebugHook && cur.debuggerHook === d)) this.debugHook = new CombinedDebugHook(d, g);
  }

  /** Recomputes cached mode bits from the state. Call after any CR0/segment/EFLAGS.VM change. */
  updateMode(): void {
    const s = this.s;
    this.protectedMode = (s.cr0 & Cr0.PE) !== 0 && (s.eflags & Fl.VM) === 0;
    this.lma = (s.efer & Efer.LMA) !== 0;
    this.mode64 = this.lma && this.protectedMode && (s.segAr[SegReg.CS]! & Ar.L) !== 0;
    this.cs32 = this.protectedMode && (s.segAr[SegReg.CS]! & Ar.DB) !== 0;
    this.ss32 = this.protectedMode && (s.segAr[SegReg.SS]! & Ar.DB) !== 0;
    this.ipMask = this.cs32 || this.mode64 ? -1 : 0xffff;
    if (!this.mode64) {
      // Leaving 64-bit mode: no RIP high half, and no REX state left over from its last
      // instruction (the 32-bit decoder never sets it).
      s.ripHi = 0;
      this.rex = this.rexR = this.rexX = this.rexB = 0;
      this.rexW = false;
    }
    this.cpl = this.protectedMode ? (s.segAr[SegReg.CS]! >> Ar.DPL_SHIFT) & 3 : (s.eflags & Fl.VM) !== 0 ? 3 : 0;
    this.a20Mask = s.a20 ? -1 : ~0x100000;
    this.tlbSet = this.cpl === 3 ? TLB_USER : 0;
    this.invalidateFetch();
  }

  /** Drops the cached code page (CS, CPL or translations changed). */
  invalidateFetch(): void {
    this.fetchLo = 1;
    this.fetchHi = 0;
    this.fetch64Lo = 1;
    this.fetch64Hi = 0;
  }

  /**
   * For the JIT: the index in guest RAM of the byte at EIP when EIP lies in the cached code
   * page and that page is RAM, else -1 (the interpreter's next fetch refills the cache).
   */
  codeIndex(): number {
    const eip = this.s.eip >>> 0;
    if (eip < this.fetchLo || eip > this.fetchHi || this.fetchBuf !== this.bus.mem.ram) return -1;
    return this.fetchDelta + eip;
  }

  /** With `codeIndex() >= 0`: the bytes from EIP that may be fetched (page end, CS limit). */
  codeBytesLeft(): number {
    return this.fetchHi - (this.s.eip >>> 0) + 1;
  }

  /**
   * codeIndex() for 64-bit mode: the RAM index of the byte at RIP when RIP lies in the cached
   * 64-bit code page (same RIP high half) and that page is RAM, else -1.
   */
  codeIndex64(): number {
    const eip = this.s.eip >>> 0;
    if (this.s.ripHi !== this.fetch64RipHi || eip < this.fetch64Lo || eip > this.fetch64Hi || this.fetch64Buf !== this.bus.mem.ram) return -1;
    return this.fetch64Delta + eip;
  }

  /** With `codeIndex64() >= 0`: the bytes from RIP to the end of the code page. */
  codeBytesLeft64(): number {
    return this.fetch64Hi - (this.s.eip >>> 0) + 1;
  }

  /** The A20 gate (port 0x92, the i8042 output port). */
  setA20(enabled: boolean): void {
    const changed = this.s.a20 !== enabled;
    this.s.a20 = enabled;
    this.updateMode();
    // The TLB holds physical addresses with A20 applied.
    if (changed) this.mmu.flushAll();
  }

  // ============================================================================================
  // EFLAGS
  // ============================================================================================

  getEflags(): number {
    const s = this.s;
    if (this.lazy.op === LazyOp.None) return s.eflags >>> 0;
    return ((s.eflags & ~Fl.ARITH) | this.lazy.compute(s.eflags)) >>> 0;
  }

  /** Writes EFLAGS (all of it; callers apply privilege masks first). */
  setEflags(v: number): void {
    const changed = this.s.eflags ^ v;
    this.s.eflags = (v & 0x3f7fd5) | Fl.FIXED1;
    this.lazy.op = LazyOp.None;
    if (changed & Fl.VM) this.updateMode();
    // TF and RF arm the per-instruction debug checks (debug-exceptions.ts).
    if (changed & (Fl.TF | Fl.RF)) this.debug.update();
  }

  /** Makes the arithmetic flags concrete in s.eflags (before changing only some of them). */
  materializeFlags(): void {
    if (this.lazy.op !== LazyOp.None) {
      this.s.eflags = (this.s.eflags & ~Fl.ARITH) | this.lazy.compute(this.s.eflags);
      this.lazy.op = LazyOp.None;
    }
  }

  getCF(): number {
    return this.lazy.op === LazyOp.None ? this.s.eflags & 1 : this.lazy.carry(this.s.eflags);
  }

  getZF(): boolean {
    const op = this.lazy.op;
    if (op === LazyOp.None) return (this.s.eflags & Fl.ZF) !== 0;
    return this.lazy.zero();
  }

  /** Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc). */
  condition(cc: number): boolean {
    let r: boolean;
    switch (cc >> 1) {
      case 0: r = (this.getEflags() & Fl.OF) !== 0; break; // O
      case 1: r = this.getCF() !== 0; break; // B
      case 2: r = this.getZF(); break; // Z
      case 3: r = this.getCF() !== 0 || this.getZF(); break; // BE
      case 4: { // S
        const lz = this.lazy;
        r = lz.op !== LazyOp.None && lz.op < LazyOp.Add64 ? (lz.r & lz.sign) !== 0 : (this.getEflags() & Fl.SF) !== 0;
        break;
      }
      case 5: r = (this.getEflags() & Fl.PF) !== 0; break; // P
      case 6: { // L: SF != OF
        const lz = this.lazy;
        if (lz.op !== LazyOp.None && lz.op < LazyOp.Add64) {
          r = lz.less();
        } else {
          const f = this.getEflags();
          r = ((f & Fl.SF) !== 0) !== ((f & Fl.OF) !== 0);
        }
        break;
      }
      default: { // LE: ZF or SF != OF
        const lz = this.lazy;
        if (lz.op !== LazyOp.None && lz.op < LazyOp.Add64) {
          r = lz.zero() || lz.less();
        } else {
          const f = this.getEflags();
          r = (f & Fl.ZF) !== 0 || ((f & Fl.SF) !== 0) !== ((f & Fl.OF) !== 0);
        }
        break;
      }
    }
    return (cc & 1) !== 0 ? !r : r;
  }

  /** Sets the arithmetic flags lazily from an operation. */
  setLazy(op: LazyOp, a: number, b: number, r: number, size: number): void {
    if (op === LazyOp.Inc || op === LazyOp.Dec) {
      // INC/DEC keep CF: freeze it before the lazy state is replaced.
      if (this.lazy.op !== LazyOp.None) {
        const cf = this.lazy.carry(this.s.eflags);
        this.s.eflags = (this.s.eflags & ~Fl.CF) | cf;
      }
    }
    this.lazy.set(op, a, b, r, size);
  }

  /** Sets the arithmetic flags lazily from a 64-bit operation (operands and result as halves). */
  setLazy64(op: LazyOp, a: number, aHi: number, b: number, bHi: number, r: number, rHi: number): void {
    if (op === LazyOp.Inc || op === LazyOp.Dec) {
      if (this.lazy.op !== LazyOp.None) {
        const cf = this.lazy.carry(this.s.eflags);
        this.s.eflags = (this.s.eflags & ~Fl.CF) | cf;
      }
    }
    this.lazy.set64(op, a, aHi, b, bHi, r, rHi);
  }

  /** Sets the arithmetic flags eagerly (shifts, multiplies, BCD): `flags` holds OSZAPC bits. */
  setArithFlags(flags: number): void {
    this.s.eflags = (this.s.eflags & ~Fl.ARITH) | (flags & Fl.ARITH);
    this.lazy.op = LazyOp.None;
  }

  // ============================================================================================
  // Registers by size
  // ============================================================================================

  /**
   * Byte register `r`: AL CL DL BL AH CH DH BH, or with any REX prefix AL CL DL BL SPL BPL
   * SIL DIL R8B-R15B (SDM Vol. 1 3.4.1.1).
   */
  reg8(r: number): number {
    return r < 4 || this.rex !== 0 ? this.s.gpr[r]! & 0xff : (this.s.gpr[r - 4]! >> 8) & 0xff;
  }

  setReg8(r: number, v: number): void {
    const g = this.s.gpr;
    if (r < 4 || this.rex !== 0) g[r] = (g[r]! & ~0xff) | (v & 0xff);
    else g[r - 4] = (g[r - 4]! & ~0xff00) | ((v & 0xff) << 8);
  }

  /** Register `r` at operand size `size` (8, 16, 32, 64), as an unsigned number (64: low half, high half in `hi`). */
  getReg(size: number, r: number): number {
    if (size === 32) return this.s.gpr[r]! >>> 0;
    if (size === 16) return this.s.gpr[r]! & 0xffff;
    if (size === 8) return this.reg8(r);
    this.hi = this.s.gprHi[r]!;
    return this.s.gpr[r]! >>> 0;
  }

  /**
   * Writes register `r` at `size` bits. In 64-bit mode a 32-bit write zero-extends into the
   * high half (SDM Vol. 1 3.4.1.1); 8- and 16-bit writes keep the rest. At size 64 the high
   * half comes from `hi`.
   */
  setReg(size: number, r: number, v: number): void {
    if (size === 32) {
      this.s.gpr[r] = v;
      // Zero-extension matters in 64-bit mode only: the high halves are undefined after
      // compatibility mode (SDM Vol. 1 3.4.1.1), and this keeps 32-bit code to one store.
      if (this.mode64) this.s.gprHi[r] = 0;
    } else if (size === 16) {
      this.s.gpr[r] = (this.s.gpr[r]! & ~0xffff) | (v & 0xffff);
    } else if (size === 8) {
      this.setReg8(r, v);
    } else {
      this.s.gpr[r] = v;
      this.s.gprHi[r] = this.hi;
    }
  }

  /** Writes a 32-bit result to register `r`, zero-extended to 64 bits. */
  setReg32(r: number, v: number): void {
    this.s.gpr[r] = v;
    this.s.gprHi[r] = 0;
  }

  /** Writes all 64 bits of register `r`. */
  setReg64(r: number, lo: number, hi: number): void {
    this.s.gpr[r] = lo;
    this.s.gprHi[r] = hi;
  }

  /** Register `r` as a signed 64-bit number (exact below 2^53: addresses, counts). */
  reg64(r: number): number {
    return this.s.gprHi[r]! * 4294967296 + (this.s.gpr[r]! >>> 0);
  }

  /** Sets register `r` from a signed 64-bit number (exact below 2^53). */
  setReg64From(r: number, v: number): void {
    this.s.gpr[r] = v >>> 0;
    this.s.gprHi[r] = Math.floor(v / 4294967296) | 0;
  }

  /** RIP as a signed 64-bit number (EIP zero-extended outside 64-bit mode). */
  get rip(): number {
    return this.s.ripHi * 4294967296 + (this.s.eip >>> 0);
  }

  /** Sets RIP in 64-bit mode: #GP(0) if `v` is not canonical (SDM Vol. 1 3.3.7.1). */
  setRip(v: number): void {
    if (v < -CANONICAL_LIMIT || v >= CANONICAL_LIMIT) this.gp(0);
    this.s.eip = v >>> 0;
    this.s.ripHi = Math.floor(v / 4294967296) | 0;
  }

  // ============================================================================================
  // Exceptions
  // ============================================================================================

  /** Raises exception `vector` (with `errorCode` if given): unwinds the current instruction. */
  raise(vector: number, errorCode?: number): never {
    const f = this.fault;
    f.vector = vector;
    f.hasErrorCode = errorCode !== undefined;
    f.errorCode = errorCode ?? 0;
    throw f;
  }

  /** #GP(code). */
  gp(code = 0): never {
    return this.raise(Vec.GP, code);
  }

  /** #UD for an opcode we do not implement, logged once per opcode with `-d unimp`. */
  unimplemented(what: string): never {
    const log = this.bus.log;
    if (log.enabled('unimp') && !this.reportedUnimplemented.has(what)) {
      this.reportedUnimplemented.add(what);
      const bytes: string[] = [];
      let where: string;
      if (this.mode64) {
        const rip = this.startRipHi * 4294967296 + (this.startEip >>> 0);
        for (let i = 0; i < 8; i++) bytes.push(this.peekLinear8Long(linear48(rip + i)).toString(16).padStart(2, '0'));
        where = BigInt.asUintN(64, BigInt(rip)).toString(16).padStart(16, '0');
      } else {
        const lin = this.s.segBase[SegReg.CS]! + this.startEip;
        for (let i = 0; i < 8; i++) bytes.push(this.peekLinear8(lin + i).toString(16).padStart(2, '0'));
        where = (this.startEip >>> 0).toString(16).padStart(8, '0');
      }
      log.log('unimp', `pcvm: unimplemented instruction ${what} at ${this.s.segSel[SegReg.CS]!.toString(16).padStart(4, '0')}:${where} bytes ${bytes.join(' ')}`);
    }
    return this.raise(Vec.UD);
  }

  /**
   * Reads a byte for diagnostics without faulting or side effects (0xff where nothing is,
   * or where the page is not mapped).
   */
  peekLinear8Long(lin: number): number {
    const pa = this.mmu.probe(lin, Access.Read, false);
    return pa < 0 ? 0xff : this.bus.mem.read(pa, 1);
  }

  peekLinear8(lin: number): number {
    const pa = this.mmu.probe(lin >>> 0, Access.Read, false);
    return pa < 0 ? 0xff : this.bus.mem.read(pa, 1);
  }

  // ============================================================================================
  // Memory: linear and segmented access
  // ============================================================================================

  /**
   * Implicit supervisor-mode read (SDM Vol. 3A 4.6): GDT/LDT descriptors, the IDT, the TSS,
   * the inner-level stack of an interrupt — supervisor accesses whatever the CPL. Faults with
   * #PF as any access does. `lin` wraps at 4 GiB outside IA-32e mode.
   */
  readLinear(lin: number, size: AccessSize): number {
    // IA-32e mode: table bases may be canonical upper-half addresses (negative numbers here).
    return this.mmu.read(this.lma ? linear48(lin) : lin >>> 0, size, 0);
  }

  /** Implicit supervisor-mode write (descriptor accessed/busy bits, inner-level stack pushes). */
  writeLinear(lin: number, size: AccessSize, v: number): void {
    this.mmu.write(this.lma ? linear48(lin) : lin >>> 0, size, v, 0);
  }

  /** An explicit data read at linear `lin` with the current privilege (CPL 3 = user mode). */
  readData(lin: number, size: AccessSize): number {
    return this.mmu.read(lin, size, this.tlbSet);
  }

  /** An explicit data write at linear `lin` with the current privilege. */
  writeData(lin: number, size: AccessSize, v: number): void {
    this.mmu.write(lin, size, v, this.tlbSet);
  }

  /**
   * Checks `[off, off + size)` against segment `seg`'s limit and type and returns the linear
   * address. #GP(0), or #SS(0) for the stack segment, on a violation (SDM 5.3).
   */
  segAddr(seg: number, off: number, size: number, write: boolean): number {
    const s = this.s;
    const ar = s.segAr[seg]!;
    const limit = s.segLimit[seg]!;
    if (this.protectedMode) {
      if (this.mode64) return this.segAddr64(seg, off, size);
      if (ar & Ar.UNUSABLE) this.segFault(seg);
      if (write) {
        // Writable data segment required (type bit 3 = 0 data, bit 1 = writable).
        if ((ar & 0xa) !== 0x2) this.segFault(seg);
      } else if ((ar & 0xa) === 0x8) {
        // Execute-only code segment is not readable.
        this.segFault(seg);
      }
      if ((ar & 0xc) === 0x4) {
        // Expand-down data segment: valid offsets are (limit, upper].
        const upper = ar & Ar.DB ? 0xffffffff : 0xffff;
        if (off <= limit || off + size - 1 > upper) this.segFault(seg);
        return (s.segBase[seg]! + off) >>> 0;
      }
    }
    if (off + size - 1 > limit) this.segFault(seg);
    return (s.segBase[seg]! + off) >>> 0;
  }

  /**
   * 64-bit mode: no limit or type checks, only FS and GS have a base, and the access must be
   * canonical: #SS(0) for the stack segment, #GP(0) otherwise (SDM Vol. 3A 5.3.1). `off` is
   * a signed 64-bit number; the result is the 48-bit linear address.
   */
  private segAddr64(seg: number, off: number, size: number): number {
    const lin = seg >= SegReg.FS ? off + this.s.segBase[seg]! : off;
    if (lin < -CANONICAL_LIMIT || lin + size > CANONICAL_LIMIT) this.segFault(seg);
    return linear48(lin);
  }

  private segFault(seg: number): never {
    return this.raise(seg === SegReg.SS ? Vec.SS : Vec.GP, 0);
  }

  read8(seg: number, off: number): number {
    return this.mmu.read(this.segAddr(seg, off, 1, false), 1, this.tlbSet);
  }
  read16(seg: number, off: number): number {
    return this.mmu.read(this.segAddr(seg, off, 2, false), 2, this.tlbSet);
  }
  read32(seg: number, off: number): number {
    return this.mmu.read(this.segAddr(seg, off, 4, false), 4, this.tlbSet);
  }
  write8(seg: number, off: number, v: number): void {
    this.mmu.write(this.segAddr(seg, off, 1, true), 1, v, this.tlbSet);
  }
  write16(seg: number, off: number, v: number): void {
    this.mmu.write(this.segAddr(seg, off, 2, true), 2, v, this.tlbSet);
  }
  write32(seg: number, off: number, v: number): void {
    this.mmu.write(this.segAddr(seg, off, 4, true), 4, v, this.tlbSet);
  }

  /** Reads 64 bits: returns the low half, leaves the high half in `hi`. */
  read64(seg: number, off: number): number {
    const lin = this.segAddr(seg, off, 8, false);
    // A quadword crossing a page translates the second page first, so that a #PF there
    // happens before anything is read (for a write: before anything is written).
    if ((lin & 0xfff) > 0xff8) this.mmu.physical(this.lma ? lin + 4 : (lin + 4) >>> 0, Access.Read, this.tlbSet);
    const lo = this.mmu.read(lin, 4, this.tlbSet);
    this.hi = this.mmu.read(this.lma ? lin + 4 : (lin + 4) >>> 0, 4, this.tlbSet) | 0;
    return lo;
  }

  write64(seg: number, off: number, lo: number, hi: number): void {
    const lin = this.segAddr(seg, off, 8, true);
    const lin2 = this.lma ? lin + 4 : (lin + 4) >>> 0;
    if ((lin & 0xfff) > 0xff8) this.mmu.physical(lin2, Access.Write, this.tlbSet);
    this.mmu.write(lin, 4, lo >>> 0, this.tlbSet);
    this.mmu.write(lin2, 4, hi >>> 0, this.tlbSet);
  }

  /** Reads `size` bits (64: low half returned, high half in `hi`). */
  readSized(size: number, seg: number, off: number): number {
    return size === 32 ? this.read32(seg, off) : size === 16 ? this.read16(seg, off) : size === 8 ? this.read8(seg, off) : this.read64(seg, off);
  }

  /** Writes `size` bits (64: the high half from `hi`). */
  writeSized(size: number, seg: number, off: number, v: number): void {
    if (size === 32) this.write32(seg, off, v);
    else if (size === 16) this.write16(seg, off, v);
    else if (size === 8) this.write8(seg, off, v);
    else this.write64(seg, off, v, this.hi);
  }

  /** `off + delta` wrapped to the address size (for operands spread over several words). */
  offsetAdd(off: number, delta: number): number {
    const a = this.adSize;
    return a === 32 ? (off + delta) >>> 0 : a === 16 ? (off + delta) & 0xffff : off + delta;
  }

  // ============================================================================================
  // Instruction fetch
  // ============================================================================================

  fetch8(): number {
    const s = this.s;
    const eip = s.eip >>> 0;
    if (eip >= this.fetchLo && eip <= this.fetchHi) {
      s.eip = (eip + 1) & this.ipMask;
      return this.fetchBuf[this.fetchDelta + eip]!;
    }
    return this.fetchSlow();
  }

  /**
   * 64-bit mode fetch: RIP is ripHi:eip, CS has neither base nor limit, and RIP must stay
   * canonical (SDM Vol. 3A 5.3.1).
   */
  private fetch8Long(): number {
    const s = this.s;
    const eip = s.eip >>> 0;
    let v: number;
    if (s.ripHi === this.fetch64RipHi && eip >= this.fetch64Lo && eip <= this.fetch64Hi) {
      v = this.fetch64Buf[this.fetch64Delta + eip]!;
    } else {
      v = this.bus.mem.read(this.loadCodePage64(), 1);
    }
    if (eip === 0xffffffff) s.ripHi = (s.ripHi + 1) | 0;
    s.eip = (eip + 1) | 0;
    return v;
  }

  /**
   * Translates RIP for an instruction fetch (#GP(0) if not canonical, #PF) and makes its page
   * the cached 64-bit code page if it is RAM or ROM. Returns the physical address.
   */
  private loadCodePage64(): number {
    const s = this.s;
    const eip = s.eip >>> 0;
    const lin = s.ripHi * 4294967296 + eip;
    if (lin >= CANONICAL_LIMIT || lin < -CANONICAL_LIMIT) this.gp(0);
    const lin48 = linear48(lin);
    const pa = this.mmu.physical(lin48, Access.Fetch, this.tlbSet);
    const mem = this.bus.mem;
    const buf = mem.directBuffer(pa);
    if (buf !== undefined) {
      // The code page covers RIPs ripHi:[start, start + 4095] (a page never straddles the
      // canonical boundary, which is page-aligned).
      const start = eip - (lin48 % 4096);
      this.fetch64Buf = buf;
      this.fetch64Delta = mem.directOffset(pa) - start;
      this.fetch64Lo = Math.max(start, 0);
      this.fetch64Hi = Math.min(start + 4095, 0xffffffff);
      this.fetch64RipHi = s.ripHi;
    }
    return pa;
  }

  /**
   * For the JIT, when (R)IP is outside the cached code page: loads its page as the next
   * instruction fetch would — the same checks and page walk, and the same #GP/#PF for the
   * instruction at (R)IP (startEip is set first) — and returns codeIndex()/codeIndex64().
   * Reads no byte, so code in MMIO sees no extra access.
   */
  loadCodePage(): number {
    const s = this.s;
    this.startEip = s.eip;
    this.startRipHi = s.ripHi;
    if (this.mode64) {
      this.loadCodePage64();
      return this.codeIndex64();
    }
    this.loadCodePage32();
    return this.codeIndex();
  }

  fetch16(): number {
    const s = this.s;
    const eip = s.eip >>> 0;
    if (eip >= this.fetchLo && eip + 1 <= this.fetchHi) {
      s.eip = (eip + 2) & this.ipMask;
      const b = this.fetchBuf;
      const a = this.fetchDelta + eip;
      return b[a]! | (b[a + 1]! << 8);
    }
    const lo = this.fetch8();
    return lo | (this.fetch8() << 8);
  }

  fetch32(): number {
    const s = this.s;
    const eip = s.eip >>> 0;
    if (eip >= this.fetchLo && eip + 3 <= this.fetchHi) {
      s.eip = (eip + 4) & this.ipMask;
      const b = this.fetchBuf;
      const a = this.fetchDelta + eip;
      return (b[a]! | (b[a + 1]! << 8) | (b[a + 2]! << 16) | (b[a + 3]! << 24)) >>> 0;
    }
    const lo = this.fetch16();
    return (lo | (this.fetch16() << 16)) >>> 0;
  }

  /**
   * Fetches one byte the long way — CS limit check, translation for an instruction fetch
   * (may #PF) — and makes its page the cached code page if it is RAM or ROM.
   */
  private fetchSlow(): number {
    // 64-bit mode never fills the 32-bit code-page cache, so every fetch comes here first.
    if (this.mode64) return this.fetch8Long();
    const s = this.s;
    const pa = this.loadCodePage32();
    s.eip = ((s.eip >>> 0) + 1) & this.ipMask;
    return this.bus.mem.read(pa, 1);
  }

  /**
   * Checks EIP against the CS limit (#GP(0)), translates it for an instruction fetch (#PF)
   * and makes its page the cached code page if it is RAM or ROM. Returns the physical address.
   */
  private loadCodePage32(): number {
    const s = this.s;
    const eip = s.eip >>> 0;
    const limit = s.segLimit[SegReg.CS]!;
    if (eip > limit) this.gp(0);
    const lin = (s.segBase[SegReg.CS]! + eip) >>> 0;
    const pa = this.mmu.physical(lin, Access.Fetch, this.tlbSet);
    const mem = this.bus.mem;
    const buf = mem.directBuffer(pa);
    if (buf !== undefined) {
      // The page's bytes are EIPs [start, start + 4095], clipped to the limit and EIP's width
      // (so that a multi-byte fast fetch never wraps a 16-bit IP).
      const start = eip - (lin & 0xfff);
      this.fetchBuf = buf;
      this.fetchDelta = mem.directOffset(pa) - start;
      this.fetchLo = Math.max(start, 0);
      this.fetchHi = Math.min(start + 4095, limit, this.ipMask >>> 0);
    }
    return pa;
  }

  /**
   * An immediate of operand size (16 or 32 bits; 8 for byte operations). At size 64 it is a
   * sign-extended imm32: low half returned, high half in `hi`.
   */
  fetchImm(size: number): number {
    if (size === 64) {
      const v = this.fetch32();
      this.hi = (v | 0) >> 31;
      return v;
    }
    return size === 32 ? this.fetch32() : size === 16 ? this.fetch16() : this.fetch8();
  }

  // ============================================================================================
  // ModRM / SIB decoding (SDM Vol. 2A 2.1.5)
  // ============================================================================================

  /** Reads the ModRM byte and, for a memory operand, computes eaSeg/eaOff. */
  decodeModrm(): void {
    const m = this.fetch8();
    this.modrm = m;
    if (m >= 0xc0) return;
    if (this.adSize === 16) this.decodeEa16(m);
    else if (this.adSize === 32 && !this.mode64) this.decodeEa32(m);
    else decodeEaLong(this, m);
  }

  private decodeEa16(m: number): void {
    const g = this.s.gpr;
    const mod = m >> 6;
    const rm = m & 7;
    let off: number;
    let seg: number = SegReg.DS;
    switch (rm) {
      case 0: off = g[Reg.EBX]! + g[Reg.ESI]!; break;
      case 1: off = g[Reg.EBX]! + g[Reg.EDI]!; break;
      case 2: off = g[Reg.EBP]! + g[Reg.ESI]!; seg = SegReg.SS; break;
      case 3: off = g[Reg.EBP]! + g[Reg.EDI]!; seg = SegReg.SS; break;
      case 4: off = g[Reg.ESI]!; break;
      case 5: off = g[Reg.EDI]!; break;
      case 6:
        if (mod === 0) {
          off = this.fetch16();
        } else {
          off = g[Reg.EBP]!;
          seg = SegReg.SS;
        }
        break;
      default: off = g[Reg.EBX]!; break;
    }
    if (mod === 1) off += (this.fetch8() << 24) >> 24;
    else if (mod === 2) off += this.fetch16();
    this.eaOff = off & 0xffff;
    this.eaSeg = this.segOverride >= 0 ? this.segOverride : seg;
  }

  private decodeEa32(m: number): void {
    const g = this.s.gpr;
    const mod = m >> 6;
    let rm = m & 7;
    let off = 0;
    let seg: number = SegReg.DS;
    if (rm === 4) {
      const sib = this.fetch8();
      const base = sib & 7;
      const index = (sib >> 3) & 7;
      if (index !== 4) off = g[index]! << (sib >> 6);
      if (base === 5 && mod === 0) {
        off += this.fetch32();
      } else {
        off += g[base]!;
        if (base === Reg.ESP || base === Reg.EBP) seg = SegReg.SS;
      }
      rm = -1;
    } else if (rm === 5 && mod === 0) {
      off = this.fetch32();
    } else {
      off = g[rm]!;
      if (rm === Reg.EBP) seg = SegReg.SS;
    }
    if (mod === 1) off += (this.fetch8() << 24) >> 24;
    else if (mod === 2) off += this.fetch32();
    this.eaOff = off >>> 0;
    this.eaSeg = this.segOverride >= 0 ? this.segOverride : seg;
  }

  /** The reg field of the current ModRM byte as a register number, extended by REX.R (0-15). */
  get modReg(): number {
    return ((this.modrm >> 3) & 7) | this.rexR;
  }

  /** The reg field as an opcode extension (/digit): never extended by REX. */
  get modOp(): number {
    return (this.modrm >> 3) & 7;
  }

  /** The r/m field of a register operand (mod = 3) as a register number, extended by REX.B (0-15). */
  get rmReg(): number {
    return (this.modrm & 7) | this.rexB;
  }

  /** Reads the r/m operand of the current instruction at `size` bits. */
  readRm(size: number): number {
    if (this.modrm >= 0xc0) return this.getReg(size, (this.modrm & 7) | this.rexB);
    return this.readSized(size, this.eaSeg, this.eaOff);
  }

  /** readRm(32) as a small function of its own, for the 32-bit fast paths. */
  readRm32(): number {
    const m = this.modrm;
    if (m >= 0xc0) return this.s.gpr[(m & 7) | this.rexB]! >>> 0;
    return this.read32(this.eaSeg, this.eaOff);
  }

  /** writeRm(32, v), as readRm32. */
  writeRm32(v: number): void {
    const m = this.modrm;
    if (m >= 0xc0) this.setReg(32, (m & 7) | this.rexB, v);
    else this.write32(this.eaSeg, this.eaOff, v);
  }

  writeRm(size: number, v: number): void {
    if (this.modrm >= 0xc0) this.setReg(size, (this.modrm & 7) | this.rexB, v);
    else this.writeSized(size, this.eaSeg, this.eaOff, v);
  }

  /** Segment for a string source or moffs operand (DS unless overridden). */
  get dataSeg(): number {
    return this.segOverride >= 0 ? this.segOverride : SegReg.DS;
  }

  // ============================================================================================
  // Stack
  // ============================================================================================

  /** The stack pointer: SP, ESP, or in 64-bit mode RSP as a signed number. */
  get sp(): number {
    if (this.mode64) return this.reg64(Reg.ESP);
    return this.ss32 ? this.s.gpr[Reg.ESP]! >>> 0 : this.s.gpr[Reg.ESP]! & 0xffff;
  }

  setSp(v: number): void {
    if (this.mode64) this.setReg64From(Reg.ESP, v);
    else if (this.ss32) this.s.gpr[Reg.ESP] = v;
    else this.s.gpr[Reg.ESP] = (this.s.gpr[Reg.ESP]! & ~0xffff) | (v & 0xffff);
  }

  /**
   * Pushes `v` at `size` bits (16 or 32; 64-bit mode 16 or 64, the high half from `hi`).
   * Memory is written before ESP changes (restartable).
   */
  push(size: number, v: number): void {
    if (this.mode64) {
      const nsp = this.reg64(Reg.ESP) - size / 8;
      this.writeSized(size, SegReg.SS, nsp, v);
      this.setReg64From(Reg.ESP, nsp);
      return;
    }
    const mask = this.ss32 ? 0xffffffff : 0xffff;
    const nsp = ((this.sp - size / 8) & mask) >>> 0;
    if (size === 32) this.write32(SegReg.SS, nsp, v);
    else this.write16(SegReg.SS, nsp, v);
    this.setSp(nsp);
  }

  /** Pops `size` bits (64: low half returned, high half in `hi`). */
  pop(size: number): number {
    if (this.mode64) {
      const rsp = this.reg64(Reg.ESP);
      const v = this.readSized(size, SegReg.SS, rsp);
      this.setReg64From(Reg.ESP, rsp + size / 8);
      return v;
    }
    const sp = this.sp;
    const v = size === 32 ? this.read32(SegReg.SS, sp) : this.read16(SegReg.SS, sp);
    this.setSp(sp + size / 8);
    return v;
  }

  /** Reads the stack `depth` bytes above SP without popping. */
  peekStack(size: number, depth: number): number {
    if (this.mode64) return this.readSized(size, SegReg.SS, this.reg64(Reg.ESP) + depth);
    const mask = this.ss32 ? 0xffffffff : 0xffff;
    const off = ((this.sp + depth) & mask) >>> 0;
    return size === 32 ? this.read32(SegReg.SS, off) : this.read16(SegReg.SS, off);
  }

  // ============================================================================================
  // Segment registers
  // ============================================================================================

  /** MOV/POP/LxS to a segment register, with protected-mode checks. */
  loadSeg(seg: number, selector: number): void {
    loadSegment(this, seg, selector);
  }

  /** Far control transfer target: loads CS and EIP (real mode or same-privilege protected mode). */
  farJump(selector: number, eip: number): void {
    loadSegment(this, SegReg.CS, selector);
    this.s.eip = eip;
    this.updateMode();
  }

  // ============================================================================================
  // Port I/O (sensitive: goes through the intercept point and IOPL checks)
  // ============================================================================================

  /**
   * IOPL/TSS-bitmap permission check for `size` bytes at `port` (SDM Vol. 1 19.5). Virtual-8086
   * mode consults the bitmap whatever IOPL is (Vol. 3B 20.2.8.1); real mode checks nothing.
   */
  checkIo(port: number, size: number): void {
    if (this.protectedMode) {
      if (this.cpl <= (this.s.eflags & Fl.IOPL) >> 12) return;
    } else if (!(this.s.eflags & Fl.VM)) {
      return;
    }
    // Consult the TSS I/O permission bitmap (32-bit TSS only).
    const s = this.s;
    const trType = s.segAr[SegReg.TR]! & 0xf;
    if (trType !== 0x9 && trType !== 0xb) this.gp(0);
    const limit = s.segLimit[SegReg.TR]!;
    if (limit < 0x67) this.gp(0);
    const mapBase = this.readLinear(s.segBase[SegReg.TR]! + 0x66, 2);
    const byteOff = mapBase + (port >> 3);
    if (byteOff + 1 > limit) this.gp(0);
    const bits = this.readLinear(s.segBase[SegReg.TR]! + byteOff, 2);
    const mask = ((1 << size) - 1) << (port & 7);
    if (bits & mask) this.gp(0);
  }

  portIn(port: number, size: AccessSize): number {
    this.checkIo(port, size);
    if (this.intercept?.(this, Sensitive.IoIn, port | (size << 16))) return 0;
    if (this.debug.ioArmed) this.debug.ioAccess(port, size);
    return this.bus.io.read(port, size);
  }

  portOut(port: number, size: AccessSize, v: number): void {
    this.checkIo(port, size);
    if (this.intercept?.(this, Sensitive.IoOut, port | (size << 16))) return;
    if (this.debug.ioArmed) this.debug.ioAccess(port, size);
    this.bus.io.write(port, size, v);
  }

  // ============================================================================================
  // Time
  // ============================================================================================

  /** TSC frequency (cpu-model.ts TSC_HZ, which CPUID 15H/16H report). */
  static readonly TSC_HZ = TSC_HZ;

  tscNow(offset = this.s.tscOffset): number {
    return Math.floor(this.bus.nowNs() * (X86Cpu.TSC_HZ / 1e9)) + offset;
  }

  // ============================================================================================
  // Execution
  // ============================================================================================

  /**
   * Executes up to `budget` instructions. Returns why it stopped. Guest faults never escape:
   * they are delivered to the guest here.
   */
  run(budget: number): CpuExit {
    const s = this.s;
    let left = budget;
    let exit = CpuExit.Budget;
    // State may have been written from outside since the last batch (monitor, tests).
    this.invalidateFetch();
    while (left > 0) {
      if (this.exitRequested) {
        this.exitRequested = false;
        exit = CpuExit.Requested;
        break;
      }
      if (this.tripleFault) {
        if (this.vmxNonRoot) {
          this.tripleFault = false;
          this.vmx!.tripleFaultExit();
          continue;
        }
        exit = CpuExit.TripleFault;
        break;
      }
      // VMX non-root operation: VM exits between instructions (timer, interrupts, windows).
      if (this.vmxNonRoot && this.vmx!.boundaryExit()) continue;
      // A #DB trap of the previous instruction or task switch comes before NMI and INTR
      // (SDM Table 6-2); MOV SS / POP SS hold it for one more instruction (debug-exceptions.ts).
      if (s.pendingDebug !== 0 && s.interruptShadow !== Shadow.MovSs) {
        left--;
        this.debug.deliverPending();
        continue;
      }
      // Interrupts are taken at instruction boundaries, after the STI/MOV SS shadow.
      if (s.interruptShadow) {
        if (s.interruptShadow === Shadow.MovSs) this.debug.endMovSsShadow();
        s.interruptShadow = 0;
      } else if (this.debugHook?.holdsInterrupts === true) {
        // A debugger's single step runs the instruction at PC, not a handler (debug-hook.ts).
      } else if (s.nmiPending && !s.nmiBlocked) {
        s.nmiPending = false;
        s.nmiBlocked = true;
        s.halted = false;
        this.deliverExternal(Vec.NMI, EventKind.Nmi);
        continue;
      } else if ((s.eflags & Fl.IF) && this.bus.interrupts.hasInterrupt()) {
        s.halted = false;
        const vector = this.bus.interrupts.acknowledge();
        this.deliverExternal(vector, EventKind.External);
        continue;
      }
      if (s.halted) {
        exit = CpuExit.Halted;
        break;
      }
      const engine = this.blockEngine;
      // Whether to ask the block engine at this instruction (see below).
      let consult = true;
      try {
        while (left > 0) {
          // Debugger check point (debug-hook.ts): the hook sees each instruction the
          // interpreter runs and each start of translated code, whose blocks it vets.
          const hook = this.debugHook;
          if (hook !== undefined && hook.beforeInstruction(this)) break;
          // Translated code for a run of instructions, else one interpreted instruction.
          const n = engine === undefined || !consult ? 0 : engine.runBlock(this, left);
          if (n === 0) {
            const from = s.eip;
            this.step();
            // Cold code: the instruction after one that went on to the next (1-15 bytes on)
            // is not a branch target, so the engine need not look it up — it would count a
            // visit and return 0 again, after cache misses in its slot, filter and visit
            // tables (a fifth of the time in a kernel's cold init). Blocks start at branch
            // targets, and after an instruction left to the interpreter (not a cold miss) the
            // engine is asked again. Interpreting instead of running a block is always right.
            const ahead = (s.eip - from) >>> 0;
            consult = !(engine?.lastWasCold ?? false) || ahead === 0 || ahead > 15;
          } else {
            consult = true;
          }
          left -= n === 0 ? 1 : n;
          if (s.halted || this.exitRequested || s.interruptShadow || this.vmxNonRoot) break;
          // Check for interrupts every instruction (or block) when IF is set; cheap: one call.
          if ((s.eflags & Fl.IF) && this.bus.interrupts.hasInterrupt()) break;
          // An NMI raised by the instruction (a port or LAPIC write) or unblocked by IRET.
          if (s.nmiPending && !s.nmiBlocked) break;
        }
      } catch (e) {
        if (e !== this.fault) throw e;
        if (engine !== undefined) left -= engine.abortBlock(this);
        left--;
        this.deliverFault();
      }
    }
    this.lastRunCount = budget - left;
    return exit;
  }

  /** Decodes and executes one instruction. */
  step(): void {
    if (this.mode64) {
      stepLong(this);
      return;
    }
    const s = this.s;
    this.startEip = s.eip;
    this.segOverride = SEG_DEFAULT;
    this.repPrefix = 0;
    this.prefix66 = false;
    this.lockPrefix = false;
    let op = this.fetch8();
    if (IS_PREFIX[op] === 0) {
      // The common case, no prefix: the default sizes of the code segment.
      const size = this.cs32 ? 32 : 16;
      this.opSize = size;
      this.adSize = size;
      PRIMARY_HANDLERS[op]!(this, op);
      this.retired++;
      return;
    }
    let opSize32 = this.cs32;
    let adSize32 = this.cs32;
    // Legacy prefixes, any order; at most 15 bytes per instruction (SDM 2.3.11).
    for (let n = 0; ; n++) {
      if (n >= 14) this.gp(0);
      switch (op) {
        case 0x66: opSize32 = !this.cs32; this.prefix66 = true; break;
        case 0x67: adSize32 = !this.cs32; break;
        case 0x26: this.segOverride = SegReg.ES; break;
        case 0x2e: this.segOverride = SegReg.CS; break;
        case 0x36: this.segOverride = SegReg.SS; break;
        case 0x3e: this.segOverride = SegReg.DS; break;
        case 0x64: this.segOverride = SegReg.FS; break;
        case 0x65: this.segOverride = SegReg.GS; break;
        case 0xf0: this.lockPrefix = true; break;
        case 0xf2: case 0xf3: this.repPrefix = op; break;
        default:
          this.opSize = opSize32 ? 32 : 16;
          this.adSize = adSize32 ? 32 : 16;
          if (this.lockPrefix && !this.lockable(op)) this.raise(Vec.UD);
          execPrimary(this, op);
          this.retired++;
          return;
      }
      op = this.fetch8();
    }
  }

  /**
   * Whether LOCK may prefix `op` (SDM Vol. 2A LOCK): read-modify-write instructions with a
   * memory destination only. Peeks at the opcode's next bytes without consuming them.
   */
  lockable(op: number): boolean {
    const csBase = this.s.segBase[SegReg.CS]!;
    const peek = this.mode64
      ? (i: number) => this.peekLinear8Long(linear48(this.rip + i))
      : (i: number) => this.peekLinear8(csBase + ((this.s.eip + i) & this.ipMask));
    let modrm: number;
    if (op === 0x0f) {
      const op2 = peek(0);
      modrm = peek(1);
      if (modrm >= 0xc0) return false;
      const reg = (modrm >> 3) & 7;
      if (op2 === 0xab || op2 === 0xb3 || op2 === 0xbb || op2 === 0xb0 || op2 === 0xb1 || op2 === 0xc0 || op2 === 0xc1) return true;
      if (op2 === 0xba) return reg >= 5;
      if (op2 === 0xc7) return reg === 1;
      return false;
    }
    modrm = peek(0);
    if (modrm >= 0xc0) return false;
    const reg = (modrm >> 3) & 7;
    if (op < 0x40) return (op & 7) < 2 && (op & 0x38) !== 0x38;
    if (op >= 0x80 && op <= 0x83) return reg !== 7;
    if (op === 0x86 || op === 0x87) return true;
    if (op === 0xf6 || op === 0xf7) return reg === 2 || reg === 3;
    if (op === 0xfe) return reg < 2;
    if (op === 0xff) return reg < 2;
    return false;
  }

  // ============================================================================================
  // Event delivery
  // ============================================================================================

  /** Delivers the fault recorded in `this.fault` (the instruction restarts at startEip). */
  private deliverFault(): void {
    const f = this.fault;
    // The instruction caused a VM exit: the host runs now, nothing is delivered.
    if (f.vector === VMEXIT_UNWIND) return;
    const vector = f.vector;
    const hasCode = f.hasErrorCode;
    const code = f.errorCode;
    // Faults restart the instruction; traps raised from INT n etc. set EIP themselves.
    this.s.eip = this.startEip;
    if (this.mode64) this.s.ripHi = this.startRipHi;
    this.s.halted = false;
    this.debug.beforeFaultDelivery();
    if (this.bus.log.enabled('int')) {
      this.bus.log.log('int', `pcvm: exception ${vector} error=${code.toString(16)} at ${this.s.segSel[SegReg.CS]!.toString(16)}:${(this.startEip >>> 0).toString(16)}`);
    }
    this.deliverException(vector, hasCode, code);
  }

  /**
   * Delivers an exception, escalating to #DF and then to a triple fault as SDM Table 6-5
   * says: contributory after contributory (or #PF after #PF/contributory) is a double fault.
   */
  deliverException(vector: number, hasCode: boolean, code: number): void {
    if (vector === VMEXIT_UNWIND) return; // delivery ended in a VM exit
    const prev = this.deliveringVector;
    if (prev >= 0) {
      if (prev === Vec.DF) {
        this.tripleFault = true;
        return;
      }
      const contributory = (v: number) => v === Vec.DE || (v >= Vec.TS && v <= Vec.GP);
      if ((contributory(prev) && contributory(vector)) || (prev === Vec.PF && (contributory(vector) || vector === Vec.PF))) {
        vector = Vec.DF;
        hasCode = true;
        code = 0;
      }
    }
    this.deliveringVector = vector;
    try {
      deliverEvent(this, vector, EventKind.Exception, hasCode, code);
      this.deliveringVector = -1;
    } catch (e) {
      if (e !== this.fault) {
        this.deliveringVector = -1;
        throw e;
      }
      // A fault while delivering: escalate.
      const f = this.fault;
      this.deliverException(f.vector, f.hasErrorCode, f.errorCode);
      this.deliveringVector = -1;
    }
  }

  /** Delivers an external interrupt or NMI at an instruction boundary. */
  private deliverExternal(vector: number, kind: EventKind): void {
    this.interruptsDelivered++;
    this.startEip = this.s.eip;
    this.startRipHi = this.s.ripHi;
    try {
      deliverEvent(this, vector, kind, false, 0);
    } catch (e) {
      if (e !== this.fault) throw e;
      const f = this.fault;
      this.deliverException(f.vector, f.hasErrorCode, f.errorCode);
    }
  }

  // ============================================================================================
  // Snapshots
  // ============================================================================================

  readonly stateVersion = CPU_STATE_VERSION;

  saveState(): CpuStateData {
    const data = saveCpuState(this.s, this.getEflags(), this.fpu, this.sse);
    if (this.vmx) data.vmx = saveVmxState(this.vmx);
    return data;
  }

  /** Loads untrusted saved state: validated whole before anything changes. */
  loadState(data: unknown, version: number): void {
    const applyVmx = loadVmxState(this, data, version);
    const eflags = loadCpuState(this.s, data, version, this.fpu, this.sse, () => this.s.platform.reset(this.model.microcodeRevision));
    this.s.eflags = (eflags & 0x3f7fd5) | Fl.FIXED1;
    this.lazy.op = LazyOp.None;
    this.tripleFault = false;
    this.deliveringVector = -1;
    applyVmx();
    this.updateMode();
    // The TLB is a cache, never saved: start empty (the PDPTE registers were restored).
    this.mmu.flushAll();
    this.debug.resetTransient();
    // RAM is restored separately; translated code is a cache too.
    this.blockEngine?.flush();
  }

  /** Raises NMI (the LINT1 / monitor `nmi` path). */
  injectNmi(): void {
    this.s.nmiPending = true;
  }

  /**
   * An INIT signal (LAPIC INIT IPI or message). Returns true if the CPU acted on it: inside
   * VMX operation it is latched (root) or causes a VM exit (non-root), vmx-unit.ts. False
   * otherwise: the INIT reset itself is not implemented (the sender logs it).
   */
  signalInit(): boolean {
    return this.vmx?.initSignal() ?? false;
  }
}
