/**
 * The High Precision Event Timer as QEMU's `hpet` device presents it on the `pc` machine: one
 * timer block at 0xFED00000 (a 1 KiB window) with a 64-bit main counter at 100 MHz and three
 * comparators, each 64-bit capable with periodic mode, routed to the I/O APIC or, with
 * LegacyReplacement, timer 0 to IRQ 0 and timer 1 to IRQ 8 in place of the PIT and the RTC.
 *
 * Sources: IA-PC HPET Specification 1.0a — 2.3 (register map Table 3, GCAP_ID 2.3.4, GEN_CONF
 * 2.3.5, GINTR_STA 2.3.6, MAIN_CNT 2.3.7, Tn_CONF 2.3.8, Tn_COMPARATOR 2.3.9, Tn_FSB_ROUTE
 * 2.3.10), 2.3.9.2 (one-shot and periodic modes, Tn_VAL_SET_CNF), 2.4 (interrupt mapping and
 * LegacyReplacement). QEMU 7.2's hw/timer/hpet.c and hw/i386/pc.c for what the `pc` board
 * shows: capabilities 0x8086A201 with a 10 ns period, Tn_INT_ROUTE_CAP 0x00000004 (I/O APIC
 * input 2 only: pc_piix passes hpet-intcap 4), no FSB delivery, a comparator of all ones
 * after reset, route n driving ISA IRQ n (and I/O APIC pin n, pin 2 for IRQ 0) below 16 and
 * I/O APIC pin n above.
 *
 * Time model: while ENABLE_CNF is set the counter is `counter` (its value at `baseNs`) plus
 * one per 10 ns of virtual time since `baseNs`; each comparator keeps the tick (counted from
 * `baseNs`) of its next event, and one clock timer per comparator fires at that tick's
 * virtual time. Events late by the host are processed at their own tick: a periodic
 * comparator advances by every period that has elapsed (one interrupt for them all, as an
 * interrupt controller would merge the edges), so what the guest reads is what the hardware
 * would show. Every register access first processes the events that are due, so a guest
 * polling GINTR_STA or a comparator never sees a state the timer callback has not caught up
 * with yet.
 *
 * Where the spec and QEMU 7.2 differ we follow the spec, as newer QEMU does: a level-triggered
 * timer sets its GINTR_STA bit even with Tn_INT_ENB_CNF clear (it "will still operate and
 * generate appropriate status bits"); a one-shot comparator in 32-bit mode interrupts at every
 * match and every wrap of the low 32 counter bits (QEMU fires the match once).
 *
 * Accesses: aligned 32-bit reads and writes; a 64-bit access arrives as two of them. 8- and
 * 16-bit or unaligned accesses read 0 and are ignored on write (QEMU refuses them as invalid;
 * the spec allows only 32 and 64 bits), logged under `-d guest_errors`.
 *
 * Not implemented: FSB (MSI) delivery — Tn_FSB_INT_DEL_CAP reads 0 and Tn_FSB_EN_CNF is not
 * writable, as on QEMU's default `msi=false`; the FSB route register is plain storage.
 * XXX: a comparator event more than 2^52 ticks (about 520 days at 100 MHz) after the counter
 * was last started or written is never reached (the arithmetic is in safe integers).
 */
import type { MmioHandler } from '../../src/memory/physical-memory.js';
import type { AccessSize } from '../../src/memory/io-bus.js';
import type { IrqLine } from '../../src/machine/irq.js';
import type { Timer, VirtualClock } from '../../src/machine/clock.js';
import type { Device } from '../../src/machine/device.js';
import type { Logger } from '../../src/machine/log.js';
import { SnapshotError } from '../../src/errors.js';
import { expectBool, expectInt, expectRecord, expectVersion } from '../../src/snapshot/validate.js';

/** Where QEMU's pc maps the block, and the size of its window. */
export const HPET_BASE = 0xfed00000;
export const HPET_MMIO_SIZE = 0x400;
/** Comparators in the block (QEMU's default `timers=3`). */
export const HPET_TIMERS = 3;
/** Interrupt routes a comparator can name (Tn_INT_ROUTE_CNF is 5 bits). */
export const HPET_IRQ_ROUTES = 32;
/** COUNTER_CLK_PERIOD in femtoseconds: 10 ns, a 100 MHz counter. */
export const HPET_PERIOD_FS = 10_000_000;
const NS_PER_TICK = 10;
/**
 * GCAP_ID bits 31:0: VENDOR_ID 0x8086, LEG_RT_CAP (15), COUNT_SIZE_CAP (13, 64-bit counter),
 * NUM_TIM_CAP 2 (bits 12:8, comparators - 1), REV_ID 1. The ACPI HPET table repeats it.
 */
export const HPET_CAP_ID = 0x8086a201;
/** Tn_INT_ROUTE_CAP on QEMU's pc (i440FX): I/O APIC input 2 only. */
export const PC_HPET_ROUTE_CAP = 0x00000004;

// Register offsets (Table 3); 64-bit registers as two 32-bit halves.
const GCAP_ID = 0x000;
const GCAP_PERIOD = 0x004;
const GEN_CONF = 0x010;
const GINTR_STA = 0x020;
const MAIN_CNT_LO = 0x0f0;
const MAIN_CNT_HI = 0x0f4;
const TIMER_BASE = 0x100;
const TIMER_STRIDE = 0x20;
const TN_CONF = 0x00;
const TN_ROUTE_CAP = 0x04;
const TN_CMP_LO = 0x08;
const TN_CMP_HI = 0x0c;
const TN_FSB_VALUE = 0x10;
const TN_FSB_ADDRESS = 0x14;

// GEN_CONF (2.3.5).
/** ENABLE_CNF: the main counter runs and comparators may interrupt. */
export const ENABLE_CNF = 1 << 0;
/** LEG_RT_CNF: LegacyReplacement route (timer 0 → IRQ 0, timer 1 → IRQ 8). */
export const LEG_RT_CNF = 1 << 1;
const GEN_CONF_WRITABLE = ENABLE_CNF | LEG_RT_CNF;

// Tn_CONF (2.3.8).
/** Tn_INT_TYPE_CNF: level-triggered (else edge). */
export const TN_INT_TYPE_LEVEL = 1 << 1;
/** Tn_INT_ENB_CNF: the comparator may interrupt. */
export const TN_INT_ENB_CNF = 1 << 2;
/** Tn_TYPE_CNF: periodic (else one-shot). */
export const TN_TYPE_PERIODIC = 1 << 3;
/** Tn_PER_INT_CAP: periodic mode available (read-only). */
export const TN_PER_INT_CAP = 1 << 4;
/** Tn_SIZE_CAP: a 64-bit comparator (read-only). */
export const TN_SIZE_CAP = 1 << 5;
/** Tn_VAL_SET_CNF: the next comparator write sets the accumulator of a periodic timer. */
export const TN_VAL_SET_CNF = 1 << 6;
/** Tn_32MODE_CNF: the comparator works on the low 32 counter bits. */
export const TN_32MODE_CNF = 1 << 8;
export const TN_INT_ROUTE_SHIFT = 9;
const TN_INT_ROUTE_MASK = 0x1f << TN_INT_ROUTE_SHIFT;
/** The writable Tn_CONF bits (no FSB: bit 14 stays 0). */
const TN_CONF_WRITABLE = TN_INT_TYPE_LEVEL | TN_INT_ENB_CNF | TN_TYPE_PERIODIC | TN_VAL_SET_CNF | TN_32MODE_CNF | TN_INT_ROUTE_MASK;
const TN_CONF_RESET = TN_PER_INT_CAP | TN_SIZE_CAP;

/** The legacy routes (2.4: "Timer 0 … IRQ0 …, Timer 1 … IRQ8"). */
const LEGACY_PIT_ROUTE = 0;
const LEGACY_RTC_ROUTE = 8;

const TWO_32 = 0x1_0000_0000;
const MASK32N = 0xffff_ffffn;
const MASK64N = 0xffff_ffff_ffff_ffffn;
const TWO_32N = 0x1_0000_0000n;
const TWO_64N = 1n << 64n;
/** Ticks past which an event is never reached (see the XXX above). */
const MAX_TICK = 2 ** 52;
/**
 * Periodic interrupts closer than this are spaced out to it (QEMU clamps at 1 µs too), so that
 * a period of a few ticks cannot make the host run a timer every 10 ns; comparators stay exact.
 */
const MIN_PERIODIC_NS = 1000;
const NO_TICK = -1;

/** Guest-visible state of one comparator. */
export interface HpetTimerState {
  /** Tn_CONF bits 31:0 (the capability bits included). */
  config: number;
  /** Tn_COMPARATOR as it reads (the high half is 0 in 32-bit mode). */
  cmpHi: number;
  cmpLo: number;
  /** The last value written to the comparator in periodic mode: the period in ticks. */
  periodHi: number;
  periodLo: number;
  /** Tn_FSB_INT_VAL and Tn_FSB_INT_ADDR (storage only). */
  fsbValue: number;
  fsbAddress: number;
  /** Tick (counted from `HpetState.baseNs`) of the next event, or -1. */
  dueTick: number;
  /** The event at `dueTick` is a 32-bit wrap of a one-shot comparator, not a match. */
  dueIsWrap: boolean;
}

export interface HpetState {
  /** GEN_CONF bits 1:0. */
  config: number;
  /** GINTR_STA bits 2:0 (level-triggered comparators only). */
  isr: number;
  /** Main counter: its value at `baseNs` while running, the held value while halted. */
  counterHi: number;
  counterLo: number;
  /** Virtual ns at which the running counter had the value above. */
  baseNs: number;
  timers: HpetTimerState[];
}

function defaultTimerState(): HpetTimerState {
  return {
    config: TN_CONF_RESET,
    cmpHi: 0xffffffff,
    cmpLo: 0xffffffff,
    periodHi: 0,
    periodLo: 0,
    fsbValue: 0,
    fsbAddress: 0,
    dueTick: NO_TICK,
    dueIsWrap: false,
  };
}

/** Power-on state (QEMU's hpet_reset): halted counter 0, comparators all ones, nothing routed. */
export function defaultHpetState(): HpetState {
  return {
    config: 0,
    isr: 0,
    counterHi: 0,
    counterLo: 0,
    baseNs: 0,
    timers: Array.from({ length: HPET_TIMERS }, defaultTimerState),
  };
}

const u64 = (hi: number, lo: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
const hiOf = (v: bigint): number => Number((v >> 32n) & MASK32N);
const loOf = (v: bigint): number => Number(v & MASK32N);

export interface HpetDeps {
  id?: string;
  clock: VirtualClock;
  /**
   * What each Tn_INT_ROUTE value (and the legacy routes 0 and 8) drives. The PC board gives
   * ISA IRQ n below 16 (the 8259 input and I/O APIC pin, IRQ 0 on pin 2) and I/O APIC pin n
   * above. Routes 0 and 8 belong to the HPET: the PIT and the RTC reach them through
   * `pitIrqInput` and `rtcIrqInput`.
   */
  irqs: readonly IrqLine[];
  /** Tn_INT_ROUTE_CAP of every comparator (default QEMU pc's). */
  routeCap?: number;
  log?: Logger;
}

export class Hpet implements Device, MmioHandler {
  readonly id: string;
  readonly stateVersion = 1;
  /**
   * The PIT's OUT0 comes in here: it reaches IRQ 0 unless LegacyReplacement has taken the
   * line (QEMU's HPET_LEGACY_PIT_INT input).
   */
  readonly pitIrqInput: IrqLine;
  /** The RTC's IRQ 8 output, likewise (HPET_LEGACY_RTC_INT). */
  readonly rtcIrqInput: IrqLine;

  private s: HpetState = defaultHpetState();
  private readonly clock: VirtualClock;
  private readonly irqs: readonly IrqLine[];
  private readonly routeCap: number;
  private readonly log: Logger | undefined;
  private readonly timers: Timer[];
  // Wires, not state: the PIT and RTC drive them again when they reset or load.
  private pitLevel = false;
  private rtcLevel = false;
  /** Levels last driven on each route (bit per route), so a route is only driven on change. */
  private driven = 0;

  constructor(deps: HpetDeps, state?: HpetState) {
    this.id = deps.id ?? 'hpet';
    if (deps.irqs.length !== HPET_IRQ_ROUTES) throw new RangeError(`${this.id}: needs ${HPET_IRQ_ROUTES} interrupt routes`);
    this.clock = deps.clock;
    this.irqs = deps.irqs;
    this.routeCap = (deps.routeCap ?? PC_HPET_ROUTE_CAP) >>> 0;
    this.log = deps.log;
    this.timers = Array.from({ length: HPET_TIMERS }, (_, i) =>
      deps.clock.createTimer(`${this.id}.timer${i}`, () => this.onTimer(i)));
    this.pitIrqInput = { set: (level) => this.setLegacyInput(LEGACY_PIT_ROUTE, level) };
    this.rtcIrqInput = { set: (level) => this.setLegacyInput(LEGACY_RTC_ROUTE, level) };
    this.loadState(state ?? defaultHpetState(), this.stateVersion);
  }

  // --- Device ---------------------------------------------------------------------------

  reset(): void {
    this.loadState(defaultHpetState(), this.stateVersion);
  }

  saveState(): HpetState {
    return { ...this.s, timers: this.s.timers.map((t) => ({ ...t })) };
  }

  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    const rec = expectRecord(state, this.id);
    const list = rec['timers'];
    if (!Array.isArray(list) || list.length !== HPET_TIMERS) throw new SnapshotError(`${this.id}.timers: expected ${HPET_TIMERS} comparators`);
    const s: HpetState = {
      config: expectInt(rec, 'config', 0, GEN_CONF_WRITABLE, this.id),
      isr: expectInt(rec, 'isr', 0, (1 << HPET_TIMERS) - 1, this.id),
      counterHi: expectInt(rec, 'counterHi', 0, 0xffffffff, this.id),
      counterLo: expectInt(rec, 'counterLo', 0, 0xffffffff, this.id),
      baseNs: expectInt(rec, 'baseNs', 0, Number.MAX_SAFE_INTEGER, this.id),
      timers: list.map((t, i) => parseTimer(t, `${this.id}.timers[${i}]`)),
    };
    const running = (s.config & ENABLE_CNF) !== 0;
    for (const [i, t] of s.timers.entries()) {
      if (!running && t.dueTick !== NO_TICK) throw new SnapshotError(`${this.id}.timers[${i}].dueTick: the counter is halted`);
    }
    this.s = s;
    for (let i = 0; i < HPET_TIMERS; i++) this.armTimer(i, false);
    // Routes 0 and 8 are the HPET's own: drive them whatever they were; others on change.
    this.updateLines(true);
  }

  // --- MmioHandler ----------------------------------------------------------------------

  mmioRead(offset: number, size: AccessSize): number {
    if (size !== 4 || (offset & 3) !== 0) {
      this.guestError(`${size}-byte read at +0x${offset.toString(16)} (only aligned 32- and 64-bit accesses)`);
      return 0;
    }
    const tick = this.running ? this.tickNow() : 0;
    this.catchUp(tick);
    const s = this.s;
    if (offset >= TIMER_BASE) {
      const n = (offset - TIMER_BASE) >>> 5;
      const t = s.timers[n];
      if (!t) return 0;
      switch (offset & (TIMER_STRIDE - 1)) {
        case TN_CONF: return t.config >>> 0;
        case TN_ROUTE_CAP: return this.routeCap;
        case TN_CMP_LO: return t.cmpLo;
        case TN_CMP_HI: return t.cmpHi;
        case TN_FSB_VALUE: return t.fsbValue;
        case TN_FSB_ADDRESS: return t.fsbAddress;
        default: return 0;
      }
    }
    switch (offset) {
      case GCAP_ID: return HPET_CAP_ID;
      case GCAP_PERIOD: return HPET_PERIOD_FS;
      case GEN_CONF: return s.config;
      case GINTR_STA: return s.isr;
      case MAIN_CNT_LO: return this.counterLo(tick);
      case MAIN_CNT_HI: return this.counterHi(tick);
      default: return 0; // reserved
    }
  }

  mmioWrite(offset: number, size: AccessSize, value: number): void {
    if (size !== 4 || (offset & 3) !== 0) {
      this.guestError(`${size}-byte write at +0x${offset.toString(16)} ignored (only aligned 32- and 64-bit accesses)`);
      return;
    }
    if (this.running) this.catchUp(this.tickNow());
    const v = value >>> 0;
    if (offset >= TIMER_BASE) {
      const n = (offset - TIMER_BASE) >>> 5;
      if (n >= HPET_TIMERS) return;
      switch (offset & (TIMER_STRIDE - 1)) {
        case TN_CONF: return this.writeTimerConfig(n, v);
        case TN_CMP_LO: return this.writeComparator(n, false, v);
        case TN_CMP_HI: return this.writeComparator(n, true, v);
        case TN_FSB_VALUE: this.s.timers[n]!.fsbValue = v; return;
        case TN_FSB_ADDRESS: this.s.timers[n]!.fsbAddress = v; return;
        default: return; // Tn_INT_ROUTE_CAP and reserved: read-only
      }
    }
    switch (offset) {
      case GEN_CONF: return this.writeGeneralConfig(v);
      case GINTR_STA: return this.clearStatus(v);
      case MAIN_CNT_LO:
      case MAIN_CNT_HI: return this.writeCounter(offset === MAIN_CNT_HI, v);
      default: return; // GCAP_ID and reserved: read-only
    }
  }

  // --- board and monitor ----------------------------------------------------------------

  /** LegacyReplacement is on: the PIT's and the RTC's interrupts are cut off. */
  get legacyReplacement(): boolean {
    return (this.s.config & LEG_RT_CNF) !== 0;
  }

  /** The main counter now (64 bits). */
  counter(): bigint {
    const tick = this.running ? this.tickNow() : 0;
    return u64(this.counterHi(tick), this.counterLo(tick));
  }

  // --- registers ------------------------------------------------------------------------

  private get running(): boolean {
    return (this.s.config & ENABLE_CNF) !== 0;
  }

  /** Ticks since `baseNs` (the counter is running). */
  private tickNow(): number {
    return Math.floor(Math.max(0, this.clock.nowNs() - this.s.baseNs) / NS_PER_TICK);
  }

  /** MAIN_CNT bits 31:0 at `tick` ticks after `baseNs`. */
  private counterLo(tick: number): number {
    if (!this.running) return this.s.counterLo;
    return (this.s.counterLo + (tick % TWO_32)) % TWO_32;
  }

  /** MAIN_CNT bits 63:32 at `tick` ticks after `baseNs`. */
  private counterHi(tick: number): number {
    const s = this.s;
    if (!this.running) return s.counterHi;
    const t = tick;
    const carry = s.counterLo + (t % TWO_32) >= TWO_32 ? 1 : 0;
    return (s.counterHi + Math.floor(t / TWO_32) + carry) % TWO_32;
  }

  /** The counter at `tick` ticks after `baseNs`. */
  private counterAt(tick: number): bigint {
    return (u64(this.s.counterHi, this.s.counterLo) + BigInt(tick)) & MASK64N;
  }

  private writeGeneralConfig(v: number): void {
    const s = this.s;
    const old = s.config;
    const next = v & GEN_CONF_WRITABLE;
    if (!(old & ENABLE_CNF) && next & ENABLE_CNF) {
      // The counter starts from its held value; every comparator looks for its next event.
      s.config = next;
      s.baseNs = this.clock.nowNs();
      for (let i = 0; i < HPET_TIMERS; i++) this.schedule(i, 0, true);
    } else if (old & ENABLE_CNF && !(next & ENABLE_CNF)) {
      // Halt: the counter holds its value and no comparator fires.
      const c = this.counter();
      s.counterHi = hiOf(c);
      s.counterLo = loOf(c);
      s.config = next;
      for (const t of s.timers) {
        t.dueTick = NO_TICK;
        t.dueIsWrap = false;
      }
    } else {
      s.config = next;
    }
    for (let i = 0; i < HPET_TIMERS; i++) this.armTimer(i, false);
    this.updateLines(false);
  }

  private clearStatus(v: number): void {
    this.s.isr &= ~v;
    this.updateLines(false);
  }

  private writeCounter(high: boolean, v: number): void {
    const s = this.s;
    if (this.running) {
      // The spec asks software to halt the counter first; QEMU's write then has no effect.
      this.guestError('main counter written while ENABLE_CNF is set: ignored');
      return;
    }
    if (high) s.counterHi = v;
    else s.counterLo = v;
  }

  private writeTimerConfig(n: number, v: number): void {
    const t = this.s.timers[n]!;
    const next = ((t.config & ~TN_CONF_WRITABLE) | (v & TN_CONF_WRITABLE)) >>> 0;
    // Edge-triggered comparators have no status bit.
    if (!(next & TN_INT_TYPE_LEVEL)) this.s.isr &= ~(1 << n);
    t.config = next;
    if (next & TN_32MODE_CNF) {
      t.cmpHi = 0;
      t.periodHi = 0;
    }
    if (this.running) this.schedule(n, this.tickNow(), true);
    this.armTimer(n, false);
    this.updateLines(false);
  }

  /**
   * Tn_COMPARATOR (2.3.9.2): in one-shot mode, or in periodic mode with Tn_VAL_SET_CNF, the
   * value goes into the comparator; in periodic mode it is also the period added at each
   * match. Tn_VAL_SET_CNF clears itself. In 32-bit mode the high half is always 0.
   */
  private writeComparator(n: number, high: boolean, v: number): void {
    const t = this.s.timers[n]!;
    const mode32 = (t.config & TN_32MODE_CNF) !== 0;
    if (mode32 && high) return;
    const periodic = (t.config & TN_TYPE_PERIODIC) !== 0;
    if (!periodic || t.config & TN_VAL_SET_CNF) {
      if (high) t.cmpHi = v;
      else t.cmpLo = v;
    }
    if (periodic) {
      if (high) t.periodHi = v;
      else t.periodLo = v;
    }
    t.config &= ~TN_VAL_SET_CNF;
    if (this.running) this.schedule(n, this.tickNow(), true);
    this.armTimer(n, false);
  }

  // --- comparator events ----------------------------------------------------------------

  /**
   * Finds comparator `n`'s first event at or after tick `from` (`inclusive`: a comparator
   * equal to the counter at `from` matches there; else strictly after): the next tick whose
   * counter matches the comparator (its low 32 bits in 32-bit mode) or, for a one-shot
   * comparator in 32-bit mode, the next wrap of the low 32 bits if that comes first.
   */
  private schedule(n: number, from: number, inclusive: boolean): void {
    const t = this.s.timers[n]!;
    const c = this.counterAt(from);
    const mode32 = (t.config & TN_32MODE_CNF) !== 0;
    let delta: bigint;
    if (mode32) {
      delta = (BigInt(t.cmpLo) - (c & MASK32N)) & MASK32N;
      if (delta === 0n && !inclusive) delta = TWO_32N;
    } else {
      delta = (u64(t.cmpHi, t.cmpLo) - c) & MASK64N;
      if (delta === 0n && !inclusive) delta = TWO_64N;
    }
    let wrap = false;
    if (mode32 && !(t.config & TN_TYPE_PERIODIC)) {
      // "As timers … are 32-bit, they generate another interrupt when the main counter wraps."
      const toWrap = TWO_32N - (c & MASK32N);
      if (toWrap < delta) {
        delta = toWrap;
        wrap = true;
      }
    }
    const due = from + Number(delta);
    t.dueTick = due <= MAX_TICK ? due : NO_TICK;
    t.dueIsWrap = t.dueTick !== NO_TICK && wrap;
  }

  /** Processes every event of comparator `n` due by tick `now`; returns whether any was. */
  private advance(n: number, now: number): boolean {
    const t = this.s.timers[n]!;
    if (t.dueTick === NO_TICK || t.dueTick > now) return false;
    const mode32 = (t.config & TN_32MODE_CNF) !== 0;
    if (t.config & TN_TYPE_PERIODIC) {
      // Each match adds the period to the comparator (2.3.9.2.2); a period of 0 matches again
      // only when the counter comes round.
      const p = mode32 ? BigInt(t.periodLo) || TWO_32N : u64(t.periodHi, t.periodLo) || TWO_64N;
      const k = p > BigInt(MAX_TICK) ? 1n : BigInt(Math.floor((now - t.dueTick) / Number(p)) + 1);
      const last = t.dueTick + Number((k - 1n) * p);
      const cmp = (u64(t.cmpHi, t.cmpLo) + k * p) & (mode32 ? MASK32N : MASK64N);
      t.cmpHi = hiOf(cmp);
      t.cmpLo = loOf(cmp);
      this.schedule(n, last, false);
      return true;
    }
    // One-shot: in 32-bit mode the events repeat every 2^32 ticks (a match and a wrap), so a
    // long delay skips whole rounds; in 64-bit mode the match does not come again.
    const behind = now - t.dueTick;
    if (behind >= TWO_32) t.dueTick += Math.floor(behind / TWO_32) * TWO_32;
    while (t.dueTick !== NO_TICK && t.dueTick <= now) this.schedule(n, t.dueTick, false);
    return true;
  }

  /** Processes every event due by tick `now` (before any register access). */
  private catchUp(now: number): void {
    if (!this.running) return;
    for (let n = 0; n < HPET_TIMERS; n++) {
      const due = this.s.timers[n]!.dueTick;
      if (due === NO_TICK || due > now) continue;
      this.advance(n, now);
      this.fire(n);
      this.armTimer(n, true);
    }
  }

  private onTimer(n: number): void {
    if (!this.running) return;
    const now = this.tickNow();
    if (this.advance(n, now)) this.fire(n);
    this.armTimer(n, true);
  }

  /** Puts comparator `n`'s clock timer at its next event (`fromCallback`: space periodic ones). */
  private armTimer(n: number, fromCallback: boolean): void {
    const t = this.s.timers[n]!;
    const timer = this.timers[n]!;
    if (!this.running || t.dueTick === NO_TICK) {
      timer.del();
      return;
    }
    let ns = this.s.baseNs + t.dueTick * NS_PER_TICK;
    if (fromCallback && t.config & TN_TYPE_PERIODIC) ns = Math.max(ns, this.clock.nowNs() + MIN_PERIODIC_NS);
    timer.modNs(ns);
  }

  /** A comparator event: status for level mode, an interrupt if enabled (2.3.8, 2.3.6). */
  private fire(n: number): void {
    const t = this.s.timers[n]!;
    const level = (t.config & TN_INT_TYPE_LEVEL) !== 0;
    if (level) {
      this.s.isr |= 1 << n;
      this.updateLines(false);
      return;
    }
    if (!(t.config & TN_INT_ENB_CNF) || !this.running) return;
    // An edge: a pulse on the route, which then returns to whatever else holds it.
    const route = this.routeOf(n);
    const line = this.irqs[route]!;
    line.set(true);
    const level2 = (this.levels() >>> route) & 1;
    line.set(level2 !== 0);
    this.driven = level2 ? this.driven | (1 << route) : this.driven & ~(1 << route);
  }

  // --- interrupt routing ----------------------------------------------------------------

  /** The route comparator `n` interrupts on: legacy IRQ 0 / 8 for timers 0 and 1 (2.4). */
  private routeOf(n: number): number {
    if (this.s.config & LEG_RT_CNF && n < 2) return n === 0 ? LEGACY_PIT_ROUTE : LEGACY_RTC_ROUTE;
    return (this.s.timers[n]!.config & TN_INT_ROUTE_MASK) >>> TN_INT_ROUTE_SHIFT;
  }

  /** The level each route should have, one bit per route. */
  private levels(): number {
    const s = this.s;
    let levels = 0;
    if (s.config & ENABLE_CNF) {
      for (let n = 0; n < HPET_TIMERS; n++) {
        const c = s.timers[n]!.config;
        if (s.isr & (1 << n) && c & TN_INT_TYPE_LEVEL && c & TN_INT_ENB_CNF) levels |= 1 << this.routeOf(n);
      }
    }
    // Without LegacyReplacement the PIT and the RTC reach their IRQs as if the HPET were not there.
    if (!(s.config & LEG_RT_CNF)) {
      if (this.pitLevel) levels |= 1 << LEGACY_PIT_ROUTE;
      if (this.rtcLevel) levels |= 1 << LEGACY_RTC_ROUTE;
    }
    return levels;
  }

  /** Drives every route whose level changed (`all`: every route that is high, and 0 and 8). */
  private updateLines(all: boolean): void {
    const levels = this.levels();
    let changed = (levels ^ this.driven) | (all ? levels : 0);
    if (all) changed |= (1 << LEGACY_PIT_ROUTE) | (1 << LEGACY_RTC_ROUTE);
    this.driven = levels;
    for (let r = 0; changed !== 0; r++, changed >>>= 1) {
      if (changed & 1) this.irqs[r]!.set(((levels >>> r) & 1) !== 0);
    }
  }

  private setLegacyInput(route: number, level: boolean): void {
    if (route === LEGACY_PIT_ROUTE) this.pitLevel = level;
    else this.rtcLevel = level;
    this.updateLines(false);
  }

  private guestError(msg: string): void {
    if (this.log?.enabled('guest_errors')) this.log.log('guest_errors', `${this.id}: ${msg}`);
  }
}

/** Validates one comparator's saved state; throws SnapshotError naming the bad field. */
function parseTimer(raw: unknown, what: string): HpetTimerState {
  const r = expectRecord(raw, what);
  const t: HpetTimerState = {
    config: expectInt(r, 'config', 0, 0xffffffff, what),
    cmpHi: expectInt(r, 'cmpHi', 0, 0xffffffff, what),
    cmpLo: expectInt(r, 'cmpLo', 0, 0xffffffff, what),
    periodHi: expectInt(r, 'periodHi', 0, 0xffffffff, what),
    periodLo: expectInt(r, 'periodLo', 0, 0xffffffff, what),
    fsbValue: expectInt(r, 'fsbValue', 0, 0xffffffff, what),
    fsbAddress: expectInt(r, 'fsbAddress', 0, 0xffffffff, what),
    dueTick: expectInt(r, 'dueTick', NO_TICK, MAX_TICK, what),
    dueIsWrap: expectBool(r, 'dueIsWrap', what),
  };
  if ((t.config & ~TN_CONF_WRITABLE) >>> 0 !== TN_CONF_RESET) throw new SnapshotError(`${what}.config: read-only bits differ from 0x${TN_CONF_RESET.toString(16)}`);
  if (t.config & TN_32MODE_CNF && (t.cmpHi !== 0 || t.periodHi !== 0)) throw new SnapshotError(`${what}: a 32-bit comparator has a high half`);
  if (t.dueIsWrap && t.dueTick === NO_TICK) throw new SnapshotError(`${what}.dueIsWrap: no event is due`);
  return t;
}
