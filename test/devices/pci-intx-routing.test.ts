/**
 * INTx routing on the i440FX/PIIX3 board: device pin → PIRQ by the slot swizzle, PIRQ → ISA
 * IRQ by the PIIX3 route registers (82371SB datasheet 2.2.8), level sharing on one line,
 * and the PIIX4 PM function's PMBA/PMREGMISC moving the ACPI PM block (82371AB 11.2).
 */
import { describe, expect, it } from 'vitest';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { RecordingIrqLine } from '../../src/machine/irq.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { PciBus, pciSlotPirq } from '../../devices/pci/pci-bus.js';
import { PciDevice } from '../../devices/pci/pci-device.js';
import { Piix3IsaBridge } from '../../devices/pci/piix3-isa-bridge.js';
import { Piix4PmFunction } from '../../devices/pci/piix4-pm.js';
import { I440fxHostBridge } from '../../devices/pci/i440fx-host.js';
import { AcpiPm } from '../../devices/acpi/acpi-pm.js';
import type { AccessSize } from '../../src/memory/io-bus.js';

class IntxFunction extends PciDevice {
  constructor(id: string, pin: number) {
    super({ id }, { vendorId: 0x1af4, deviceId: 0x1000, revision: 0, classCode: 0x020000, interruptPin: pin });
    this.finishInit();
  }
  raise(level: boolean): void {
    this.setIntx(level);
  }
}

function board() {
  const io = new IoPortBus();
  const memory = new PhysicalMemory(1024 * 1024);
  const irqs = Array.from({ length: 16 }, () => new RecordingIrqLine());
  const bus = new PciBus({ memory, io });
  bus.mapPorts();
  const piix3 = new Piix3IsaBridge({ isaIrqs: irqs, pirqLevel: (p) => bus.pirqLevel(p) });
  bus.setRouter(piix3);
  bus.addDevice(new I440fxHostBridge(), 0);
  bus.addDevice(piix3, 1, 0);
  const clock = new VirtualClock({ kind: 'icount', shift: 0 });
  const sci = new RecordingIrqLine();
  const acpi = new AcpiPm({ clock, sci, onPowerOff: () => {} });
  const pm = new Piix4PmFunction({ io, pmPorts: acpi.ports });
  bus.addDevice(pm, 1, 3);
  const cfg = (slot: number, fn: number, reg: number) => {
    io.write(0xcf8, 4, (0x8000_0000 | (slot << 11) | (fn << 8) | (reg & 0xfc)) >>> 0);
    return 0xcfc + (reg & 3);
  };
  const cfgRead = (slot: number, fn: number, reg: number, size: AccessSize) => io.read(cfg(slot, fn, reg), size);
  const cfgWrite = (slot: number, fn: number, reg: number, size: AccessSize, v: number) => io.write(cfg(slot, fn, reg), size, v);
  return { io, bus, piix3, pm, acpi, irqs, cfgRead, cfgWrite };
}

const levels = (irqs: RecordingIrqLine[]) => irqs.flatMap((l, i) => (l.level ? [i] : []));

describe('INTx swizzle', () => {
  it('maps slot and pin to PIRQ as (slot + pin - 1) & 3 with INTA = 0', () => {
    // The table QEMU's _PRT and SeaBIOS's piix_pci_slot_get_irq both encode.
    expect(pciSlotPirq(1, 1)).toBe(0);
    expect(pciSlotPirq(2, 1)).toBe(1);
    expect(pciSlotPirq(3, 1)).toBe(2);
    expect(pciSlotPirq(4, 1)).toBe(3);
    expect(pciSlotPirq(5, 1)).toBe(0);
    expect(pciSlotPirq(3, 2)).toBe(3);
    expect(pciSlotPirq(3, 4)).toBe(1);
  });
});

describe('PIIX3 PIRQ routing', () => {
  it('resets PIRQA-D to IRQ 10, 10, 11, 11 and reports them for the ELCR', () => {
    const { cfgRead, piix3 } = board();
    expect(cfgRead(1, 0, 0x60, 4)).toBe(0x0b0b0a0a);
    expect(piix3.levelTriggeredIrqs()).toBe((1 << 10) | (1 << 11));
    // The multi-function bit is set on 00:01.0 because 00:01.3 exists.
    expect(cfgRead(1, 0, 0x0e, 1)).toBe(0x80);
    expect(cfgRead(1, 0, 0x00, 4)).toBe(0x70008086);
    expect(cfgRead(1, 3, 0x00, 4)).toBe(0x71138086);
    expect(cfgRead(1, 3, 0x08, 4)).toBe(0x06800003);
  });

  it('routes a device INTA on slot 3 to PIRQC = IRQ 11, and follows the route register', () => {
    const { bus, irqs, cfgWrite } = board();
    const dev = new IntxFunction('net0', 1);
    bus.addDevice(dev, 3);
    dev.raise(true);
    expect(levels(irqs)).toEqual([11]);
    dev.raise(false);
    expect(levels(irqs)).toEqual([]);
    dev.raise(true);
    cfgWrite(1, 0, 0x62, 1, 5); // PIRQC → IRQ 5 while asserted: 11 drops, 5 rises
    expect(levels(irqs)).toEqual([5]);
    cfgWrite(1, 0, 0x62, 1, 0x85); // disabled
    expect(levels(irqs)).toEqual([]);
    cfgWrite(1, 0, 0x62, 1, 0x08); // IRQ 8 is reserved: not routed
    expect(levels(irqs)).toEqual([]);
    cfgWrite(1, 0, 0x62, 1, 0x0b);
    expect(levels(irqs)).toEqual([11]);
  });

  it("ORs devices sharing a PIRQ and PIRQs sharing an IRQ", () => {
    const { bus, irqs } = board();
    const a = new IntxFunction('a', 1); // slot 3 INTA → PIRQC → 11
    const b = new IntxFunction('b', 1); // slot 7 INTA → PIRQC → 11
    const c = new IntxFunction('c', 1); // slot 4 INTA → PIRQD → 11
    bus.addDevice(a, 3);
    bus.addDevice(b, 7);
    bus.addDevice(c, 4);
    a.raise(true);
    b.raise(true);
    c.raise(true);
    a.raise(false);
    expect(irqs[11]!.level).toBe(true);
    b.raise(false);
    expect(irqs[11]!.level).toBe(true); // c still holds PIRQD
    c.raise(false);
    expect(irqs[11]!.level).toBe(false);
    expect(irqs[11]!.rises).toBe(1);
  });

  it('gates INTx with COMMAND.INTX_DISABLE while STATUS.INTERRUPT keeps the level', () => {
    const { bus, irqs, cfgWrite, cfgRead } = board();
    const dev = new IntxFunction('net0', 1);
    bus.addDevice(dev, 2); // PIRQB → 10
    dev.raise(true);
    expect(irqs[10]!.level).toBe(true);
    cfgWrite(2, 0, 0x04, 2, 0x0400);
    expect(irqs[10]!.level).toBe(false);
    expect(cfgRead(2, 0, 0x06, 2) & 0x08).toBe(0x08);
    cfgWrite(2, 0, 0x04, 2, 0);
    expect(irqs[10]!.level).toBe(true);
    dev.reset();
    expect(irqs[10]!.level).toBe(false);
  });

  it('restores the IRQ levels from a snapshot of the route registers and the device', () => {
    const a = board();
    const devA = new IntxFunction('net0', 1);
    a.bus.addDevice(devA, 3);
    a.cfgWrite(1, 0, 0x62, 1, 5);
    devA.raise(true);
    const b = board();
    const devB = new IntxFunction('net0', 1);
    b.bus.addDevice(devB, 3);
    b.piix3.loadState(a.piix3.saveState(), 1);
    devB.loadState(devA.saveState(), 1);
    expect(levels(b.irqs)).toEqual([5]);
  });
});

describe('PIIX4 PM function', () => {
  it('starts with the PM block at 0x600 (PMBA 0x601, PMREGMISC 1) and INTERRUPT_LINE 9, pin A', () => {
    const { io, cfgRead, pm } = board();
    expect(cfgRead(1, 3, 0x40, 4)).toBe(0x601);
    expect(cfgRead(1, 3, 0x80, 1)).toBe(1);
    expect(cfgRead(1, 3, 0x3c, 2)).toBe(0x0109);
    expect(pm.pmBase).toBe(0x600);
    expect(io.owner(0x600)).toBe('piix4_pm');
    expect(io.owner(0x63f)).toBe('piix4_pm');
    expect(io.read(0x604, 2) & 1).toBe(1); // PM1_CNT.SCI_EN
  });

  it('moves the PM ports when PMBA changes and removes them when PMREGMISC clears PMIOSE', () => {
    const { io, cfgRead, cfgWrite, pm } = board();
    cfgWrite(1, 3, 0x40, 4, 0xb03f); // bits 5:1 are read-only 0, bit 0 reads 1
    expect(cfgRead(1, 3, 0x40, 4)).toBe(0xb001);
    expect(io.owner(0x600)).toBeUndefined();
    expect(io.owner(0xb000)).toBe('piix4_pm');
    expect(io.read(0xb004, 2) & 1).toBe(1);
    expect(io.read(0x604, 2)).toBe(0xffff);
    cfgWrite(1, 3, 0x80, 1, 0);
    expect(io.owner(0xb000)).toBeUndefined();
    cfgWrite(1, 3, 0x80, 1, 1);
    expect(io.owner(0xb000)).toBe('piix4_pm');
    pm.reset();
    expect(io.owner(0xb000)).toBeUndefined();
    expect(io.owner(0x600)).toBe('piix4_pm');
  });

  it('refuses to map the PM block over another device, without throwing', () => {
    const { io, cfgWrite } = board();
    io.map('serial0', 0x3f8, 8, { ioRead: () => 0x42, ioWrite: () => {} });
    cfgWrite(1, 3, 0x40, 4, 0x3c0);
    expect(io.read(0x3f8, 1)).toBe(0x42);
    expect(io.owner(0x600)).toBeUndefined();
    expect(io.owner(0x3c0)).toBeUndefined();
    cfgWrite(1, 3, 0x40, 4, 0x600);
    expect(io.owner(0x600)).toBe('piix4_pm');
  });
});
