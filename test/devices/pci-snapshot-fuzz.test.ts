/**
 * The board's PCI functions under random guest configuration writes: nothing throws, and
 * save → load into a fresh board → save gives the same state (the generic device test of
 * STYLE.md). Also the capabilities list a later MSI-X device builds on (PCI 3.0 6.7).
 */
import { describe, expect, it } from 'vitest';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { RecordingIrqLine } from '../../src/machine/irq.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { AcpiPm } from '../../devices/acpi/acpi-pm.js';
import { PcPciBoard } from '../../src/machine/pci-board.js';
import { PciDevice } from '../../devices/pci/pci-device.js';

function board() {
  const io = new IoPortBus();
  const memory = new PhysicalMemory(4 * 1024 * 1024);
  memory.mapRam(0, 4 * 1024 * 1024, 0);
  const clock = new VirtualClock({ kind: 'icount', shift: 0 });
  const acpi = new AcpiPm({ clock, sci: new RecordingIrqLine(), onPowerOff: () => {} });
  const irqs = Array.from({ length: 16 }, () => new RecordingIrqLine());
  const pci = new PcPciBoard({ memory, io, isaIrqs: irqs, pmPorts: acpi.ports, resetControl: { ioRead: () => 0, ioWrite: () => {} } });
  return { io, pci, irqs };
}

/** A small deterministic PRNG (xorshift32). */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('PCI functions under random config writes', () => {
  it('never throw, and their state survives save/load into a fresh board', () => {
    const a = board();
    const r = rng(12345);
    for (let i = 0; i < 5000; i++) {
      const dev = [0, 8, 11][Math.floor(r() * 3)]!; // 00:00.0, 00:01.0, 00:01.3
      const reg = Math.floor(r() * 64) * 4;
      a.io.write(0xcf8, 4, (0x8000_0000 | (dev << 8) | reg) >>> 0);
      const size = ([1, 2, 4] as const)[Math.floor(r() * 3)]!;
      const lane = size === 4 ? 0 : size === 2 ? Math.floor(r() * 2) * 2 : Math.floor(r() * 4);
      a.io.write(0xcfc + lane, size, Math.floor(r() * 2 ** 32));
      a.io.read(0xcfc + lane, size);
    }
    const saved = a.pci.devices.map((d) => JSON.parse(JSON.stringify(d.saveState())) as unknown);
    const b = board();
    b.pci.devices.forEach((d, i) => d.loadState(saved[i], d.stateVersion));
    expect(b.pci.devices.map((d) => d.saveState())).toEqual(saved);
    // The PM block is wherever the random PMBA/PMREGMISC put it, in both boards.
    expect(b.pci.pm.pmBase).toBe(a.pci.pm.pmBase);
    expect(b.pci.piix3.levelTriggeredIrqs()).toBe(a.pci.piix3.levelTriggeredIrqs());
  });
});

class CapDevice extends PciDevice {
  constructor() {
    super({ id: 'cap' }, { vendorId: 0x1af4, deviceId: 0x1041, revision: 1, classCode: 0x020000 });
    const msix = this.addCapability(0x11, 12);
    this.setWritable(msix + 2, 2, 0xc000); // MSI-X enable and function mask
    this.addCapability(0x09, 16); // vendor-specific
    this.finishInit();
  }
}

describe('capabilities list', () => {
  it('links capabilities from 0x34 with STATUS.CAP_LIST set; only the opened bits are writable', () => {
    const dev = new CapDevice();
    expect(dev.peek(0x06, 2) & 0x10).toBe(0x10);
    const first = dev.peek(0x34, 1);
    expect(first).toBe(0x40);
    expect(dev.peek(first, 1)).toBe(0x11);
    const second = dev.peek(first + 1, 1);
    expect(second).toBe(0x4c);
    expect(dev.peek(second, 1)).toBe(0x09);
    expect(dev.peek(second + 1, 1)).toBe(0); // end of list
    dev.configWrite(first, 4, 0xffffffff);
    expect(dev.peek(first, 4)).toBe(0xc0004c11);
    dev.configWrite(0x34, 1, 0);
    expect(dev.peek(0x34, 1)).toBe(0x40);
  });
});
