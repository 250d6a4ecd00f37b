/**
 * The I/O APIC of a PC: an Intel 82093AA with 24 input pins, as QEMU's `ioapic` presents it
 * (version 0x20, which adds the EOI register at offset 0x40).
 *
 * Sources: Intel 82093AA I/O Advanced Programmable Interrupt Controller datasheet (290566),
 * 3.0 "Register Description" (IOREGSEL, IOWIN, IOAPICID, IOAPICVER, IOAPICARB, IOREDTBL),
 * 3.2.4 "Interrupt Delivery"; behaviour choices follow QEMU's hw/intc/ioapic.c.
 *
 * Registers: IOREGSEL at 0x00 selects, IOWIN at 0x10 reads/writes the selected register
 * (32-bit accesses only; others read 0 and are ignored, as QEMU), EOI at 0x40. Like QEMU the
 * offset is decoded from its low 8 bits.
 *
 * Pins: a level-triggered pin requests delivery while it is asserted and Remote IRR is clear;
 * Remote IRR is set when a local APIC accepts the message and cleared by the EOI broadcast of
 * the vector (or the EOI register). An edge-triggered pin delivers once per rising edge and
 * ignores edges while masked (datasheet; QEMU). A masked level-triggered pin still asserted is
 * delivered when unmasked.
 *
 * Polarity is stored but not applied: IrqLine levels are logical (asserted or not), as in
 * QEMU. Delivery status always reads idle: a message is delivered synchronously.
 */
import type { MmioHandler } from '../../src/memory/physical-memory.js';
import type { AccessSize } from '../../src/memory/io-bus.js';
import type { IrqSink } from '../../src/machine/irq.js';
import type { Device } from '../../src/machine/device.js';
import type { Logger } from '../../src/machine/log.js';
import { SnapshotError } from '../../src/errors.js';
import { expectInt, expectIntArray, expectRecord, expectVersion } from '../../src/snapshot/validate.js';
import { DeliveryMode, type ApicEoiSink, type ApicMessageSink } from './apic-bus.js';

export const IOAPIC_DEFAULT_BASE = 0xfec00000;
export const IOAPIC_PINS = 24;
export const IOAPIC_VERSION = 0x20;

// MMIO offsets.
const IOREGSEL = 0x00;
const IOWIN = 0x10;
const IOEOI = 0x40;

// Register indices (IOREGSEL values).
const REG_ID = 0x00;
const REG_VERSION = 0x01;
const REG_ARBITRATION = 0x02;
const REG_REDTBL = 0x10;

// Redirection table entry, low dword (datasheet 3.2.4).
const RTE_VECTOR = 0xff;
const RTE_DELIVERY_SHIFT = 8;
const RTE_DEST_LOGICAL = 1 << 11;
export const RTE_POLARITY_LOW = 1 << 13;
export const RTE_REMOTE_IRR = 1 << 14;
export const RTE_LEVEL = 1 << 15;
export const RTE_MASKED = 1 << 16;
/** Writable low-dword bits: vector, delivery mode, dest mode, polarity, trigger, mask. */
const RTE_LO_WRITABLE = 0x0001afff;
/** High dword: the destination field (bits 63:56). */
const RTE_HI_WRITABLE = 0xff000000;

const ID_SHIFT = 24;
const ID_MASK = 0xf;

/** Guest-visible state. */
export interface IoApicState {
  /** IOAPICID bits 27:24. */
  id: number;
  /** IOREGSEL. */
  ioregsel: number;
  /** Pending requests: asserted level-triggered pins, latched edges not yet delivered. */
  irr: number;
  /** Pin levels as last driven, for edge detection. */
  lines: number;
  /** Redirection entries, low and high dwords. */
  redirLo: number[];
  redirHi: number[];
}

export const IOAPIC_STATE_VERSION = 1;

/** Power-on state: ID 0, every entry masked (QEMU's ioapic_reset_common). */
export function defaultIoApicState(): IoApicState {
  return {
    id: 0,
    ioregsel: 0,
    irr: 0,
    lines: 0,
    redirLo: new Array<number>(IOAPIC_PINS).fill(RTE_MASKED),
    redirHi: new Array<number>(IOAPIC_PINS).fill(0),
  };
}

export interface IoApicDeps {
  id?: string;
  /** Where messages go: the local APIC(s). */
  apicBus: ApicMessageSink;
  log: Logger;
}

export class IoApic implements Device, IrqSink, ApicEoiSink, MmioHandler {
  readonly id: string;
  readonly stateVersion = IOAPIC_STATE_VERSION;
  private s: IoApicState = defaultIoApicState();

  constructor(private readonly deps: IoApicDeps, state?: IoApicState) {
    this.id = deps.id ?? 'ioapic';
    this.loadState(state ?? defaultIoApicState(), IOAPIC_STATE_VERSION);
  }

  // ---- IrqSink: the input pins ----

  setIrq(pin: number, level: boolean): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IOAPIC_PINS) return;
    const s = this.s;
    const bit = 1 << pin;
    const wasHigh = (s.lines & bit) !== 0;
    s.lines = level ? s.lines | bit : s.lines & ~bit;
    const lo = s.redirLo[pin]!;
    if (levelTriggered(lo)) {
      if (level) {
        s.irr |= bit;
        if ((lo & RTE_REMOTE_IRR) === 0) this.service();
      } else {
        s.irr &= ~bit;
      }
    } else if (level && !wasHigh && (lo & RTE_MASKED) === 0) {
      s.irr |= bit;
      this.service();
    }
  }

  // ---- ApicEoiSink ----

  /** EOI of `vector` (broadcast by a local APIC or written to the EOI register). */
  endOfInterrupt(vector: number): void {
    const s = this.s;
    let again = false;
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const lo = s.redirLo[pin]!;
      if ((lo & RTE_VECTOR) !== vector || (lo & RTE_REMOTE_IRR) === 0) continue;
      s.redirLo[pin] = lo & ~RTE_REMOTE_IRR;
      // Still asserted: the request goes out again.
      if ((lo & RTE_MASKED) === 0 && (s.irr & (1 << pin)) !== 0) again = true;
    }
    if (again) this.service();
  }

  // ---- MMIO ----

  mmioRead(offset: number, size: AccessSize): number {
    switch (offset & 0xff) {
      case IOREGSEL:
        return this.s.ioregsel;
      case IOWIN:
        return size === 4 ? this.readRegister(this.s.ioregsel) >>> 0 : 0;
      default:
        return 0;
    }
  }

  mmioWrite(offset: number, size: AccessSize, value: number): void {
    switch (offset & 0xff) {
      case IOREGSEL:
        this.s.ioregsel = value & 0xff;
        return;
      case IOWIN:
        if (size === 4) this.writeRegister(this.s.ioregsel, value >>> 0);
        return;
      case IOEOI:
        // Only version 0x20 has the EOI register (QEMU).
        if (size === 4 && value >>> 0 <= 0xff) this.endOfInterrupt(value >>> 0);
        return;
      default:
        this.guestError(`write to unknown offset 0x${offset.toString(16)}`);
    }
  }

  // ---- Device ----

  reset(): void {
    this.loadState(defaultIoApicState(), IOAPIC_STATE_VERSION);
  }

  saveState(): IoApicState {
    return { ...this.s, redirLo: [...this.s.redirLo], redirHi: [...this.s.redirHi] };
  }

  loadState(state: unknown, version: number): void {
    expectVersion(version, IOAPIC_STATE_VERSION, this.id);
    const what = this.id;
    const r = expectRecord(state, what);
    const pinMask = 2 ** IOAPIC_PINS - 1;
    const v: IoApicState = {
      id: expectInt(r, 'id', 0, ID_MASK, what),
      ioregsel: expectInt(r, 'ioregsel', 0, 0xff, what),
      irr: expectInt(r, 'irr', 0, pinMask, what),
      lines: expectInt(r, 'lines', 0, pinMask, what),
      redirLo: [...expectIntArray(r, 'redirLo', 0, 0xffffffff, IOAPIC_PINS, what)],
      redirHi: [...expectIntArray(r, 'redirHi', 0, 0xffffffff, IOAPIC_PINS, what)],
    };
    v.redirLo.forEach((lo, i) => {
      if ((lo & ~(RTE_LO_WRITABLE | RTE_REMOTE_IRR)) !== 0) throw new SnapshotError(`${what}.redirLo[${i}]: 0x${lo.toString(16)} sets reserved bits`);
    });
    v.redirHi.forEach((hi, i) => {
      if ((hi & ~RTE_HI_WRITABLE) !== 0) throw new SnapshotError(`${what}.redirHi[${i}]: 0x${hi.toString(16)} sets reserved bits`);
    });
    this.s = v;
  }

  // ---- Monitor ----

  /** QEMU's `info ioapic` (ioapic_print_redtbl). */
  info(): string {
    const s = this.s;
    const names = ['fixed', 'lowest', 'SMI', '...', 'NMI', 'INIT', '...', 'extINT'];
    const hex2 = (v: number) => v.toString(16).padStart(2, '0');
    let head = `ioapic0: ver=0x${IOAPIC_VERSION.toString(16)} id=0x${hex2(s.id)} sel=0x${hex2(s.ioregsel)}`;
    if (s.ioregsel) head += ` (redir[${(s.ioregsel - REG_REDTBL) >> 1}])`;
    const lines = [head];
    let remoteIrr = 0;
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const lo = s.redirLo[pin]!;
      const hi = s.redirHi[pin]!;
      const logical = (lo & RTE_DEST_LOGICAL) !== 0;
      const dest = (hi >>> 24) & (logical ? 0xff : 0xf);
      lines.push(
        `  pin ${String(pin).padEnd(2)} 0x${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')} ` +
          `dest=${dest.toString(16)} vec=${String(lo & RTE_VECTOR).padEnd(3)} ${lo & RTE_POLARITY_LOW ? 'active-lo' : 'active-hi'} ` +
          `${(lo & RTE_LEVEL ? 'level' : 'edge').padEnd(5)} ${(lo & RTE_MASKED ? 'masked' : '').padEnd(6)} ` +
          `${names[(lo >> RTE_DELIVERY_SHIFT) & 7]!.padEnd(6)} ${logical ? 'logical' : 'physical'}`,
      );
      if (lo & RTE_LEVEL && lo & RTE_REMOTE_IRR) remoteIrr |= 1 << pin;
    }
    lines.push(pinList('  IRR', s.irr), pinList('  Remote IRR', remoteIrr));
    return lines.join('\n');
  }

  // ---- Internals ----

  private readRegister(index: number): number {
    const s = this.s;
    switch (index) {
      case REG_ID:
      case REG_ARBITRATION: // QEMU answers the ID for the arbitration register too
        return s.id << ID_SHIFT;
      case REG_VERSION:
        return ((IOAPIC_PINS - 1) << 16) | IOAPIC_VERSION;
    }
    const pin = (index - REG_REDTBL) >> 1;
    if (index < REG_REDTBL || pin >= IOAPIC_PINS) return 0xffffffff;
    return index & 1 ? s.redirHi[pin]! : s.redirLo[pin]!;
  }

  private writeRegister(index: number, v: number): void {
    const s = this.s;
    switch (index) {
      case REG_ID:
        s.id = (v >>> ID_SHIFT) & ID_MASK;
        return;
      case REG_VERSION:
      case REG_ARBITRATION:
        return; // read-only
    }
    const pin = (index - REG_REDTBL) >> 1;
    if (index < REG_REDTBL || pin >= IOAPIC_PINS) {
      this.guestError(`write to nonexistent register 0x${index.toString(16)}`);
      return;
    }
    if (index & 1) {
      s.redirHi[pin] = (v & RTE_HI_WRITABLE) >>> 0;
      return;
    }
    let lo = (v & RTE_LO_WRITABLE) | (s.redirLo[pin]! & RTE_REMOTE_IRR);
    const bit = 1 << pin;
    if (levelTriggered(lo)) {
      s.irr = s.lines & bit ? s.irr | bit : s.irr & ~bit; // a level request is the pin's level
    } else {
      lo &= ~RTE_REMOTE_IRR; // Remote IRR means nothing for edge (QEMU)
    }
    s.redirLo[pin] = lo >>> 0;
    // An unmasked entry may now deliver a level that was waiting.
    this.service();
  }

  /** Delivers every pending, unmasked request (QEMU's ioapic_service). */
  private service(): void {
    const s = this.s;
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const bit = 1 << pin;
      if ((s.irr & bit) === 0) continue;
      const lo = s.redirLo[pin]!;
      if (lo & RTE_MASKED) continue;
      const level = levelTriggered(lo);
      if (!level) s.irr &= ~bit;
      else if (lo & RTE_REMOTE_IRR) continue; // the previous one is still being serviced
      const mode = (lo >> RTE_DELIVERY_SHIFT) & 7;
      if (mode === 3 || mode === 6) {
        this.guestError(`pin ${pin}: reserved delivery mode ${mode}`);
        continue;
      }
      const accepted = this.deps.apicBus.deliverMessage(s.redirHi[pin]! >>> 24, (lo & RTE_DEST_LOGICAL) !== 0, mode as DeliveryMode, lo & RTE_VECTOR, level);
      if (accepted && level) {
        s.redirLo[pin] = (s.redirLo[pin]! | RTE_REMOTE_IRR) >>> 0;
      }
    }
  }

  private guestError(message: string): void {
    const log = this.deps.log;
    if (log.enabled('guest_errors')) log.log('guest_errors', `${this.id}: ${message}`);
  }
}

/**
 * Whether an entry is level-triggered. NMI, SMI, INIT and ExtINT are edge-triggered whatever
 * the trigger bit says (datasheet 3.2.4, "Trigger Mode"); Remote IRR exists only for the
 * level-triggered fixed and lowest-priority ones, so no other mode can wait for an EOI.
 */
function levelTriggered(lo: number): boolean {
  if ((lo & RTE_LEVEL) === 0) return false;
  const mode = (lo >> RTE_DELIVERY_SHIFT) & 7;
  return mode === DeliveryMode.Fixed || mode === DeliveryMode.LowestPriority;
}

/** QEMU's ioapic_irr_dump: the pins set in `bitmap`, or (none). */
function pinList(name: string, bitmap: number): string {
  let line = `${name.padEnd(10)} `;
  if (bitmap === 0) return `${line}(none)`;
  for (let i = 0; i < IOAPIC_PINS; i++) if (bitmap & (1 << i)) line += `${String(i).padEnd(2)} `;
  return line;
}
