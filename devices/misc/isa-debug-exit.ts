/**
 * QEMU's isa-debug-exit: a write of value v to its port makes the emulator exit with status
 * (v << 1) | 1, so a test guest can report a result that cannot be confused with a normal
 * exit (0) or a fatal error (1). `-device isa-debug-exit,iobase=0xf4,iosize=0x4`.
 *
 * QEMU passes the written value at the access width; we do the same (a 16-bit write of
 * 0x1234 exits with (0x1234 << 1) | 1, truncated to the host's 8-bit status by the OS).
 * Reads return 0xff…: the device has no readable register (QEMU: no read op → all ones).
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import type { Device } from '../../src/machine/device.js';

export class IsaDebugExit implements Device, PortHandler {
  readonly stateVersion = 1;
  constructor(readonly id: string, private readonly onExit: (status: number) => void) {}

  ioRead(_offset: number, size: AccessSize): number {
    return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
  }

  ioWrite(_offset: number, _size: AccessSize, value: number): void {
    this.onExit(((value << 1) | 1) >>> 0);
  }

  reset(): void {}
  saveState(): Record<string, never> {
    return {};
  }
  loadState(): void {}
}
