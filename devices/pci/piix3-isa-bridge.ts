/**
 * The Intel 82371SB PIIX3 PCI-to-ISA bridge, PCI 00:01.0: 8086:7000, class 0601 (ISA
 * bridge), multi-function. Here it is the PCI interrupt router: the PIRQ route control
 * registers steer PIRQA–PIRQD to ISA IRQs.
 *
 * References: Intel 82371FB/SB (PIIX/PIIX3) datasheet, 2.2.8 PIRQRC[A:D] at 0x60–0x63
 * (bit 7 IRQROUTEEN: 1 = not routed; bits 3:0 the IRQ; 0–2, 8 and 13 are reserved and route
 * nowhere); QEMU's hw/isa/piix.c for the other reset values.
 *
 * Reset values: the PIRQ registers power up as 0x80 (not routed) on the chip; pcvm boots
 * guests without a BIOS, so they start as SeaBIOS programs them on QEMU (PIRQA–D → IRQ 10,
 * 10, 11, 11), and the board sets the ELCR to level for those IRQs (`levelTriggeredIrqs`).
 * Several PIRQs on one IRQ are OR'ed (the lines are shared, level-triggered).
 *
 * XXX: an ISA device on an IRQ that a PIRQ is also routed to would share the line on the
 * real board; here both drive the same IrqLine and the last writer wins (as in QEMU).
 *
 * Not implemented (stored only): the top-of-memory, XBCS, motherboard IRQ/DMA, APIC base,
 * SMI and deterministic-latency registers; the reset control register at 0xCF9 is
 * devices/misc/reset-control.ts.
 */
import type { AccessSize } from '../../src/memory/io-bus.js';
import type { IrqLine } from '../../src/machine/irq.js';
import type { Logger } from '../../src/machine/log.js';
import { WiringError } from '../../src/errors.js';
import { PciDevice, overlaps } from './pci-device.js';
import { PCI_NUM_PIRQS, type PciIntxRouter } from './pci-bus.js';

/** PIRQRC[A] (0x60) … PIRQRC[D] (0x63). */
export const PIIX_PIRQRC = 0x60;
/** PIRQRC bit 7: the PIRQ is not routed. */
export const PIRQ_ROUTE_DISABLE = 0x80;
/** The routing SeaBIOS programs on QEMU's pc: PIRQA–D → IRQ 10, 10, 11, 11. */
export const PIIX3_DEFAULT_PIRQ_IRQS: readonly number[] = [10, 10, 11, 11];
/** IRQs a PIRQ can be routed to (datasheet 2.2.8: 0–2, 8, 13 are reserved). */
const ROUTABLE_IRQS = 0xdef8;

/** The reset values QEMU's piix_reset gives (hw/isa/piix.c), PIRQs aside. */
const PIIX3_RESET_BYTES: readonly [number, number][] = [
  [0x04, 0x07], [0x07, 0x02], [0x4c, 0x4d], [0x4e, 0x03], [0x69, 0x02], [0x70, 0x80],
  [0x76, 0x0c], [0x77, 0x0c], [0x78, 0x02], [0xa0, 0x08], [0xa8, 0x0f],
];

export interface Piix3Deps {
  id?: string;
  /** ISA IRQ lines 0–15 (the PIC, and the IOAPIC's first 16 pins). */
  isaIrqs: readonly IrqLine[];
  /** The PIRQ levels now (the bus), for recomputing after a route or state change. */
  pirqLevel: (pirq: number) => boolean;
  logger?: Logger;
}

export class Piix3IsaBridge extends PciDevice implements PciIntxRouter {
  private readonly isaIrqs: readonly IrqLine[];
  private readonly pirqLevel: (pirq: number) => boolean;
  /** The levels this bridge drives on ISA IRQs 0–15, as a bit mask (derived). */
  private driven = 0;

  constructor(deps: Piix3Deps) {
    super({ id: deps.id ?? 'piix3', logger: deps.logger }, { vendorId: 0x8086, deviceId: 0x7000, revision: 0x00, classCode: 0x060100 });
    if (deps.isaIrqs.length < 16) throw new WiringError('piix3: needs 16 ISA IRQ lines');
    this.isaIrqs = deps.isaIrqs;
    this.pirqLevel = deps.pirqLevel;
    for (const [off, v] of PIIX3_RESET_BYTES) this.setDefault(off, 1, v);
    PIIX3_DEFAULT_PIRQ_IRQS.forEach((irq, i) => this.setDefault(PIIX_PIRQRC + i, 1, irq));
    this.setWritable(PIIX_PIRQRC, 4, 0x8f8f8f8f);
    this.finishInit();
  }

  /** The ISA IRQ PIRQ `pirq` is routed to, or -1. */
  pirqRoute(pirq: number): number {
    const r = this.peek(PIIX_PIRQRC + (pirq & 3), 1);
    if ((r & PIRQ_ROUTE_DISABLE) !== 0) return -1;
    const irq = r & 0x0f;
    return ((ROUTABLE_IRQS >>> irq) & 1) !== 0 ? irq : -1;
  }

  /** ISA IRQs that routed PIRQs use (bit n = IRQ n): the board makes them level-triggered in the ELCR. */
  levelTriggeredIrqs(): number {
    let mask = 0;
    for (let p = 0; p < PCI_NUM_PIRQS; p++) {
      const irq = this.pirqRoute(p);
      if (irq >= 0) mask |= 1 << irq;
    }
    return mask;
  }

  /** PciIntxRouter: a PIRQ changed level. */
  setPirq(_pirq: number, _level: boolean): void {
    this.updateIrqs();
  }

  /** Recomputes every ISA IRQ this bridge drives: the OR of the PIRQs routed to it. */
  private updateIrqs(): void {
    let levels = 0;
    for (let p = 0; p < PCI_NUM_PIRQS; p++) {
      const irq = this.pirqRoute(p);
      if (irq >= 0 && this.pirqLevel(p)) levels |= 1 << irq;
    }
    const changed = levels ^ this.driven;
    this.driven = levels;
    for (let irq = 0; irq < 16; irq++) {
      if ((changed >>> irq) & 1) this.isaIrqs[irq]!.set(((levels >>> irq) & 1) !== 0);
    }
  }

  protected override configWritten(offset: number, size: AccessSize): void {
    if (!overlaps(offset, size, PIIX_PIRQRC, PCI_NUM_PIRQS)) return;
    for (let p = 0; p < PCI_NUM_PIRQS; p++) {
      const r = this.peek(PIIX_PIRQRC + p, 1);
      if ((r & PIRQ_ROUTE_DISABLE) === 0 && this.pirqRoute(p) < 0 && this.logger?.enabled('guest_errors')) {
        this.logger.log('guest_errors', `piix3: PIRQ${'ABCD'[p]} routed to reserved IRQ ${r & 0x0f}; not routed`);
      }
    }
    this.updateIrqs();
  }

  protected override configReset(): void {
    this.updateIrqs();
  }
}
