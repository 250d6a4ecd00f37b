/**
 * The ACPI fixed-hardware registers of the Intel PIIX4 power-management function (82371AB
 * function 3): the PM1a event and control blocks and the PM timer, in the 64-byte I/O block
 * the PIIX4 decodes at PMBA (QEMU's "piix4-pm" region, hw/acpi/piix4.c + hw/acpi/core.c).
 *
 * References: ACPI specification section 4.8 (fixed hardware registers: PM1 status, enable
 * and control, the power-management timer); Intel 82371AB PIIX4 datasheet section 11.7.3
 * (PMSTS, PMEN, PMCNTRL, PMTMR); QEMU's hw/acpi/core.c for behaviour firmware relies on.
 *
 * Layout (offsets from PMBA; all little-endian, any byte lane may be accessed on its own):
 *   +0x00  PM1_STS   16-bit, write 1 to clear
 *   +0x02  PM1_EN    16-bit
 *   +0x04  PM1_CNT   16-bit
 *   +0x08  PM_TMR    32-bit read-only, 24 bits of a 3.579545 MHz counter (TMR_VAL_EXT = 0)
 * Every other offset reads all ones and ignores writes, as the holes of QEMU's region do.
 *
 * The counter is derived from the virtual clock: floor(nowNs * 3579545 / 1e9) mod 2^24.
 * TMR_STS is set when bit 23 of the counter toggles; the time of the next toggle is part of
 * the state (`tmrOverflowNs`, QEMU's overflow_time in ns) and a clock timer is armed for it
 * while TMR_EN is set and TMR_STS is clear, so that SCI rises on time.
 *
 * SCI_EN: QEMU's PIIX4 starts with SCI_EN = 0 when the machine has SMM and sets it when the
 * guest writes ACPI_ENABLE (0xf1) to the APM control port 0xb2 (the FADT's SMI_CMD); without
 * SMM ("acpi_only") SCI_EN reads 1 from reset and ACPI_ENABLE is ignored. pcvm has no APM
 * port yet, so `acpiOnly` defaults to true and the board's FADT must give SMI_CMD = 0 (an
 * ACPI-only platform). `acpiEnableCommand()` is the hook for a later APM port. SCI_EN is set
 * by hardware only; the guest's writes preserve it (ACPI 4.8.3.2.1: "OSPM always preserves
 * this bit position").
 *
 * Sleep: writing SLP_EN with SLP_TYP 0 powers off (QEMU's PIIX4 DSDT gives _S5 = 0); any other
 * type goes to `onSuspend(type)` (QEMU: 1 = S3, 2 = S4) or, without it, is logged and ignored.
 *
 * Not implemented: GPE0 (QEMU's PIIX4 puts GPE0_STS/GPE0_EN at port 0xafe0, outside this
 * block; the datasheet's GPSTS/GPEN at +0x0c are not decoded), processor control and C-state
 * registers (+0x10..+0x15), the PIIX4 global/device registers (+0x18..+0x37), SMI generation
 * (GBL_RLS, SCI_EN = 0 routing to SMI), wake from sleep (WAK_STS is never set by us), the
 * power-button override (PWRBTNOR_STS). Where the block sits is the PIIX4 PCI function's
 * business (devices/pci/piix4-pm.ts maps `ports` where PMBA/PMREGMISC say).
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import type { IrqLine } from '../../src/machine/irq.js';
import type { Timer, VirtualClock } from '../../src/machine/clock.js';
import type { Device } from '../../src/machine/device.js';
import type { Logger } from '../../src/machine/log.js';
import { SnapshotError } from '../../src/errors.js';
import { expectInt, expectRecord, expectVersion } from '../../src/snapshot/validate.js';
import { nsAtTick, ticksAt } from '../../src/machine/clock-ticks.js';

/** Size of the PIIX4 PM I/O block; map `ports` with this length and widths [1, 2, 4]. */
export const ACPI_PM_IO_LENGTH = 64;

// Register offsets in the block.
export const PM1_STS = 0x00;
export const PM1_EN = 0x02;
export const PM1_CNT = 0x04;
export const PM_TMR = 0x08;

// PM1_STS bits (all write-1-to-clear).
/** Bit 23 of the PM timer changed. */
export const TMR_STS = 1 << 0;
/** A bus master requested the bus (never set here: no bus-master activity is modelled). */
export const BM_STS = 1 << 4;
/** The BIOS released the global lock (never set here: no SMM BIOS). */
export const GBL_STS = 1 << 5;
/** The power button was pressed. */
export const PWRBTN_STS = 1 << 8;
/** The RTC alarm fired (set by the board's RTC wiring, not here). */
export const RTC_STS = 1 << 10;
/** The system woke from a sleep state. */
export const WAK_STS = 1 << 15;
const STS_BITS = TMR_STS | BM_STS | GBL_STS | PWRBTN_STS | RTC_STS | WAK_STS;

// PM1_EN bits: each enables SCI for the PM1_STS bit at the same position.
export const TMR_EN = 1 << 0;
export const GBL_EN = 1 << 5;
export const PWRBTN_EN = 1 << 8;
export const RTC_EN = 1 << 10;
const EN_BITS = TMR_EN | GBL_EN | PWRBTN_EN | RTC_EN;

// PM1_CNT bits.
/** Power-management events raise SCI (1) or SMI (0). Set by hardware, preserved by writes. */
export const SCI_EN = 1 << 0;
/** A bus-master request wakes the processor from C3. Stored, no effect. */
export const BM_RLD = 1 << 1;
/** Write-only: releases the global lock to the BIOS (raises SMI; not modelled). */
export const GBL_RLS = 1 << 2;
export const SLP_TYP_SHIFT = 10;
/** Sleep type, bits 10–12. */
export const SLP_TYP_MASK = 7 << SLP_TYP_SHIFT;
/** Write-only: enter the sleep state in SLP_TYP. Reads 0. */
export const SLP_EN = 1 << 13;
const CNT_BITS = SCI_EN | BM_RLD | SLP_TYP_MASK;

/** PM timer frequency in Hz (ACPI 4.8.3.3). */
export const PM_TIMER_HZ = 3_579_545;
/** The counter bit whose toggle sets TMR_STS (24-bit counter). */
const TMR_TOGGLE_TICKS = 1 << 23;
/** Ticks of the 3.579545 MHz timer at virtual time `nowNs` (exact for every safe-integer time). */
export function pmTimerTicks(nowNs: number): number {
  return ticksAt(nowNs, PM_TIMER_HZ);
}

/** Virtual time of the first toggle of counter bit 23 strictly after `nowNs`. */
function nextToggleNs(nowNs: number): number {
  const next = (Math.floor(pmTimerTicks(nowNs) / TMR_TOGGLE_TICKS) + 1) * TMR_TOGGLE_TICKS;
  return nsAtTick(next, PM_TIMER_HZ);
}

/** Guest-visible state of the PM1/PM timer block. */
export interface AcpiPmState {
  /** PM1_STS (only the STS bits above). */
  pm1Sts: number;
  /** PM1_EN (only the EN bits above). */
  pm1En: number;
  /** PM1_CNT as read: SCI_EN, BM_RLD, SLP_TYP. */
  pm1Cnt: number;
  /**
   * Virtual ns at which TMR_STS is set next: the first bit-23 toggle after TMR_STS was last
   * cleared. -1 (power-on state only) means "the first toggle after this state is loaded",
   * so TMR_STS starts clear as the datasheet says.
   */
  tmrOverflowNs: number;
}

/** Power-on state. `acpiOnly`: SCI_EN reads 1 from reset (see the file header). */
export function defaultAcpiPmState(acpiOnly = true): AcpiPmState {
  // XXX: QEMU resets overflow_time to 0, so its TMR_STS reads 1 until the guest first clears
  // it; we follow the datasheet (TMROF_STS = 0 at reset). Guests clear PM1_STS on enabling ACPI.
  return { pm1Sts: 0, pm1En: 0, pm1Cnt: acpiOnly ? SCI_EN : 0, tmrOverflowNs: -1 };
}

export interface AcpiPmDeps {
  /** Instance name; default "piix4_pm". */
  id?: string;
  clock: VirtualClock;
  /** The SCI line (ISA IRQ 9 on a PC, level-triggered, active high at the IOAPIC as QEMU wires it). */
  sci: IrqLine;
  /** SLP_EN with SLP_TYP 0: soft-off (S5). */
  onPowerOff: () => void;
  /** SLP_EN with another sleep type; without it the request is logged and ignored. */
  onSuspend?: (type: number) => void;
  /** No SMI_CMD handshake: SCI_EN is 1 from reset (default true; see the file header). */
  acpiOnly?: boolean;
  logger?: Logger;
}

export class AcpiPm implements Device {
  readonly id: string;
  readonly stateVersion = 1;
  /** The 64-byte PM I/O block; map with length ACPI_PM_IO_LENGTH and widths [1, 2, 4]. */
  readonly ports: PortHandler;

  private s: AcpiPmState;
  private readonly clock: VirtualClock;
  private readonly sci: IrqLine;
  private readonly onPowerOff: () => void;
  private readonly onSuspend: ((type: number) => void) | undefined;
  private readonly acpiOnly: boolean;
  private readonly logger: Logger | undefined;
  private readonly timer: Timer;

  constructor(deps: AcpiPmDeps, state?: AcpiPmState) {
    this.id = deps.id ?? 'piix4_pm';
    this.clock = deps.clock;
    this.sci = deps.sci;
    this.onPowerOff = deps.onPowerOff;
    this.onSuspend = deps.onSuspend;
    this.acpiOnly = deps.acpiOnly ?? true;
    this.logger = deps.logger;
    this.timer = deps.clock.createTimer(`${this.id}.tmr`, () => this.updateSci());
    this.ports = {
      ioRead: (offset: number, size: AccessSize): number => this.ioRead(offset, size),
      ioWrite: (offset: number, size: AccessSize, value: number): void => this.ioWrite(offset, size, value),
    };
    this.s = defaultAcpiPmState(this.acpiOnly);
    this.loadState(state ?? defaultAcpiPmState(this.acpiOnly), this.stateVersion);
  }

  /** The power button was pressed (the monitor's system_powerdown). */
  powerButton(): void {
    // XXX: QEMU sets PWRBTN_STS only while PWRBTN_EN is set, so a press before the OS enables
    // the event is lost; the datasheet sets the status regardless and lets EN gate the SCI.
    this.s.pm1Sts |= PWRBTN_STS;
    this.updateSci();
  }

  /**
   * The ACPI_ENABLE / ACPI_DISABLE command written to SMI_CMD (QEMU's acpi_pm1_cnt_update):
   * sets or clears SCI_EN. Ignored on an ACPI-only machine, where SCI_EN is always 1.
   */
  acpiEnableCommand(enable: boolean): void {
    if (this.acpiOnly) return;
    this.s.pm1Cnt = enable ? this.s.pm1Cnt | SCI_EN : this.s.pm1Cnt & ~SCI_EN;
    this.updateSci();
  }

  // --- Device ------------------------------------------------------------------------------

  reset(): void {
    this.loadState(defaultAcpiPmState(this.acpiOnly), this.stateVersion);
  }

  saveState(): AcpiPmState {
    this.currentSts(); // a toggle that has happened belongs in the saved status
    return { ...this.s };
  }

  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    const rec = expectRecord(state, this.id);
    const pm1Sts = expectBits(rec, 'pm1Sts', STS_BITS, this.id);
    const pm1En = expectBits(rec, 'pm1En', EN_BITS, this.id);
    let pm1Cnt = expectBits(rec, 'pm1Cnt', CNT_BITS, this.id);
    let tmrOverflowNs = expectInt(rec, 'tmrOverflowNs', -1, Number.MAX_SAFE_INTEGER, this.id);

    // Derived: SCI_EN is hardware's on an ACPI-only machine; the overflow deadline can never
    // lie beyond the next toggle (the clock is restored before devices).
    if (this.acpiOnly) pm1Cnt |= SCI_EN;
    const next = nextToggleNs(this.clock.nowNs());
    if (tmrOverflowNs < 0 || tmrOverflowNs > next) tmrOverflowNs = next;
    this.s = { pm1Sts, pm1En, pm1Cnt, tmrOverflowNs };
    this.updateSci();
  }

  // --- Registers ---------------------------------------------------------------------------

  /** The 24-bit PM timer value now. */
  private timerCount(): number {
    return pmTimerTicks(this.clock.nowNs()) % 0x100_0000;
  }

  /** PM1_STS with TMR_STS brought up to date (QEMU's acpi_pm1_evt_get_sts). */
  private currentSts(): number {
    if ((this.s.pm1Sts & TMR_STS) === 0 && this.clock.nowNs() >= this.s.tmrOverflowNs) {
      this.s.pm1Sts |= TMR_STS;
    }
    return this.s.pm1Sts;
  }

  /** Recomputes the SCI level and the TMR_STS timer from the registers. */
  private updateSci(): void {
    const sts = this.currentSts();
    // XXX: QEMU does not gate SCI with SCI_EN (the spec routes events to SMI when it is 0);
    // the two agree whenever SCI_EN is 1, which is always on an ACPI-only machine.
    this.sci.set((this.s.pm1Cnt & SCI_EN) !== 0 && (sts & this.s.pm1En) !== 0);
    if ((this.s.pm1En & TMR_EN) !== 0 && (sts & TMR_STS) === 0) {
      if (this.timer.deadlineNs !== this.s.tmrOverflowNs) this.timer.modNs(this.s.tmrOverflowNs);
    } else {
      this.timer.del();
    }
  }

  // XXX: QEMU widens byte accesses to PM1 registers to 16 bits at the byte's own offset, so
  // there a byte read of PM1_STS+1 returns 0; we decode byte lanes as the datasheet does.
  private ioRead(offset: number, size: AccessSize): number {
    if (offset === PM_TMR && size === 4) return this.timerCount(); // the hot path
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.readByte(offset + i) << (8 * i);
    return value >>> 0;
  }

  private readByte(offset: number): number {
    switch (offset) {
      case PM1_STS:
      case PM1_STS + 1:
        return (this.currentSts() >>> (8 * (offset & 1))) & 0xff;
      case PM1_EN:
      case PM1_EN + 1:
        return (this.s.pm1En >>> (8 * (offset & 1))) & 0xff;
      case PM1_CNT:
      case PM1_CNT + 1:
        return (this.s.pm1Cnt >>> (8 * (offset & 1))) & 0xff;
      case PM_TMR:
      case PM_TMR + 1:
      case PM_TMR + 2:
      case PM_TMR + 3:
        return (this.timerCount() >>> (8 * (offset - PM_TMR))) & 0xff;
      default:
        return 0xff;
    }
  }

  private ioWrite(offset: number, size: AccessSize, value: number): void {
    // Split the access into byte lanes per register, then apply each register once.
    let stsMask = 0;
    let stsValue = 0;
    let enMask = 0;
    let enValue = 0;
    let cntMask = 0;
    let cntValue = 0;
    for (let i = 0; i < size; i++) {
      const off = offset + i;
      const byte = (value >>> (8 * i)) & 0xff;
      const shift = 8 * (off & 1);
      switch (off) {
        case PM1_STS:
        case PM1_STS + 1:
          stsMask |= 0xff << shift;
          stsValue |= byte << shift;
          break;
        case PM1_EN:
        case PM1_EN + 1:
          enMask |= 0xff << shift;
          enValue |= byte << shift;
          break;
        case PM1_CNT:
        case PM1_CNT + 1:
          cntMask |= 0xff << shift;
          cntValue |= byte << shift;
          break;
        default:
          // PM_TMR is read-only; the rest is not decoded.
          if (this.logger?.enabled('unimp')) {
            this.logger.log('unimp', `${this.id}: ignored write 0x${byte.toString(16)} at +0x${off.toString(16)}`);
          }
      }
    }
    if (stsMask !== 0) this.writeSts(stsValue & stsMask);
    // XXX: QEMU keeps reserved PM1_EN bits as written; PIIX4 reads them as 0, as we do.
    if (enMask !== 0) this.s.pm1En = ((this.s.pm1En & ~enMask) | (enValue & enMask)) & EN_BITS;
    const sleepType = cntMask !== 0 ? this.writeCnt(cntValue, cntMask) : -1;
    this.updateSci();
    if (sleepType >= 0) this.sleep(sleepType);
  }

  private writeSts(ones: number): void {
    const clear = ones & STS_BITS;
    const sts = this.currentSts();
    // Clearing TMR_STS starts the wait for the next toggle (QEMU's acpi_pm_tmr_calc_overflow_time).
    if ((clear & sts & TMR_STS) !== 0) this.s.tmrOverflowNs = nextToggleNs(this.clock.nowNs());
    this.s.pm1Sts = sts & ~clear;
  }

  /** Applies a PM1_CNT write; returns the sleep type to enter, or -1. */
  private writeCnt(value: number, mask: number): number {
    const merged = (this.s.pm1Cnt & ~mask) | (value & mask);
    const written = value & mask;
    this.s.pm1Cnt = (merged & (BM_RLD | SLP_TYP_MASK)) | (this.s.pm1Cnt & SCI_EN);
    if ((written & GBL_RLS) !== 0 && this.logger?.enabled('unimp')) {
      this.logger.log('unimp', `${this.id}: GBL_RLS (SMI to the BIOS) is not modelled`);
    }
    return (written & SLP_EN) !== 0 ? (merged & SLP_TYP_MASK) >>> SLP_TYP_SHIFT : -1;
  }

  private sleep(type: number): void {
    if (type === 0) {
      this.onPowerOff();
    } else if (this.onSuspend) {
      this.onSuspend(type);
    } else if (this.logger?.enabled('unimp')) {
      this.logger.log('unimp', `${this.id}: sleep type ${type} requested; no suspend support, ignored`);
    }
  }
}

/** An integer field that has no bits outside `allowed`. */
function expectBits(rec: Record<string, unknown>, key: string, allowed: number, what: string): number {
  const v = expectInt(rec, key, 0, 0xffff, what);
  if ((v & ~allowed) !== 0) {
    throw new SnapshotError(`${what}.${key}: 0x${v.toString(16)} has bits outside 0x${allowed.toString(16)}`);
  }
  return v;
}
