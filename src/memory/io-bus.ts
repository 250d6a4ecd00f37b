/**
 * The x86 I/O port space: 65,536 byte-addressed ports, dispatched through a flat table.
 *
 * A device is mapped with a base and a length and sees only offsets. Accesses of 1, 2 or 4
 * bytes are passed to the device as they come when it accepts that width; otherwise they are
 * split into byte accesses (little-endian), as QEMU does for ports whose ops only implement
 * byte access. Unmapped ports read as all ones and ignore writes, as on a PC with nothing
 * decoding the address.
 */
import { WiringError } from '../errors.js';

/** Width of an I/O or MMIO access in bytes. */
export type AccessSize = 1 | 2 | 4;

/** What a device exposes on the I/O bus. Offsets are relative to the mapped base. */
export interface PortHandler {
  /** Reads `size` bytes at `offset`. The result is masked to the access width by the bus. */
  ioRead(offset: number, size: AccessSize): number;
  ioWrite(offset: number, size: AccessSize, value: number): void;
}

interface PortMapping {
  readonly name: string;
  readonly base: number;
  readonly length: number;
  readonly handler: PortHandler;
  /** Bit mask of widths the handler takes whole: bit 0 = 1 byte, bit 1 = 2 bytes, bit 2 = 4 bytes. */
  readonly widths: number;
}

const NO_MAPPING = 0;
const WIDTH_MASK: Record<AccessSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };

export interface PortMapOptions {
  /** Access widths the handler accepts without splitting. Default: bytes only. */
  widths?: readonly AccessSize[];
}

/** Observer for port accesses that reach no device (for `-d unimp`-style tracing). */
export type UnmappedPortHook = (port: number, size: AccessSize, write: boolean, value: number) => void;

export class IoPortBus {
  /** Port number → index into `mappings` (0 means nothing mapped). */
  private readonly table = new Uint16Array(0x10000);
  private readonly mappings: (PortMapping | undefined)[] = [undefined];
  onUnmapped: UnmappedPortHook | undefined;

  /** Maps `handler` at ports `[base, base + length)`. Overlaps are wiring errors. */
  map(name: string, base: number, length: number, handler: PortHandler, options: PortMapOptions = {}): void {
    if (!Number.isInteger(base) || !Number.isInteger(length) || base < 0 || length < 1 || base + length > 0x10000) {
      throw new WiringError(`${name}: I/O range 0x${base.toString(16)}+${length} is outside the port space`);
    }
    for (let p = base; p < base + length; p++) {
      const other = this.mappings[this.table[p]!];
      if (other) {
        throw new WiringError(`${name}: I/O port 0x${p.toString(16)} is already used by ${other.name}`);
      }
    }
    let widths = 1;
    for (const w of options.widths ?? [1]) widths |= w;
    const index = this.mappings.length;
    if (index > 0xffff) throw new WiringError(`${name}: too many I/O mappings`);
    this.mappings.push({ name, base, length, handler, widths });
    this.table.fill(index, base, base + length);
  }

  /** Removes the mapping named `name` (PCI BAR reprogramming needs this). */
  unmap(name: string): void {
    const index = this.mappings.findIndex((m) => m?.name === name);
    if (index <= 0) return;
    const m = this.mappings[index]!;
    this.table.fill(NO_MAPPING, m.base, m.base + m.length);
    this.mappings[index] = undefined;
  }

  /** The mappings in port order (for the monitor's `info mtree`). */
  list(): { name: string; base: number; length: number }[] {
    return this.mappings
      .filter((m): m is PortMapping => m !== undefined)
      .map((m) => ({ name: m.name, base: m.base, length: m.length }))
      .sort((a, b) => a.base - b.base);
  }

  /** Name of the device at `port`, or undefined. */
  owner(port: number): string | undefined {
    return this.mappings[this.table[port & 0xffff]!]?.name;
  }

  read(port: number, size: AccessSize): number {
    port &= 0xffff;
    const m = this.mappings[this.table[port]!];
    if (m && (m.widths & size) !== 0 && port + size <= m.base + m.length) {
      return (m.handler.ioRead(port - m.base, size) & WIDTH_MASK[size]) >>> 0;
    }
    if (size === 1) {
      if (m) return m.handler.ioRead(port - m.base, 1) & 0xff;
      this.onUnmapped?.(port, 1, false, 0xff);
      return 0xff;
    }
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.read((port + i) & 0xffff, 1) << (8 * i);
    return value >>> 0;
  }

  write(port: number, size: AccessSize, value: number): void {
    port &= 0xffff;
    value = (value & WIDTH_MASK[size]) >>> 0;
    const m = this.mappings[this.table[port]!];
    if (m && (m.widths & size) !== 0 && port + size <= m.base + m.length) {
      m.handler.ioWrite(port - m.base, size, value);
      return;
    }
    if (size === 1) {
      if (m) m.handler.ioWrite(port - m.base, 1, value);
      else this.onUnmapped?.(port, 1, true, value);
      return;
    }
    for (let i = 0; i < size; i++) this.write((port + i) & 0xffff, 1, (value >>> (8 * i)) & 0xff);
  }
}
