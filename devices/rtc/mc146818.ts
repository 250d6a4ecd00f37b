/**
 * The Motorola MC146818 real-time clock with its 128 bytes of CMOS RAM, as the PIIX south
 * bridge provides it at ports 0x70 (index; bit 7 masks NMI) and 0x71 (data), on ISA IRQ 8.
 *
 * Source: Motorola MC146818A datasheet ("Address Map", "Time, Calendar and Alarm Locations"
 * with Table 3 (BCD/binary formats), "Register A" (UIP, DV2-0, RS3-0 with Table 5: periodic
 * rates), "Register B" (SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE), "Register C" (IRQF, PF,
 * AF, UF; cleared by a read), "Register D" (VRT), "Update Cycle", "Interrupts"); Intel PIIX4
 * datasheet (RTC index/target ports, NMI enable in port 0x70 bit 7, the 7-bit index). Where
 * the datasheet leaves freedom the behaviour follows QEMU's hw/rtc/mc146818rtc.c.
 *
 * Time model: while the divider runs (DV = 000, 001 or 010, as QEMU accepts) and SET is clear,
 * the time shown is `secAtPhase` plus the whole seconds of virtual time since `phaseNs`;
 * updates happen at phaseNs + k·1 s, and the periodic interrupt taps the same divider chain at
 * phaseNs + k·period. The time registers are rewritten from that count whenever they are
 * read, so a change of DM or 24/12 shows at once (QEMU does the same). While SET is set or the
 * divider is stopped the registers themselves hold the time; when the clock runs again they
 * are read back into the count. Writing a time register while the clock runs sets the clock.
 *
 * Flags are computed lazily: PF, UF and AF are set for every periodic tap, update and alarm
 * match that virtual time has passed since the last look (`checkedNs`), whether or not their
 * interrupt is enabled, as the datasheet says. A clock timer is armed only for the next event
 * whose interrupt is enabled while IRQF is clear, so an idle RTC costs nothing.
 *
 * Machine reset is the chip's RESET pin: it clears PIE, AIE, UIE, SQWE and register C and
 * leaves the time and the CMOS RAM alone (battery-backed).
 *
 * Not implemented: daylight saving (DSE; logged once with -d unimp), the square-wave output
 * (SQWE kept, no pin), the divider's other time bases (DV 000 and 001 run at 32.768 kHz as in
 * QEMU), the register contents during the update cycle (we update atomically at the boundary;
 * UIP is set for the 244 µs before it), and the PIIX4's upper 128-byte bank (ports 0x72/0x73).
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import type { IrqLine } from '../../src/machine/irq.js';
import type { Timer, VirtualClock } from '../../src/machine/clock.js';
import type { Device } from '../../src/machine/device.js';
import type { Logger } from '../../src/machine/log.js';
import { SnapshotError } from '../../src/errors.js';
import { expectBool, expectInt, expectIntArray, expectRecord, expectVersion } from '../../src/snapshot/validate.js';
import { nsAtTick, ticksAt } from '../../src/machine/clock-ticks.js';

// Register indices.
export const RTC_SECONDS = 0x00;
export const RTC_SECONDS_ALARM = 0x01;
export const RTC_MINUTES = 0x02;
export const RTC_MINUTES_ALARM = 0x03;
export const RTC_HOURS = 0x04;
export const RTC_HOURS_ALARM = 0x05;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
/** The century byte (IBM PC convention, ACPI FADT CENTURY = 0x32 on QEMU). */
export const RTC_CENTURY = 0x32;

// Register A.
export const REG_A_UIP = 0x80;
const REG_A_DV = 0x70;
const REG_A_RS = 0x0f;
/** DV = 010: the 32.768 kHz time base, running. */
const DV_RUNNING_MAX = 0x20;
/** DV = 11x: the divider chain is held in reset. */
const DV_RESET = 0x60;
// Register B.
export const REG_B_SET = 0x80;
export const REG_B_PIE = 0x40;
export const REG_B_AIE = 0x20;
export const REG_B_UIE = 0x10;
export const REG_B_SQWE = 0x08;
export const REG_B_DM = 0x04; // 1 = binary, 0 = BCD
export const REG_B_24H = 0x02;
export const REG_B_DSE = 0x01;
// Register C.
export const REG_C_IRQF = 0x80;
export const REG_C_PF = 0x40;
export const REG_C_AF = 0x20;
export const REG_C_UF = 0x10;
// Register D.
export const REG_D_VRT = 0x80;

/** Port 0x70: bit 7 disables NMI (PIIX4 NMI_EN, active high = masked). */
const INDEX_NMI_MASK = 0x80;
const CMOS_BYTES = 128;
const ALARM_DONT_CARE = 0xc0;

/** The divider's input clock: every rate is a power-of-two number of its ticks. */
const RTC_HZ = 32768;
const NS_PER_S = 1_000_000_000;
/** UIP rises this many 32.768 kHz ticks (244 µs) before an update (datasheet Figure 3). */
const UIP_TICKS = 8;
/** After the divider leaves reset the first update comes half a second later. */
const FIRST_UPDATE_AFTER_RESET_NS = 500_000_000;
const SECONDS_PER_DAY = 86400;
/** Years 0-9999 (what a 2-digit year and a 2-digit century can show). */
const MIN_SECONDS = -62167219200;
const MAX_SECONDS = 253402300799;

/** All guest-visible state of the RTC. */
export interface RtcState {
  /** The 128 bytes: time, alarm and control registers 0x00-0x0D, then the CMOS RAM. */
  cmos: number[];
  /** The index last written to port 0x70 (7 bits). */
  index: number;
  /** Port 0x70 bit 7 as last written. */
  nmiMasked: boolean;
  /** Seconds since 1970 (of the time as shown, no time zone) in [phaseNs, phaseNs + 1 s). */
  secAtPhase: number;
  /** Virtual ns of one update boundary: the divider chain's phase. */
  phaseNs: number;
  /** Virtual ns up to which PF, UF and AF have been accounted for. */
  checkedNs: number;
}

export interface RtcDeps {
  id?: string;
  clock: VirtualClock;
  /** ISA IRQ 8. */
  irq: IrqLine;
  /** The time the clock shows at virtual time 0, in ms since 1970 (UTC or local wall time). */
  startMs: number;
  /** CMOS RAM contents the board sets at power-on (memory sizes, equipment byte…). */
  nvram?: readonly (readonly [number, number])[];
  log?: Logger;
}

/** Power-on state: the time from `startMs`, registers as QEMU sets them, `nvram` applied. */
export function defaultRtcState(startMs: number, nvram: readonly (readonly [number, number])[] = []): RtcState {
  const cmos = new Array<number>(CMOS_BYTES).fill(0);
  for (const [i, v] of nvram) cmos[i & 0x7f] = v & 0xff;
  cmos[RTC_REG_A] = 0x26; // DV = 010 (32.768 kHz), RS = 0110 (1024 Hz)
  cmos[RTC_REG_B] = REG_B_24H; // BCD, 24-hour
  cmos[RTC_REG_C] = 0;
  cmos[RTC_REG_D] = REG_D_VRT;
  const ms = Math.floor(startMs);
  const sec = Math.floor(ms / 1000);
  const s: RtcState = {
    cmos,
    index: 0,
    nmiMasked: false,
    secAtPhase: Math.min(MAX_SECONDS, Math.max(MIN_SECONDS, sec)),
    // The next update comes when the start time reaches its next whole second.
    phaseNs: ms === sec * 1000 ? 0 : (sec * 1000 - ms) * 1_000_000,
    checkedNs: 0,
  };
  writeTime(s, s.secAtPhase);
  return s;
}

/** Adds the standard checksum over 0x10-0x2D at 0x2E (high) and 0x2F (low) (IBM AT). */
export function withCmosChecksum(nvram: readonly (readonly [number, number])[]): [number, number][] {
  const bytes = new Array<number>(CMOS_BYTES).fill(0);
  for (const [i, v] of nvram) bytes[i & 0x7f] = v & 0xff;
  let sum = 0;
  for (let i = 0x10; i <= 0x2d; i++) sum += bytes[i]!;
  return [...nvram.map(([i, v]) => [i, v] as [number, number]), [0x2e, (sum >> 8) & 0xff], [0x2f, sum & 0xff]];
}

// --- formats ----------------------------------------------------------------------------

function binary(s: RtcState): boolean {
  return (s.cmos[RTC_REG_B]! & REG_B_DM) !== 0;
}

function encode(s: RtcState, v: number): number {
  return binary(s) ? v & 0xff : ((Math.floor(v / 10) % 10) << 4) | v % 10;
}

function decode(s: RtcState, b: number): number {
  return binary(s) ? b : (b >> 4) * 10 + (b & 15);
}

function encodeHour(s: RtcState, h: number): number {
  if (s.cmos[RTC_REG_B]! & REG_B_24H) return encode(s, h);
  return encode(s, h % 12 === 0 ? 12 : h % 12) | (h >= 12 ? 0x80 : 0);
}

function decodeHour(s: RtcState, b: number): number {
  if (s.cmos[RTC_REG_B]! & REG_B_24H) return decode(s, b);
  const h = decode(s, b & 0x7f) % 12;
  return b & 0x80 ? h + 12 : h;
}

/** Writes the time registers and the century byte for `sec` in the current format. */
function writeTime(s: RtcState, sec: number): void {
  const d = new Date(sec * 1000);
  const year = d.getUTCFullYear();
  s.cmos[RTC_SECONDS] = encode(s, d.getUTCSeconds());
  s.cmos[RTC_MINUTES] = encode(s, d.getUTCMinutes());
  s.cmos[RTC_HOURS] = encodeHour(s, d.getUTCHours());
  s.cmos[RTC_DAY_OF_WEEK] = encode(s, d.getUTCDay() + 1); // Sunday = 1
  s.cmos[RTC_DAY_OF_MONTH] = encode(s, d.getUTCDate());
  s.cmos[RTC_MONTH] = encode(s, d.getUTCMonth() + 1);
  s.cmos[RTC_YEAR] = encode(s, year % 100);
  s.cmos[RTC_CENTURY] = encode(s, Math.floor(year / 100));
}

/** The time the registers hold, as seconds since 1970 (out-of-range fields roll over). */
function readTime(s: RtcState): number {
  const c = s.cmos;
  const year = decode(s, c[RTC_CENTURY]!) * 100 + decode(s, c[RTC_YEAR]!);
  const date = new Date(0);
  date.setUTCFullYear(year, decode(s, c[RTC_MONTH]!) - 1, decode(s, c[RTC_DAY_OF_MONTH]!));
  date.setUTCHours(decodeHour(s, c[RTC_HOURS]!), decode(s, c[RTC_MINUTES]!), decode(s, c[RTC_SECONDS]!));
  const sec = Math.floor(date.getTime() / 1000);
  return Number.isFinite(sec) ? Math.min(MAX_SECONDS, Math.max(MIN_SECONDS, sec)) : 0;
}

/** The value in [0, count) whose encoding an alarm byte matches: -1 for don't care, -2 for none. */
function alarmTarget(alarm: number, count: number, encodeValue: (v: number) => number): number {
  if ((alarm & ALARM_DONT_CARE) === ALARM_DONT_CARE) return -1;
  for (let v = 0; v < count; v++) if (encodeValue(v) === alarm) return v;
  return -2;
}

/** Periodic interrupt period in 32.768 kHz ticks (datasheet Table 5), or 0 for none. */
function periodTicks(regA: number): number {
  const rs = regA & REG_A_RS;
  if (rs === 0) return 0;
  if (rs <= 2) return 64 << rs; // 0001 and 0010 repeat rates 256 Hz and 128 Hz
  return 1 << (rs - 1);
}

function dividerRunning(s: RtcState): boolean {
  return (s.cmos[RTC_REG_A]! & REG_A_DV) <= DV_RUNNING_MAX;
}

/** The clock counts seconds: divider running and SET clear. */
function updating(s: RtcState): boolean {
  return dividerRunning(s) && (s.cmos[RTC_REG_B]! & REG_B_SET) === 0;
}

/** Index of the last divider boundary of `periodTicks` at or before `ns`. */
function boundaryIndex(s: RtcState, ns: number, period: number): number {
  return Math.floor(ticksAt(ns - s.phaseNs, RTC_HZ) / period);
}

function boundaryNs(s: RtcState, index: number, period: number): number {
  return s.phaseNs + nsAtTick(index * period, RTC_HZ);
}

export class Mc146818 implements Device, PortHandler {
  readonly id: string;
  readonly stateVersion = 1;
  private s: RtcState;
  private readonly clock: VirtualClock;
  private readonly irq: IrqLine;
  private readonly timer: Timer;
  private readonly log: Logger | undefined;
  private dseLogged = false;

  constructor(deps: RtcDeps, state?: RtcState) {
    this.id = deps.id ?? 'rtc';
    this.clock = deps.clock;
    this.irq = deps.irq;
    this.log = deps.log;
    this.timer = deps.clock.createTimer(`${this.id}.irq`, () => this.onTimer());
    this.s = defaultRtcState(deps.startMs, deps.nvram);
    this.loadState(state ?? defaultRtcState(deps.startMs, deps.nvram), this.stateVersion);
  }

  // --- Device ---------------------------------------------------------------------------

  /** The RESET pin: interrupt enables and flags clear; time and CMOS RAM are kept. */
  reset(): void {
    const now = this.clock.nowNs();
    this.account(now);
    this.s.cmos[RTC_REG_B] = this.s.cmos[RTC_REG_B]! & ~(REG_B_PIE | REG_B_AIE | REG_B_UIE | REG_B_SQWE);
    this.s.cmos[RTC_REG_C] = 0;
    this.updateIrq();
  }

  saveState(): RtcState {
    const now = this.clock.nowNs();
    this.account(now);
    this.syncTime(now);
    return { ...this.s, cmos: this.s.cmos.slice() };
  }

  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    const rec = expectRecord(state, this.id);
    const cmos = expectIntArray(rec, 'cmos', 0, 0xff, CMOS_BYTES, this.id).slice();
    const regC = cmos[RTC_REG_C]!;
    if (regC & 0x0f) throw new SnapshotError(`${this.id}.cmos[0x0c]: register C bits 3-0 always read 0`);
    if (cmos[RTC_REG_D] !== REG_D_VRT) throw new SnapshotError(`${this.id}.cmos[0x0d]: register D reads 0x80 (VRT)`);
    const s: RtcState = {
      cmos,
      index: expectInt(rec, 'index', 0, CMOS_BYTES - 1, this.id),
      nmiMasked: expectBool(rec, 'nmiMasked', this.id),
      secAtPhase: expectInt(rec, 'secAtPhase', MIN_SECONDS, MAX_SECONDS, this.id),
      phaseNs: expectInt(rec, 'phaseNs', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, this.id),
      checkedNs: expectInt(rec, 'checkedNs', 0, Number.MAX_SAFE_INTEGER, this.id),
    };
    // IRQF is derived from the other flags and their enables.
    s.cmos[RTC_REG_A] = s.cmos[RTC_REG_A]! & ~REG_A_UIP;
    this.s = s;
    this.updateIrq();
  }

  // --- PortHandler (0x70-0x71) ----------------------------------------------------------

  ioRead(offset: number, _size: AccessSize): number {
    // The index register is write-only; QEMU reads it as all ones.
    if ((offset & 1) === 0) return 0xff;
    return this.readRegister(this.s.index);
  }

  ioWrite(offset: number, _size: AccessSize, value: number): void {
    if ((offset & 1) === 0) {
      // The PIIX decodes 7 index bits: an index above 127 wraps.
      this.s.index = value & 0x7f;
      this.s.nmiMasked = (value & INDEX_NMI_MASK) !== 0;
      return;
    }
    this.writeRegister(this.s.index, value & 0xff);
  }

  // --- board and monitor ----------------------------------------------------------------

  /** Port 0x70 bit 7: NMIs are masked (the board consults this before delivering an NMI). */
  get nmiMasked(): boolean {
    return this.s.nmiMasked;
  }

  /** The time the clock shows now, as ms since 1970 (what QEMU's `rtc-time` reports). */
  timeMs(): number {
    const now = this.clock.nowNs();
    this.syncTime(now);
    return readTime(this.s) * 1000;
  }

  // --- registers ------------------------------------------------------------------------

  private readRegister(index: number): number {
    const s = this.s;
    const now = this.clock.nowNs();
    switch (index) {
      case RTC_REG_A:
        return (s.cmos[RTC_REG_A]! & ~REG_A_UIP) | (this.uip(now) ? REG_A_UIP : 0);
      case RTC_REG_C: {
        this.account(now);
        const value = s.cmos[RTC_REG_C]!;
        s.cmos[RTC_REG_C] = 0;
        this.updateIrq();
        return value;
      }
      case RTC_SECONDS:
      case RTC_MINUTES:
      case RTC_HOURS:
      case RTC_DAY_OF_WEEK:
      case RTC_DAY_OF_MONTH:
      case RTC_MONTH:
      case RTC_YEAR:
      case RTC_CENTURY:
        this.syncTime(now);
        return s.cmos[index]!;
      default:
        return s.cmos[index]!;
    }
  }

  private writeRegister(index: number, v: number): void {
    const s = this.s;
    const now = this.clock.nowNs();
    switch (index) {
      case RTC_SECONDS:
      case RTC_MINUTES:
      case RTC_HOURS:
      case RTC_DAY_OF_WEEK:
      case RTC_DAY_OF_MONTH:
      case RTC_MONTH:
      case RTC_YEAR:
        this.account(now);
        this.syncTime(now);
        s.cmos[index] = v;
        // A write while the clock runs sets it; the next update keeps the divider's phase.
        if (updating(s)) this.setTimeFromRegisters(now);
        this.updateIrq();
        return;
      case RTC_SECONDS_ALARM:
      case RTC_MINUTES_ALARM:
      case RTC_HOURS_ALARM:
        this.account(now);
        s.cmos[index] = v;
        this.updateIrq();
        return;
      case RTC_REG_A:
        this.writeRegA(v, now);
        return;
      case RTC_REG_B:
        this.writeRegB(v, now);
        return;
      case RTC_REG_C:
      case RTC_REG_D:
        return; // read-only
      default:
        s.cmos[index] = v;
    }
  }

  private writeRegA(v: number, now: number): void {
    const s = this.s;
    this.account(now);
    this.syncTime(now);
    const wasReset = (s.cmos[RTC_REG_A]! & DV_RESET) === DV_RESET;
    const wasUpdating = updating(s);
    s.cmos[RTC_REG_A] = v & ~REG_A_UIP;
    const isReset = (v & DV_RESET) === DV_RESET;
    if (wasReset && !isReset) {
      // Leaving divider reset restarts the chain: the first update is 500 ms later.
      s.phaseNs = now + FIRST_UPDATE_AFTER_RESET_NS - NS_PER_S;
      if (updating(s)) s.secAtPhase = readTime(s);
    } else if (!wasUpdating && updating(s)) {
      this.setTimeFromRegisters(now);
    }
    this.updateIrq();
  }

  private writeRegB(v: number, now: number): void {
    const s = this.s;
    this.account(now);
    this.syncTime(now);
    const wasUpdating = updating(s);
    // Setting SET clears UIE (datasheet, Register B bit 4).
    if (v & REG_B_SET) v &= ~REG_B_UIE;
    s.cmos[RTC_REG_B] = v;
    if (!wasUpdating && updating(s)) this.setTimeFromRegisters(now);
    if (v & REG_B_DSE && !this.dseLogged && this.log?.enabled('unimp')) {
      this.dseLogged = true;
      this.log.log('unimp', `${this.id}: daylight saving (register B DSE) is not implemented`);
    }
    this.updateIrq();
  }

  // --- time -----------------------------------------------------------------------------

  /** Rewrites the time registers from the running count (no-op while stopped). */
  private syncTime(now: number): void {
    const s = this.s;
    if (!updating(s)) return;
    const sec = s.secAtPhase + Math.floor((now - s.phaseNs) / NS_PER_S);
    writeTime(s, Math.min(MAX_SECONDS, sec));
  }

  /** The registers were set: the count continues from them with the divider's phase. */
  private setTimeFromRegisters(now: number): void {
    const s = this.s;
    s.secAtPhase = readTime(s) - Math.floor((now - s.phaseNs) / NS_PER_S);
  }

  /** UIP: an update is less than 244 µs away. */
  private uip(now: number): boolean {
    if (!updating(this.s)) return false;
    const inSecond = ticksAt(now - this.s.phaseNs, RTC_HZ) % RTC_HZ;
    return (inSecond + RTC_HZ) % RTC_HZ >= RTC_HZ - UIP_TICKS;
  }

  // --- interrupts -----------------------------------------------------------------------

  /** Sets PF, UF and AF for everything that happened in (checkedNs, now]. */
  private account(now: number): void {
    const s = this.s;
    const from = s.checkedNs;
    if (now <= from) return;
    s.checkedNs = now;
    if (!dividerRunning(s)) return;
    let flags = 0;
    const period = periodTicks(s.cmos[RTC_REG_A]!);
    if (period > 0 && boundaryIndex(s, now, period) > boundaryIndex(s, from, period)) flags |= REG_C_PF;
    if (updating(s)) {
      const last = boundaryIndex(s, from, RTC_HZ);
      if (boundaryIndex(s, now, RTC_HZ) > last) {
        flags |= REG_C_UF;
        // The alarm is compared at each update.
        const alarm = this.nextAlarmIndex(last + 1);
        if (alarm >= 0 && boundaryNs(s, alarm, RTC_HZ) <= now) flags |= REG_C_AF;
      }
    }
    s.cmos[RTC_REG_C] = s.cmos[RTC_REG_C]! | flags;
  }

  /**
   * The first update boundary index >= `first` whose new time matches the alarm registers
   * (compared as bytes in the current format; 11xxxxxx matches anything), or -1 if none
   * within a day (an alarm that can never match, such as seconds 0x99 in BCD).
   */
  private nextAlarmIndex(first: number): number {
    const s = this.s;
    // The one value each alarm byte matches (-1: any value, -2: none).
    const wantS = alarmTarget(s.cmos[RTC_SECONDS_ALARM]!, 60, (v) => encode(s, v));
    const wantM = alarmTarget(s.cmos[RTC_MINUTES_ALARM]!, 60, (v) => encode(s, v));
    const wantH = alarmTarget(s.cmos[RTC_HOURS_ALARM]!, 24, (v) => encodeHour(s, v));
    if (wantS === -2 || wantM === -2 || wantH === -2) return -1;
    const start = s.secAtPhase + first;
    const end = start + SECONDS_PER_DAY;
    // Jumps to the next candidate hour, minute or second: a few dozen steps at most.
    for (let t = start; t < end; ) {
      const tod = ((t % SECONDS_PER_DAY) + SECONDS_PER_DAY) % SECONDS_PER_DAY;
      const sec = tod % 60;
      if (wantH >= 0 && Math.floor(tod / 3600) !== wantH) t += 3600 - (tod % 3600);
      else if (wantM >= 0 && Math.floor(tod / 60) % 60 !== wantM) t += 60 - sec;
      else if (wantS >= 0 && sec !== wantS) t += (wantS - sec + 60) % 60;
      else return t - s.secAtPhase;
    }
    return -1;
  }

  /** IRQF and the IRQ 8 line from the flags and enables; arms the timer for the next event. */
  private updateIrq(): void {
    const s = this.s;
    const c = s.cmos[RTC_REG_C]! & (REG_C_PF | REG_C_AF | REG_C_UF);
    const enabledFlags = c & s.cmos[RTC_REG_B]! & (REG_B_PIE | REG_B_AIE | REG_B_UIE);
    const irqf = enabledFlags !== 0;
    s.cmos[RTC_REG_C] = c | (irqf ? REG_C_IRQF : 0);
    this.irq.set(irqf);
    const next = irqf ? Infinity : this.nextEventNs();
    if (next === Infinity) this.timer.del();
    else this.timer.modNs(next);
  }

  /** Virtual time of the next event whose interrupt is enabled, or Infinity. */
  private nextEventNs(): number {
    const s = this.s;
    if (!dividerRunning(s)) return Infinity;
    const b = s.cmos[RTC_REG_B]!;
    const after = s.checkedNs;
    let next = Infinity;
    const period = periodTicks(s.cmos[RTC_REG_A]!);
    if (b & REG_B_PIE && period > 0) next = Math.min(next, boundaryNs(s, boundaryIndex(s, after, period) + 1, period));
    if (updating(s)) {
      const first = boundaryIndex(s, after, RTC_HZ) + 1;
      if (b & REG_B_UIE) next = Math.min(next, boundaryNs(s, first, RTC_HZ));
      if (b & REG_B_AIE) {
        const alarm = this.nextAlarmIndex(first);
        if (alarm >= 0) next = Math.min(next, boundaryNs(s, alarm, RTC_HZ));
      }
    }
    return next;
  }

  private onTimer(): void {
    this.account(this.clock.nowNs());
    this.updateIrq();
  }
}
