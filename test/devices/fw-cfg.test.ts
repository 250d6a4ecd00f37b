/**
 * fw_cfg tests. Expected values come from QEMU's docs/specs/fw_cfg.rst: the guest-side reader
 * below is written from that spec (selector at 0x510, data at 0x511, directory layout,
 * FWCfgDmaAccess), not from the device code.
 */
import { describe, expect, it } from 'vitest';
import {
  FW_CFG_ACPI_TABLES,
  FW_CFG_DMA_IO_BASE,
  FW_CFG_DMA_IO_LENGTH,
  FW_CFG_IO_BASE,
  FW_CFG_IO_LENGTH,
  FwCfg,
  defaultFwCfgState,
  type FwCfgOptions,
} from '../../devices/fwcfg/fw-cfg.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { SnapshotError, WiringError } from '../../src/errors.js';

const RAM = 1 << 20;

function machine(options: Partial<FwCfgOptions> = {}, dma = true) {
  const memory = new PhysicalMemory(RAM);
  memory.mapRam(0, RAM, 0);
  const fw = new FwCfg({ ramBytes: 0x1_2345_6000, cpuCount: 3, maxCpus: 8, memory: dma ? memory : undefined, ...options });
  const bus = new IoPortBus();
  bus.map('fw_cfg', FW_CFG_IO_BASE, FW_CFG_IO_LENGTH, fw.selectorPort, { widths: [1, 2] });
  if (fw.dmaPort) bus.map('fw_cfg.dma', FW_CFG_DMA_IO_BASE, FW_CFG_DMA_IO_LENGTH, fw.dmaPort, { widths: [1, 2, 4] });
  return { fw, bus, memory };
}

// --- A guest-side driver written from docs/specs/fw_cfg.rst -------------------------------

function select(bus: IoPortBus, key: number): void {
  bus.write(0x510, 2, key); // 16-bit, little-endian on the I/O port
}
function readData(bus: IoPortBus, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(bus.read(0x511, 1));
  return out;
}
function readItem(bus: IoPortBus, key: number, n: number): number[] {
  select(bus, key);
  return readData(bus, n);
}
function u32be(b: number[], at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}
function u16be(b: number[], at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}
function u16le(b: number[]): number {
  return b[0]! | (b[1]! << 8);
}
/** struct FWCfgFiles { u32 count BE; struct FWCfgFile { u32 size BE; u16 select BE; u16 reserved; char name[56]; } f[]; } */
function readDirectory(bus: IoPortBus): { name: string; size: number; select: number }[] {
  const count = u32be(readItem(bus, 0x19, 4), 0);
  const files: { name: string; size: number; select: number }[] = [];
  for (let i = 0; i < count; i++) {
    const e = readData(bus, 64);
    const nameBytes = e.slice(8, 64);
    const nul = nameBytes.indexOf(0);
    files.push({ size: u32be(e, 0), select: u16be(e, 4), name: String.fromCharCode(...nameBytes.slice(0, nul)) });
  }
  return files;
}
function readFile(bus: IoPortBus, name: string): number[] | undefined {
  const f = readDirectory(bus).find((x) => x.name === name);
  return f && readItem(bus, f.select, f.size);
}

function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}
/** Writes a FWCfgDmaAccess (big-endian) at `at` and triggers it through 0x514/0x518. */
function dma(bus: IoPortBus, memory: PhysicalMemory, at: number, control: number, length: number, address: number, descHigh = 0): number {
  const d = new DataView(new ArrayBuffer(16));
  d.setUint32(0, control >>> 0);
  d.setUint32(4, length >>> 0);
  d.setUint32(8, Math.floor(address / 2 ** 32));
  d.setUint32(12, address >>> 0);
  if (memory.isRam(at, 16)) memory.writeBytes(at, new Uint8Array(d.buffer));
  bus.write(0x514, 4, bswap32(descHigh));
  bus.write(0x518, 4, bswap32(at >>> 0));
  return memory.isRam(at, 4) ? new DataView(memory.readBytes(at, 4).buffer).getUint32(0) : -1;
}

describe('FwCfg: traditional interface', () => {
  it('reads the signature "QEMU" after reset and after selecting key 0', () => {
    const { bus } = machine();
    expect(String.fromCharCode(...readData(bus, 4))).toBe('QEMU');
    expect(String.fromCharCode(...readItem(bus, 0x0000, 4))).toBe('QEMU');
  });

  it('reports the traditional interface and DMA in FW_CFG_ID', () => {
    expect(readItem(machine().bus, 0x0001, 4)).toEqual([3, 0, 0, 0]);
    expect(readItem(machine({}, false).bus, 0x0001, 4)).toEqual([1, 0, 0, 0]);
  });

  it('gives RAM size as u64 LE, CPU counts as u16 LE', () => {
    const { bus } = machine();
    expect(readItem(bus, 0x0003, 8)).toEqual([0x00, 0x60, 0x45, 0x23, 0x01, 0, 0, 0]);
    expect(u16le(readItem(bus, 0x0005, 2))).toBe(3);
    expect(u16le(readItem(bus, 0x000f, 2))).toBe(8);
  });

  it('lets a byte read at 0x510 read data as well, as the overlapping QEMU port does', () => {
    const { bus } = machine();
    select(bus, 0);
    expect([bus.read(0x510, 1), bus.read(0x511, 1), bus.read(0x510, 1), bus.read(0x511, 1)]).toEqual([0x51, 0x45, 0x4d, 0x55]);
  });

  it('lists files sorted by name in the directory and reads them back', () => {
    const { fw, bus } = machine();
    fw.addFile('opt/zz', new Uint8Array([9]));
    fw.addFile('etc/acpi/tables', new Uint8Array([1, 2, 3, 4, 5]));
    fw.addFile('bootorder', new TextEncoder().encode('/pci@i0cf8/ide@1,1/drive@0/disk@0\0'));
    const dir = readDirectory(bus);
    expect(dir.map((f) => f.name)).toEqual(['bootorder', 'etc/acpi/tables', 'etc/boot-fail-wait', 'opt/zz']);
    expect(dir.map((f) => f.select)).toEqual([0x20, 0x21, 0x22, 0x23]);
    expect(dir.map((f) => f.size)).toEqual([34, 5, 4, 1]);
    expect(readFile(bus, 'etc/acpi/tables')).toEqual([1, 2, 3, 4, 5]);
    expect(readFile(bus, 'opt/zz')).toEqual([9]);
    // QEMU's default reboot timeout is -1: never reboot.
    expect(readFile(bus, 'etc/boot-fail-wait')).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(fw.fileKey('opt/zz')).toBe(0x23);
  });

  it('rejects duplicate, empty and over-long file names and bad keys', () => {
    const { fw } = machine();
    fw.addFile('a', new Uint8Array(1));
    expect(() => fw.addFile('a', new Uint8Array(1))).toThrow(WiringError);
    expect(() => fw.addFile('', new Uint8Array(1))).toThrow(WiringError);
    expect(() => fw.addFile('x'.repeat(56), new Uint8Array(1))).toThrow(WiringError);
    expect(() => fw.addBytes(0x0000, new Uint8Array(1))).toThrow(WiringError); // signature already set
    expect(() => fw.addBytes(0x0020, new Uint8Array(1))).toThrow(WiringError); // file range
    expect(() => fw.addBytes(0x4005, new Uint8Array(1))).toThrow(WiringError); // write channel
    fw.addFile('x'.repeat(55), new Uint8Array(1));
  });

  it('serves arch-local items under bit 15', () => {
    const { fw, bus } = machine();
    fw.addBytes(FW_CFG_ACPI_TABLES, new Uint8Array([0xaa, 0xbb]));
    expect(readItem(bus, 0x8000, 3)).toEqual([0xaa, 0xbb, 0]);
    expect(readItem(bus, 0x0000, 1)).toEqual([0x51]); // the generic key 0 is a different item
  });

  it('reads 0 for unknown keys and past the end of an item', () => {
    const { bus } = machine();
    expect(readItem(bus, 0x0006, 4)).toEqual([0, 0, 0, 0]); // MACHINE_ID: not set on a PC
    expect(readItem(bus, 0x0030, 2)).toEqual([0, 0]); // an empty file slot
    expect(readItem(bus, 0x3fff, 2)).toEqual([0, 0]); // beyond the slots
    expect(readItem(bus, 0x0005, 6)).toEqual([3, 0, 0, 0, 0, 0]);
  });

  it('resets the offset when the selector is written again', () => {
    const { bus } = machine();
    readItem(bus, 0x0000, 3);
    expect(readItem(bus, 0x0000, 1)).toEqual([0x51]);
  });

  it('treats bit 14 as the (ignored) write channel of the same item and ignores data writes', () => {
    const { bus } = machine();
    select(bus, 0x4000);
    bus.write(0x511, 1, 0x00);
    bus.write(0x510, 1, 0x00);
    expect(readData(bus, 4)).toEqual([0x51, 0x45, 0x4d, 0x55]);
  });

  it('survives every selector value and odd access widths', () => {
    const { bus, fw } = machine();
    const odd: number[] = [];
    for (let key = 0; key <= 0xffff; key++) {
      select(bus, key);
      const b = bus.read(0x511, 1);
      if (!(b >= 0 && b <= 0xff)) odd.push(key);
    }
    expect(odd).toEqual([]);
    expect(() => {
      bus.read(0x510, 2);
      bus.read(0x510, 4);
      bus.write(0x510, 4, 0xffffffff);
      bus.write(0x511, 2, 0xffff);
      fw.selectorPort.ioRead(1, 2);
      fw.selectorPort.ioWrite(1, 4, 0xdeadbeef);
    }).not.toThrow();
  });
});

describe('FwCfg: DMA interface', () => {
  it('reads "QEMU CFG" from the DMA address register', () => {
    const { bus } = machine();
    expect(bus.read(0x514, 4)).toBe(0x554d4551); // bytes "QEMU" at 0x514..0x517
    expect(String.fromCharCode(...Array.from({ length: 8 }, (_, i) => bus.read(0x514 + i, 1)))).toBe('QEMU CFG');
  });

  it('selects and reads an item into guest RAM, clearing control', () => {
    const { bus, memory } = machine();
    const control = dma(bus, memory, 0x1000, (0x0003 << 16) | 0x08 | 0x02, 8, 0x2000);
    expect(control).toBe(0);
    expect(Array.from(memory.readBytes(0x2000, 8))).toEqual([0x00, 0x60, 0x45, 0x23, 0x01, 0, 0, 0]);
  });

  it('zero-fills past the end, skips, and continues from the data-port offset', () => {
    const { bus, memory } = machine();
    memory.writeBytes(0x3000, new Uint8Array(8).fill(0xee));
    expect(dma(bus, memory, 0x1000, (0 << 16) | 0x08 | 0x02, 6, 0x3000)).toBe(0);
    expect(Array.from(memory.readBytes(0x3000, 8))).toEqual([0x51, 0x45, 0x4d, 0x55, 0, 0, 0xee, 0xee]);
    select(bus, 0);
    expect(dma(bus, memory, 0x1000, 0x04, 2, 0)).toBe(0); // skip "QE"
    expect(readData(bus, 2)).toEqual([0x4d, 0x55]);
  });

  it('refuses writes (every item is read-only) with the error bit', () => {
    const { bus, memory } = machine();
    expect(dma(bus, memory, 0x1000, (0x0005 << 16) | 0x08 | 0x10, 2, 0x2000)).toBe(1);
    expect(u16le(readItem(bus, 0x0005, 2))).toBe(3);
  });

  it('sets the error bit instead of throwing for addresses outside RAM', () => {
    const { bus, memory } = machine();
    // Target beyond RAM, inside the item and past its end.
    expect(dma(bus, memory, 0x1000, (0 << 16) | 0x08 | 0x02, 4, RAM - 2)).toBe(1);
    expect(dma(bus, memory, 0x1000, (0 << 16) | 0x08 | 0x02, 0xffffffff, 0x2000)).toBe(1);
    expect(dma(bus, memory, 0x1000, (0x7fff << 16) | 0x08 | 0x02, 0xffffffff, 0xffff_ffff_0000)).toBe(1);
    expect(dma(bus, memory, 0x1000, 0x02, 16, 2 ** 63)).toBe(1);
    // Descriptor itself outside RAM, below and above 4 GiB: nothing to write back, no throw.
    expect(() => dma(bus, memory, 0xfff0_0000, 0x02, 4, 0)).not.toThrow();
    expect(() => dma(bus, memory, 0x10, 0x02, 4, 0, 0xffffffff)).not.toThrow();
  });

  it('latches the high half until the low half arrives, then clears it', () => {
    const { bus, fw } = machine();
    bus.write(0x514, 4, bswap32(0x12));
    expect(fw.saveState().dmaAddressHigh).toBe(0x12);
    bus.write(0x518, 4, bswap32(0x1000)); // descriptor at 0x12_0000_1000: outside RAM
    expect(fw.saveState().dmaAddressHigh).toBe(0);
    expect(() => {
      bus.write(0x515, 2, 0xffff);
      bus.write(0x517, 1, 0xff);
      bus.write(0x516, 4, 0xffffffff);
    }).not.toThrow();
  });
});

describe('FwCfg: state', () => {
  it('round-trips selector, offset and the DMA latch', () => {
    const a = machine();
    readItem(a.bus, 0x0003, 3);
    a.bus.write(0x514, 4, bswap32(7));
    const saved = a.fw.saveState();
    expect(saved).toEqual({ selector: 3, offset: 3, dmaAddressHigh: 7 });
    const b = machine();
    b.fw.loadState(JSON.parse(JSON.stringify(saved)), 1);
    expect(b.fw.saveState()).toEqual(saved);
    expect(readData(b.bus, 2)).toEqual([0x23, 0x01]);
  });

  it('survives random register traffic: save, load into a fresh device, save again', () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let round = 0; round < 20; round++) {
      const a = machine();
      for (let i = 0; i < 50; i++) {
        const r = rnd();
        if (r < 0.3) select(a.bus, Math.floor(rnd() * 0x10000));
        else if (r < 0.8) a.bus.read(0x511, 1);
        else a.bus.write(0x514 + 4 * Math.floor(rnd() * 2), 4, Math.floor(rnd() * 2 ** 32));
      }
      const saved = a.fw.saveState();
      const b = machine();
      b.fw.loadState(saved, 1);
      expect(b.fw.saveState()).toEqual(saved);
    }
  });

  it('reset selects the signature again', () => {
    const { fw, bus } = machine();
    readItem(bus, 0x0005, 1);
    fw.reset();
    expect(fw.saveState()).toEqual(defaultFwCfgState());
    expect(readData(bus, 1)).toEqual([0x51]);
  });

  it('rejects malformed state without changing anything', () => {
    const { fw, bus } = machine();
    readItem(bus, 0x0003, 2);
    const before = fw.saveState();
    const bad: unknown[] = [
      null,
      [],
      'x',
      {},
      { selector: 0x10000, offset: 0, dmaAddressHigh: 0 },
      { selector: -1, offset: 0, dmaAddressHigh: 0 },
      { selector: 0, offset: 1.5, dmaAddressHigh: 0 },
      { selector: 0, offset: 2 ** 32, dmaAddressHigh: 0 },
      { selector: 0, offset: 0, dmaAddressHigh: '0' },
      { selector: 0, offset: 0 },
    ];
    for (const s of bad) expect(() => fw.loadState(s, 1)).toThrow(SnapshotError);
    expect(() => fw.loadState(defaultFwCfgState(), 2)).toThrow(SnapshotError);
    expect(fw.saveState()).toEqual(before);
  });

  it('maps a selector beyond this configuration to "invalid", which reads 0', () => {
    const { fw, bus } = machine();
    fw.loadState({ selector: 0x3000, offset: 0, dmaAddressHigh: 0 }, 1);
    expect(fw.saveState().selector).toBe(0xffff);
    expect(readData(bus, 2)).toEqual([0, 0]);
  });
});
