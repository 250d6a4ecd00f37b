/**
 * QEMU's firmware configuration device (fw_cfg) in its x86 I/O-port form: the channel through
 * which firmware (SeaBIOS, kvm-unit-tests, the linuxboot option ROM) learns the RAM size, the
 * CPU count and reads named blobs ("files") such as ACPI tables or the boot order.
 *
 * Reference: QEMU docs/specs/fw_cfg.rst (guest interface) and hw/nvram/fw_cfg.c (behaviour
 * where the spec is silent). Registers, as the PC decodes them:
 *  - 0x510, 2 ports ("fwcfg" in QEMU): a 16-bit write selects an item (little-endian); a byte
 *    read at 0x510 or 0x511 reads the next byte of the selected item. The 8-bit data register
 *    at 0x511 always overlaps the upper half of the selector, so both are one mapping.
 *  - 0x514, 8 ports ("fwcfg.dma"): the big-endian 64-bit address of an FWCfgDmaAccess
 *    structure, written as two 32-bit halves (high at +0, low at +4; the low write starts the
 *    transfer). Reading it returns the signature "QEMU CFG".
 *
 * Selector bits: 0–13 item index; 14 "write" channel (selects the same item; data-port writes
 * are ignored since QEMU 2.4); 15 architecture-local item (a second table of indexes).
 * Items 0x20 up are files, listed in the directory at 0x19 and kept sorted by name, as QEMU
 * does for non-legacy machine types.
 *
 * Snapshot state is the selector, the offset and the latched DMA address half — as QEMU's
 * vmstate "fw_cfg". Item contents are configuration: the board rebuilds them from the machine
 * options when it builds the machine, and they are not saved.
 *
 * Not implemented: writable items (QEMU 2.9+ lets some files be written by DMA; every item
 * here is read-only, so DMA writes set the error bit, as QEMU does for read-only items),
 * select callbacks, the legacy file ordering of old machine types, the MMIO form of the device.
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import { DmaError, type PhysicalMemory } from '../../src/memory/physical-memory.js';
import type { Device } from '../../src/machine/device.js';
import type { Logger } from '../../src/machine/log.js';
import { WiringError } from '../../src/errors.js';
import { expectInt, expectRecord, expectVersion } from '../../src/snapshot/validate.js';

// --- Where the board maps it --------------------------------------------------------------

/** Selector (16-bit write) and data (8-bit) registers: one 2-port mapping, widths [1, 2]. */
export const FW_CFG_IO_BASE = 0x510;
export const FW_CFG_IO_LENGTH = 2;
/** DMA address register: 8 ports, widths [1, 2, 4]. */
export const FW_CFG_DMA_IO_BASE = 0x514;
export const FW_CFG_DMA_IO_LENGTH = 8;

// --- Item keys (QEMU include/standard-headers/linux/qemu_fw_cfg.h) ----------------------

export const FW_CFG_SIGNATURE = 0x00;
export const FW_CFG_ID = 0x01;
export const FW_CFG_UUID = 0x02;
export const FW_CFG_RAM_SIZE = 0x03;
export const FW_CFG_NOGRAPHIC = 0x04;
export const FW_CFG_NB_CPUS = 0x05;
export const FW_CFG_MACHINE_ID = 0x06;
export const FW_CFG_KERNEL_ADDR = 0x07;
export const FW_CFG_KERNEL_SIZE = 0x08;
export const FW_CFG_KERNEL_CMDLINE = 0x09;
export const FW_CFG_INITRD_ADDR = 0x0a;
export const FW_CFG_INITRD_SIZE = 0x0b;
export const FW_CFG_BOOT_DEVICE = 0x0c;
export const FW_CFG_NUMA = 0x0d;
export const FW_CFG_BOOT_MENU = 0x0e;
export const FW_CFG_MAX_CPUS = 0x0f;
export const FW_CFG_KERNEL_ENTRY = 0x10;
export const FW_CFG_KERNEL_DATA = 0x11;
export const FW_CFG_INITRD_DATA = 0x12;
export const FW_CFG_CMDLINE_ADDR = 0x13;
export const FW_CFG_CMDLINE_SIZE = 0x14;
export const FW_CFG_CMDLINE_DATA = 0x15;
export const FW_CFG_SETUP_ADDR = 0x16;
export const FW_CFG_SETUP_SIZE = 0x17;
export const FW_CFG_SETUP_DATA = 0x18;
export const FW_CFG_FILE_DIR = 0x19;
/** First key of the file items. */
export const FW_CFG_FILE_FIRST = 0x20;

/** Selector bit 14: the "write" channel (data-port writes are ignored since QEMU 2.4). */
export const FW_CFG_WRITE_CHANNEL = 0x4000;
/** Selector bit 15: architecture-local items. */
export const FW_CFG_ARCH_LOCAL = 0x8000;
/** Selector bits that index an item table. */
export const FW_CFG_ENTRY_MASK = 0x3fff;
/** The selector value QEMU uses for "nothing valid selected". */
export const FW_CFG_INVALID = 0xffff;

// x86 architecture-local keys (QEMU hw/i386/fw_cfg.h).
export const FW_CFG_ACPI_TABLES = FW_CFG_ARCH_LOCAL | 0;
export const FW_CFG_SMBIOS_ENTRIES = FW_CFG_ARCH_LOCAL | 1;
export const FW_CFG_IRQ0_OVERRIDE = FW_CFG_ARCH_LOCAL | 2;
export const FW_CFG_E820_TABLE = FW_CFG_ARCH_LOCAL | 3;
export const FW_CFG_HPET = FW_CFG_ARCH_LOCAL | 4;

/** FW_CFG_ID bit 0: the traditional selector/data interface. */
export const FW_CFG_VERSION = 0x01;
/** FW_CFG_ID bit 1: the DMA interface. */
export const FW_CFG_VERSION_DMA = 0x02;

// FWCfgDmaAccess.control bits.
export const FW_CFG_DMA_CTL_ERROR = 0x01;
export const FW_CFG_DMA_CTL_READ = 0x02;
export const FW_CFG_DMA_CTL_SKIP = 0x04;
/** The upper 16 bits of control are a key to select first. */
export const FW_CFG_DMA_CTL_SELECT = 0x08;
export const FW_CFG_DMA_CTL_WRITE = 0x10;

/** "QEMU CFG", the value the DMA address register reads as (big-endian). */
const DMA_SIGNATURE = new Uint8Array([0x51, 0x45, 0x4d, 0x55, 0x20, 0x43, 0x46, 0x47]);
/** Size of FWCfgDmaAccess: u32 control, u32 length, u64 address, all big-endian. */
const DMA_ACCESS_BYTES = 16;

/** One FWCfgFile entry in the directory: u32 size, u16 select, u16 reserved, char name[56]. */
const FILE_ENTRY_BYTES = 64;
const FILE_NAME_BYTES = 56;
/** QEMU's default and minimum number of file slots (x-file-slots). */
const FILE_SLOTS_DEFAULT = 0x20;
const FILE_SLOTS_MIN = 0x10;
/** Our cap: keeps every valid index below FW_CFG_INVALID & FW_CFG_ENTRY_MASK. */
const FILE_SLOTS_MAX = 0x1000;
/** QEMU stores item lengths as uint32 and asserts len < UINT32_MAX. */
const MAX_ITEM_BYTES = 0xfffffffe;

/** Zeros for DMA reads past an item's end, written in chunks so a huge length costs no memory. */
const ZERO_CHUNK = new Uint8Array(4096);

/** Guest-visible state of the fw_cfg device. Item contents are configuration, not state. */
export interface FwCfgState {
  /** Selected key as written (bits 14 and 15 included); FW_CFG_INVALID when out of range. */
  selector: number;
  /** Byte offset of the next data access in the selected item (QEMU's uint32 cur_offset). */
  offset: number;
  /** High half of the DMA address, latched by a write at +0 until the low half arrives. */
  dmaAddressHigh: number;
}

export function defaultFwCfgState(): FwCfgState {
  // QEMU's reset selects the signature item.
  return { selector: FW_CFG_SIGNATURE, offset: 0, dmaAddressHigh: 0 };
}

export interface FwCfgOptions {
  /** Instance name; default "fw_cfg". */
  id?: string;
  /** Guest RAM in bytes (FW_CFG_RAM_SIZE, u64 LE). */
  ramBytes: number;
  /** CPUs present at boot (FW_CFG_NB_CPUS, u16 LE). */
  cpuCount: number;
  /** FW_CFG_MAX_CPUS (QEMU: the APIC ID limit). Default: cpuCount. */
  maxCpus?: number;
  /** FW_CFG_NOGRAPHIC: 1 when the machine has no display (-nographic). Default false. */
  nographic?: boolean;
  /** FW_CFG_BOOT_MENU: 1 for -boot menu=on. Default false. */
  bootMenu?: boolean;
  /** FW_CFG_UUID, 16 bytes (-uuid). Default all zeros, as QEMU without -uuid. */
  uuid?: Uint8Array;
  /**
   * Reboot timeout in ms for "etc/boot-fail-wait" (-boot reboot-timeout); -1 means never
   * reboot, QEMU's default. QEMU always creates this file; so do we.
   */
  rebootTimeoutMs?: number;
  /** Guest memory for the DMA interface. Without it there is no DMA (FW_CFG_ID bit 1 clear). */
  memory?: PhysicalMemory;
  /** Number of file slots (QEMU's x-file-slots). Default 0x20. */
  fileSlots?: number;
  logger?: Logger;
}

interface FileItem {
  readonly name: string;
  /** The name as stored in the directory: UTF-8 bytes, no NUL. */
  readonly nameBytes: Uint8Array;
  readonly data: Uint8Array;
}

export class FwCfg implements Device {
  readonly id: string;
  readonly stateVersion = 1;

  /**
   * The selector/data pair at 0x510: map with length 2 and widths [1, 2]. A 16-bit write
   * selects; byte reads at either port return item data; byte writes (data writes) are
   * ignored, as in QEMU 2.4 and later. The 8-bit data register at 0x511 is the upper half of
   * this mapping and cannot be mapped on its own.
   */
  readonly selectorPort: PortHandler;
  /** The DMA address register at 0x514 (length 8, widths [1, 2, 4]), or undefined without DMA. */
  readonly dmaPort: PortHandler | undefined;

  private s: FwCfgState;
  private readonly memory: PhysicalMemory | undefined;
  private readonly logger: Logger | undefined;
  private readonly fileSlots: number;
  /** Exclusive limit of item indexes (QEMU's fw_cfg_max_entry). */
  private readonly maxEntry: number;
  /** [generic, arch-local] item tables indexed by key & FW_CFG_ENTRY_MASK. */
  private readonly items: [(Uint8Array | undefined)[], (Uint8Array | undefined)[]];
  /** File items sorted by name; file i has key FW_CFG_FILE_FIRST + i. */
  private readonly files: FileItem[] = [];

  constructor(options: FwCfgOptions, state: FwCfgState = defaultFwCfgState()) {
    this.id = options.id ?? 'fw_cfg';
    this.memory = options.memory;
    this.logger = options.logger;
    const slots = options.fileSlots ?? FILE_SLOTS_DEFAULT;
    if (!Number.isInteger(slots) || slots < FILE_SLOTS_MIN || slots > FILE_SLOTS_MAX) {
      throw new WiringError(`${this.id}: file slots must be an integer in [${FILE_SLOTS_MIN}, ${FILE_SLOTS_MAX}], got ${slots}`);
    }
    this.fileSlots = slots;
    this.maxEntry = FW_CFG_FILE_FIRST + slots;
    this.items = [new Array<Uint8Array | undefined>(this.maxEntry), new Array<Uint8Array | undefined>(this.maxEntry)];

    this.selectorPort = {
      ioRead: (_offset: number, size: AccessSize): number => (size === 1 ? this.readData() : 0),
      ioWrite: (offset: number, size: AccessSize, value: number): void => this.writeSelectorPort(offset, size, value),
    };
    this.dmaPort = this.memory
      ? {
          ioRead: (offset: number, size: AccessSize): number => this.readDmaPort(offset, size),
          ioWrite: (offset: number, size: AccessSize, value: number): void => this.writeDmaPort(offset, size, value),
        }
      : undefined;

    this.addStandardItems(options);
    this.s = defaultFwCfgState();
    this.loadState(state, this.stateVersion);
  }

  // --- Configuration (the board, before the guest runs) ---------------------------------

  /**
   * Adds a numbered item. `key` is a generic key below FW_CFG_FILE_FIRST or an arch-local key
   * (bit 15 set). The device keeps a reference to `data`; do not change it afterwards.
   */
  addBytes(key: number, data: Uint8Array): void {
    if (!Number.isInteger(key) || key < 0 || key > 0xffff || (key & FW_CFG_WRITE_CHANNEL) !== 0) {
      throw new WiringError(`${this.id}: bad item key 0x${Number(key).toString(16)}`);
    }
    const arch = key >>> 15;
    const index = key & FW_CFG_ENTRY_MASK;
    if (arch === 0 ? index >= FW_CFG_FILE_FIRST : index >= this.maxEntry) {
      throw new WiringError(`${this.id}: item key 0x${key.toString(16)} is outside the numbered items (files use addFile)`);
    }
    if (this.items[arch][index] !== undefined) {
      throw new WiringError(`${this.id}: item key 0x${key.toString(16)} is already set`);
    }
    checkLength(this.id, `item 0x${key.toString(16)}`, data);
    this.items[arch][index] = data;
  }

  /**
   * Adds a named file item (e.g. "etc/acpi/tables", "bootorder"). Files are kept sorted by
   * name, so adding one renumbers the files after it, as QEMU does. The device keeps a
   * reference to `data`.
   */
  addFile(name: string, data: Uint8Array): void {
    const nameBytes = new TextEncoder().encode(name);
    if (nameBytes.length === 0 || nameBytes.length >= FILE_NAME_BYTES || nameBytes.includes(0)) {
      // XXX: QEMU silently truncates names to 55 bytes; a truncated name is a configuration
      // mistake the user should hear about.
      throw new WiringError(`${this.id}: file name "${name}" must be 1 to ${FILE_NAME_BYTES - 1} bytes without NUL`);
    }
    checkLength(this.id, `file "${name}"`, data);
    if (this.files.length >= this.fileSlots) {
      throw new WiringError(`${this.id}: no free file slot for "${name}" (${this.fileSlots} slots)`);
    }
    let index = this.files.length;
    while (index > 0 && compareBytes(nameBytes, this.files[index - 1]!.nameBytes) < 0) index--;
    if (index > 0 && compareBytes(nameBytes, this.files[index - 1]!.nameBytes) === 0) {
      throw new WiringError(`${this.id}: duplicate file name "${name}"`);
    }
    this.files.splice(index, 0, { name, nameBytes, data });
    for (let i = index; i < this.files.length; i++) this.items[0][FW_CFG_FILE_FIRST + i] = this.files[i]!.data;
    this.items[0][FW_CFG_FILE_DIR] = this.buildDirectory();
  }

  /** The key a file was given, or undefined (for tests and the board's own bookkeeping). */
  fileKey(name: string): number | undefined {
    const i = this.files.findIndex((f) => f.name === name);
    return i < 0 ? undefined : FW_CFG_FILE_FIRST + i;
  }

  // --- Device ------------------------------------------------------------------------------

  reset(): void {
    this.loadState(defaultFwCfgState(), this.stateVersion);
  }

  saveState(): FwCfgState {
    return { ...this.s };
  }

  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    const rec = expectRecord(state, this.id);
    let selector = expectInt(rec, 'selector', 0, 0xffff, this.id);
    const offset = expectInt(rec, 'offset', 0, 0xffffffff, this.id);
    const dmaAddressHigh = expectInt(rec, 'dmaAddressHigh', 0, 0xffffffff, this.id);
    // A key this configuration cannot select is what QEMU's select turns into "invalid".
    if ((selector & FW_CFG_ENTRY_MASK) >= this.maxEntry) selector = FW_CFG_INVALID;
    this.s = { selector, offset, dmaAddressHigh };
  }

  // --- Selector and data -----------------------------------------------------------------

  private select(key: number): void {
    this.s.offset = 0;
    this.s.selector = (key & FW_CFG_ENTRY_MASK) >= this.maxEntry ? FW_CFG_INVALID : key;
  }

  private selectedItem(): Uint8Array | undefined {
    const key = this.s.selector;
    if (key === FW_CFG_INVALID) return undefined;
    return this.items[(key >>> 15) as 0 | 1][key & FW_CFG_ENTRY_MASK];
  }

  /** Next byte of the selected item; 0 past its end or when nothing is selected. */
  private readData(): number {
    const item = this.selectedItem();
    if (item === undefined || this.s.offset >= item.length) return 0;
    return item[this.s.offset++]!;
  }

  private writeSelectorPort(offset: number, size: AccessSize, value: number): void {
    if (size === 2) {
      this.select(value & 0xffff);
    } else if (size === 1) {
      // A data-register write: ignored since QEMU 2.4.
      if (this.logger?.enabled('guest_errors')) {
        this.logger.log('guest_errors', `${this.id}: ignored data write 0x${value.toString(16)} at +${offset}`);
      }
    }
    // XXX: QEMU rejects 4-byte accesses to this pair outright (reads give 0 and consume
    // nothing); our bus splits them into byte accesses, so a 32-bit read at 0x510 consumes two
    // data bytes. No firmware does this.
  }

  // --- DMA -----------------------------------------------------------------------------------

  /** Byte lanes of the big-endian signature "QEMU CFG" as the little-endian port bus sees them. */
  private readDmaPort(offset: number, size: AccessSize): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= (DMA_SIGNATURE[offset + i] ?? 0) << (8 * i);
    return value >>> 0;
  }

  private writeDmaPort(offset: number, size: AccessSize, value: number): void {
    // QEMU accepts only 32-bit writes at +0 and +4 (and 64-bit at +0, which a port cannot do).
    if (size !== 4 || (offset !== 0 && offset !== 4)) {
      if (this.logger?.enabled('guest_errors')) {
        this.logger.log('guest_errors', `${this.id}: ignored ${size}-byte DMA register write at +${offset}`);
      }
      return;
    }
    // The register is big-endian: the byte at the lowest port is the most significant.
    const half = bswap32(value);
    if (offset === 0) {
      this.s.dmaAddressHigh = half;
      return;
    }
    const address = this.s.dmaAddressHigh * 0x1_0000_0000 + half;
    this.s.dmaAddressHigh = 0; // the register reads back as 0 after an operation
    this.dmaTransfer(address);
  }

  /** Runs the FWCfgDmaAccess at guest-physical `descAddress` (QEMU's fw_cfg_dma_transfer). */
  private dmaTransfer(descAddress: number): void {
    const memory = this.memory!;
    let desc: Uint8Array;
    try {
      desc = memory.readBytes(descAddress, DMA_ACCESS_BYTES);
    } catch (e) {
      if (!(e instanceof DmaError)) throw e;
      this.dmaError(descAddress, e);
      this.writeDmaControl(descAddress, FW_CFG_DMA_CTL_ERROR);
      return;
    }
    let control = readBe32(desc, 0);
    let length = readBe32(desc, 4);
    let address = readBe32(desc, 8) * 0x1_0000_0000 + readBe32(desc, 12);

    if (control & FW_CFG_DMA_CTL_SELECT) this.select(control >>> 16);
    const read = (control & FW_CFG_DMA_CTL_READ) !== 0;
    const write = !read && (control & FW_CFG_DMA_CTL_WRITE) !== 0;
    if (!read && !write && (control & FW_CFG_DMA_CTL_SKIP) === 0) length = 0;
    control = 0;

    const item = this.selectedItem();
    try {
      while (length > 0 && control === 0) {
        let len: number;
        if (item === undefined || this.s.offset >= item.length) {
          // Past the end: a read fills zeros, a skip does nothing, a write fails.
          len = length;
          if (read) this.zeroFill(address, len);
          if (write) control |= FW_CFG_DMA_CTL_ERROR;
        } else {
          len = Math.min(length, item.length - this.s.offset);
          if (read) {
            this.s.offset += len;
            memory.writeBytes(address, item.subarray(this.s.offset - len, this.s.offset));
          } else {
            this.s.offset += len;
            // Every item is read-only, so a write is refused as QEMU refuses it.
            if (write) control |= FW_CFG_DMA_CTL_ERROR;
          }
        }
        address += len;
        length -= len;
      }
    } catch (e) {
      if (!(e instanceof DmaError)) throw e;
      this.dmaError(descAddress, e);
      control |= FW_CFG_DMA_CTL_ERROR;
    }
    this.writeDmaControl(descAddress, control);
  }

  private zeroFill(address: number, len: number): void {
    const memory = this.memory!;
    // Check the whole range first so that a hostile length allocates and loops over nothing.
    if (!memory.isRam(address, len)) {
      throw new DmaError(`DMA of ${len} bytes at 0x${address.toString(16)} is outside guest RAM`);
    }
    for (let done = 0; done < len; done += ZERO_CHUNK.length) {
      const n = Math.min(ZERO_CHUNK.length, len - done);
      memory.writeBytes(address + done, n === ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, n));
    }
  }

  /** Stores the control word back into the guest's FWCfgDmaAccess; a bad address is ignored, as in QEMU. */
  private writeDmaControl(descAddress: number, control: number): void {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, control >>> 0, false);
    try {
      this.memory!.writeBytes(descAddress, bytes);
    } catch (e) {
      if (!(e instanceof DmaError)) throw e;
    }
  }

  private dmaError(descAddress: number, e: DmaError): void {
    if (this.logger?.enabled('guest_errors')) {
      this.logger.log('guest_errors', `${this.id}: DMA descriptor at 0x${descAddress.toString(16)}: ${e.message}`);
    }
  }

  // --- Contents -------------------------------------------------------------------------

  /** The items QEMU's fw_cfg_common_realize and the x86 fw_cfg_arch_create always add. */
  private addStandardItems(o: FwCfgOptions): void {
    if (!Number.isSafeInteger(o.ramBytes) || o.ramBytes < 0) {
      throw new WiringError(`${this.id}: RAM size ${o.ramBytes} is not a byte count`);
    }
    const maxCpus = o.maxCpus ?? o.cpuCount;
    for (const [what, n] of [['CPU count', o.cpuCount], ['maximum CPU count', maxCpus]] as const) {
      if (!Number.isInteger(n) || n < 1 || n > 0xffff) throw new WiringError(`${this.id}: ${what} ${n} is out of range`);
    }
    if (o.uuid !== undefined && o.uuid.length !== 16) throw new WiringError(`${this.id}: UUID must be 16 bytes`);
    const reboot = o.rebootTimeoutMs ?? -1;
    if (reboot !== -1 && !(Number.isInteger(reboot) && reboot >= 0 && reboot <= 0xffff)) {
      throw new WiringError(`${this.id}: reboot timeout must be -1 or 0..65535 ms, got ${reboot}`);
    }

    this.addBytes(FW_CFG_SIGNATURE, new TextEncoder().encode('QEMU'));
    this.addBytes(FW_CFG_UUID, o.uuid ? o.uuid.slice() : new Uint8Array(16));
    this.addBytes(FW_CFG_NOGRAPHIC, le(2, o.nographic ? 1 : 0));
    this.addBytes(FW_CFG_BOOT_MENU, le(2, o.bootMenu ? 1 : 0));
    this.addFile('etc/boot-fail-wait', le(4, reboot === -1 ? 0xffffffff : reboot));
    this.addBytes(FW_CFG_ID, le(4, FW_CFG_VERSION | (this.memory ? FW_CFG_VERSION_DMA : 0)));
    this.addBytes(FW_CFG_MAX_CPUS, le(2, maxCpus));
    this.addBytes(FW_CFG_RAM_SIZE, le(8, o.ramBytes));
    this.addBytes(FW_CFG_NB_CPUS, le(2, o.cpuCount));
  }

  /** FWCfgFiles: u32 count (BE), then one 64-byte entry per slot, unused slots zero (as QEMU). */
  private buildDirectory(): Uint8Array {
    const dir = new Uint8Array(4 + FILE_ENTRY_BYTES * this.fileSlots);
    const view = new DataView(dir.buffer);
    view.setUint32(0, this.files.length, false);
    this.files.forEach((f, i) => {
      const at = 4 + i * FILE_ENTRY_BYTES;
      view.setUint32(at, f.data.length, false);
      view.setUint16(at + 4, FW_CFG_FILE_FIRST + i, false);
      dir.set(f.nameBytes, at + 8);
    });
    return dir;
  }
}

function checkLength(id: string, what: string, data: Uint8Array): void {
  if (!(data instanceof Uint8Array) || data.length > MAX_ITEM_BYTES) {
    throw new WiringError(`${id}: ${what} must be a Uint8Array of at most ${MAX_ITEM_BYTES} bytes`);
  }
}

/** strcmp order: unsigned bytes, shorter prefix first. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** `value` as `bytes` little-endian bytes (value below 2^53). */
function le(bytes: number, value: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) {
    out[i] = value % 256;
    value = Math.floor(value / 256);
  }
  return out;
}

function readBe32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}
