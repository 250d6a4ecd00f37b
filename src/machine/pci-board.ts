/**
 * The PCI part of the PC board (QEMU's i440FX `pc`): bus 0 with configuration mechanism #1,
 * 00:00.0 the i440FX host bridge, 00:01.0 the PIIX3 ISA bridge routing PIRQA–D to ISA IRQs,
 * and 00:01.3 the PIIX4 PM function placing the ACPI PM block. (QEMU's 00:01.1 IDE
 * function is not modelled.)
 *
 * Adding a device: `board.bus.addDevice(dev, slot)` with a PciDevice subclass; its INTx
 * reaches ISA IRQ 10 or 11 through the PIRQ swizzle and the PIIX3 (the guest learns the
 * route from the DSDT's _PRT and the link devices).
 *
 * Firmware duties: pcvm boots guests without a BIOS, so `applyFirmwareDefaults` does what
 * SeaBIOS does on QEMU after each reset: the PIRQ routes (already the PIIX3's reset values)
 * are made level-triggered in the ELCR.
 */
import type { IoPortBus, PortHandler } from '../memory/io-bus.js';
import type { PhysicalMemory } from '../memory/physical-memory.js';
import type { IrqLine } from './irq.js';
import type { Logger } from './log.js';
import type { Device } from './device.js';
import { PciBus } from '../../devices/pci/pci-bus.js';
import { I440fxHostBridge } from '../../devices/pci/i440fx-host.js';
import { Piix3IsaBridge } from '../../devices/pci/piix3-isa-bridge.js';
import { Piix4PmFunction } from '../../devices/pci/piix4-pm.js';
import {
  PCI_CLASS_DEVICE, PCI_DEVICE_ID, PCI_HEADER_TYPE, PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN, PCI_NUM_BARS,
  PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_VENDOR_ID, PCI_VENDOR_ID,
} from '../../devices/pci/pci-device.js';

/** One BAR as `query-pci` reports it. */
export interface PciRegionInfo {
  bar: number;
  type: 'io' | 'memory';
  /** Where it decodes now, or -1 when not mapped. */
  address: number;
  size: number;
  mem64: boolean;
  prefetch: boolean;
}

/** One PCI function as QMP `query-pci` reports it (the data behind HMP `info pci`). */
export interface PciDeviceInfo {
  bus: number;
  slot: number;
  function: number;
  /** 16-bit class (base class << 8 | sub-class). */
  classCode: number;
  vendorId: number;
  deviceId: number;
  /** Subsystem IDs (type-0 headers only). */
  subsystem?: { vendorId: number; id: number };
  /** Interrupt line and pin (1 = A) when the function has a pin. */
  irq?: { line: number; pin: number };
  regions: PciRegionInfo[];
  /** The device's id ("" for the board's own functions, as in QEMU). */
  qdevId: string;
}

export interface PcPciBoardDeps {
  memory: PhysicalMemory;
  io: IoPortBus;
  /** ISA IRQ lines 0–15. */
  isaIrqs: readonly IrqLine[];
  /** The ACPI PM block's ports (AcpiPm.ports), placed by the PIIX4 function. */
  pmPorts: PortHandler;
  /** The reset control register that shares port 0xCF9 with CONFIG_ADDRESS. */
  resetControl: PortHandler;
  logger?: Logger;
}

export class PcPciBoard {
  readonly bus: PciBus;
  readonly host: I440fxHostBridge;
  readonly piix3: Piix3IsaBridge;
  readonly pm: Piix4PmFunction;
  /** The bus and its functions, in reset order; the board adds them to its device list. */
  readonly devices: Device[];

  constructor(deps: PcPciBoardDeps) {
    const { memory, io, logger } = deps;
    this.bus = new PciBus({ memory, io, logger, port0cf9: deps.resetControl });
    this.bus.mapPorts();
    this.host = new I440fxHostBridge({ logger });
    this.piix3 = new Piix3IsaBridge({ isaIrqs: deps.isaIrqs, pirqLevel: (p) => this.bus.pirqLevel(p), logger });
    this.bus.setRouter(this.piix3);
    this.pm = new Piix4PmFunction({ io, pmPorts: deps.pmPorts, logger });
    this.bus.addDevice(this.host, 0);
    this.bus.addDevice(this.piix3, 1, 0);
    this.bus.addDevice(this.pm, 1, 3);
    this.devices = [this.bus, this.host, this.piix3, this.pm];
  }

  /** SeaBIOS's work after reset: level-triggered ELCR bits for the routed PIRQs (PIIX ELCR ports). */
  applyFirmwareDefaults(elcrPorts: PortHandler): void {
    const mask = this.piix3.levelTriggeredIrqs();
    elcrPorts.ioWrite(0, 1, elcrPorts.ioRead(0, 1) | (mask & 0xff));
    elcrPorts.ioWrite(1, 1, elcrPorts.ioRead(1, 1) | (mask >>> 8));
  }

  /** QMP `query-pci` for bus 0. */
  queryPci(): PciDeviceInfo[] {
    return this.bus.list().map((d) => {
      const pin = d.peek(PCI_INTERRUPT_PIN, 1);
      const regions: PciRegionInfo[] = [];
      for (let i = 0; i < PCI_NUM_BARS; i++) {
        const bar = d.barDefinition(i);
        if (!bar) continue;
        regions.push({
          bar: i,
          type: bar.kind === 'io' ? 'io' : 'memory',
          address: d.barAddress(i),
          size: bar.sizeBytes,
          mem64: bar.kind === 'mem64',
          prefetch: bar.prefetchable === true,
        });
      }
      const info: PciDeviceInfo = {
        bus: 0,
        slot: d.devfn >>> 3,
        function: d.devfn & 7,
        classCode: d.peek(PCI_CLASS_DEVICE, 2),
        vendorId: d.peek(PCI_VENDOR_ID, 2),
        deviceId: d.peek(PCI_DEVICE_ID, 2),
        regions,
        qdevId: d.qdevId,
      };
      if ((d.peek(PCI_HEADER_TYPE, 1) & 0x7f) === 0) {
        info.subsystem = { vendorId: d.peek(PCI_SUBSYSTEM_VENDOR_ID, 2), id: d.peek(PCI_SUBSYSTEM_ID, 2) };
      }
      if (pin !== 0) info.irq = { line: d.peek(PCI_INTERRUPT_LINE, 1), pin };
      return info;
    });
  }
}
