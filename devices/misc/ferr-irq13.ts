/**
 * The PC's x87 error path with CR0.NE = 0 (DOS-compatible FPU error reporting): the CPU's FERR#
 * output raises IRQ 13, and the handler acknowledges by writing any value to port 0xF0, which
 * drops the request (as QEMU's pc board does; IGNNE# is not modelled — the CPU does not
 * freeze at the next waiting x87 instruction).
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import type { Device } from '../../src/machine/device.js';
import type { IrqLine } from '../../src/machine/irq.js';
import { expectBool, expectRecord, expectVersion } from '../../src/snapshot/validate.js';

export class FerrIrq13 implements Device, PortHandler {
  readonly stateVersion = 1;
  private asserted = false;

  constructor(readonly id: string, private readonly irq13: IrqLine) {}

  /** The CPU's FERR# pin: an unmasked x87 exception is pending (CR0.NE = 0). */
  setFerr(asserted: boolean): void {
    if (!asserted || this.asserted) return;
    this.asserted = true;
    this.irq13.set(true);
  }

  ioRead(_offset: number, _size: AccessSize): number {
    return 0xff;
  }

  /** Port 0xF0: clear the FPU busy latch and IRQ 13. */
  ioWrite(_offset: number, _size: AccessSize, _value: number): void {
    this.asserted = false;
    this.irq13.set(false);
  }

  reset(): void {
    this.asserted = false;
    this.irq13.set(false);
  }

  saveState(): { asserted: boolean } {
    return { asserted: this.asserted };
  }

  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    const rec = expectRecord(state, this.id);
    this.asserted = expectBool(rec, 'asserted', this.id);
    this.irq13.set(this.asserted);
  }
}
