/**
 * A conventional PCI function: the 256-byte type-0 configuration space with per-byte
 * write masks, the command/status registers, BARs (I/O, 32-bit and 64-bit memory) that map
 * and unmap their region when the guest programs them, INTx, and the capabilities list.
 *
 * References: PCI Local Bus Specification 3.0, chapter 6 (configuration space: 6.1 header
 * layout, 6.2.2 Command, 6.2.3 Status, 6.2.5 base address registers and their sizing by
 * writing all ones, 6.7 capabilities list); QEMU's hw/pci/pci.c (wmask/w1cmask, the default
 * subsystem ID 1af4:1100, pci_bar_address's rules for addresses that cannot be mapped).
 *
 * A device model extends PciDevice, describes its identity in the constructor, registers
 * its BARs with `addBar` and capabilities with `addCapability`, and raises its interrupt
 * with `setIntx(level)`. The bus (PciBus) owns config-space addressing, the mapping of BAR
 * regions into the machine's memory map and I/O space, and INTx routing.
 *
 * State: the configuration space bytes are the whole guest-visible state of this base
 * class (including STATUS.INTERRUPT_STATUS, which is the INTx level the device drives).
 * A subclass with more state overrides `saveExtraState`/`loadExtraState`.
 *
 * Not implemented: expansion ROM BARs (0x30 reads 0, read-only), parity/SERR reporting,
 * bus mastering checks for DMA (COMMAND.MASTER is stored; DMA devices should test it).
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import type { MmioHandler } from '../../src/memory/physical-memory.js';
import type { Device } from '../../src/machine/device.js';
import type { Logger } from '../../src/machine/log.js';
import { SnapshotError, WiringError } from '../../src/errors.js';
import { expectIntArray, expectRecord, expectVersion } from '../../src/snapshot/validate.js';

// --- Type-0 header offsets (PCI 3.0 figure 6-1) ----------------------------------------------
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
/** Programming interface, sub-class, base class at 0x09, 0x0a, 0x0b. */
export const PCI_CLASS_PROG = 0x09;
export const PCI_CLASS_DEVICE = 0x0a;
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_LATENCY_TIMER = 0x0d;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
/** First byte after the standard header: device-specific registers and capabilities. */
export const PCI_CONFIG_HEADER_SIZE = 0x40;
export const PCI_CONFIG_SPACE_SIZE = 0x100;

/** Header type bit 7: the device has more than one function. */
export const PCI_HEADER_TYPE_MULTI_FUNCTION = 0x80;

// COMMAND bits (PCI 3.0 6.2.2).
export const PCI_COMMAND_IO = 1 << 0;
export const PCI_COMMAND_MEMORY = 1 << 1;
export const PCI_COMMAND_MASTER = 1 << 2;
export const PCI_COMMAND_SPECIAL = 1 << 3;
export const PCI_COMMAND_INVALIDATE = 1 << 4;
export const PCI_COMMAND_VGA_PALETTE = 1 << 5;
export const PCI_COMMAND_PARITY = 1 << 6;
export const PCI_COMMAND_SERR = 1 << 8;
export const PCI_COMMAND_FAST_BACK = 1 << 9;
/** The function must not assert INTx (PCI 2.3+). */
export const PCI_COMMAND_INTX_DISABLE = 1 << 10;

// STATUS bits (PCI 3.0 6.2.3).
/** Read-only: the function's INTx is being asserted (before INTX_DISABLE gating). */
export const PCI_STATUS_INTERRUPT = 1 << 3;
/** Read-only: a capabilities list starts at CAPABILITY_LIST. */
export const PCI_STATUS_CAP_LIST = 1 << 4;
/** Write-1-to-clear error bits: master data parity, signalled/received target/master abort, SERR, parity. */
const PCI_STATUS_W1C = (1 << 8) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 15);

// BAR low bits (PCI 3.0 6.2.5.1).
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;

/** QEMU's default subsystem IDs (Red Hat, "QEMU"), which `info pci` shows for its devices. */
export const PCI_SUBVENDOR_ID_REDHAT_QUMRANET = 0x1af4;
export const PCI_SUBDEVICE_ID_QEMU = 0x1100;

/** The number of BARs in a type-0 header. */
export const PCI_NUM_BARS = 6;

export type PciBarKind = 'io' | 'mem32' | 'mem64';

/** A base address register's region. */
export interface PciBarDefinition {
  kind: PciBarKind;
  /** Size in bytes: a power of two, at least 4 for I/O (at most 256) and 16 for memory. */
  sizeBytes: number;
  /** Memory BARs only: the region may be prefetched. */
  prefetchable?: boolean;
  /** I/O BARs: the port handler and the access widths it takes whole. */
  io?: PortHandler;
  ioWidths?: readonly AccessSize[];
  /** Memory BARs: the MMIO handler. */
  mmio?: MmioHandler;
}

/** Where the bus maps a BAR; given to each device when it is added to a bus. */
export interface PciBarSpace {
  /** Maps or unmaps (address -1) BAR `index` of `dev`; failures are logged, never thrown. */
  updateBar(dev: PciDevice, index: number, address: number): void;
  /** The function's INTx output changed (pin from the INTERRUPT_PIN register). */
  setIntx(dev: PciDevice, level: boolean): void;
}

/** Static description of a PCI function. */
export interface PciIdentity {
  vendorId: number;
  deviceId: number;
  revision: number;
  /** 24-bit class code: base class << 16 | sub-class << 8 | programming interface. */
  classCode: number;
  /** Default QEMU's 1af4:1100. */
  subsystemVendorId?: number;
  subsystemId?: number;
  /** Header type (without the multi-function bit, which the bus sets). Default 0. */
  headerType?: number;
  /** INTx pin: 0 none, 1..4 = INTA..INTD. */
  interruptPin?: number;
}

/** Plain-data state of a PCI function. */
export interface PciDeviceState {
  /** The 256 configuration bytes. */
  config: number[];
  /** Device-specific extra state (subclasses), or absent. */
  extra?: unknown;
}

const PCI_STATE_VERSION = 1;

export interface PciDeviceDeps {
  /** Instance name (snapshots, logs). */
  id: string;
  /** The user's `-device …,id=` as `info pci` shows it in `id "…"`; "" for the board's own functions. */
  qdevId?: string;
  logger?: Logger;
}

/**
 * Base class for PCI functions. Subclasses call `addBar`/`addCapability`/`setDefault…` in
 * their constructor and then `finishInit()` before the bus uses them.
 */
export abstract class PciDevice implements Device {
  readonly id: string;
  readonly qdevId: string;
  readonly stateVersion = PCI_STATE_VERSION;
  /** Bus address; set by PciBus.addDevice. */
  devfn = -1;

  /** The live configuration space. */
  protected readonly config = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Power-on contents. */
  protected readonly defaults = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Bits the guest may write. */
  protected readonly wmask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Bits the guest clears by writing 1. */
  protected readonly w1cmask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  protected readonly logger: Logger | undefined;
  /** Bits a snapshot may change: wmask | w1cmask as set up by the constructor (`finishInit`). */
  private readonly loadMask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);

  private readonly bars: (PciBarDefinition | undefined)[] = new Array(PCI_NUM_BARS).fill(undefined);
  /** Address each BAR is mapped at now, or -1 (derived from config). */
  private readonly barMapped = new Array<number>(PCI_NUM_BARS).fill(-1);
  private space: PciBarSpace | undefined;
  /** Last INTx output given to the bus (derived). */
  private intxOut = false;
  /** Offset of the last capability added (0 = none). */
  private lastCap = 0;
  /** First free byte for the next capability. */
  private nextCapOffset = PCI_CONFIG_HEADER_SIZE;

  constructor(deps: PciDeviceDeps, ident: PciIdentity) {
    this.id = deps.id;
    this.qdevId = deps.qdevId ?? '';
    this.logger = deps.logger;
    const d = this.defaults;
    setLE(d, PCI_VENDOR_ID, 2, ident.vendorId);
    setLE(d, PCI_DEVICE_ID, 2, ident.deviceId);
    d[PCI_REVISION_ID] = ident.revision;
    setLE(d, PCI_CLASS_PROG, 3, ident.classCode);
    d[PCI_HEADER_TYPE] = ident.headerType ?? 0;
    setLE(d, PCI_SUBSYSTEM_VENDOR_ID, 2, ident.subsystemVendorId ?? PCI_SUBVENDOR_ID_REDHAT_QUMRANET);
    setLE(d, PCI_SUBSYSTEM_ID, 2, ident.subsystemId ?? PCI_SUBDEVICE_ID_QEMU);
    d[PCI_INTERRUPT_PIN] = ident.interruptPin ?? 0;
    // Writable header bits as QEMU's pci_init_wmask: COMMAND's defined bits, cache line
    // size, latency timer, interrupt line; every device-specific byte until the device says
    // otherwise.
    const cmd = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_SPECIAL | PCI_COMMAND_INVALIDATE |
      PCI_COMMAND_VGA_PALETTE | PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_FAST_BACK | PCI_COMMAND_INTX_DISABLE;
    setLE(this.wmask, PCI_COMMAND, 2, cmd);
    setLE(this.w1cmask, PCI_STATUS, 2, PCI_STATUS_W1C);
    this.wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    this.wmask[PCI_LATENCY_TIMER] = 0xff;
    this.wmask[PCI_INTERRUPT_LINE] = 0xff;
    this.wmask.fill(0xff, PCI_CONFIG_HEADER_SIZE);
  }

  // --- Set-up (constructor time) -------------------------------------------------------------

  /** Declares BAR `index` (a 64-bit BAR takes `index` and `index + 1`). */
  protected addBar(index: number, bar: PciBarDefinition): void {
    const size = bar.sizeBytes;
    const io = bar.kind === 'io';
    if (!Number.isInteger(index) || index < 0 || index >= PCI_NUM_BARS || (bar.kind === 'mem64' && index === PCI_NUM_BARS - 1)) {
      throw new WiringError(`${this.id}: BAR${index} does not exist`);
    }
    if (this.bars[index] || (bar.kind === 'mem64' && this.bars[index + 1])) throw new WiringError(`${this.id}: BAR${index} is defined twice`);
    if (!Number.isInteger(size) || (size & (size - 1)) !== 0 || size < (io ? 4 : 16) || (io && size > 256) || size > 0x8000_0000) {
      throw new WiringError(`${this.id}: BAR${index} size ${size} is not a power of two in range`);
    }
    if ((io && !bar.io) || (!io && !bar.mmio)) throw new WiringError(`${this.id}: BAR${index} has no handler`);
    this.bars[index] = bar;
    const off = PCI_BASE_ADDRESS_0 + 4 * index;
    const type = io ? PCI_BASE_ADDRESS_SPACE_IO
      : (bar.kind === 'mem64' ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (bar.prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
    setLE(this.defaults, off, 4, type);
    // The address bits above the size are writable; the low bits read as the type (6.2.5.1).
    setLE(this.wmask, off, 4, ~(size - 1) & (io ? 0xfffffffc : 0xfffffff0));
    if (bar.kind === 'mem64') setLE(this.wmask, off + 4, 4, 0xffffffff);
  }

  /**
   * Appends a capability of `length` bytes with ID `capId` to the list and returns its
   * offset. Its bytes are read-only; the caller opens the writable ones in `wmask`.
   */
  protected addCapability(capId: number, length: number): number {
    const offset = (this.nextCapOffset + 3) & ~3;
    if (length < 2 || offset + length > PCI_CONFIG_SPACE_SIZE) throw new WiringError(`${this.id}: no room for capability 0x${capId.toString(16)}`);
    this.defaults[offset] = capId;
    this.defaults[offset + 1] = 0;
    if (this.lastCap === 0) this.defaults[PCI_CAPABILITY_LIST] = offset;
    else this.defaults[this.lastCap + 1] = offset;
    this.defaults[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    this.wmask.fill(0, offset, offset + length);
    this.lastCap = offset;
    this.nextCapOffset = offset + length;
    return offset;
  }

  /** Sets power-on bytes (device-specific registers). */
  protected setDefault(offset: number, size: 1 | 2 | 4, value: number): void {
    setLE(this.defaults, offset, size, value);
  }

  /** Sets which bits of `size` bytes at `offset` the guest may write. */
  protected setWritable(offset: number, size: 1 | 2 | 4, mask: number): void {
    setLE(this.wmask, offset, size, mask);
  }

  /** Called by the subclass constructor when its defaults are complete. */
  protected finishInit(): void {
    for (let i = 0; i < PCI_CONFIG_SPACE_SIZE; i++) this.loadMask[i] = this.wmask[i]! | this.w1cmask[i]!;
    this.config.set(this.defaults);
  }

  // --- Bus side ------------------------------------------------------------------------------

  /** Attaches the function to a bus (PciBus.addDevice). */
  attach(devfn: number, space: PciBarSpace): void {
    this.devfn = devfn;
    this.space = space;
    this.updateMappings();
    this.updateIntx();
  }

  /** Marks function 0 of a multi-function device (PciBus, when another function appears). */
  setMultiFunction(): void {
    this.defaults[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MULTI_FUNCTION;
    this.config[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MULTI_FUNCTION;
  }

  /** A configuration read of `size` bytes at `offset` (aligned to the access size by the bus). */
  configRead(offset: number, size: AccessSize): number {
    return getLE(this.config, offset, size);
  }

  /** A configuration write; applies the masks, then lets the device react. */
  configWrite(offset: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      const b = (value >>> (8 * i)) & 0xff;
      const w = this.wmask[o]!;
      const c = this.w1cmask[o]!;
      this.config[o] = ((this.config[o]! & ~w) | (b & w)) & ~(b & c);
    }
    if (overlaps(offset, size, PCI_COMMAND, 2) || overlaps(offset, size, PCI_BASE_ADDRESS_0, 24)) this.updateMappings();
    if (overlaps(offset, size, PCI_COMMAND + 1, 1)) this.updateIntx();
    this.configWritten(offset, size);
  }

  /** Hook for subclasses: `size` bytes at `offset` were just written. */
  protected configWritten(_offset: number, _size: AccessSize): void {}

  // --- INTx ------------------------------------------------------------------------------

  /** Drives the function's INTx level (the pin in INTERRUPT_PIN). */
  protected setIntx(level: boolean): void {
    if (level) this.config[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    else this.config[PCI_STATUS] &= ~PCI_STATUS_INTERRUPT;
    this.updateIntx();
  }

  /** The INTx output: the level gated by COMMAND.INTX_DISABLE (PCI 3.0 6.2.2). */
  private updateIntx(): void {
    const out = this.config[PCI_INTERRUPT_PIN] !== 0 && (this.config[PCI_STATUS]! & PCI_STATUS_INTERRUPT) !== 0 &&
      (getLE(this.config, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE) === 0;
    if (out === this.intxOut || !this.space) {
      this.intxOut = out;
      return;
    }
    this.intxOut = out;
    this.space.setIntx(this, out);
  }

  /** The INTx output now (for the bus and tests). */
  get intxAsserted(): boolean {
    return this.intxOut;
  }

  // --- BARs ------------------------------------------------------------------------------

  /** BAR `index`'s definition, or undefined. */
  barDefinition(index: number): PciBarDefinition | undefined {
    return this.bars[index];
  }

  /** The address BAR `index` decodes at now, or -1 when it is not mapped. */
  barAddress(index: number): number {
    const bar = this.bars[index];
    if (!bar) return -1;
    const cmd = getLE(this.config, PCI_COMMAND, 2);
    const off = PCI_BASE_ADDRESS_0 + 4 * index;
    const size = bar.sizeBytes;
    if (bar.kind === 'io') {
      if ((cmd & PCI_COMMAND_IO) === 0) return -1;
      const addr = (getLE(this.config, off, 4) & ~(size - 1) & 0xfffffffc) >>> 0;
      // Address 0 is "unassigned" (QEMU's pci_bar_address); the x86 port space ends at 64 KiB.
      if (addr === 0 || addr + size > 0x10000) return -1;
      return addr;
    }
    if ((cmd & PCI_COMMAND_MEMORY) === 0) return -1;
    let addr = (getLE(this.config, off, 4) & ~(size - 1) & 0xfffffff0) >>> 0;
    if (bar.kind === 'mem64') addr += getLE(this.config, off + 4, 4) * 0x1_0000_0000;
    // Unassigned (0) or wrapping past the end of the address space cannot be mapped.
    if (addr === 0 || addr + size > 2 ** 64 - 1) return -1;
    return addr;
  }

  /** Re-evaluates every BAR and tells the bus about the ones that moved. */
  private updateMappings(): void {
    if (!this.space) return;
    for (let i = 0; i < PCI_NUM_BARS; i++) {
      if (!this.bars[i]) continue;
      const addr = this.barAddress(i);
      if (addr === this.barMapped[i]) continue;
      this.barMapped[i] = addr;
      this.space.updateBar(this, i, addr);
    }
  }

  // --- Device ------------------------------------------------------------------------------

  reset(): void {
    this.config.set(this.defaults);
    this.resetExtra();
    this.updateMappings();
    this.updateIntx();
    this.configReset();
  }

  /** Hook: config space was reset or loaded; re-derive what depends on it (e.g. PM base). */
  protected configReset(): void {}

  saveState(): PciDeviceState {
    const extra = this.saveExtraState();
    return extra === undefined ? { config: Array.from(this.config) } : { config: Array.from(this.config), extra };
  }

  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    const rec = expectRecord(state, this.id);
    const config = expectIntArray(rec, 'config', 0, 0xff, PCI_CONFIG_SPACE_SIZE, this.id);
    // Bits the guest cannot change must hold their power-on values (as QEMU's
    // get_pci_config_device checks), except the status bits hardware drives.
    for (let i = 0; i < PCI_CONFIG_SPACE_SIZE; i++) {
      let fixed = ~this.loadMask[i]! & 0xff;
      if (i === PCI_STATUS) fixed &= ~PCI_STATUS_INTERRUPT;
      if (((config[i]! ^ this.defaults[i]!) & fixed) !== 0) {
        throw new SnapshotError(`${this.id}.config[0x${i.toString(16)}]: 0x${config[i]!.toString(16)} changes read-only bits`);
      }
    }
    this.validateExtraState(rec['extra']);
    this.config.set(config);
    this.loadExtraState(rec['extra']);
    this.updateMappings();
    this.updateIntx();
    this.configReset();
  }

  /** Subclass state beyond config space (undefined = none). */
  protected saveExtraState(): unknown {
    return undefined;
  }
  /** Throws SnapshotError when `extra` is not valid for this device. */
  protected validateExtraState(_extra: unknown): void {}
  protected loadExtraState(_extra: unknown): void {}
  protected resetExtra(): void {}

  // --- Helpers for subclasses and the monitor ------------------------------------------------

  /** Reads `size` bytes of config space without side effects. */
  peek(offset: number, size: 1 | 2 | 4): number {
    return getLE(this.config, offset, size);
  }

  protected unimp(message: string): void {
    if (this.logger?.enabled('unimp')) this.logger.log('unimp', `${this.id}: ${message}`);
  }
}

/** Little-endian read of `size` bytes. */
export function getLE(b: Uint8Array, offset: number, size: number): number {
  let v = 0;
  for (let i = 0; i < size; i++) v += b[offset + i]! * 2 ** (8 * i);
  return v;
}

/** Little-endian write of `size` bytes. */
export function setLE(b: Uint8Array, offset: number, size: number, value: number): void {
  for (let i = 0; i < size; i++) b[offset + i] = Math.floor(value / 2 ** (8 * i)) & 0xff;
}

/** Whether `[a, a + alen)` and `[b, b + blen)` intersect. */
export function overlaps(a: number, alen: number, b: number, blen: number): boolean {
  return a < b + blen && b < a + alen;
}
