/**
 * PCI configuration mechanism #1 and the generic PciDevice: CONFIG_ADDRESS decoding, partial
 * accesses to CONFIG_DATA, the enable bit, write masks, BAR sizing and mapping, snapshots.
 * Expected values follow the PCI Local Bus Specification 3.0 (3.2.2.3.2, 6.1, 6.2.5).
 */
import { describe, expect, it } from 'vitest';
import { IoPortBus, type AccessSize, type PortHandler } from '../../src/memory/io-bus.js';
import { PhysicalMemory, type MmioHandler } from '../../src/memory/physical-memory.js';
import { PciBus } from '../../devices/pci/pci-bus.js';
import { PciDevice } from '../../devices/pci/pci-device.js';
import { I440fxHostBridge } from '../../devices/pci/i440fx-host.js';
import { SnapshotError } from '../../src/errors.js';
import type { Logger } from '../../src/machine/log.js';

/** A test function with an I/O BAR0 (32 bytes), a 32-bit memory BAR1 (4 KiB) and a 64-bit BAR2 (16 KiB). */
class TestFunction extends PciDevice {
  readonly ioLog: string[] = [];
  readonly mmioLog: string[] = [];
  constructor(id = 'test0') {
    super({ id }, { vendorId: 0x1234, deviceId: 0x5678, revision: 0x07, classCode: 0x020000, interruptPin: 1 });
    const io: PortHandler = {
      ioRead: (off, size) => (this.ioLog.push(`r${off}/${size}`), 0xa0 + off),
      ioWrite: (off, size, v) => void this.ioLog.push(`w${off}/${size}=${v.toString(16)}`),
    };
    const mmio: MmioHandler = {
      mmioRead: (off: number, size: AccessSize) => (this.mmioLog.push(`r${off}/${size}`), 0x5a),
      mmioWrite: (off: number, size: AccessSize, v: number) => void this.mmioLog.push(`w${off}/${size}=${v.toString(16)}`),
    };
    this.addBar(0, { kind: 'io', sizeBytes: 32, io, ioWidths: [1, 2, 4] });
    this.addBar(1, { kind: 'mem32', sizeBytes: 0x1000, mmio });
    this.addBar(2, { kind: 'mem64', sizeBytes: 0x4000, prefetchable: true, mmio });
    this.finishInit();
  }
  raise(level: boolean): void {
    this.setIntx(level);
  }
}

function rig(logger?: Logger) {
  const io = new IoPortBus();
  const memory = new PhysicalMemory(16 * 1024 * 1024);
  memory.mapRam(0, 16 * 1024 * 1024, 0);
  const cf9: string[] = [];
  const bus = new PciBus({
    memory, io, logger,
    port0cf9: { ioRead: () => 0x02, ioWrite: (_o, _s, v) => void cf9.push(v.toString(16)) },
  });
  bus.mapPorts();
  const host = new I440fxHostBridge();
  bus.addDevice(host, 0);
  const dev = new TestFunction();
  bus.addDevice(dev, 3);
  /** CONFIG_ADDRESS for bus 0, `slot`.`fn`, register `reg`. */
  const addr = (slot: number, fn: number, reg: number) => (0x8000_0000 | (slot << 11) | (fn << 8) | reg) >>> 0;
  const cfgRead = (slot: number, reg: number, size: AccessSize) => {
    io.write(0xcf8, 4, addr(slot, 0, reg & 0xfc));
    return io.read(0xcfc + (reg & 3), size);
  };
  const cfgWrite = (slot: number, reg: number, size: AccessSize, v: number) => {
    io.write(0xcf8, 4, addr(slot, 0, reg & 0xfc));
    io.write(0xcfc + (reg & 3), size, v);
  };
  return { io, memory, bus, host, dev, addr, cfgRead, cfgWrite, cf9 };
}

describe('configuration mechanism #1', () => {
  it('reads the host bridge IDs with dword, word and byte accesses at every offset', () => {
    const { io, addr } = rig();
    io.write(0xcf8, 4, addr(0, 0, 0));
    expect(io.read(0xcfc, 4)).toBe(0x12378086);
    expect(io.read(0xcfc, 2)).toBe(0x8086);
    expect(io.read(0xcfe, 2)).toBe(0x1237);
    expect(io.read(0xcfd, 1)).toBe(0x80);
    expect(io.read(0xcff, 1)).toBe(0x12);
    // Revision 02, class 06 00 00 (host bridge).
    io.write(0xcf8, 4, addr(0, 0, 0x08));
    expect(io.read(0xcfc, 4)).toBe(0x06000002);
    // Subsystem 1af4:1100 as QEMU sets it.
    io.write(0xcf8, 4, addr(0, 0, 0x2c));
    expect(io.read(0xcfc, 4)).toBe(0x11001af4);
  });

  it('keeps CONFIG_ADDRESS bits 1:0 and 30:24 zero and reads it back only as a dword', () => {
    const { io } = rig();
    io.write(0xcf8, 4, 0xffffffff);
    expect(io.read(0xcf8, 4)).toBe(0x80fffffc);
    // A byte write to 0xCF8 is not a CONFIG_ADDRESS write.
    io.write(0xcf8, 1, 0);
    expect(io.read(0xcf8, 4)).toBe(0x80fffffc);
  });

  it('passes byte accesses at 0xCF9 to the reset control register', () => {
    const { io, cf9 } = rig();
    io.write(0xcf9, 1, 0x06);
    expect(cf9).toEqual(['6']);
    expect(io.read(0xcf9, 1)).toBe(0x02);
    io.write(0xcf8, 4, 0x80000000);
    expect(cf9).toEqual(['6']); // the dword write went to CONFIG_ADDRESS only
  });

  it('returns all ones with the enable bit clear, on empty slots and on other buses, and drops writes there', () => {
    const { io, addr, cfgRead } = rig();
    io.write(0xcf8, 4, addr(0, 0, 0) & 0x7fffffff);
    expect(io.read(0xcfc, 4)).toBe(0xffffffff);
    expect(io.read(0xcfe, 2)).toBe(0xffff);
    io.write(0xcfc, 4, 0); // ignored
    expect(cfgRead(0, 0, 4)).toBe(0x12378086);
    expect(cfgRead(5, 0, 4)).toBe(0xffffffff);
    io.write(0xcf8, 4, (0x8000_0000 | (1 << 16)) >>> 0);
    expect(io.read(0xcfc, 4)).toBe(0xffffffff);
  });

  it('applies write masks per byte: read-only IDs, writable interrupt line, W1C status bits', () => {
    const { cfgRead, cfgWrite, dev } = rig();
    cfgWrite(3, 0x00, 4, 0);
    expect(cfgRead(3, 0x00, 4)).toBe(0x56781234);
    cfgWrite(3, 0x3c, 1, 0x0b);
    expect(cfgRead(3, 0x3c, 2)).toBe(0x010b); // pin A stays
    cfgWrite(3, 0x3d, 1, 4);
    expect(cfgRead(3, 0x3d, 1)).toBe(1);
    // Status: raise INTx; bit 3 reads 1 and is not cleared by writing 1 (it is not W1C).
    dev.raise(true);
    expect(cfgRead(3, 0x06, 2) & 0x08).toBe(0x08);
    cfgWrite(3, 0x06, 2, 0xffff);
    expect(cfgRead(3, 0x06, 2) & 0x08).toBe(0x08);
  });

  it('writes a word at offset 2 of CONFIG_DATA into the right register', () => {
    const { cfgRead, cfgWrite } = rig();
    cfgWrite(3, 0x0e, 1, 0); // header type read-only
    cfgWrite(3, 0x0c, 2, 0x4010); // cache line size 0x10, latency timer 0x40
    expect(cfgRead(3, 0x0c, 4) & 0xffff).toBe(0x4010);
    cfgWrite(3, 0x0e, 2, 0xffff); // header type and BIST: read-only here
    expect(cfgRead(3, 0x0c, 4)).toBe(0x00004010);
  });
});

describe('BARs', () => {
  it('report their size and type when all ones are written (PCI 3.0 6.2.5.1)', () => {
    const { cfgRead, cfgWrite } = rig();
    for (const reg of [0x10, 0x14, 0x18, 0x1c, 0x20, 0x24]) cfgWrite(3, reg, 4, 0xffffffff);
    expect(cfgRead(3, 0x10, 4)).toBe(0xffffffe1); // 32 bytes of I/O
    expect(cfgRead(3, 0x14, 4)).toBe(0xfffff000); // 4 KiB, 32-bit, not prefetchable
    expect(cfgRead(3, 0x18, 4)).toBe(0xffffc00c); // 16 KiB, 64-bit, prefetchable
    expect(cfgRead(3, 0x1c, 4)).toBe(0xffffffff); // upper half of the 64-bit BAR
    expect(cfgRead(3, 0x20, 4)).toBe(0);          // unimplemented BARs read 0
    expect(cfgRead(3, 0x24, 4)).toBe(0);
  });

  it('map I/O and memory regions only while COMMAND enables their space, and move with the BAR', () => {
    const { io, memory, cfgWrite, dev } = rig();
    cfgWrite(3, 0x10, 4, 0xc040);
    cfgWrite(3, 0x14, 4, 0xfebf0000);
    expect(io.owner(0xc040)).toBeUndefined();
    cfgWrite(3, 0x04, 2, 0x0001); // I/O space only
    expect(io.owner(0xc040)).toBe('pci.18.bar0');
    expect(io.owner(0xc05f)).toBe('pci.18.bar0');
    expect(io.read(0xc042, 2)).toBe(0xa2);
    expect(dev.ioLog).toEqual(['r2/2']);
    expect(memory.read(0xfebf0010, 4)).toBe(0xffffffff); // memory decoding still off
    cfgWrite(3, 0x04, 2, 0x0003);
    expect(memory.read(0xfebf0010, 4)).toBe(0x5a);
    memory.write(0xfebf0ffc, 2, 0x1234);
    expect(dev.mmioLog).toEqual(['r16/4', 'w4092/2=1234']);
    // Move the I/O BAR: the old ports are free again.
    cfgWrite(3, 0x10, 4, 0xd000);
    expect(io.owner(0xc040)).toBeUndefined();
    expect(io.owner(0xd01f)).toBe('pci.18.bar0');
    // Sizing (all ones) while enabled unmaps the region (0xffffffe0 is beyond the port space).
    cfgWrite(3, 0x10, 4, 0xffffffff);
    expect(io.owner(0xd000)).toBeUndefined();
    // Disabling memory decoding unmaps the memory BAR.
    cfgWrite(3, 0x04, 2, 0x0001);
    expect(memory.read(0xfebf0010, 4)).toBe(0xffffffff);
  });

  it('leave a BAR unmapped (and the machine running) when the guest puts it over another device or above 4 GiB', () => {
    const lines: string[] = [];
    const logger: Logger = { enabled: () => true, log: (_i, m) => void lines.push(m) };
    const { io, memory, cfgWrite } = rig(logger);
    io.map('serial0', 0x3f8, 8, { ioRead: () => 0x11, ioWrite: () => {} });
    cfgWrite(3, 0x10, 4, 0x3e0); // 0x3e0-0x3ff overlaps COM1
    cfgWrite(3, 0x14, 4, 0x00100000); // over RAM
    cfgWrite(3, 0x18, 4, 0);
    cfgWrite(3, 0x1c, 4, 1); // 64-bit BAR at 4 GiB
    cfgWrite(3, 0x04, 2, 0x0003);
    expect(io.read(0x3f8, 1)).toBe(0x11);
    expect(io.owner(0x3e0)).toBeUndefined();
    expect(memory.read(0x100000, 1)).toBe(0); // still RAM
    expect(lines.filter((l) => l.includes('not mapped') || l.includes('above 4 GiB'))).toHaveLength(3);
  });

  it('save and load config space, re-mapping the BARs, and reject read-only bits that differ', () => {
    const a = rig();
    a.cfgWrite(3, 0x10, 4, 0xc100);
    a.cfgWrite(3, 0x04, 2, 0x0001);
    a.cfgWrite(3, 0x3c, 1, 11);
    const saved = a.dev.saveState();
    const b = rig();
    b.dev.loadState(JSON.parse(JSON.stringify(saved)), 1);
    expect(b.io.owner(0xc100)).toBe('pci.18.bar0');
    expect(b.cfgRead(3, 0x3c, 1)).toBe(11);
    expect(b.dev.saveState()).toEqual(saved);
    const bad = { config: [...saved.config] };
    bad.config[0] = 0x99; // vendor ID
    expect(() => b.dev.loadState(bad, 1)).toThrow(SnapshotError);
    expect(() => b.dev.loadState({ config: saved.config.slice(0, 255) }, 1)).toThrow(SnapshotError);
    // Reset returns to power-on and unmaps.
    b.dev.reset();
    expect(b.io.owner(0xc100)).toBeUndefined();
    expect(b.cfgRead(3, 0x10, 4)).toBe(1);
  });
});

describe('i440FX host bridge', () => {
  it('stores PAM registers and locks SMRAM D_OPEN/D_LCK once D_LCK is set', () => {
    const { cfgRead, cfgWrite } = rig();
    cfgWrite(0, 0x59, 1, 0x30);
    cfgWrite(0, 0x5a, 2, 0x3333);
    expect(cfgRead(0, 0x58, 4)).toBe(0x33333000);
    expect(cfgRead(0, 0x72, 1)).toBe(0x02);
    cfgWrite(0, 0x72, 1, 0xef); // all but D_LCK
    expect(cfgRead(0, 0x72, 1)).toBe(0x6a); // C_BASE_SEG stays 010, bit 7 reserved
    cfgWrite(0, 0x72, 1, 0x10 | 0x40); // setting D_LCK clears D_OPEN (datasheet 3.2.20)
    expect(cfgRead(0, 0x72, 1) & 0x50).toBe(0x10);
    cfgWrite(0, 0x72, 1, 0x40);
    expect(cfgRead(0, 0x72, 1) & 0x50).toBe(0x10); // D_OPEN and D_LCK are locked
  });
});
