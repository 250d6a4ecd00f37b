/**
 * Port 0x80, the POST diagnostic port. Writes are accepted (Linux uses `outb %al, $0x80` as
 * an I/O delay) and the last value is kept for `info` and tests; reads return it, as on
 * chipsets that latch it. Nothing else happens.
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import type { Device } from '../../src/machine/device.js';
import { expectInt, expectRecord, expectVersion } from '../../src/snapshot/validate.js';

export class PostPort implements Device, PortHandler {
  readonly stateVersion = 1;
  private s = { lastCode: 0 };
  constructor(readonly id: string) {}

  ioRead(): number {
    return this.s.lastCode;
  }
  ioWrite(_offset: number, _size: AccessSize, value: number): void {
    this.s.lastCode = value & 0xff;
  }
  get lastCode(): number {
    return this.s.lastCode;
  }
  reset(): void {
    this.s = { lastCode: 0 };
  }
  saveState(): { lastCode: number } {
    return { ...this.s };
  }
  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    const rec = expectRecord(state, this.id);
    this.s = { lastCode: expectInt(rec, 'lastCode', 0, 0xff, this.id) };
  }
}
