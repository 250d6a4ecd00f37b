/**
 * virtio over PCI as QEMU presents a transitional device (virtio 1.1 section 4.1; QEMU's
 * hw/virtio/virtio-pci.c): vendor 0x1AF4, device 0x1000 + type − 1, revision 0, subsystem ID
 * = the virtio device type, INTA.
 *
 *   BAR0  I/O, the legacy interface (4.1.4.8): host/guest features (low 32 bits), queue PFN,
 *         size, select, notify, status, ISR; with MSI-X enabled the config and queue vector
 *         registers at 0x14/0x16 and the device configuration at 0x18 instead of 0x14.
 *   BAR1  32-bit memory, 4 KiB: the MSI-X table (offset 0) and PBA (0x800).
 *   BAR4  64-bit prefetchable memory, 16 KiB, the modern interface: common configuration at
 *         0x0000, ISR at 0x1000, device configuration at 0x2000, notifications at 0x3000
 *         (queue_notify_off = queue index, notify_off_multiplier 4).
 *   Vendor capabilities (4.1.4) at 0x40 common, 0x50 ISR, 0x60 device, 0x70 notify and 0x84
 *   the PCI configuration access window; MSI-X at 0x98 — QEMU's offsets. XXX: QEMU links
 *   the list newest-first (0x98 → 0x84 → … → 0x40); ours runs in ascending order.
 *
 * Features: the device type's, plus RING_INDIRECT_DESC, RING_EVENT_IDX and VERSION_1; a
 * legacy driver sees (and can accept) the low 32 bits only, with ANY_LAYOUT. A modern driver
 * must accept VERSION_1 and nothing that was not offered, or FEATURES_OK does not stick.
 *
 * Errors: a driver that breaks a virtqueue rule, or points the device at memory that is not
 * RAM, puts the device into DEVICE_NEEDS_RESET (status bit 0x40) with a configuration-change
 * interrupt; the device then ignores its queues until the driver resets it (QEMU's
 * virtio_error). DMA happens only while COMMAND.MASTER is set.
 *
 * Interrupts: ISR bit 0 (used buffers) / bit 1 (configuration) drive INTx while MSI-X is
 * off; with MSI-X on, the queue's or the configuration vector is signalled instead.
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import type { MmioHandler } from '../../src/memory/physical-memory.js';
import type { Logger } from '../../src/machine/log.js';
import { DmaError } from '../../src/memory/physical-memory.js';
import { SnapshotError } from '../../src/errors.js';
import { expectBool, expectInt, expectRecord, type StateRecord } from '../../src/snapshot/validate.js';
import { PCI_COMMAND, PCI_COMMAND_MASTER, PciDevice, overlaps } from '../pci/pci-device.js';
import type { MsiSink } from '../pci/msi.js';
import { MSIX_BAR_SIZE, MSIX_CAP_LENGTH, MSIX_CONTROL_ENABLE, MSIX_CONTROL_FUNCTION_MASK, MSIX_PBA_OFFSET, MsixTable, PCI_CAP_ID_MSIX, defaultMsixState, type MsixState } from '../pci/msix.js';
import {
  F_ANY_LAYOUT, F_RING_EVENT_IDX, F_RING_INDIRECT_DESC, F_VERSION_1, ISR_CONFIG, ISR_QUEUE, STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER_OK, STATUS_FEATURES_OK, VIRTIO_MSI_NO_VECTOR, featureBit, hasFeature,
} from './virtio-constants.js';
import { Virtqueue, VirtqueueError, defaultVirtqueueState, isValidQueueSize, legacyRingAddresses, type GuestMemory, type VirtqueueState } from './virtqueue.js';
import type { VirtioDeviceModel, VirtioTransport } from './virtio-device.js';

export const VIRTIO_PCI_VENDOR_ID = 0x1af4;
/** Transitional device IDs: 0x1000 + device type − 1 (4.1.2.1). */
export const VIRTIO_PCI_TRANSITIONAL_BASE = 0x1000;

// --- Legacy registers in BAR0 (4.1.4.8) -------------------------------------------------------
const L_HOST_FEATURES = 0x00;
const L_GUEST_FEATURES = 0x04;
const L_QUEUE_PFN = 0x08;
const L_QUEUE_NUM = 0x0c;
const L_QUEUE_SEL = 0x0e;
const L_QUEUE_NOTIFY = 0x10;
const L_STATUS = 0x12;
const L_ISR = 0x13;
const L_MSIX_CONFIG_VECTOR = 0x14;
const L_MSIX_QUEUE_VECTOR = 0x16;
const L_CONFIG_NO_MSIX = 0x14;
const L_CONFIG_MSIX = 0x18;
/** Legacy queue PFNs are in 4 KiB pages. */
const L_PFN_SHIFT = 12;

// --- Modern BAR4 layout (QEMU) ----------------------------------------------------------------
export const MODERN_BAR = 4;
export const MSIX_BAR = 1;
const MODERN_BAR_SIZE = 0x4000;
const REGION_COMMON = 0x0000;
const REGION_ISR = 0x1000;
const REGION_DEVICE = 0x2000;
const REGION_NOTIFY = 0x3000;
const REGION_SIZE = 0x1000;
export const NOTIFY_OFF_MULTIPLIER = 4;

// Common configuration (4.1.4.3).
const C_DFSELECT = 0x00;
const C_DF = 0x04;
const C_GFSELECT = 0x08;
const C_GF = 0x0c;
const C_MSIX = 0x10;
const C_NUMQ = 0x12;
const C_STATUS = 0x14;
const C_CFGGENERATION = 0x15;
const C_Q_SELECT = 0x16;
const C_Q_SIZE = 0x18;
const C_Q_MSIX = 0x1a;
const C_Q_ENABLE = 0x1c;
const C_Q_NOFF = 0x1e;
const C_Q_DESCLO = 0x20;
const C_Q_DESCHI = 0x24;
const C_Q_AVAILLO = 0x28;
const C_Q_AVAILHI = 0x2c;
const C_Q_USEDLO = 0x30;
const C_Q_USEDHI = 0x34;

// Vendor capability (4.1.4): cap_vndr, cap_next, cap_len, cfg_type, bar, id, padding[2], offset, length.
const PCI_CAP_ID_VNDR = 0x09;
const CAP_COMMON_CFG = 1;
const CAP_NOTIFY_CFG = 2;
const CAP_ISR_CFG = 3;
const CAP_DEVICE_CFG = 4;
const CAP_PCI_CFG = 5;
const VIRTIO_CAP_LENGTH = 16;
const VIRTIO_NOTIFY_CAP_LENGTH = 20;
const VIRTIO_PCI_CFG_CAP_LENGTH = 20;

/** Guest-visible state of the transport beyond config space and the MSI-X table. */
export interface VirtioTransportState {
  status: number;
  isr: number;
  /** Features the driver wrote, as two 32-bit halves. */
  driverFeaturesLo: number;
  driverFeaturesHi: number;
  deviceFeatureSelect: number;
  driverFeatureSelect: number;
  queueSelect: number;
  msixConfigVector: number;
  configGeneration: number;
  /** The driver broke a rule: DEVICE_NEEDS_RESET until reset. */
  broken: boolean;
  queues: VirtqueueState[];
}

/** What a snapshot holds beyond config space: the transport, the MSI-X table, the device type. */
export interface VirtioPciState extends VirtioTransportState {
  msix: MsixState;
  /** The device type's own state. */
  device: unknown;
}

const STATE_VERSION = 1;

export interface VirtioPciDeps {
  id: string;
  qdevId?: string;
  memory: GuestMemory;
  msi: MsiSink;
  logger?: Logger;
  /** PCI class code (base << 16 | sub << 8 | prog-if). */
  classCode: number;
}

/** A virtio device type behind QEMU's transitional virtio-pci transport. */
export class VirtioPciDevice extends PciDevice implements VirtioTransport {
  readonly mem: GuestMemory;
  readonly msix: MsixTable;
  private t: VirtioTransportState;
  private readonly vqs: Virtqueue[] = [];
  private readonly offered: bigint;
  private readonly msixCap: number;
  private readonly pciCfgCap: number;
  private readonly legacyBarSize: number;

  constructor(deps: VirtioPciDeps, readonly model: VirtioDeviceModel) {
    super({ id: deps.id, qdevId: deps.qdevId, logger: deps.logger }, {
      vendorId: VIRTIO_PCI_VENDOR_ID,
      deviceId: VIRTIO_PCI_TRANSITIONAL_BASE + model.deviceType - 1,
      revision: 0,
      classCode: deps.classCode,
      subsystemVendorId: VIRTIO_PCI_VENDOR_ID,
      subsystemId: model.deviceType,
      interruptPin: 1,
    });
    this.mem = deps.memory;
    this.offered = model.deviceFeatures | featureBit(F_RING_INDIRECT_DESC) | featureBit(F_RING_EVENT_IDX) | featureBit(F_VERSION_1);
    this.msix = new MsixTable(model.queueMaxSizes.length + 1, deps.msi);
    this.t = this.defaultState();
    model.queueMaxSizes.forEach((_, i) => this.vqs.push(new Virtqueue(this.t.queues[i]!, this.mem, () => this.ringFeatures())));

    this.legacyBarSize = Math.max(32, 2 ** Math.ceil(Math.log2(L_CONFIG_MSIX + model.configSize)));
    const legacy: PortHandler = { ioRead: (o, s) => this.legacyRead(o, s), ioWrite: (o, s, v) => this.legacyWrite(o, s, v) };
    this.addBar(0, { kind: 'io', sizeBytes: this.legacyBarSize, io: legacy, ioWidths: [1, 2, 4] });
    this.addBar(MSIX_BAR, { kind: 'mem32', sizeBytes: MSIX_BAR_SIZE, mmio: this.msix });
    const modern: MmioHandler = { mmioRead: (o, s) => this.modernRead(o, s), mmioWrite: (o, s, v) => this.modernWrite(o, s, v) };
    this.addBar(MODERN_BAR, { kind: 'mem64', sizeBytes: MODERN_BAR_SIZE, prefetchable: true, mmio: modern });

    this.addVirtioCap(CAP_COMMON_CFG, REGION_COMMON, REGION_SIZE);
    this.addVirtioCap(CAP_ISR_CFG, REGION_ISR, REGION_SIZE);
    this.addVirtioCap(CAP_DEVICE_CFG, REGION_DEVICE, REGION_SIZE);
    const notify = this.addVirtioCap(CAP_NOTIFY_CFG, REGION_NOTIFY, REGION_SIZE, VIRTIO_NOTIFY_CAP_LENGTH);
    this.setDefault(notify + 16, 4, NOTIFY_OFF_MULTIPLIER);
    // The PCI configuration access capability: bar, offset, length and the data window are
    // the driver's to write (4.1.4.7).
    this.pciCfgCap = this.addVirtioCap(CAP_PCI_CFG, 0, 0, VIRTIO_PCI_CFG_CAP_LENGTH, 0);
    this.setWritable(this.pciCfgCap + 4, 1, 0xff);
    this.setWritable(this.pciCfgCap + 8, 4, 0xffffffff);
    this.setWritable(this.pciCfgCap + 12, 4, 0xffffffff);
    this.setWritable(this.pciCfgCap + 16, 4, 0xffffffff);
    this.msixCap = this.addCapability(PCI_CAP_ID_MSIX, MSIX_CAP_LENGTH);
    this.setDefault(this.msixCap + 2, 2, this.msix.vectors - 1);
    this.setWritable(this.msixCap + 2, 2, MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK);
    this.setDefault(this.msixCap + 4, 4, 0 | MSIX_BAR);
    this.setDefault(this.msixCap + 8, 4, MSIX_PBA_OFFSET | MSIX_BAR);
    this.finishInit();
    model.attach(this);
  }

  private addVirtioCap(type: number, offset: number, length: number, capLen = VIRTIO_CAP_LENGTH, bar = MODERN_BAR): number {
    const at = this.addCapability(PCI_CAP_ID_VNDR, capLen);
    this.setDefault(at + 2, 1, capLen);
    this.setDefault(at + 3, 1, type);
    this.setDefault(at + 4, 1, bar);
    this.setDefault(at + 8, 4, offset);
    this.setDefault(at + 12, 4, length);
    return at;
  }

  private defaultState(): VirtioTransportState {
    return {
      status: 0, isr: 0, driverFeaturesLo: 0, driverFeaturesHi: 0, deviceFeatureSelect: 0, driverFeatureSelect: 0,
      queueSelect: 0, msixConfigVector: VIRTIO_MSI_NO_VECTOR, configGeneration: 0, broken: false,
      queues: this.model.queueMaxSizes.map((n) => defaultVirtqueueState(n)),
    };
  }

  // --- VirtioTransport -------------------------------------------------------------------------

  get negotiated(): bigint {
    return BigInt(this.t.driverFeaturesLo >>> 0) | (BigInt(this.t.driverFeaturesHi >>> 0) << 32n);
  }

  queue(index: number): Virtqueue {
    return this.vqs[index]!;
  }

  get running(): boolean {
    return (this.t.status & STATUS_DRIVER_OK) !== 0 && !this.t.broken && (this.peek(PCI_COMMAND, 2) & PCI_COMMAND_MASTER) !== 0;
  }

  /** The transport's status register (tests, info). */
  get deviceStatus(): number {
    return this.t.status;
  }

  get isrStatus(): number {
    return this.t.isr;
  }

  interruptQueue(index: number): void {
    const vq = this.vqs[index];
    if (!vq || !vq.shouldInterrupt()) return;
    this.t.isr |= ISR_QUEUE;
    if (this.msix.isEnabled) {
      if (vq.s.msixVector !== VIRTIO_MSI_NO_VECTOR) this.msix.notify(vq.s.msixVector);
    } else {
      this.updateIrq();
    }
  }

  configChanged(): void {
    this.t.configGeneration = (this.t.configGeneration + 1) & 0xff;
    this.t.isr |= ISR_CONFIG;
    if (this.msix.isEnabled) {
      if (this.t.msixConfigVector !== VIRTIO_MSI_NO_VECTOR) this.msix.notify(this.t.msixConfigVector);
    } else {
      this.updateIrq();
    }
  }

  guestError(message: string): void {
    if (this.logger?.enabled('guest_errors')) this.logger.log('guest_errors', `${this.id}: ${message}`);
  }

  /**
   * The driver broke a rule (virtio 1.1 2.1.2): DEVICE_NEEDS_RESET and a configuration
   * interrupt; the queues stay untouched until the driver resets the device.
   */
  private fail(reason: string): void {
    if (this.t.broken) return;
    this.guestError(`${reason}; device needs reset`);
    this.t.broken = true;
    this.t.status |= STATUS_DEVICE_NEEDS_RESET;
    this.configChanged();
  }

  guarded<T>(f: () => T, fallback: T): T {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof VirtqueueError || e instanceof DmaError)) throw e;
      this.fail(e.message);
      return fallback;
    }
  }

  /** Runs the device type's queue processing, turning a driver's rule-breaking into `fail`. */
  private process(index: number): void {
    if (!this.running || index >= this.vqs.length || !this.vqs[index]!.s.ready) return;
    this.guarded(() => this.model.processQueue(index), undefined);
  }

  private notifyQueue(index: number): void {
    if (index >= this.vqs.length) {
      this.guestError(`notify of queue ${index}, which does not exist`);
      return;
    }
    if (!this.running) return;
    this.process(index);
  }

  private processAll(): void {
    for (let i = 0; i < this.vqs.length; i++) this.process(i);
  }

  private ringFeatures(): { indirect: boolean; eventIdx: boolean } {
    const f = this.negotiated;
    return { indirect: hasFeature(f, F_RING_INDIRECT_DESC), eventIdx: hasFeature(f, F_RING_EVENT_IDX) };
  }

  private updateIrq(): void {
    this.setIntx(this.t.isr !== 0 && !this.msix.isEnabled);
  }

  /** Reads and clears the ISR (4.1.4.5), lowering INTx. */
  private readIsr(): number {
    const v = this.t.isr;
    this.t.isr = 0;
    this.updateIrq();
    return v;
  }

  // --- Status and features ---------------------------------------------------------------------

  private writeStatus(value: number, legacy: boolean): void {
    value &= 0xff;
    if (value === 0) {
      this.deviceReset();
      return;
    }
    const before = this.t.status;
    if (!legacy && (value & STATUS_FEATURES_OK) && !(before & STATUS_FEATURES_OK) && !this.featuresAcceptable()) {
      this.guestError(`driver features 0x${this.negotiated.toString(16)} not acceptable (offered 0x${this.offered.toString(16)}); FEATURES_OK refused`);
      value &= ~STATUS_FEATURES_OK;
    }
    // NEEDS_RESET is the device's bit: the driver cannot clear it.
    this.t.status = (value & ~STATUS_DEVICE_NEEDS_RESET) | (this.t.status & STATUS_DEVICE_NEEDS_RESET);
    if (legacy && (value & STATUS_DRIVER_OK) && (this.peek(PCI_COMMAND, 2) & PCI_COMMAND_MASTER) === 0) {
      // QEMU's workaround for old legacy drivers that forget bus mastering.
      super.configWrite(PCI_COMMAND, 2, this.peek(PCI_COMMAND, 2) | PCI_COMMAND_MASTER);
    }
    if ((value & STATUS_DRIVER_OK) && !(before & STATUS_DRIVER_OK)) this.processAll();
  }

  private featuresAcceptable(): boolean {
    const f = this.negotiated;
    return (f & ~this.offered) === 0n && hasFeature(f, F_VERSION_1);
  }

  /** Legacy GUEST_FEATURES: the low 32 bits, limited to what is offered (QEMU ignores the rest). */
  private legacyOffered(): number {
    return Number((this.offered | featureBit(F_ANY_LAYOUT)) & 0xffffffffn);
  }

  /** Device reset (status 0): everything but the PCI function's own registers. */
  private deviceReset(): void {
    this.t = this.defaultState();
    this.vqs.forEach((vq, i) => (vq.s = this.t.queues[i]!));
    this.model.reset();
    this.updateIrq();
  }

  // --- Legacy interface (BAR0) -------------------------------------------------------------

  private legacyConfigOffset(): number {
    return this.msix.isEnabled ? L_CONFIG_MSIX : L_CONFIG_NO_MSIX;
  }

  private selectedQueue(): VirtqueueState | undefined {
    return this.t.queues[this.t.queueSelect];
  }

  private legacyRead(offset: number, size: AccessSize): number {
    const cfg = this.legacyConfigOffset();
    if (offset >= cfg) return this.configRead8(offset - cfg, size);
    const q = this.selectedQueue();
    switch (offset) {
      case L_HOST_FEATURES: return this.legacyOffered() >>> 0;
      case L_GUEST_FEATURES: return this.t.driverFeaturesLo >>> 0;
      case L_QUEUE_PFN: return q ? Math.floor(q.descAddr / 2 ** L_PFN_SHIFT) >>> 0 : 0;
      case L_QUEUE_NUM: return q ? this.model.queueMaxSizes[this.t.queueSelect]! : 0;
      case L_QUEUE_SEL: return this.t.queueSelect;
      case L_STATUS: return this.t.status;
      case L_ISR: return this.readIsr();
      case L_MSIX_CONFIG_VECTOR: return this.t.msixConfigVector;
      case L_MSIX_QUEUE_VECTOR: return q ? q.msixVector : VIRTIO_MSI_NO_VECTOR;
      default:
        this.guestError(`legacy read of ${size} bytes at 0x${offset.toString(16)}`);
        return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    }
  }

  private legacyWrite(offset: number, size: AccessSize, value: number): void {
    const cfg = this.legacyConfigOffset();
    if (offset >= cfg) {
      this.configWrite8(offset - cfg, size, value);
      return;
    }
    const q = this.selectedQueue();
    switch (offset) {
      case L_GUEST_FEATURES:
        this.t.driverFeaturesLo = (value & this.legacyOffered()) >>> 0;
        this.t.driverFeaturesHi = 0;
        return;
      case L_QUEUE_PFN:
        if (value === 0) {
          // QEMU: a zero PFN resets the device (Linux writes it when it deletes a queue).
          this.deviceReset();
          return;
        }
        if (q) {
          q.size = this.model.queueMaxSizes[this.t.queueSelect]!;
          q.descAddr = (value >>> 0) * 2 ** L_PFN_SHIFT;
          const { availAddr, usedAddr } = legacyRingAddresses(q.descAddr, q.size);
          q.availAddr = availAddr;
          q.usedAddr = usedAddr;
          q.ready = true;
        }
        return;
      case L_QUEUE_SEL:
        this.t.queueSelect = value & 0xffff;
        return;
      case L_QUEUE_NOTIFY:
        this.notifyQueue(value & 0xffff);
        return;
      case L_STATUS:
        this.writeStatus(value, true);
        return;
      case L_MSIX_CONFIG_VECTOR:
        if (this.msix.isEnabled) this.t.msixConfigVector = this.checkedVector(value);
        return;
      case L_MSIX_QUEUE_VECTOR:
        if (this.msix.isEnabled && q) q.msixVector = this.checkedVector(value);
        return;
      default:
        this.guestError(`legacy write of 0x${value.toString(16)} at 0x${offset.toString(16)} ignored`);
    }
  }

  /** A vector number the table has, else NO_VECTOR (which the driver reads back as failure). */
  private checkedVector(value: number): number {
    value &= 0xffff;
    return value < this.msix.vectors ? value : VIRTIO_MSI_NO_VECTOR;
  }

  private configRead8(offset: number, size: AccessSize): number {
    if (offset + size > this.model.configSize) {
      // Partly or wholly beyond the configuration: the bytes inside, the rest zero.
      let v = 0;
      for (let i = 0; i < size; i++) if (offset + i < this.model.configSize) v |= this.model.readConfig(offset + i, 1) << (8 * i);
      return v >>> 0;
    }
    return this.model.readConfig(offset, size);
  }

  private configWrite8(offset: number, size: AccessSize, value: number): void {
    if (offset + size > this.model.configSize) {
      this.guestError(`config write at ${offset}+${size} beyond the ${this.model.configSize}-byte configuration ignored`);
      return;
    }
    this.model.writeConfig(offset, size, value);
  }

  // --- Modern interface (BAR4) -------------------------------------------------------------

  private modernRead(offset: number, size: AccessSize): number {
    if (offset < REGION_COMMON + REGION_SIZE) return this.commonRead(offset, size);
    if (offset < REGION_ISR + REGION_SIZE) return offset === REGION_ISR ? this.readIsr() : 0;
    if (offset < REGION_DEVICE + REGION_SIZE) return this.configRead8(offset - REGION_DEVICE, size);
    return 0; // the notification region reads as zero
  }

  private modernWrite(offset: number, size: AccessSize, value: number): void {
    if (offset < REGION_COMMON + REGION_SIZE) this.commonWrite(offset, size, value);
    else if (offset < REGION_ISR + REGION_SIZE) this.guestError('write to the ISR ignored');
    else if (offset < REGION_DEVICE + REGION_SIZE) this.configWrite8(offset - REGION_DEVICE, size, value);
    else this.notifyQueue(Math.floor((offset - REGION_NOTIFY) / NOTIFY_OFF_MULTIPLIER));
  }

  private commonRead(offset: number, size: AccessSize): number {
    const t = this.t;
    const q = this.selectedQueue();
    let v: number;
    switch (offset) {
      case C_DFSELECT: v = t.deviceFeatureSelect; break;
      case C_DF:
        v = t.deviceFeatureSelect === 0 ? Number(this.offered & 0xffffffffn) : t.deviceFeatureSelect === 1 ? Number(this.offered >> 32n) : 0;
        break;
      case C_GFSELECT: v = t.driverFeatureSelect; break;
      case C_GF: v = t.driverFeatureSelect === 0 ? t.driverFeaturesLo : t.driverFeatureSelect === 1 ? t.driverFeaturesHi : 0; break;
      case C_MSIX: v = t.msixConfigVector; break;
      case C_NUMQ: v = this.vqs.length; break;
      case C_STATUS: v = t.status; break;
      case C_CFGGENERATION: v = t.configGeneration; break;
      case C_Q_SELECT: v = t.queueSelect; break;
      case C_Q_SIZE: v = q ? q.size : 0; break;
      case C_Q_MSIX: v = q ? q.msixVector : VIRTIO_MSI_NO_VECTOR; break;
      case C_Q_ENABLE: v = q?.ready ? 1 : 0; break;
      case C_Q_NOFF: v = q ? t.queueSelect : 0; break;
      case C_Q_DESCLO: v = q ? q.descAddr % 2 ** 32 : 0; break;
      case C_Q_DESCHI: v = q ? Math.floor(q.descAddr / 2 ** 32) : 0; break;
      case C_Q_AVAILLO: v = q ? q.availAddr % 2 ** 32 : 0; break;
      case C_Q_AVAILHI: v = q ? Math.floor(q.availAddr / 2 ** 32) : 0; break;
      case C_Q_USEDLO: v = q ? q.usedAddr % 2 ** 32 : 0; break;
      case C_Q_USEDHI: v = q ? Math.floor(q.usedAddr / 2 ** 32) : 0; break;
      default: v = 0;
    }
    return size === 4 ? v >>> 0 : v & (size === 2 ? 0xffff : 0xff);
  }

  private commonWrite(offset: number, _size: AccessSize, value: number): void {
    const t = this.t;
    const q = this.selectedQueue();
    value >>>= 0;
    switch (offset) {
      case C_DFSELECT: t.deviceFeatureSelect = value; return;
      case C_GFSELECT: t.driverFeatureSelect = value; return;
      case C_GF:
        if (t.status & STATUS_FEATURES_OK) return this.guestError('driver features written after FEATURES_OK ignored');
        if (t.driverFeatureSelect === 0) t.driverFeaturesLo = value;
        else if (t.driverFeatureSelect === 1) t.driverFeaturesHi = value;
        return;
      case C_MSIX: t.msixConfigVector = this.checkedVector(value); return;
      case C_STATUS: this.writeStatus(value, false); return;
      case C_Q_SELECT: t.queueSelect = value & 0xffff; return;
      default: break;
    }
    if (!q) {
      this.guestError(`write to queue register 0x${offset.toString(16)} of queue ${t.queueSelect}, which does not exist`);
      return;
    }
    if (q.ready && offset !== C_Q_MSIX && offset !== C_Q_ENABLE) {
      this.guestError(`queue ${t.queueSelect} register 0x${offset.toString(16)} written while enabled; ignored`);
      return;
    }
    const hi = (lo: number) => lo % 2 ** 32 + (value * 2 ** 32);
    const lo = (old: number) => Math.floor(old / 2 ** 32) * 2 ** 32 + value;
    switch (offset) {
      case C_Q_SIZE:
        // A size above the maximum is refused; a size that is not a power of two is caught
        // when the queue is used (DEVICE_NEEDS_RESET), as the specification requires.
        if (value === 0 || value > this.model.queueMaxSizes[t.queueSelect]!) this.guestError(`queue size ${value} refused`);
        else q.size = value & 0xffff;
        return;
      case C_Q_MSIX: q.msixVector = this.checkedVector(value); return;
      case C_Q_ENABLE:
        if (value !== 1) return this.guestError(`queue_enable written with ${value}`);
        if (!isValidQueueSize(q.size)) return this.fail(`queue ${t.queueSelect} enabled with size ${q.size}, not a power of two`);
        q.ready = true;
        return;
      case C_Q_DESCLO: q.descAddr = lo(q.descAddr); return;
      case C_Q_DESCHI: q.descAddr = hi(q.descAddr); return;
      case C_Q_AVAILLO: q.availAddr = lo(q.availAddr); return;
      case C_Q_AVAILHI: q.availAddr = hi(q.availAddr); return;
      case C_Q_USEDLO: q.usedAddr = lo(q.usedAddr); return;
      case C_Q_USEDHI: q.usedAddr = hi(q.usedAddr); return;
      default:
        this.guestError(`write of 0x${value.toString(16)} to read-only common register 0x${offset.toString(16)} ignored`);
    }
  }

  // --- PCI configuration hooks ---------------------------------------------------------------

  override configRead(offset: number, size: AccessSize): number {
    const data = this.pciCfgCap + 16;
    if (overlaps(offset, size, data, 4)) this.pciCfgAccess(false);
    return super.configRead(offset, size);
  }

  protected override configWritten(offset: number, size: AccessSize): void {
    if (overlaps(offset, size, this.msixCap + 2, 2)) {
      this.msix.setControl(this.peek(this.msixCap + 2, 2));
      this.updateIrq();
    }
    if (overlaps(offset, size, this.pciCfgCap + 16, 4)) this.pciCfgAccess(true);
    if (overlaps(offset, size, PCI_COMMAND, 1) && this.running) this.processAll();
  }

  /**
   * VIRTIO_PCI_CAP_PCI_CFG (4.1.4.7.2): an access to pci_cfg_data reads or writes `length`
   * bytes of BAR `bar` at `offset`. Only the modern BAR is reachable this way (as in QEMU).
   */
  private pciCfgAccess(write: boolean): void {
    const cap = this.pciCfgCap;
    const bar = this.peek(cap + 4, 1);
    const offset = this.peek(cap + 8, 4);
    const length = this.peek(cap + 12, 4);
    if (bar !== MODERN_BAR || (length !== 1 && length !== 2 && length !== 4) || offset % length !== 0 || offset + length > MODERN_BAR_SIZE) return;
    if (write) {
      this.modernWrite(offset, length, this.peek(cap + 16, length));
    } else {
      const v = this.modernRead(offset, length);
      this.config.set([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff].slice(0, length), cap + 16);
    }
  }

  protected override configReset(): void {
    this.msix.setControl(this.peek(this.msixCap + 2, 2));
    this.updateIrq();
  }

  protected override resetExtra(): void {
    this.msix.s = defaultMsixState(this.msix.vectors);
    this.deviceReset();
  }

  // --- State -------------------------------------------------------------------------------

  protected override saveExtraState(): VirtioPciState {
    const t = this.t;
    return {
      ...t,
      queues: t.queues.map((q) => ({ ...q })),
      msix: { table: [...this.msix.s.table], pending: [...this.msix.s.pending] },
      device: this.model.saveState(),
    };
  }

  protected override validateExtraState(extra: unknown): void {
    this.parseExtra(extra);
  }

  protected override loadExtraState(extra: unknown): void {
    const parsed = this.parseExtra(extra);
    this.model.loadState(parsed.device, this.model.stateVersion);
    const { msix, device: _device, ...transport } = parsed;
    this.t = transport;
    this.msix.s = msix;
    this.vqs.forEach((vq, i) => (vq.s = parsed.queues[i]!));
  }

  private parseExtra(extra: unknown): VirtioPciState {
    const what = `${this.id}.extra`;
    const rec = expectRecord(extra, what);
    const addr = (r: StateRecord, k: string, w: string) => expectInt(r, k, 0, Number.MAX_SAFE_INTEGER, w);
    const queuesRaw = rec['queues'];
    if (!Array.isArray(queuesRaw) || queuesRaw.length !== this.vqs.length) throw new SnapshotError(`${what}.queues: expected ${this.vqs.length} queues`);
    const queues = queuesRaw.map((raw, i): VirtqueueState => {
      const w = `${what}.queues[${i}]`;
      const r = expectRecord(raw, w);
      return {
        size: expectInt(r, 'size', 1, this.model.queueMaxSizes[i]!, w),
        ready: expectBool(r, 'ready', w),
        descAddr: addr(r, 'descAddr', w),
        availAddr: addr(r, 'availAddr', w),
        usedAddr: addr(r, 'usedAddr', w),
        lastAvailIdx: expectInt(r, 'lastAvailIdx', 0, 0xffff, w),
        usedIdx: expectInt(r, 'usedIdx', 0, 0xffff, w),
        signalledUsed: expectInt(r, 'signalledUsed', -1, 0xffff, w),
        msixVector: this.vectorField(r, 'msixVector', w),
      };
    });
    const msix = MsixTable.validate(rec['msix'] as MsixState, this.msix.vectors, `${what}.msix`);
    this.model.validateState(rec['device'], this.model.stateVersion);
    return {
      status: expectInt(rec, 'status', 0, 0xff, what),
      isr: expectInt(rec, 'isr', 0, ISR_QUEUE | ISR_CONFIG, what),
      driverFeaturesLo: expectInt(rec, 'driverFeaturesLo', 0, 0xffffffff, what),
      driverFeaturesHi: expectInt(rec, 'driverFeaturesHi', 0, 0xffffffff, what),
      deviceFeatureSelect: expectInt(rec, 'deviceFeatureSelect', 0, 0xffffffff, what),
      driverFeatureSelect: expectInt(rec, 'driverFeatureSelect', 0, 0xffffffff, what),
      queueSelect: expectInt(rec, 'queueSelect', 0, 0xffff, what),
      msixConfigVector: this.vectorField(rec, 'msixConfigVector', what),
      configGeneration: expectInt(rec, 'configGeneration', 0, 0xff, what),
      broken: expectBool(rec, 'broken', what),
      queues,
      msix,
      device: rec['device'],
    };
  }

  private vectorField(r: StateRecord, key: string, what: string): number {
    const v = expectInt(r, key, 0, 0xffff, what);
    if (v !== VIRTIO_MSI_NO_VECTOR && v >= this.msix.vectors) throw new SnapshotError(`${what}.${key}: vector ${v} beyond the ${this.msix.vectors}-entry table`);
    return v;
  }

  /** Bytes of the legacy I/O BAR (a power of two holding registers and configuration). */
  get legacyIoSize(): number {
    return this.legacyBarSize;
  }
}
