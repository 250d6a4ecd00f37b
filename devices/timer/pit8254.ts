/**
 * The Intel 8254 programmable interval timer of a PC: three 16-bit down counters clocked at
 * 1.193182 MHz, ports 0x40-0x42 (counters 0-2) and 0x43 (control word).
 *
 * Source: Intel 8254 datasheet (231164), "Control Word Format", "Write Operations", "Read
 * Operations" (simple read, Counter Latch Command, Read-Back Command, Status Byte, Null Count),
 * "Mode Definitions" (modes 0-5 with their GATE behaviour, Figures 11-16), "Operation Common
 * to All Modes". PC wiring as on every AT and in QEMU (hw/timer/i8254*.c, hw/audio/pcspk.c):
 * counters 0 and 1 have GATE tied high, counter 2's GATE is port 0x61 bit 0 (see port61.ts);
 * OUT0 drives ISA IRQ 0, OUT2 is readable in port 0x61 bit 5.
 *
 * Time model: the input clock's edge n happens at virtual time nsAtTick(n) (src/machine/clock-ticks.ts), so
 * every count and OUT level is a pure function of the saved state and the tick number. A count
 * written at tick n is loaded into the counting element (CE) on the next edge, n + 1, and that
 * edge does not decrement it (datasheet: "the initial count will be loaded on the next CLK
 * pulse"); from then on the CE counts one per edge while it is enabled. A new count in modes 2
 * and 3 waits for the end of the current (half-)cycle; in modes 1 and 5 for the next trigger.
 * Counting halted by GATE keeps its elapsed tick count (`heldElapsed`).
 *
 * Only counter 0 has a clock timer: it is armed for the next tick at which OUT0 may change and
 * drives the IRQ line at exactly that virtual time, so an edge is never lost however late the
 * host runs the timer (the callback evaluates OUT at its own deadline, as QEMU's
 * pit_irq_timer does). Counters 1 and 2 are evaluated only when read.
 *
 * Power-on: the datasheet leaves mode, count and OUT undefined until a control word is
 * written. We start every counter unprogrammed (mode 0, no count, OUT low), so nothing ticks
 * until the guest programs a counter. XXX: QEMU instead starts each counter in mode 3 with
 * count 0x10000, so its IRQ 0 runs at 18.2 Hz from reset; every BIOS and OS reprograms it.
 *
 * Not implemented: the 8254's sub-CLK write-to-load timing (a value read between a count
 * write and the next edge is undefined on the chip; we return the count register), and the
 * undefined behaviour of a count of 1 in modes 2 and 3 (OUT stays high, like a stopped rate
 * generator, so a guest cannot make the host run a timer on every edge for nothing).
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import type { IrqLine } from '../../src/machine/irq.js';
import type { Timer, VirtualClock } from '../../src/machine/clock.js';
import type { Device } from '../../src/machine/device.js';
import { SnapshotError } from '../../src/errors.js';
import { expectBool, expectInt, expectRecord, expectVersion } from '../../src/snapshot/validate.js';
import { nsAtTick, ticksAt } from '../../src/machine/clock-ticks.js';

/** The PC's PIT input clock in Hz (14.31818 MHz / 12). */
export const PIT_HZ = 1_193_182;

// Control word (port 0x43): SC1 SC0 RW1 RW0 M2 M1 M0 BCD.
const CW_BCD = 0x01;
const CW_MODE_SHIFT = 1;
const CW_RW_SHIFT = 4;
const CW_SC_SHIFT = 6;
const SC_READ_BACK = 3;
/** RW field: 00 is the Counter Latch Command; the rest say which bytes a count has. */
export const RW_LATCH = 0;
export const RW_LSB = 1;
export const RW_MSB = 2;
export const RW_LSB_MSB = 3;
// Read-Back Command: 1 1 COUNT# STATUS# CNT2 CNT1 CNT0 0 (COUNT#/STATUS# active low).
const RB_NO_COUNT = 0x20;
const RB_NO_STATUS = 0x10;
// Status byte: OUTPUT, NULL COUNT, then RW1 RW0 M2 M1 M0 BCD as programmed.
export const STATUS_OUT = 0x80;
export const STATUS_NULL_COUNT = 0x40;

const COUNTERS = 3;
const NO_TICK = -1;

/** Guest-visible state of one counter. */
export interface PitCounterState {
  /** M2-M0 as written; 6 and 7 run as modes 2 and 3 (datasheet: X10, X11). */
  modeBits: number;
  /** RW1-RW0 as written: RW_LSB, RW_MSB or RW_LSB_MSB. */
  rw: number;
  bcd: boolean;
  /** Count register (CR) as written, 16 bits, BCD-encoded when `bcd`. */
  cr: number;
  /** A count has been written since the control word (modes 1, 5 and a GATE edge need one). */
  countWritten: boolean;
  /** RW_LSB_MSB: the next write to the counter is the MSB. */
  writeMsbNext: boolean;
  /** RW_LSB_MSB: the next unlatched read returns the MSB. */
  readMsbNext: boolean;
  /** Output latch: 0 when empty, else the RW_* bytes still to be read (RW_LSB_MSB: LSB next). */
  latchState: number;
  latchValue: number;
  statusLatched: boolean;
  statusValue: number;
  /** The GATE input level. */
  gate: boolean;
  /** Mode 0 between the two bytes of a new count: counting is held and OUT is low. */
  held: boolean;
  /** NULL COUNT: the last count written has not been loaded into the CE yet. */
  nullCount: boolean;
  /** The CE holds a count (false from the control word until the first load). */
  loaded: boolean;
  /** The count the CE runs with, in counting units: 1..65536 binary, 1..10000 BCD. */
  n: number;
  /** Tick at which the CE's current run started: elapsed = tick - startTick while counting. */
  startTick: number;
  /** Elapsed ticks held while the CE is not counting (GATE low, mode 0 held), or -1. */
  heldElapsed: number;
  /** Tick at which `pendingN` goes into the CE, or -1. */
  pendingTick: number;
  pendingN: number;
  /** Mode 3: the pending load happens at a high-to-low half-cycle boundary. */
  pendingLow: boolean;
}

export interface PitState {
  counters: PitCounterState[];
  /** IRQ 0 level as driven at the last processed OUT0 transition. */
  irq0Level: boolean;
  /** Tick of the next possible OUT0 transition (the IRQ timer's deadline), or -1. */
  irqTick: number;
}

function defaultCounterState(gate: boolean): PitCounterState {
  return {
    modeBits: 0,
    rw: RW_LSB_MSB,
    bcd: false,
    cr: 0,
    countWritten: false,
    writeMsbNext: false,
    readMsbNext: false,
    latchState: 0,
    latchValue: 0,
    statusLatched: false,
    statusValue: 0,
    gate,
    held: false,
    nullCount: true,
    loaded: false,
    n: 0x10000,
    startTick: 0,
    heldElapsed: -1,
    pendingTick: NO_TICK,
    pendingN: 0x10000,
    pendingLow: false,
  };
}

/** Power-on state: nothing programmed; GATE 0 and 1 tied high, GATE 2 low (port 0x61 = 0). */
export function defaultPitState(): PitState {
  return { counters: [defaultCounterState(true), defaultCounterState(true), defaultCounterState(false)], irq0Level: false, irqTick: NO_TICK };
}

/** The mode a counter runs: M2-M0 with 6 and 7 aliasing 2 and 3. */
function modeOf(c: PitCounterState): number {
  return c.modeBits > 5 ? c.modeBits & 3 : c.modeBits;
}

/** The count register in counting units: 0 is the largest count (2^16, or 10^4 in BCD). */
function crCount(c: PitCounterState): number {
  if (!c.bcd) return c.cr === 0 ? 0x10000 : c.cr;
  // XXX: nibbles above 9 are undefined on the chip; we weigh them as written and reduce
  // modulo 10^4, so any value is a count the BCD counter can run.
  const v = ((c.cr >> 12) & 15) * 1000 + ((c.cr >> 8) & 15) * 100 + ((c.cr >> 4) & 15) * 10 + (c.cr & 15);
  return v % 10000 === 0 ? 10000 : v % 10000;
}

function toBcd(v: number): number {
  return ((Math.floor(v / 1000) % 10) << 12) | ((Math.floor(v / 100) % 10) << 8) | ((Math.floor(v / 10) % 10) << 4) | v % 10;
}

/** Mode 3: edges OUT stays high in one period of n (datasheet: (N + 1) / 2 for odd N). */
function highTicks(n: number): number {
  return Math.ceil(n / 2);
}

/** Whether the CE decrements on CLK edges (datasheet, GATE table in "Operation Common to All Modes"). */
function enabled(c: PitCounterState): boolean {
  switch (modeOf(c)) {
    case 0:
      return c.gate && !c.held;
    case 1:
    case 5:
      return true; // GATE triggers, its level does not gate counting
    default:
      return c.gate;
  }
}

/** The CE as it is at a tick: filled by `view`, read right after (no allocation per access). */
const V = { loaded: false, n: 0, d: 0, counting: false };

/** Fills V with the CE at tick `t` (>= the tick the state was last changed at). */
function view(c: PitCounterState, t: number): void {
  if (c.pendingTick >= 0 && t >= c.pendingTick) {
    V.loaded = true;
    V.n = c.pendingN;
    V.counting = enabled(c);
    if (!V.counting) {
      V.d = 0;
    } else {
      const start = c.pendingLow ? c.pendingTick - highTicks(c.pendingN) : c.pendingTick;
      V.d = t - start;
    }
  } else {
    V.loaded = c.loaded;
    V.n = c.n;
    V.counting = c.heldElapsed < 0;
    V.d = V.counting ? Math.max(0, t - c.startTick) : c.heldElapsed;
  }
}

/** Applies a pending load that has happened by tick `t` to the state. */
function commit(c: PitCounterState, t: number): void {
  if (c.pendingTick < 0 || t < c.pendingTick) return;
  c.loaded = true;
  c.n = c.pendingN;
  if (enabled(c)) {
    c.startTick = c.pendingLow ? c.pendingTick - highTicks(c.pendingN) : c.pendingTick;
    c.heldElapsed = -1;
  } else {
    c.startTick = c.pendingTick;
    c.heldElapsed = 0;
  }
  c.nullCount = false;
  c.pendingTick = NO_TICK;
  c.pendingLow = false;
}

/** OUT at tick `t` (datasheet Figures 11-16). */
function outAt(c: PitCounterState, t: number): boolean {
  view(c, t);
  const mode = modeOf(c);
  // After a control word OUT is low in mode 0 and high in every other mode.
  if (!V.loaded) return mode !== 0;
  const n = V.n;
  const d = V.d;
  switch (mode) {
    case 0:
      return !c.held && d >= n;
    case 1:
      return d >= n;
    case 2:
      if (!c.gate || n === 1) return true;
      return d % n !== n - 1;
    case 3:
      if (!c.gate || n === 1) return true;
      return d % n < highTicks(n);
    default: // 4, 5: one CLK low when the count reaches zero
      return d !== n;
  }
}

/** The count the CE reads at tick `t`, encoded as the counter reads it (binary or BCD). */
function countAt(c: PitCounterState, t: number): number {
  view(c, t);
  if (!V.loaded) return c.cr;
  const n = V.n;
  const d = V.d;
  const modulus = c.bcd ? 10000 : 0x10000;
  let v: number;
  switch (modeOf(c)) {
    case 2:
      v = n - (d % n);
      break;
    case 3: {
      // Decrements by two from N (even) or N - 1 (odd), reloading at each half-cycle.
      const p = d % n;
      const h = highTicks(n);
      const q = p < h ? p : p - h;
      v = (n & 1 ? n - 1 : n) - 2 * q;
      break;
    }
    default: // 0, 1, 4, 5: wraps after zero and keeps counting
      v = (((n - d) % modulus) + modulus) % modulus;
  }
  v %= modulus;
  return c.bcd ? toBcd(v) : v;
}

/** The first tick after `t` at which OUT may change, or -1. */
function nextEdge(c: PitCounterState, t: number): number {
  let best = c.pendingTick > t ? c.pendingTick : NO_TICK;
  view(c, t);
  if (!V.loaded || !V.counting) return best;
  const n = V.n;
  const d = V.d;
  let e = NO_TICK;
  switch (modeOf(c)) {
    case 0:
    case 1:
      if (d < n) e = t + (n - d);
      break;
    case 2: {
      if (n === 1 || !c.gate) break;
      const p = d % n;
      e = p < n - 1 ? t + (n - 1 - p) : t + 1;
      break;
    }
    case 3: {
      if (n === 1 || !c.gate) break;
      const p = d % n;
      const h = highTicks(n);
      e = p < h ? t + (h - p) : t + (n - p);
      break;
    }
    default:
      if (d < n) e = t + (n - d);
      else if (d === n) e = t + 1;
  }
  if (e > t && (best < 0 || e < best)) best = e;
  return best;
}

/** The status byte of the Read-Back Command at tick `t`. */
function statusAt(c: PitCounterState, t: number): number {
  const nullCount = c.nullCount && !(c.pendingTick >= 0 && t >= c.pendingTick);
  return (outAt(c, t) ? STATUS_OUT : 0) | (nullCount ? STATUS_NULL_COUNT : 0) | (c.rw << 4) | (c.modeBits << 1) | (c.bcd ? CW_BCD : 0);
}

export interface PitDeps {
  id?: string;
  clock: VirtualClock;
  /** ISA IRQ 0, driven by OUT0 (edge-triggered at the PIC, as on every PC). */
  irq0: IrqLine;
}

export class Pit8254 implements Device, PortHandler {
  readonly id: string;
  readonly stateVersion = 1;
  private s: PitState = defaultPitState();
  private readonly clock: VirtualClock;
  private readonly irq0: IrqLine;
  private readonly timer: Timer;

  constructor(deps: PitDeps, state?: PitState) {
    this.id = deps.id ?? 'pit';
    this.clock = deps.clock;
    this.irq0 = deps.irq0;
    this.timer = deps.clock.createTimer(`${this.id}.irq0`, () => this.onIrqTimer());
    this.loadState(state ?? defaultPitState(), this.stateVersion);
  }

  // --- Device ---------------------------------------------------------------------------

  reset(): void {
    this.loadState(defaultPitState(), this.stateVersion);
  }

  saveState(): PitState {
    return { counters: this.s.counters.map((c) => ({ ...c })), irq0Level: this.s.irq0Level, irqTick: this.s.irqTick };
  }

  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    const rec = expectRecord(state, this.id);
    const list = rec['counters'];
    if (!Array.isArray(list) || list.length !== COUNTERS) throw new SnapshotError(`${this.id}.counters: expected ${COUNTERS} counters`);
    const counters = list.map((c, i) => parseCounter(c, `${this.id}.counters[${i}]`));
    if (!counters[0]!.gate || !counters[1]!.gate) throw new SnapshotError(`${this.id}: GATE of counters 0 and 1 is tied high`);
    const s: PitState = {
      counters,
      irq0Level: expectBool(rec, 'irq0Level', this.id),
      irqTick: expectInt(rec, 'irqTick', -1, Number.MAX_SAFE_INTEGER, this.id),
    };
    this.s = s;
    this.irq0.set(s.irq0Level);
    if (s.irqTick >= 0) this.timer.modNs(nsAtTick(s.irqTick, PIT_HZ));
    else this.timer.del();
  }

  // --- PortHandler (0x40-0x43) ----------------------------------------------------------

  ioRead(offset: number, _size: AccessSize): number {
    if (offset >= COUNTERS) return 0xff; // the control word register cannot be read
    return this.readCounter(this.s.counters[offset]!);
  }

  ioWrite(offset: number, _size: AccessSize, value: number): void {
    const v = value & 0xff;
    if (offset >= COUNTERS) this.writeControl(v);
    else this.writeCounter(offset, v);
  }

  // --- what the board wires to other devices --------------------------------------------

  /** Drives a counter's GATE input (port 0x61 bit 0 for counter 2). */
  setGate(index: number, level: boolean): void {
    const c = this.s.counters[index];
    if (!c || c.gate === level) return;
    const t = this.tick();
    commit(c, t);
    const mode = modeOf(c);
    const wasEnabled = enabled(c);
    c.gate = level;
    if (mode === 0 || mode === 4) {
      // GATE low suspends counting; high resumes it where it stopped.
      if (c.loaded) this.holdOrResume(c, wasEnabled, t);
    } else if (mode === 2 || mode === 3) {
      if (!level) {
        // Counting stops and OUT goes high at once; a reload waiting for the end of the cycle
        // will instead happen on the next rising edge, which reloads CR anyway.
        if (c.loaded && c.heldElapsed < 0) c.heldElapsed = Math.max(0, t - c.startTick);
        if (c.loaded) c.pendingTick = NO_TICK;
      } else if (c.countWritten) {
        // A rising GATE reloads the counter with CR on the next CLK pulse.
        this.scheduleLoad(c, t + 1, crCount(c), false);
      }
    } else if (level && c.countWritten) {
      // Modes 1 and 5: a rising GATE (re)triggers: CR goes into the CE on the next CLK pulse.
      this.scheduleLoad(c, t + 1, crCount(c), false);
    }
    if (index === 0) this.updateIrq0(t);
  }

  /** GATE input level of a counter. */
  gate(index: number): boolean {
    return this.s.counters[index]?.gate ?? false;
  }

  /** OUT level of a counter now (OUT2 is port 0x61 bit 5). */
  out(index: number): boolean {
    const c = this.s.counters[index];
    return c ? outAt(c, this.tick()) : false;
  }

  /** One line per counter for the monitor. */
  describe(): string {
    const t = this.tick();
    return this.s.counters
      .map((c, i) => `pit${i}: mode=${modeOf(c)} rw=${c.rw} bcd=${c.bcd ? 1 : 0} gate=${c.gate ? 1 : 0} ` +
        `count=${countAt(c, t).toString(16)} cr=${c.cr.toString(16)} out=${outAt(c, t) ? 1 : 0}`)
      .join('\n');
  }

  // --- registers ------------------------------------------------------------------------

  private tick(): number {
    return ticksAt(this.clock.nowNs(), PIT_HZ);
  }

  private writeControl(v: number): void {
    const sc = v >> CW_SC_SHIFT;
    const t = this.tick();
    if (sc === SC_READ_BACK) {
      // Bit 0 is reserved (must be 0); the datasheet gives it no meaning, so it is ignored.
      for (let i = 0; i < COUNTERS; i++) {
        if (!(v & (2 << i))) continue;
        const c = this.s.counters[i]!;
        if (!(v & RB_NO_COUNT)) this.latchCount(c, t);
        // Only the first status latch counts until the status is read.
        if (!(v & RB_NO_STATUS) && !c.statusLatched) {
          c.statusLatched = true;
          c.statusValue = statusAt(c, t);
        }
      }
      return;
    }
    const c = this.s.counters[sc]!;
    const rw = (v >> CW_RW_SHIFT) & 3;
    if (rw === RW_LATCH) {
      this.latchCount(c, t);
      return;
    }
    // A control word resets the counter's control logic: OUT goes to its initial state and
    // the counter waits for a new count; CR and GATE are kept.
    c.modeBits = (v >> CW_MODE_SHIFT) & 7;
    c.rw = rw;
    c.bcd = (v & CW_BCD) !== 0;
    c.countWritten = false;
    c.writeMsbNext = false;
    c.readMsbNext = false;
    c.latchState = 0;
    c.statusLatched = false;
    c.held = false;
    c.nullCount = true;
    c.loaded = false;
    c.heldElapsed = -1;
    c.pendingTick = NO_TICK;
    c.pendingLow = false;
    if (sc === 0) this.updateIrq0(t);
  }

  /** Counter Latch Command: a second latch before the first is read is ignored. */
  private latchCount(c: PitCounterState, t: number): void {
    if (c.latchState !== 0) return;
    c.latchValue = countAt(c, t);
    c.latchState = c.rw;
  }

  private readCounter(c: PitCounterState): number {
    if (c.statusLatched) {
      c.statusLatched = false;
      return c.statusValue;
    }
    if (c.latchState !== 0) {
      const v = c.latchValue;
      switch (c.latchState) {
        case RW_LSB:
          c.latchState = 0;
          return v & 0xff;
        case RW_MSB:
          c.latchState = 0;
          return v >>> 8;
        default:
          c.latchState = RW_MSB;
          return v & 0xff;
      }
    }
    const v = countAt(c, this.tick());
    switch (c.rw) {
      case RW_LSB:
        return v & 0xff;
      case RW_MSB:
        return v >>> 8;
      default: {
        const msb = c.readMsbNext;
        c.readMsbNext = !msb;
        return msb ? v >>> 8 : v & 0xff;
      }
    }
  }

  private writeCounter(index: number, v: number): void {
    const c = this.s.counters[index]!;
    const t = this.tick();
    commit(c, t);
    switch (c.rw) {
      case RW_LSB:
        c.cr = v;
        break;
      case RW_MSB:
        c.cr = v << 8;
        break;
      default:
        if (!c.writeMsbNext) {
          c.cr = (c.cr & 0xff00) | v;
          c.writeMsbNext = true;
          if (modeOf(c) === 0) {
            // Mode 0: "writing the first byte disables counting; OUT is set low immediately".
            const wasEnabled = enabled(c);
            c.held = true;
            c.pendingTick = NO_TICK;
            if (c.loaded) this.holdOrResume(c, wasEnabled, t);
            if (index === 0) this.updateIrq0(t);
          }
          // Other modes: the first byte has no effect on counting.
          return;
        }
        c.cr = (c.cr & 0xff) | (v << 8);
        c.writeMsbNext = false;
    }
    this.countWritten(c, t);
    if (index === 0) this.updateIrq0(t);
  }

  /** A complete new count is in CR at tick `t`: when does the CE take it? */
  private countWritten(c: PitCounterState, t: number): void {
    c.countWritten = true;
    c.nullCount = true;
    const n = crCount(c);
    switch (modeOf(c)) {
      case 0:
        // Loaded on the next CLK pulse; until then OUT is low and counting is stopped.
        c.held = false;
        c.loaded = false;
        c.heldElapsed = -1;
        this.scheduleLoad(c, t + 1, n, false);
        break;
      case 4:
        this.scheduleLoad(c, t + 1, n, false);
        break;
      case 2:
      case 3:
        if (!c.loaded) this.scheduleLoad(c, t + 1, n, false);
        else if (c.heldElapsed < 0) this.loadAtCycleEnd(c, t, n);
        else c.pendingTick = NO_TICK; // GATE is low: the rising edge loads CR
        break;
      default:
        // Modes 1 and 5: the new count waits for the next trigger.
        break;
    }
  }

  /**
   * Modes 2 and 3 while counting: the new count is loaded at the end of the current period
   * (mode 2) or half-cycle (mode 3), so the waveform has no glitch.
   */
  private loadAtCycleEnd(c: PitCounterState, t: number, n: number): void {
    const d = Math.max(0, t - c.startTick);
    const p = d % c.n;
    const periodStart = t - p;
    if (modeOf(c) === 2 || c.n === 1) {
      this.scheduleLoad(c, periodStart + c.n, n, false);
    } else {
      const h = highTicks(c.n);
      if (p < h) this.scheduleLoad(c, periodStart + h, n, true);
      else this.scheduleLoad(c, periodStart + c.n, n, false);
    }
  }

  private scheduleLoad(c: PitCounterState, tick: number, n: number, lowPhase: boolean): void {
    c.pendingTick = tick;
    c.pendingN = n;
    c.pendingLow = lowPhase;
  }

  /** Counting has just been enabled or disabled (GATE, mode 0 hold): keep the elapsed ticks. */
  private holdOrResume(c: PitCounterState, wasEnabled: boolean, t: number): void {
    const nowEnabled = enabled(c);
    if (wasEnabled && !nowEnabled && c.heldElapsed < 0) {
      c.heldElapsed = Math.max(0, t - c.startTick);
    } else if (!wasEnabled && nowEnabled && c.heldElapsed >= 0) {
      // The next edge, t + 1, is the first to count again.
      c.startTick = t - c.heldElapsed;
      c.heldElapsed = -1;
    }
  }

  // --- IRQ 0 ----------------------------------------------------------------------------

  /** OUT0 may have changed at tick `t` by a register write: drive it and re-arm the timer. */
  private updateIrq0(t: number): void {
    const c = this.s.counters[0]!;
    this.driveIrq0(outAt(c, t));
    this.armIrq0(nextEdge(c, t));
  }

  /** The timer fires for the transition at `irqTick`: evaluate OUT0 at that very tick. */
  private onIrqTimer(): void {
    const t = this.s.irqTick;
    if (t < 0) return;
    const c = this.s.counters[0]!;
    this.driveIrq0(outAt(c, t));
    this.armIrq0(nextEdge(c, t));
  }

  private driveIrq0(level: boolean): void {
    if (level === this.s.irq0Level) return;
    this.s.irq0Level = level;
    this.irq0.set(level);
  }

  private armIrq0(tick: number): void {
    this.s.irqTick = tick;
    if (tick >= 0) this.timer.modNs(nsAtTick(tick, PIT_HZ));
    else this.timer.del();
  }
}

/** Validates one counter's saved state; throws SnapshotError naming the bad field. */
function parseCounter(raw: unknown, what: string): PitCounterState {
  const r = expectRecord(raw, what);
  const bcd = expectBool(r, 'bcd', what);
  const c: PitCounterState = {
    modeBits: expectInt(r, 'modeBits', 0, 7, what),
    rw: expectInt(r, 'rw', RW_LSB, RW_LSB_MSB, what),
    bcd,
    cr: expectInt(r, 'cr', 0, 0xffff, what),
    countWritten: expectBool(r, 'countWritten', what),
    writeMsbNext: expectBool(r, 'writeMsbNext', what),
    readMsbNext: expectBool(r, 'readMsbNext', what),
    latchState: expectInt(r, 'latchState', 0, RW_LSB_MSB, what),
    latchValue: expectInt(r, 'latchValue', 0, 0xffff, what),
    statusLatched: expectBool(r, 'statusLatched', what),
    statusValue: expectInt(r, 'statusValue', 0, 0xff, what),
    gate: expectBool(r, 'gate', what),
    held: expectBool(r, 'held', what),
    nullCount: expectBool(r, 'nullCount', what),
    loaded: expectBool(r, 'loaded', what),
    n: expectInt(r, 'n', 1, 0x10000, what),
    startTick: expectInt(r, 'startTick', -0x10000, Number.MAX_SAFE_INTEGER, what),
    heldElapsed: expectInt(r, 'heldElapsed', -1, Number.MAX_SAFE_INTEGER, what),
    pendingTick: expectInt(r, 'pendingTick', -1, Number.MAX_SAFE_INTEGER, what),
    pendingN: expectInt(r, 'pendingN', 1, 0x10000, what),
    pendingLow: expectBool(r, 'pendingLow', what),
  };
  if (c.held && modeOf(c) !== 0) throw new SnapshotError(`${what}.held: only mode 0 holds counting between count bytes`);
  return c;
}
