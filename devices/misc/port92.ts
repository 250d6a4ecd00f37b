/**
 * System Control Port A at 0x92 ("fast A20 and init", PS/2 and every chipset since):
 * bit 1 gates A20, bit 0 pulses a CPU reset on its 0→1 transition (QEMU hw/i386/pc.c
 * port92). Other bits are read back as written.
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import type { Device } from '../../src/machine/device.js';
import { expectInt, expectRecord, expectVersion } from '../../src/snapshot/validate.js';

const P92_RESET = 1 << 0;
const P92_A20 = 1 << 1;

export interface Port92State {
  value: number;
}

export class Port92 implements Device, PortHandler {
  readonly stateVersion = 1;
  private s: Port92State = { value: 0 };
  constructor(
    readonly id: string,
    private readonly deps: { setA20: (enabled: boolean) => void; onReset: () => void },
  ) {}

  ioRead(): number {
    return this.s.value;
  }

  ioWrite(_offset: number, _size: AccessSize, value: number): void {
    this.s.value = value & ~P92_RESET;
    // Every write drives the A20 line (QEMU's port92_write): the register reads 0 after reset
    // while the CPU starts with A20 on, so a guest writing 0 must turn it off.
    this.deps.setA20((value & P92_A20) !== 0);
    if (value & P92_RESET) this.deps.onReset();
  }

  reset(): void {
    this.s = { value: 0 };
  }
  saveState(): Port92State {
    return { ...this.s };
  }
  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    const rec = expectRecord(state, this.id);
    this.s = { value: expectInt(rec, 'value', 0, 0xff, this.id) };
  }
}
