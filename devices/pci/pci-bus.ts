/**
 * PCI bus 0 of a PC: configuration mechanism #1, the functions on the bus, the mapping of
 * their BARs into the memory map and the I/O port space, and INTx routing to the PIRQ lines.
 *
 * References: PCI Local Bus Specification 3.0, 3.2.2.3.2 (configuration mechanism #1:
 * CONFIG_ADDRESS at 0xCF8 taken only by 32-bit accesses, bit 31 enable, bits 23:16 bus,
 * 15:11 device, 10:8 function, 7:2 register; CONFIG_DATA at 0xCFC-0xCFF in any width);
 * PCI-to-PCI Bridge Architecture 1.2, table 9-1 (the INTx swizzle); Intel 82371SB (PIIX3)
 * datasheet 4.1.5 (the reset control register shares 0xCF9 with CONFIG_ADDRESS's byte 1:
 * byte accesses there go to it).
 *
 * INTx: a function's pin (0 = INTA … 3 = INTD) on slot S drives PIRQ[(S + pin - 1) & 3] (the
 * wiring of QEMU's i440FX board and its `_PRT`). Several functions on one PIRQ are OR'ed
 * (wired-OR, active low on the real bus); the router (the PIIX3) maps PIRQs to ISA IRQs.
 *
 * BAR regions are named `pci.<devfn>.bar<N>` on the buses. A BAR the guest places over
 * something else, above 4 GiB or outside the port space is left unmapped and logged
 * (`guest_errors`). XXX: QEMU overlays overlapping regions by priority instead; and our
 * memory map decodes MMIO by 4-KiB page, so two small BARs in one page cannot both map.
 *
 * Not implemented: buses other than 0 (reads there return all ones, as with no bridge),
 * configuration mechanism #2, PCI-to-PCI bridges.
 */
import type { AccessSize, IoPortBus, PortHandler } from '../../src/memory/io-bus.js';
import type { PhysicalMemory } from '../../src/memory/physical-memory.js';
import type { Device } from '../../src/machine/device.js';
import type { Logger } from '../../src/machine/log.js';
import { WiringError } from '../../src/errors.js';
import { expectInt, expectRecord, expectVersion } from '../../src/snapshot/validate.js';
import { PCI_INTERRUPT_PIN, type PciBarSpace, type PciDevice } from './pci-device.js';

/** Ports of configuration mechanism #1. */
export const PCI_CONFIG_ADDRESS_PORT = 0xcf8;
export const PCI_CONFIG_DATA_PORT = 0xcfc;

/** CONFIG_ADDRESS bits that exist: enable (31), bus, device, function, register (7:2). */
const CONFIG_ADDRESS_MASK = 0x80fffffc;
const CONFIG_ENABLE = 0x8000_0000;

/** Number of PIRQ lines (PIRQA–PIRQD). */
export const PCI_NUM_PIRQS = 4;

/** Receives the PIRQ levels (the PIIX3). */
export interface PciIntxRouter {
  setPirq(pirq: number, level: boolean): void;
}

/** The PIRQ a function's pin drives: `pin` 1..4 = INTA..INTD. */
export function pciSlotPirq(slot: number, pin: number): number {
  return (slot + pin - 1 - 1) & 3;
}

export interface PciBusState {
  /** CONFIG_ADDRESS (0xCF8). */
  configAddress: number;
}

export interface PciBusDeps {
  memory: PhysicalMemory;
  io: IoPortBus;
  logger?: Logger;
  /** What answers byte accesses to 0xCF9 (the PIIX3 reset control register), if anything. */
  port0cf9?: PortHandler;
}

export class PciBus implements Device, PciBarSpace {
  readonly id = 'pci';
  readonly stateVersion = 1;
  /** 0xCF8-0xCFB: map with length 4 and widths [1, 2, 4]. */
  readonly addressPorts: PortHandler;
  /** 0xCFC-0xCFF: map with length 4 and widths [1, 2, 4]. */
  readonly dataPorts: PortHandler;

  private s: PciBusState = { configAddress: 0 };
  /** devfn (slot << 3 | function) → device. */
  private readonly devices: (PciDevice | undefined)[] = new Array(256).fill(undefined);
  /** Number of asserted functions per PIRQ (derived). */
  private readonly pirqCount = new Uint8Array(PCI_NUM_PIRQS);
  private router: PciIntxRouter | undefined;
  private readonly memory: PhysicalMemory;
  private readonly io: IoPortBus;
  private readonly logger: Logger | undefined;

  constructor(deps: PciBusDeps) {
    this.memory = deps.memory;
    this.io = deps.io;
    this.logger = deps.logger;
    const cf9 = deps.port0cf9;
    this.addressPorts = {
      ioRead: (offset, size) => {
        if (offset === 0 && size === 4) return this.s.configAddress;
        if (offset === 1 && size === 1 && cf9) return cf9.ioRead(0, 1);
        return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
      },
      ioWrite: (offset, size, value) => {
        if (offset === 0 && size === 4) this.s.configAddress = (value & CONFIG_ADDRESS_MASK) >>> 0;
        else if (offset === 1 && size === 1 && cf9) cf9.ioWrite(0, 1, value);
        // Other partial accesses to 0xCF8-0xCFB are ordinary I/O cycles nothing claims.
      },
    };
    this.dataPorts = {
      ioRead: (offset, size) => this.dataRead(offset, size),
      ioWrite: (offset, size, value) => this.dataWrite(offset, size, value),
    };
  }

  /** Maps the configuration ports on the I/O bus. */
  mapPorts(): void {
    this.io.map('pci-conf-idx', PCI_CONFIG_ADDRESS_PORT, 4, this.addressPorts, { widths: [1, 2, 4] });
    this.io.map('pci-conf-data', PCI_CONFIG_DATA_PORT, 4, this.dataPorts, { widths: [1, 2, 4] });
  }

  /** Connects the PIRQ lines to the router (the PIIX3 ISA bridge). */
  setRouter(router: PciIntxRouter): void {
    this.router = router;
  }

  /**
   * Plugs `dev` in at `slot`.`fn` of bus 0. Function 0 of a slot with several functions
   * gets the multi-function header bit, so that OSes scan the others.
   */
  addDevice(dev: PciDevice, slot: number, fn = 0): void {
    if (!Number.isInteger(slot) || slot < 0 || slot > 31 || !Number.isInteger(fn) || fn < 0 || fn > 7) {
      throw new WiringError(`${dev.id}: PCI address ${slot}.${fn} does not exist`);
    }
    const devfn = (slot << 3) | fn;
    const other = this.devices[devfn];
    if (other) throw new WiringError(`${dev.id}: PCI slot ${slot} function ${fn} is already used by ${other.id}`);
    this.devices[devfn] = dev;
    dev.attach(devfn, this);
    if (fn !== 0) this.devices[slot << 3]?.setMultiFunction();
    else if (this.devices.slice(devfn + 1, devfn + 8).some((d) => d)) dev.setMultiFunction();
  }

  /** The function at `devfn`, or undefined. */
  device(devfn: number): PciDevice | undefined {
    return this.devices[devfn & 0xff];
  }

  /** Every function, in devfn order. */
  list(): PciDevice[] {
    return this.devices.filter((d): d is PciDevice => d !== undefined);
  }

  /** PIRQ `pirq` is asserted by at least one function. */
  pirqLevel(pirq: number): boolean {
    return (this.pirqCount[pirq & 3] ?? 0) > 0;
  }

  // --- Configuration mechanism #1 ----------------------------------------------------------

  /** The function CONFIG_ADDRESS selects and the register offset, or undefined. */
  private target(offset: number): { dev: PciDevice; reg: number } | undefined {
    const a = this.s.configAddress;
    if ((a & CONFIG_ENABLE) === 0) return undefined;
    if (((a >>> 16) & 0xff) !== 0) return undefined; // no bus but 0
    const dev = this.devices[(a >>> 8) & 0xff];
    if (!dev) return undefined;
    return { dev, reg: (a & 0xfc) + offset };
  }

  private dataRead(offset: number, size: AccessSize): number {
    const t = this.target(offset);
    // Nothing answers: master abort, all ones (PCI 3.0 6.1).
    if (!t) return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    return t.dev.configRead(t.reg, size);
  }

  private dataWrite(offset: number, size: AccessSize, value: number): void {
    const t = this.target(offset);
    if (t) t.dev.configWrite(t.reg, size, value);
  }

  // --- PciBarSpace ---------------------------------------------------------------------------

  updateBar(dev: PciDevice, index: number, address: number): void {
    const bar = dev.barDefinition(index);
    if (!bar) return;
    const name = `pci.${hex2(dev.devfn)}.bar${index}`;
    if (bar.kind === 'io') {
      this.io.unmap(name);
      if (address < 0) return;
      try {
        this.io.map(name, address, bar.sizeBytes, bar.io!, { widths: bar.ioWidths ?? [1] });
      } catch (e) {
        this.guestError(`${dev.id}: BAR${index} at I/O 0x${address.toString(16)} not mapped: ${(e as Error).message}`);
      }
      return;
    }
    this.memory.unmapMmio(name);
    if (address < 0) return;
    if (address + bar.sizeBytes > 0x1_0000_0000) {
      this.guestError(`${dev.id}: BAR${index} at 0x${address.toString(16)} lies above 4 GiB, which the memory map cannot decode; not mapped`);
      return;
    }
    try {
      this.memory.mapMmio(name, address, bar.sizeBytes, bar.mmio!);
    } catch (e) {
      this.guestError(`${dev.id}: BAR${index} at 0x${address.toString(16)} not mapped: ${(e as Error).message}`);
    }
  }

  setIntx(dev: PciDevice, level: boolean): void {
    const pin = dev.peek(PCI_INTERRUPT_PIN, 1);
    if (pin < 1 || pin > 4) return;
    const pirq = pciSlotPirq(dev.devfn >>> 3, pin);
    const before = this.pirqCount[pirq]! > 0;
    this.pirqCount[pirq] = Math.max(0, this.pirqCount[pirq]! + (level ? 1 : -1));
    const after = this.pirqCount[pirq]! > 0;
    if (before !== after) this.router?.setPirq(pirq, after);
  }

  // --- Device ------------------------------------------------------------------------------

  /** Resets CONFIG_ADDRESS; the functions are devices of their own and reset themselves. */
  reset(): void {
    this.s = { configAddress: 0 };
  }

  saveState(): PciBusState {
    return { ...this.s };
  }

  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    const rec = expectRecord(state, this.id);
    const configAddress = expectInt(rec, 'configAddress', 0, 0xffffffff, this.id);
    this.s = { configAddress: (configAddress & CONFIG_ADDRESS_MASK) >>> 0 };
  }

  private guestError(message: string): void {
    if (this.logger?.enabled('guest_errors')) this.logger.log('guest_errors', `pci: ${message}`);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
