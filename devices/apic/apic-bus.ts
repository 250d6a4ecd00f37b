/**
 * The interrupt messages that travel between I/O APICs and local APICs (the APIC bus on P6,
 * the system bus since the Pentium 4), SDM Vol. 3A 10.6 and the 82093AA datasheet 3.2.4.
 * One message: destination, destination mode, delivery mode, vector, trigger mode.
 */

/** Delivery modes (ICR bits 10:8, LVT bits 10:8, redirection entry bits 10:8). */
export const enum DeliveryMode {
  Fixed = 0b000,
  LowestPriority = 0b001,
  Smi = 0b010,
  Nmi = 0b100,
  Init = 0b101,
  StartUp = 0b110,
  ExtInt = 0b111,
}

/** Something that receives interrupt messages: the local APIC(s) of the board's CPUs. */
export interface ApicMessageSink {
  /**
   * Delivers one message. `destination` is the 8-bit destination field, `logical` selects
   * logical (LDR/DFR) over physical (APIC ID) matching. Returns true when a local APIC
   * accepted it (an I/O APIC sets Remote IRR only then).
   */
  deliverMessage(destination: number, logical: boolean, mode: DeliveryMode, vector: number, levelTriggered: boolean): boolean;
}

/** Something that takes EOI broadcasts for level-triggered vectors: the I/O APIC(s). */
export interface ApicEoiSink {
  endOfInterrupt(vector: number): void;
}
