/**
 * The device tree as QEMU's `info qtree` shows it (qdev-monitor.c qbus_print/qdev_print): buses
 * holding devices holding buses, each device with its QEMU type name, its GPIO lines, the
 * properties that describe how it is wired, and its MMIO regions or PCI identity.
 *
 * The tree is built from the machine as it is wired (ports from the I/O map, PCI functions from
 * the bus), so a device that is not there is not shown. Devices pcvm does not have (QEMU's
 * floppy, DMA controllers, vmport, the SMBus EEPROMs) are not shown either. The order is
 * QEMU's: within a bus, the most recently created device first.
 */
import type { Machine } from './machine.js';
import { COM_PORTS } from './machine.js';
import { IOAPIC_DEFAULT_BASE } from '../../devices/apic/ioapic.js';
import { HPET_BASE, HPET_IRQ_ROUTES, HPET_MMIO_SIZE, HPET_TIMERS, PC_HPET_ROUTE_CAP } from '../../devices/timer/hpet.js';

/** A property value: a number prints as `N (0xN)`, a string quoted, a boolean as a word. */
export type QtreeValue = number | bigint | boolean | string | { raw: string };

export interface QtreeDevice {
  type: string;
  id: string;
  gpioIn?: [name: string, count: number][];
  gpioOut?: [name: string, count: number][];
  props: [name: string, value: QtreeValue][];
  /** sysbus MMIO regions: base, size. */
  mmio?: [base: number, size: number][];
  /** The PCI line and BARs (pcibus_dev_print). */
  pci?: { className: string; slot: number; function: number; vendorId: number; deviceId: number; subVendorId: number; subId: number; bars: { bar: number; io: boolean; address: number; size: number }[] };
  buses: QtreeBus[];
}

export interface QtreeBus {
  name: string;
  type: string;
  devices: QtreeDevice[];
}

/** QEMU type names of the PCI functions pcvm models, by vendor:device. */
const PCI_TYPES: ReadonlyMap<number, string> = new Map([
  [0x80861237, 'i440FX'], [0x80867000, 'PIIX3'], [0x80867113, 'PIIX4_PM'],
  [0x1af41000, 'virtio-net-pci'], [0x1af41001, 'virtio-blk-pci'], [0x1af41041, 'virtio-net-pci'],
  [0x1af41042, 'virtio-blk-pci'], [0x10ec8139, 'rtl8139'], [0x8086100e, 'e1000'],
]);

/** `info pci` class names for the classes the tree may show (hw/pci/pci.c). */
const PCI_CLASS: ReadonlyMap<number, string> = new Map([
  [0x0600, 'Host bridge'], [0x0601, 'ISA bridge'], [0x0680, 'Bridge'], [0x0200, 'Ethernet controller'],
  [0x0100, 'SCSI controller'], [0x0101, 'IDE controller'], [0x0180, 'Storage controller'], [0x00ff, 'Class 00ff'],
]);

function isaDevices(m: Machine): QtreeDevice[] {
  const io = m.memoryMap().io;
  const base = (name: string) => io.find((r) => r.name === name);
  const out: QtreeDevice[] = [];
  const dev = (type: string, props: QtreeDevice['props'], extra: Partial<QtreeDevice> = {}): void => {
    out.push({ type, id: '', props, buses: [], ...extra });
  };
  // Created in this order by the Machine; printed newest first below.
  const pics: [string, number, number, boolean][] = [['pic-master', 0x20, 0x4d0, true], ['pic-slave', 0xa0, 0x4d1, false]];
  for (const [, iobase, elcr, master] of pics) {
    dev('isa-i8259', [['iobase', iobase], ['elcr_addr', elcr], ['elcr_mask', master ? 0xf8 : 0xde], ['master', master]], { gpioIn: [['', 8]], gpioOut: [['', 1]] });
  }
  m.serial.forEach((_, i) => {
    const r = base(`serial${i}`);
    if (!r) return;
    const irq = COM_PORTS.find(([b]) => b === r.base)?.[1] ?? 0;
    dev('isa-serial', [['index', i], ['iobase', r.base], ['irq', irq]]);
  });
  const pit = base('pit');
  if (pit) dev('isa-pit', [['iobase', pit.base]], { gpioIn: [['', 1]], gpioOut: [['', 1]] });
  const rtc = base('rtc');
  if (rtc) dev('mc146818rtc', [['base_year', 0], ['iobase', rtc.base], ['irq', 8], ['lost_tick_policy', 'discard']], { gpioOut: [['', 1]] });
  if (base('i8042-data')) {
    dev('i8042', [['kbd-irq', 1], ['mouse-irq', 12]], {
      gpioIn: [['ps2-mouse-input-irq', 1], ['ps2-kbd-input-irq', 1]],
      gpioOut: [['', 2], ['a20', 1]],
    });
  }
  if (base('port92')) dev('port92', [], { gpioOut: [['a20', 1]] });
  for (const r of io) {
    if (r.name.startsWith('isa-debug-exit')) dev('isa-debug-exit', [['iobase', r.base], ['iosize', r.length]]);
  }
  return out.reverse();
}

/** The machine's device tree, rooted at the main system bus. */
export function machineQtree(m: Machine): QtreeBus {
  const pciDevices: QtreeDevice[] = m.queryPci().map((p) => {
    const type = PCI_TYPES.get(((p.vendorId << 16) | p.deviceId) >>> 0) ?? `pci-device-${p.vendorId.toString(16)}-${p.deviceId.toString(16)}`;
    const slotFn = `${p.slot.toString(16).padStart(2, '0')}.${p.function}`;
    const d: QtreeDevice = {
      type,
      id: p.qdevId,
      props: [['addr', { raw: slotFn }], ['romfile', ''], ['multifunction', type === 'PIIX3']],
      pci: {
        className: PCI_CLASS.get(p.classCode) ?? `Class ${p.classCode.toString(16).padStart(4, '0')}`,
        slot: p.slot, function: p.function, vendorId: p.vendorId, deviceId: p.deviceId,
        subVendorId: p.subsystem?.vendorId ?? 0, subId: p.subsystem?.id ?? 0,
        bars: p.regions.map((r) => ({ bar: r.bar, io: r.type === 'io', address: r.address, size: r.size })),
      },
      buses: [],
    };
    if (type === 'PIIX3') d.buses.push({ name: 'isa.0', type: 'ISA', devices: isaDevices(m) });
    return d;
  });
  const system: QtreeDevice[] = [
    { type: 'ps2-mouse', id: '', props: [], gpioOut: [['', 1]], buses: [] },
    { type: 'ps2-kbd', id: '', props: [], gpioOut: [['', 1]], buses: [] },
    ...(m.hpet ? [{
      type: 'hpet', id: '', gpioIn: [['', 2]], gpioOut: [['', 1], ['sysbus-irq', HPET_IRQ_ROUTES]],
      props: [['timers', HPET_TIMERS], ['msi', false], ['hpet-intcap', PC_HPET_ROUTE_CAP], ['hpet-offset-saved', true]],
      mmio: [[HPET_BASE, HPET_MMIO_SIZE]], buses: [],
    } satisfies QtreeDevice] : []),
    { type: 'ioapic', id: '', gpioIn: [['', 24]], props: [['version', 0x20]], mmio: [[IOAPIC_DEFAULT_BASE, 0x1000]], buses: [] },
    {
      type: 'i440FX-pcihost', id: '', props: [['short_root_bus', 0]],
      buses: [{ name: 'pci.0', type: 'PCI', devices: pciDevices.reverse() }],
    },
    { type: 'fw_cfg_io', id: '', props: [['dma_enabled', m.fwCfg.dmaPort !== undefined]], buses: [] },
  ];
  return { name: 'main-system-bus', type: 'System', devices: system };
}
