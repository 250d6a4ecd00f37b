/**
 * The PIIX3 Reset Control Register at port 0xCF9 (Intel 82371SB datasheet 4.1.5):
 * bit 1 SRST selects a hard reset, bit 2 RCPU starts the reset on its 0→1 transition,
 * bit 3 FULL_RST. QEMU resets the machine when a write sets RCPU (bit 2); Linux's
 * `reboot=pci` and most firmware write 0x06.
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import type { Device } from '../../src/machine/device.js';
import { expectInt, expectRecord, expectVersion } from '../../src/snapshot/validate.js';

const RCR_SRST = 1 << 1;
const RCR_RCPU = 1 << 2;
const RCR_FULL_RST = 1 << 3;

export interface ResetControlState {
  /** Last value written (SRST and FULL_RST are readable). */
  rcr: number;
}

export class ResetControl implements Device, PortHandler {
  readonly stateVersion = 1;
  private s: ResetControlState = { rcr: 0 };
  constructor(readonly id: string, private readonly onReset: () => void) {}

  ioRead(): number {
    return this.s.rcr & (RCR_SRST | RCR_FULL_RST);
  }

  ioWrite(_offset: number, _size: AccessSize, value: number): void {
    const rising = (value & RCR_RCPU) !== 0;
    this.s.rcr = value & (RCR_SRST | RCR_FULL_RST);
    if (rising) this.onReset();
  }

  reset(): void {
    this.s = { rcr: 0 };
  }
  saveState(): ResetControlState {
    return { ...this.s };
  }
  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    const rec = expectRecord(state, this.id);
    this.s = { rcr: expectInt(rec, 'rcr', 0, 0xff, this.id) & (RCR_SRST | RCR_FULL_RST) };
  }
}
