/**
 * The local APIC of the (single) CPU, in xAPIC mode: version 0x14 with six LVT entries, as
 * QEMU's `apic` device reports it (version register 0x00050014).
 *
 * Sources: Intel SDM Vol. 3A chapter 10 — 10.4 (enabling, IA32_APIC_BASE, register map
 * Table 10-1, reset and software-disabled states 10.4.7), 10.5 (LVT, ESR 10.5.3, timer
 * 10.5.4 including TSC-deadline 10.5.4.1), 10.6 (ICR, IPIs), 10.8 (IRR/ISR/TMR, TPR/PPR/APR,
 * EOI), 10.9 (spurious interrupt). Where the SDM leaves freedom the behaviour follows QEMU's
 * hw/intc/apic.c and apic_common.c, or KVM's lapic.c where QEMU has none.
 *
 * Registers appear at the 4 KiB page IA32_APIC_BASE names, only while the APIC is globally
 * enabled (bit 11); otherwise the page shows what lies beneath and the CPU behaves as one
 * without an APIC: the 8259's INTR goes straight to it.
 *
 * The CPU sees this device as its InterruptSource (INTR/INTA) and as CpuApic (MSRs, TPR).
 * The 8259 pair sits behind LINT0: in virtual wire mode (LINT0 = ExtINT, unmasked) its INTR
 * passes through and INTA is forwarded to it; ExtINT messages from the I/O APIC do the same
 * once. Fixed-mode interrupts (I/O APIC, LVT, self IPIs) go through IRR/ISR and the priority
 * rules.
 *
 * Timer: the APIC bus runs at 1 GHz, as QEMU's (one bus clock per virtual ns), so the count
 * decrements every `divisor` ns. Periodic expiries closer than MIN_PERIODIC_NS apart are
 * spaced out to that minimum (KVM does the same) so that a guest cannot flood the host; the
 * current count stays exact.
 *
 * Access: aligned or not, a 32-bit access addresses the register of its 16-byte slot; 8- and
 * 16-bit accesses read 0 and are ignored on write (QEMU; the SDM calls them model-specific).
 *
 * Not implemented (logged under `-d unimp`): SMI delivery, INIT (except inside VMX operation,
 * where the CPU latches it or takes a VM exit: deps.raiseInit) and SIPI, thermal and performance-counter interrupt sources (their LVT
 * entries exist and are read/write), focus processor checking, directed EOI (version bit 24
 * clear), x2APIC. IPIs to other APIC IDs go nowhere: there is one CPU.
 */
import type { MmioHandler, MovableMmioPage } from '../../src/memory/physical-memory.js';
import type { AccessSize } from '../../src/memory/io-bus.js';
import type { InterruptSource } from '../../src/machine/irq.js';
import type { Device } from '../../src/machine/device.js';
import type { Logger } from '../../src/machine/log.js';
import type { Timer, VirtualClock } from '../../src/machine/clock.js';
import type { CpuApic } from '../../src/cpu/x86/apic-interface.js';
import { expectVersion } from '../../src/snapshot/validate.js';
import { DeliveryMode, type ApicEoiSink, type ApicMessageSink } from './apic-bus.js';
import { formatLapicInfo } from './lapic-info.js';
import {
  APIC_BASE_ADDRESS, APIC_BASE_BSP, APIC_BASE_ENABLE, APIC_BUS_NS_PER_TICK, APIC_VERSION, DCR_WRITABLE,
  ESR_ILLEGAL_REGISTER, ESR_RECEIVE_ILLEGAL_VECTOR, ESR_SEND_ILLEGAL_VECTOR, ICR_DEST_LOGICAL, ICR_HIGH_WRITABLE,
  ICR_LEVEL_ASSERT, ICR_LOW_WRITABLE, ICR_SHORTHAND_SHIFT, ICR_TRIGGER_LEVEL, LAPIC_STATE_VERSION, LVT_COUNT,
  LVT_DELIVERY_MODE, LVT_DELIVERY_SHIFT, LVT_LEVEL, LVT_MASKED, LVT_REMOTE_IRR, LVT_TIMER_MODE_SHIFT, LVT_VECTOR,
  LVT_WRITABLE, Lvt, MIN_PERIODIC_NS, SVR_ENABLE, SVR_WRITABLE, TimerMode, defaultLocalApicState, resetRegisters,
  timerDivisor, validateLapicState, type LocalApicState,
} from './lapic-state.js';

export { defaultLocalApicState, LAPIC_STATE_VERSION, type LocalApicState } from './lapic-state.js';

/** Register offsets divided by 16 (SDM Table 10-1). */
const enum Reg {
  Id = 0x02,
  Version = 0x03,
  Tpr = 0x08,
  Apr = 0x09,
  Ppr = 0x0a,
  Eoi = 0x0b,
  Ldr = 0x0d,
  Dfr = 0x0e,
  Svr = 0x0f,
  Isr = 0x10,
  Tmr = 0x18,
  Irr = 0x20,
  Esr = 0x28,
  IcrLow = 0x30,
  IcrHigh = 0x31,
  LvtTimer = 0x32,
  LvtError = 0x37,
  InitialCount = 0x38,
  CurrentCount = 0x39,
  DivideConfig = 0x3e,
}

/** The live form: the two times are absolute virtual ns. */
type LiveState = Omit<LocalApicState, 'countElapsedNs' | 'timerDueInNs'> & {
  countStartNs: number;
  timerDeadlineNs: number;
};

export interface LocalApicDeps {
  id?: string;
  /** Initial APIC ID (CPUID.1:EBX[31:24]); 0 for the BSP. */
  apicId?: number;
  clock: VirtualClock;
  /** Where the register page is placed (PhysicalMemory). */
  memory: { mapMovableMmioPage(name: string, handler: MmioHandler): MovableMmioPage };
  /** The 8259 pair: LINT0's source in virtual wire mode, and the target of ExtINT INTA cycles. */
  extInt: InterruptSource;
  /** EOI broadcasts for level-triggered vectors (the I/O APIC). */
  eoi: ApicEoiSink;
  /** Raises NMI on the CPU. */
  raiseNmi(): void;
  /**
   * Signals INIT to the CPU; returns whether the CPU acted on it (in VMX operation INIT is
   * blocked or a VM exit). When absent or false, INIT is logged as unimplemented.
   */
  raiseInit?: () => boolean;
  /** An interrupt became deliverable: wake a halted CPU. */
  onInterrupt?: () => void;
  log: Logger;
}

/** The highest set bit of a 256-bit register, or -1. */
function highestBit(words: number[]): number {
  for (let i = 7; i >= 0; i--) {
    const w = words[i]!;
    if (w !== 0) return i * 32 + 31 - Math.clz32(w);
  }
  return -1;
}

function setBit(words: number[], bit: number): void {
  words[bit >> 5] = (words[bit >> 5]! | (1 << (bit & 31))) >>> 0;
}

function clearBit(words: number[], bit: number): void {
  words[bit >> 5] = (words[bit >> 5]! & ~(1 << (bit & 31))) >>> 0;
}

function testBit(words: number[], bit: number): boolean {
  return (words[bit >> 5]! & (1 << (bit & 31))) !== 0;
}

export class LocalApic implements Device, InterruptSource, ApicMessageSink, CpuApic, MmioHandler {
  readonly id: string;
  readonly stateVersion = LAPIC_STATE_VERSION;
  readonly initialApicId: number;

  private s: LiveState;
  /** Derived: the vector INTR would deliver from IRR now, or -1. */
  private deliverable = -1;
  /** Derived: the 8259's INTR is wired to the CPU (APIC globally disabled, or virtual wire). */
  private picWired = true;
  /** Set while an error interrupt is being delivered, so an illegal error vector cannot recurse. */
  private inErrorDelivery = false;
  private readonly timer: Timer;
  private readonly page: MovableMmioPage;
  /** deps.extInt, read on every instruction while IF is set. */
  private readonly extInt: InterruptSource;

  constructor(private readonly deps: LocalApicDeps, state?: LocalApicState) {
    this.id = deps.id ?? 'apic';
    this.initialApicId = deps.apicId ?? 0;
    this.extInt = deps.extInt;
    this.timer = deps.clock.createTimer(`${this.id}-timer`, (now) => this.timerExpired(now));
    this.page = deps.memory.mapMovableMmioPage(this.id, this);
    this.s = this.toLive(defaultLocalApicState(this.initialApicId), deps.clock.nowNs());
    this.loadState(state ?? defaultLocalApicState(this.initialApicId), LAPIC_STATE_VERSION);
  }

  // ============================================================================================
  // InterruptSource: INTR and INTA as the CPU sees them
  // ============================================================================================

  hasInterrupt(): boolean {
    return this.deliverable >= 0 || this.s.extIntPending || (this.picWired && this.extInt.hasInterrupt());
  }

  /**
   * The INTA cycle. An ExtINT request (virtual wire, ExtINT message, or APIC disabled) is
   * served first, since ExtINT ignores priorities (QEMU's apic_get_interrupt); its vector
   * comes from the 8259. Otherwise the highest deliverable IRR vector moves to ISR. With
   * nothing deliverable any more, the APIC answers its spurious vector without touching ISR
   * (SDM 10.9). XXX: INTR and INTA happen back to back here, so a TPR raise cannot fall
   * between them and the CPU never sees the spurious vector; the device still implements it.
   */
  acknowledge(): number {
    const s = this.s;
    const ext = this.extInt;
    if (s.extIntPending || (this.picWired && ext.hasInterrupt())) {
      s.extIntPending = false;
      const v = ext.acknowledge();
      this.update();
      return v;
    }
    const v = this.deliverable;
    if (v >= 0) {
      clearBit(s.irr, v);
      setBit(s.isr, v);
      this.update();
      return v;
    }
    if (!this.globallyEnabled) return ext.acknowledge();
    return s.svr & 0xff;
  }

  // ============================================================================================
  // CpuApic: MSRs and TPR
  // ============================================================================================

  get globallyEnabled(): boolean {
    return (this.s.apicBase & APIC_BASE_ENABLE) !== 0;
  }

  private get softwareEnabled(): boolean {
    return (this.s.svr & SVR_ENABLE) !== 0;
  }

  readApicBase(): number {
    return this.s.apicBase >>> 0;
  }

  /**
   * Relocates the page and sets or clears the global enable. Disabling puts the registers in
   * their reset state (SDM 10.4.3: "the APIC may return to the state described in 10.4.7.1")
   * with LINT0 masked, so re-enabling needs a full reprogramming, as on hardware.
   */
  writeApicBase(value: number): void {
    const wasEnabled = this.globallyEnabled;
    const base = (value & (APIC_BASE_ADDRESS | APIC_BASE_BSP | APIC_BASE_ENABLE)) >>> 0;
    if (wasEnabled && (base & APIC_BASE_ENABLE) === 0) {
      const { lint0Level, lint1Level } = this.s; // pin levels are not registers
      this.s = this.toLive(resetRegisters(base, this.s.id), this.deps.clock.nowNs());
      this.s.lint0Level = lint0Level;
      this.s.lint1Level = lint1Level;
      this.timer.del();
    } else {
      this.s.apicBase = base;
    }
    this.placePage();
    this.update();
  }

  readTscDeadline(): [number, number] {
    if (this.timerMode !== TimerMode.TscDeadline) return [0, 0];
    return [this.s.tscDeadlineLo >>> 0, this.s.tscDeadlineHi >>> 0];
  }

  /** SDM 10.5.4.1: ignored outside TSC-deadline mode; zero disarms; the past fires at once. */
  writeTscDeadline(lo: number, hi: number, deadlineNs: number): void {
    const s = this.s;
    if (!this.globallyEnabled || this.timerMode !== TimerMode.TscDeadline) return;
    s.tscDeadlineLo = lo >>> 0;
    s.tscDeadlineHi = hi >>> 0;
    s.timerDeadlineNs = lo === 0 && hi === 0 ? -1 : Math.max(0, deadlineNs);
    this.armTimer();
  }

  getTpr(): number {
    return this.s.tpr >> 4;
  }

  setTpr(value: number): void {
    this.s.tpr = (value & 0xf) << 4;
    this.update();
  }

  // ============================================================================================
  // Inputs: messages from the I/O APIC, the LINT pins
  // ============================================================================================

  /** A message on the APIC bus; returns true when this APIC is a destination and accepted it. */
  deliverMessage(destination: number, logical: boolean, mode: DeliveryMode, vector: number, levelTriggered: boolean): boolean {
    if (!this.globallyEnabled || !this.isDestination(destination & 0xff, logical)) return false;
    return this.accept(mode, vector & 0xff, levelTriggered, 'message');
  }

  /** LINT0: the 8259's INTR output (the board calls this on every change). */
  setLint0(level: boolean): void {
    this.setLint(Lvt.Lint0, level);
  }

  /** LINT1: NMI in every PC's wiring. */
  setLint1(level: boolean): void {
    this.setLint(Lvt.Lint1, level);
  }

  private setLint(index: Lvt.Lint0 | Lvt.Lint1, level: boolean): void {
    const s = this.s;
    const was = index === Lvt.Lint0 ? s.lint0Level : s.lint1Level;
    if (index === Lvt.Lint0) s.lint0Level = level;
    else s.lint1Level = level;
    if (!this.globallyEnabled) return;
    const lvt = s.lvt[index]!;
    const mode = (lvt & LVT_DELIVERY_MODE) >> LVT_DELIVERY_SHIFT;
    // ExtINT: hasInterrupt reads the 8259's INTR directly; nothing to latch.
    if (mode === DeliveryMode.ExtInt) return;
    if (level && !was) {
      this.localInterrupt(index);
    } else if (!level && mode === DeliveryMode.Fixed && (lvt & LVT_LEVEL) !== 0 && (lvt & LVT_REMOTE_IRR) === 0) {
      // A level-triggered request withdrawn before the CPU took it (QEMU's apic_deliver_pic_intr).
      clearBit(s.irr, lvt & LVT_VECTOR);
      this.update();
    }
  }

  // ============================================================================================
  // MMIO
  // ============================================================================================

  mmioRead(offset: number, size: AccessSize): number {
    if (size !== 4) return 0;
    return this.readRegister((offset >> 4) & 0xff) >>> 0;
  }

  mmioWrite(offset: number, size: AccessSize, value: number): void {
    if (size !== 4) return;
    this.writeRegister((offset >> 4) & 0xff, value >>> 0);
  }

  private readRegister(index: number): number {
    const s = this.s;
    if (index >= Reg.Isr && index < Reg.Isr + 8) return s.isr[index - Reg.Isr]!;
    if (index >= Reg.Tmr && index < Reg.Tmr + 8) return s.tmr[index - Reg.Tmr]!;
    if (index >= Reg.Irr && index < Reg.Irr + 8) return s.irr[index - Reg.Irr]!;
    if (index >= Reg.LvtTimer && index <= Reg.LvtError) return s.lvt[index - Reg.LvtTimer]!;
    switch (index) {
      case Reg.Id: return s.id << 24;
      case Reg.Version: return APIC_VERSION;
      case Reg.Tpr: return s.tpr;
      case Reg.Apr: return this.apr();
      case Reg.Ppr: return this.ppr();
      case Reg.Eoi: return 0; // write-only; reads 0 as in QEMU
      case Reg.Ldr: return s.ldr << 24;
      case Reg.Dfr: return (s.dfrModel << 28) | 0x0fffffff;
      case Reg.Svr: return s.svr;
      case Reg.Esr: return s.esr;
      case Reg.IcrLow: return s.icrLow; // delivery status always idle: IPIs are delivered at once
      case Reg.IcrHigh: return s.icrHigh;
      case Reg.InitialCount: return s.initialCount;
      case Reg.CurrentCount: return this.currentCount(this.deps.clock.nowNs());
      case Reg.DivideConfig: return s.divideConfig;
    }
    this.illegalRegister(index, 'read');
    return 0;
  }

  private writeRegister(index: number, v: number): void {
    const s = this.s;
    if (index >= Reg.LvtTimer && index <= Reg.LvtError) {
      this.writeLvt(index - Reg.LvtTimer, v);
      return;
    }
    // Read-only registers ignore writes without an error (SDM Table 10-1 marks them RO).
    if ((index >= Reg.Isr && index < Reg.Irr + 8) || index === Reg.Version || index === Reg.Apr ||
        index === Reg.Ppr || index === Reg.CurrentCount) return;
    switch (index) {
      case Reg.Id: s.id = v >>> 24; return;
      case Reg.Tpr: s.tpr = v & 0xff; this.update(); return;
      case Reg.Eoi: this.endOfInterrupt(); return;
      case Reg.Ldr: s.ldr = v >>> 24; return;
      case Reg.Dfr: s.dfrModel = v >>> 28; return;
      case Reg.Svr: this.writeSvr(v); return;
      case Reg.Esr:
        // SDM 10.5.3: a write latches the errors seen since the previous write and clears them.
        s.esr = s.esrPending;
        s.esrPending = 0;
        return;
      case Reg.IcrLow:
        s.icrLow = v & ICR_LOW_WRITABLE;
        this.sendIpi();
        return;
      case Reg.IcrHigh: s.icrHigh = (v & ICR_HIGH_WRITABLE) >>> 0; return;
      case Reg.InitialCount: this.writeInitialCount(v); return;
      case Reg.DivideConfig: this.writeDivideConfig(v); return;
    }
    this.illegalRegister(index, 'write');
  }

  private illegalRegister(index: number, what: string): void {
    const log = this.deps.log;
    if (log.enabled('guest_errors')) log.log('guest_errors', `${this.id}: ${what} of reserved register 0x${(index << 4).toString(16).padStart(3, '0')}`);
    this.signalError(ESR_ILLEGAL_REGISTER);
  }

  private writeSvr(v: number): void {
    const s = this.s;
    s.svr = v & SVR_WRITABLE;
    // SDM 10.4.7.2: software disabling sets every LVT mask bit.
    if (!this.softwareEnabled) for (let i = 0; i < LVT_COUNT; i++) s.lvt[i] = (s.lvt[i]! | LVT_MASKED) >>> 0;
    this.update();
  }

  private writeLvt(index: number, v: number): void {
    const s = this.s;
    let value = (v & LVT_WRITABLE[index]!) | (s.lvt[index]! & LVT_REMOTE_IRR);
    // SDM 10.4.7.2: while software-disabled, mask bits cannot be cleared.
    if (!this.softwareEnabled) value |= LVT_MASKED;
    const oldMode = this.timerMode;
    s.lvt[index] = value >>> 0;
    if (index === Lvt.Timer) this.timerModeChanged(oldMode);
    this.update();
  }

  // ============================================================================================
  // Priorities (SDM 10.8.3)
  // ============================================================================================

  /** Processor priority: the higher class of TPR and the highest in-service vector. */
  ppr(): number {
    const s = this.s;
    const isrv = Math.max(0, highestBit(s.isr));
    return (s.tpr >> 4) >= (isrv >> 4) ? s.tpr : isrv & 0xf0;
  }

  /** Arbitration priority (SDM 10.8.3.2 formula). */
  private apr(): number {
    const s = this.s;
    const isrv = Math.max(0, highestBit(s.isr));
    const irrv = Math.max(0, highestBit(s.irr));
    const tprClass = s.tpr >> 4;
    if (tprClass >= irrv >> 4 && tprClass > isrv >> 4) return s.tpr;
    return Math.max(s.tpr & 0xf0, isrv & 0xf0, irrv & 0xf0);
  }

  /**
   * Recomputes INTR after any change: the highest IRR vector is deliverable when the APIC is
   * enabled in both ways and its priority class beats PPR's (SDM 10.8.3.1).
   */
  private update(): void {
    const s = this.s;
    const enabled = this.globallyEnabled;
    let v = -1;
    if (enabled && this.softwareEnabled) {
      const irrv = highestBit(s.irr);
      if (irrv >= 0 && (irrv & 0xf0) > (this.ppr() & 0xf0)) v = irrv;
    }
    const rose = v >= 0 && this.deliverable < 0;
    this.deliverable = v;
    const lint0 = s.lvt[Lvt.Lint0]!;
    this.picWired = !enabled || (lint0 & (LVT_MASKED | LVT_DELIVERY_MODE)) === DeliveryMode.ExtInt << LVT_DELIVERY_SHIFT;
    if (rose || s.extIntPending) this.deps.onInterrupt?.();
  }

  // ============================================================================================
  // Accepting interrupts
  // ============================================================================================

  /** Whether this APIC is among the destinations (SDM 10.6.2). */
  private isDestination(dest: number, logical: boolean): boolean {
    const s = this.s;
    if (dest === 0xff) return logical ? s.dfrModel === 0x0 || s.ldr !== 0 : true;
    if (!logical) return dest === s.id;
    if (s.dfrModel === 0xf) return (dest & s.ldr) !== 0; // flat model
    if (s.dfrModel === 0x0) return (dest >> 4) === (s.ldr >> 4) && (dest & s.ldr & 0xf) !== 0; // cluster model
    return false;
  }

  /** Acts on one interrupt with delivery mode `mode`; returns whether it was accepted. */
  private accept(mode: number, vector: number, levelTriggered: boolean, from: string): boolean {
    switch (mode) {
      case DeliveryMode.Fixed:
      case DeliveryMode.LowestPriority:
        return this.acceptFixed(vector, levelTriggered);
      case DeliveryMode.Nmi:
        this.deps.raiseNmi();
        return true;
      case DeliveryMode.ExtInt:
        this.s.extIntPending = true;
        this.update();
        return true;
      case DeliveryMode.Init:
        // Inside VMX operation the CPU latches INIT or exits to its VMM (SDM 24.8, 26.2).
        if (this.deps.raiseInit?.()) return true;
        // XXX: otherwise INIT would put the CPU through its INIT reset; one CPU sending it to
        // itself is not something a PC OS does, so it is logged and ignored.
        this.unimp(`INIT (${from}) ignored`);
        return true;
      case DeliveryMode.StartUp:
        this.unimp(`SIPI vector 0x${vector.toString(16)} (${from}) ignored: the BSP is not waiting for SIPI`);
        return true;
      case DeliveryMode.Smi:
        this.unimp(`SMI (${from}) not implemented`);
        return false;
      default:
        this.guestError(`reserved delivery mode ${mode} (${from}) dropped`);
        return false;
    }
  }

  /**
   * Latches a fixed interrupt in IRR (and its trigger mode in TMR). A software-disabled APIC
   * takes none (KVM); vectors 0-15 are illegal (SDM 10.5.2) and set the ESR instead.
   */
  private acceptFixed(vector: number, levelTriggered: boolean): boolean {
    const s = this.s;
    if (!this.softwareEnabled) return false;
    if (vector < 16) {
      this.signalError(ESR_RECEIVE_ILLEGAL_VECTOR);
      return false;
    }
    setBit(s.irr, vector);
    if (levelTriggered) setBit(s.tmr, vector);
    else clearBit(s.tmr, vector);
    this.update();
    return true;
  }

  /** Delivers LVT entry `index` as its delivery mode says (QEMU's apic_local_deliver). */
  private localInterrupt(index: Lvt): void {
    const s = this.s;
    const lvt = s.lvt[index]!;
    if (lvt & LVT_MASKED) return;
    const isLint = index === Lvt.Lint0 || index === Lvt.Lint1;
    const mode = (lvt & LVT_DELIVERY_MODE) >> LVT_DELIVERY_SHIFT;
    if (mode === DeliveryMode.Fixed) {
      const level = isLint && (lvt & LVT_LEVEL) !== 0;
      if (level && (lvt & LVT_REMOTE_IRR) !== 0) return; // still being serviced
      if (this.acceptFixed(lvt & LVT_VECTOR, level) && level) s.lvt[index] = (lvt | LVT_REMOTE_IRR) >>> 0;
      return;
    }
    if (mode === DeliveryMode.ExtInt) return; // LINT0's ExtINT is the virtual wire (picWired)
    this.accept(mode, lvt & LVT_VECTOR, false, `LVT ${index}`);
  }

  /** Records an error in the ESR and raises the LVT error interrupt (SDM 10.5.3). */
  private signalError(bits: number): void {
    this.s.esrPending |= bits;
    if (this.inErrorDelivery) return;
    this.inErrorDelivery = true;
    try {
      this.localInterrupt(Lvt.Error);
    } finally {
      this.inErrorDelivery = false;
    }
  }

  /**
   * EOI: retires the highest in-service vector; a level-triggered one is broadcast to the
   * I/O APIC (SDM 10.8.5) and clears the remote IRR of a LINT entry that raised it.
   */
  private endOfInterrupt(): void {
    const s = this.s;
    const v = highestBit(s.isr);
    if (v < 0) return;
    clearBit(s.isr, v);
    if (testBit(s.tmr, v)) {
      this.deps.eoi.endOfInterrupt(v);
      for (const index of [Lvt.Lint0, Lvt.Lint1] as const) {
        const lvt = s.lvt[index]!;
        if ((lvt & LVT_REMOTE_IRR) !== 0 && (lvt & LVT_VECTOR) === v) {
          s.lvt[index] = (lvt & ~LVT_REMOTE_IRR) >>> 0;
          // A level input still asserted raises the interrupt again.
          if (index === Lvt.Lint0 ? s.lint0Level : s.lint1Level) this.localInterrupt(index);
        }
      }
    }
    this.update();
  }

  // ============================================================================================
  // IPIs (SDM 10.6.1)
  // ============================================================================================

  private sendIpi(): void {
    const s = this.s;
    const lo = s.icrLow;
    const vector = lo & 0xff;
    const mode = (lo >> 8) & 7;
    const shorthand = (lo >> ICR_SHORTHAND_SHIFT) & 3;
    const dest = s.icrHigh >>> 24;
    if ((mode === DeliveryMode.Fixed || mode === DeliveryMode.LowestPriority) && vector < 16) {
      this.signalError(ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    // INIT level de-assert only resynchronizes arbitration IDs (no effect on one CPU).
    if (mode === DeliveryMode.Init && (lo & ICR_LEVEL_ASSERT) === 0 && (lo & ICR_TRIGGER_LEVEL) !== 0) return;
    // 0: destination field, 1: self, 2: all including self, 3: all excluding self.
    const toSelf = shorthand === 0 ? this.isDestination(dest, (lo & ICR_DEST_LOGICAL) !== 0) : shorthand !== 3;
    if (!toSelf) {
      const log = this.deps.log;
      if (log.enabled('trace')) log.log('trace', `${this.id}: IPI 0x${lo.toString(16)} to 0x${dest.toString(16)} has no destination (one CPU)`);
      return;
    }
    if (mode === DeliveryMode.ExtInt) {
      this.guestError('ExtINT is not a valid IPI delivery mode');
      return;
    }
    this.accept(mode, vector, (lo & ICR_TRIGGER_LEVEL) !== 0, 'IPI');
  }

  // ============================================================================================
  // Timer (SDM 10.5.4)
  // ============================================================================================

  get timerMode(): TimerMode {
    const m = (this.s.lvt[Lvt.Timer]! >> LVT_TIMER_MODE_SHIFT) & 3;
    return m === 3 ? TimerMode.OneShot : (m as TimerMode);
  }

  private get tickNs(): number {
    return APIC_BUS_NS_PER_TICK * timerDivisor(this.s.divideConfig);
  }

  private periodNs(): number {
    return Math.max(this.s.initialCount * this.tickNs, MIN_PERIODIC_NS);
  }

  /** The current-count register at virtual time `now`. */
  currentCount(now: number): number {
    const s = this.s;
    const init = s.initialCount;
    if (init === 0 || this.timerMode === TimerMode.TscDeadline) return 0;
    const ticks = Math.floor(Math.max(0, now - s.countStartNs) / this.tickNs);
    if (this.timerMode === TimerMode.Periodic) return init - (ticks % init);
    return ticks >= init ? 0 : init - ticks;
  }

  /** A write to the initial count restarts the count from it; zero stops the timer. */
  private writeInitialCount(v: number): void {
    const s = this.s;
    if (this.timerMode === TimerMode.TscDeadline) return; // SDM 10.5.4.1: ignored
    const now = this.deps.clock.nowNs();
    s.initialCount = v >>> 0;
    s.countStartNs = now;
    s.timerDeadlineNs = v === 0 ? -1 : now + (this.timerMode === TimerMode.Periodic ? this.periodNs() : v * this.tickNs);
    this.armTimer();
  }

  /** A new divisor takes effect from now: the current count carries on from where it is. */
  private writeDivideConfig(v: number): void {
    const s = this.s;
    const now = this.deps.clock.nowNs();
    const count = this.currentCount(now);
    s.divideConfig = v & DCR_WRITABLE;
    if (s.initialCount === 0 || this.timerMode === TimerMode.TscDeadline) return;
    if (this.timerMode === TimerMode.OneShot && s.timerDeadlineNs < 0) return; // expired: stays 0
    s.countStartNs = now - (s.initialCount - count) * this.tickNs;
    this.rescheduleCount(now);
  }

  /** After an LVT timer write: a switch into or out of TSC-deadline mode disarms the timer. */
  private timerModeChanged(oldMode: TimerMode): void {
    const s = this.s;
    const mode = this.timerMode;
    if (mode === oldMode) return;
    if (mode === TimerMode.TscDeadline || oldMode === TimerMode.TscDeadline) {
      s.initialCount = 0;
      s.tscDeadlineLo = s.tscDeadlineHi = 0;
      s.timerDeadlineNs = -1;
      this.armTimer();
      return;
    }
    // One-shot ↔ periodic: the count keeps its start (QEMU computes both from the load time).
    if (s.initialCount !== 0) this.rescheduleCount(this.deps.clock.nowNs());
  }

  /** Next expiry of a one-shot or periodic count that started at countStartNs. */
  private rescheduleCount(now: number): void {
    const s = this.s;
    if (this.timerMode === TimerMode.Periodic) {
      const period = this.periodNs();
      s.timerDeadlineNs = s.countStartNs + (Math.floor((now - s.countStartNs) / period) + 1) * period;
    } else {
      const end = s.countStartNs + s.initialCount * this.tickNs;
      s.timerDeadlineNs = end > now ? end : -1;
    }
    this.armTimer();
  }

  private armTimer(): void {
    if (this.s.timerDeadlineNs >= 0) this.timer.modNs(this.s.timerDeadlineNs);
    else this.timer.del();
  }

  /**
   * The count reached zero (or the TSC reached the deadline). The interrupt goes out unless
   * the entry is masked; a periodic count goes on (missed periods are dropped, not queued),
   * the deadline MSR clears (SDM 10.5.4.1).
   */
  private timerExpired(now: number): void {
    const s = this.s;
    s.timerDeadlineNs = -1;
    const mode = this.timerMode;
    if (mode === TimerMode.TscDeadline) {
      s.tscDeadlineLo = s.tscDeadlineHi = 0;
    } else if (mode === TimerMode.Periodic && s.initialCount !== 0) {
      this.rescheduleCount(now);
    }
    this.localInterrupt(Lvt.Timer);
  }

  // ============================================================================================
  // Device
  // ============================================================================================

  reset(): void {
    this.loadState(defaultLocalApicState(this.initialApicId), LAPIC_STATE_VERSION);
  }

  saveState(): LocalApicState {
    const { countStartNs, timerDeadlineNs, ...rest } = this.s;
    const now = this.deps.clock.nowNs();
    return {
      ...rest,
      isr: [...rest.isr],
      tmr: [...rest.tmr],
      irr: [...rest.irr],
      lvt: [...rest.lvt],
      countElapsedNs: Math.max(0, now - countStartNs),
      timerDueInNs: timerDeadlineNs < 0 ? -1 : Math.max(0, timerDeadlineNs - now),
    };
  }

  loadState(state: unknown, version: number): void {
    expectVersion(version, LAPIC_STATE_VERSION, this.id);
    const v = validateLapicState(state, this.id);
    this.s = this.toLive(v, this.deps.clock.nowNs());
    this.placePage();
    this.armTimer();
    this.update();
  }

  /** QEMU's `info lapic`. */
  info(cpuIndex = 0): string {
    const now = this.deps.clock.nowNs();
    return formatLapicInfo(this.saveState(), cpuIndex, { currentCount: this.currentCount(now), ppr: this.ppr(), apr: this.apr() });
  }

  // ============================================================================================
  // Internals
  // ============================================================================================

  private toLive(v: LocalApicState, now: number): LiveState {
    const { countElapsedNs, timerDueInNs, ...rest } = v;
    return {
      ...rest,
      isr: [...v.isr],
      tmr: [...v.tmr],
      irr: [...v.irr],
      lvt: [...v.lvt],
      countStartNs: now - countElapsedNs,
      timerDeadlineNs: timerDueInNs < 0 ? -1 : now + timerDueInNs,
    };
  }

  private placePage(): void {
    this.page.moveTo(this.globallyEnabled ? (this.s.apicBase & APIC_BASE_ADDRESS) >>> 0 : undefined);
  }

  private unimp(message: string): void {
    const log = this.deps.log;
    if (log.enabled('unimp')) log.log('unimp', `${this.id}: ${message}`);
  }

  private guestError(message: string): void {
    const log = this.deps.log;
    if (log.enabled('guest_errors')) log.log('guest_errors', `${this.id}: ${message}`);
  }
}
