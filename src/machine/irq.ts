/**
 * Interrupt request lines. A device drives a line to a level; what is on the other end (a PIC
 * input, an IOAPIC pin, both at once as on a PC) is wired by the board. Devices never see the
 * interrupt controller, only this interface.
 */

/** One wire from a device to one or more interrupt-controller inputs. */
export interface IrqLine {
  /** Drives the line high (true) or low (false). Repeating the same level is harmless. */
  set(level: boolean): void;
}

/** Something with numbered interrupt inputs: a PIC pair, an IOAPIC. */
export interface IrqSink {
  setIrq(pin: number, level: boolean): void;
}

/** A line into input `pin` of each of `sinks` (a PC's ISA IRQs go to both PIC and IOAPIC). */
export class WiredIrqLine implements IrqLine {
  private level = false;
  constructor(private readonly sinks: readonly IrqSink[], readonly pin: number) {}

  set(level: boolean): void {
    this.level = level;
    for (const sink of this.sinks) sink.setIrq(this.pin, level);
  }

  get isHigh(): boolean {
    return this.level;
  }
}

/** A line connected to nothing (a device whose interrupt the board does not route). */
export const NO_IRQ: IrqLine = { set() {} };

/** A line that records its level, for tests and for devices that need to read back. */
export class RecordingIrqLine implements IrqLine {
  level = false;
  /** Number of low→high transitions seen. */
  rises = 0;
  set(level: boolean): void {
    if (level && !this.level) this.rises++;
    this.level = level;
  }
}

/**
 * What the CPU sees of its interrupt controller: the INTR pin and the INTA cycle. The PIC
 * (and later the LAPIC) implement it; the CPU never imports them.
 */
export interface InterruptSource {
  /** True while a maskable interrupt is requested (the INTR pin is high). */
  hasInterrupt(): boolean;
  /** The interrupt-acknowledge cycle: returns the vector and updates ISR/IRR. */
  acknowledge(): number;
}
