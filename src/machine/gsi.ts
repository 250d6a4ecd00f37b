/**
 * How the PC board routes ISA IRQs to I/O APIC inputs (global system interrupts), as QEMU's
 * `pc` machine does: IRQ0 (the PIT) arrives on pin 2, every other ISA IRQ n on pin n. Firmware
 * tables (the MADT's interrupt source override, the MP table) must describe the same.
 */

/** The I/O APIC pin of ISA IRQ 0. */
export const ISA_IRQ0_GSI = 2;

export function isaIrqToGsi(irq: number): number {
  return irq === 0 ? ISA_IRQ0_GSI : irq;
}
