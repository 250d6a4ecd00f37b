/**
 * virtio-blk (virtio 1.1 section 5.2): one request queue of 256 entries over a BlockBackend.
 *
 * A request is a chain: a 16-byte device-readable header (type, reserved, sector), data
 * (device-readable for writes, device-writable for reads) and a final device-writable status
 * byte. Requests complete synchronously, in order, before the interrupt.
 *
 * Types: IN, OUT, FLUSH (backend.flush()), GET_ID (the drive's serial, 20 bytes, NUL-padded),
 * DISCARD and WRITE_ZEROES (offered only when the backend has discard/writeZeroes and the
 * disk is writable; one segment per request as QEMU's max_discard_seg = 1). Unknown types
 * get UNSUPP. Sector ranges beyond the disk, data not a multiple of 512 bytes, writes to a
 * read-only disk and backend failures (BlockError) get IOERR.
 *
 * Configuration (5.2.4): capacity, size_max, seg_max (queue size − 2, as QEMU's
 * seg-max-adjust), geometry (QEMU's guess for a blank disk: 16 heads, 63 sectors), blk_size
 * 512, topology (all zero), writeback (CONFIG_WCE: with writeback off every write is
 * flushed), discard and write-zeroes limits.
 *
 * A chain without room for the header or the status byte breaks the driver's side of the
 * contract (5.2.6.1): VirtqueueError, hence DEVICE_NEEDS_RESET, as QEMU's virtio_error.
 *
 * Not implemented: multiqueue (VIRTIO_BLK_F_MQ), SCSI passthrough commands (UNSUPP).
 */
import type { BlockBackend } from '../../src/block/block-backend.js';
import { BlockError } from '../../src/block/block-backend.js';
import { expectInt, expectRecord, expectVersion } from '../../src/snapshot/validate.js';
import { featureBit } from './virtio-constants.js';
import { VirtqueueError, readFromSegments, writeToSegments, type DescriptorChain, type Segment } from './virtqueue.js';
import type { VirtioDeviceModel, VirtioTransport } from './virtio-device.js';

export const VIRTIO_ID_BLOCK = 2;
/** PCI class of QEMU's virtio-blk-pci: mass storage, SCSI controller. */
export const VIRTIO_BLK_PCI_CLASS = 0x010000;

// Feature bits (5.2.3).
export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_GEOMETRY = 4;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_TOPOLOGY = 10;
export const VIRTIO_BLK_F_CONFIG_WCE = 11;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;

// Request types and status (5.2.6).
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;
export const VIRTIO_BLK_ID_BYTES = 20;
const WRITE_ZEROES_FLAG_UNMAP = 1;

export const VIRTIO_BLK_QUEUE_SIZE = 256;
export const SECTOR_SIZE = 512;
/** size_max: the largest segment the driver may give (also our copy chunk). */
export const VIRTIO_BLK_SIZE_MAX = 1 << 20;
/** QEMU's default max-discard-sectors / max-write-zeroes-sectors. */
export const VIRTIO_BLK_MAX_DISCARD_SECTORS = 0x3fffff;
const HEADER_BYTES = 16;

// Configuration layout (5.2.4).
const CFG_CAPACITY = 0x00;
const CFG_SIZE_MAX = 0x08;
const CFG_SEG_MAX = 0x0c;
const CFG_GEOMETRY = 0x10;
const CFG_BLK_SIZE = 0x14;
const CFG_WRITEBACK = 0x20;
const CFG_NUM_QUEUES = 0x22;
const CFG_MAX_DISCARD_SECTORS = 0x24;
const CFG_MAX_DISCARD_SEG = 0x28;
const CFG_DISCARD_ALIGNMENT = 0x2c;
const CFG_MAX_WZ_SECTORS = 0x30;
const CFG_MAX_WZ_SEG = 0x34;
export const VIRTIO_BLK_CONFIG_SIZE = 0x3c;

export interface VirtioBlkState {
  /** The writeback byte (CONFIG_WCE): 1 = write-back cache, 0 = write-through. */
  writeback: number;
}

export interface VirtioBlkOptions {
  backend: BlockBackend;
  /** `-drive serial=` (at most 20 bytes are visible). */
  serial?: string;
  /** Cache mode writeback at power-on (cache=writeback/none/unsafe) or writethrough. */
  writeback: boolean;
}

export class VirtioBlk implements VirtioDeviceModel {
  readonly deviceType = VIRTIO_ID_BLOCK;
  readonly queueMaxSizes = [VIRTIO_BLK_QUEUE_SIZE];
  readonly deviceFeatures: bigint;
  readonly configSize = VIRTIO_BLK_CONFIG_SIZE;
  readonly stateVersion = 1;
  private s: VirtioBlkState;
  private transport!: VirtioTransport;
  private readonly config = new Uint8Array(VIRTIO_BLK_CONFIG_SIZE);
  private readonly backend: BlockBackend;
  private readonly serial: Uint8Array;
  private readonly canDiscard: boolean;
  private readonly canWriteZeroes: boolean;

  constructor(private readonly opts: VirtioBlkOptions) {
    const b = opts.backend;
    this.backend = b;
    this.serial = new TextEncoder().encode(opts.serial ?? '').subarray(0, VIRTIO_BLK_ID_BYTES);
    this.canDiscard = !b.readOnly && typeof b.discard === 'function';
    this.canWriteZeroes = !b.readOnly && typeof b.writeZeroes === 'function';
    let f = featureBit(VIRTIO_BLK_F_SIZE_MAX) | featureBit(VIRTIO_BLK_F_SEG_MAX) | featureBit(VIRTIO_BLK_F_GEOMETRY) |
      featureBit(VIRTIO_BLK_F_BLK_SIZE) | featureBit(VIRTIO_BLK_F_FLUSH) | featureBit(VIRTIO_BLK_F_TOPOLOGY) |
      featureBit(VIRTIO_BLK_F_CONFIG_WCE);
    if (b.readOnly) f |= featureBit(VIRTIO_BLK_F_RO);
    if (this.canDiscard) f |= featureBit(VIRTIO_BLK_F_DISCARD);
    if (this.canWriteZeroes) f |= featureBit(VIRTIO_BLK_F_WRITE_ZEROES);
    this.deviceFeatures = f;
    this.s = this.defaultState();
    this.fillConfig();
  }

  private defaultState(): VirtioBlkState {
    return { writeback: this.opts.writeback ? 1 : 0 };
  }

  private get sectors(): number {
    return Math.floor(this.backend.sizeBytes / SECTOR_SIZE);
  }

  private fillConfig(): void {
    const dv = new DataView(this.config.buffer);
    const sectors = this.sectors;
    dv.setUint32(CFG_CAPACITY, sectors % 2 ** 32, true);
    dv.setUint32(CFG_CAPACITY + 4, Math.floor(sectors / 2 ** 32), true);
    dv.setUint32(CFG_SIZE_MAX, VIRTIO_BLK_SIZE_MAX, true);
    dv.setUint32(CFG_SEG_MAX, VIRTIO_BLK_QUEUE_SIZE - 2, true);
    // QEMU's hd_geometry_guess for a disk without a partition table: LBA-style 16/63.
    dv.setUint16(CFG_GEOMETRY, Math.max(1, Math.min(16383, Math.floor(sectors / (16 * 63)))), true);
    dv.setUint8(CFG_GEOMETRY + 2, 16);
    dv.setUint8(CFG_GEOMETRY + 3, 63);
    dv.setUint32(CFG_BLK_SIZE, SECTOR_SIZE, true);
    dv.setUint16(CFG_NUM_QUEUES, 1, true);
    dv.setUint32(CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_MAX_DISCARD_SECTORS, true);
    dv.setUint32(CFG_MAX_DISCARD_SEG, 1, true);
    dv.setUint32(CFG_DISCARD_ALIGNMENT, 1, true);
    dv.setUint32(CFG_MAX_WZ_SECTORS, VIRTIO_BLK_MAX_DISCARD_SECTORS, true);
    dv.setUint32(CFG_MAX_WZ_SEG, 1, true);
    this.config[CFG_WRITEBACK] = this.s.writeback;
  }

  attach(transport: VirtioTransport): void {
    this.transport = transport;
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    let v = 0;
    for (let i = 0; i < size; i++) v += this.config[offset + i]! * 2 ** (8 * i);
    return v;
  }

  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    // Only the writeback byte is writable, and only with CONFIG_WCE (5.2.5).
    if (offset === CFG_WRITEBACK && size === 1 && (this.transport.negotiated & featureBit(VIRTIO_BLK_F_CONFIG_WCE)) !== 0n) {
      this.s.writeback = value & 1 ? 1 : 0;
      this.config[CFG_WRITEBACK] = this.s.writeback;
      return;
    }
    this.transport.guestError(`virtio-blk: config write at 0x${offset.toString(16)} ignored`);
  }

  processQueue(index: number): void {
    if (index !== 0) return;
    const vq = this.transport.queue(0);
    let done = 0;
    try {
      for (let chain = vq.pop(); chain; chain = vq.pop()) {
        vq.push(chain.head, this.handle(chain));
        done++;
      }
    } finally {
      if (done > 0) this.transport.interruptQueue(0);
    }
  }

  /** Executes one request; returns the bytes written to the chain's writable buffers. */
  private handle(chain: DescriptorChain): number {
    const mem = this.transport.mem;
    if (chain.readableBytes < HEADER_BYTES || chain.writableBytes < 1) {
      throw new VirtqueueError(`virtio-blk request without header or status byte (${chain.readableBytes} readable, ${chain.writableBytes} writable bytes)`);
    }
    const hdr = new Uint8Array(HEADER_BYTES);
    readFromSegments(mem, chain.readable, 0, hdr);
    const dv = new DataView(hdr.buffer);
    const type = dv.getUint32(0, true);
    const sector = dv.getUint32(8, true) + dv.getUint32(12, true) * 2 ** 32;
    const inData = trimLastByte(chain.writable);
    const statusSeg = chain.writable[chain.writable.length - 1]!;
    const statusAddr = statusSeg.addr + statusSeg.len - 1;
    let status = VIRTIO_BLK_S_OK;
    let written = 0;
    try {
      switch (type) {
        case VIRTIO_BLK_T_IN: {
          const len = chain.writableBytes - 1;
          if (!this.rangeOk(sector, len)) status = VIRTIO_BLK_S_IOERR;
          else written = this.readToGuest(sector * SECTOR_SIZE, inData);
          break;
        }
        case VIRTIO_BLK_T_OUT: {
          const len = chain.readableBytes - HEADER_BYTES;
          if (this.backend.readOnly || !this.rangeOk(sector, len)) status = VIRTIO_BLK_S_IOERR;
          else {
            this.writeFromGuest(sector * SECTOR_SIZE, chain.readable, len);
            if (!this.s.writeback) this.backend.flush();
          }
          break;
        }
        case VIRTIO_BLK_T_FLUSH:
          this.backend.flush();
          break;
        case VIRTIO_BLK_T_GET_ID: {
          const id = new Uint8Array(Math.min(VIRTIO_BLK_ID_BYTES, chain.writableBytes - 1));
          id.set(this.serial.subarray(0, id.length));
          written = writeToSegments(mem, inData, 0, id);
          break;
        }
        case VIRTIO_BLK_T_DISCARD:
        case VIRTIO_BLK_T_WRITE_ZEROES:
          status = this.discardOrZero(type, chain);
          break;
        default:
          status = VIRTIO_BLK_S_UNSUPP;
      }
    } catch (e) {
      if (!(e instanceof BlockError)) throw e;
      this.transport.guestError(`virtio-blk: ${e.message}`);
      status = VIRTIO_BLK_S_IOERR;
    }
    mem.writeBytes(statusAddr, new Uint8Array([status]));
    return written + 1;
  }

  /** `len` bytes from `sector` are whole sectors within the disk. */
  private rangeOk(sector: number, len: number): boolean {
    return len % SECTOR_SIZE === 0 && sector <= this.sectors && len / SECTOR_SIZE <= this.sectors - sector;
  }

  private readToGuest(pos: number, segs: readonly Segment[]): number {
    const mem = this.transport.mem;
    let done = 0;
    for (const seg of segs) {
      for (let off = 0; off < seg.len; off += VIRTIO_BLK_SIZE_MAX) {
        const n = Math.min(VIRTIO_BLK_SIZE_MAX, seg.len - off);
        const buf = new Uint8Array(n);
        this.backend.read(pos + done, buf);
        mem.writeBytes(seg.addr + off, buf);
        done += n;
      }
    }
    return done;
  }

  private writeFromGuest(pos: number, readable: readonly Segment[], len: number): void {
    let skip = HEADER_BYTES;
    let done = 0;
    const mem = this.transport.mem;
    for (const seg of readable) {
      if (skip >= seg.len) {
        skip -= seg.len;
        continue;
      }
      for (let off = skip; off < seg.len; off += VIRTIO_BLK_SIZE_MAX) {
        const n = Math.min(VIRTIO_BLK_SIZE_MAX, seg.len - off);
        this.backend.write(pos + done, mem.readBytes(seg.addr + off, n));
        done += n;
      }
      skip = 0;
    }
    if (done !== len) throw new BlockError(`short write: ${done} of ${len} bytes`);
  }

  /** DISCARD / WRITE_ZEROES (5.2.6): one 16-byte segment {sector, num_sectors, flags}. */
  private discardOrZero(type: number, chain: DescriptorChain): number {
    const discard = type === VIRTIO_BLK_T_DISCARD;
    const bit = discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;
    if ((this.transport.negotiated & featureBit(bit)) === 0n) return VIRTIO_BLK_S_UNSUPP;
    const payload = chain.readableBytes - HEADER_BYTES;
    if (payload !== 16) return VIRTIO_BLK_S_UNSUPP; // more than max_discard_seg = 1, or a partial segment
    const seg = new Uint8Array(16);
    readFromSegments(this.transport.mem, chain.readable, HEADER_BYTES, seg);
    const dv = new DataView(seg.buffer);
    const sector = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
    const count = dv.getUint32(8, true);
    const flags = dv.getUint32(12, true);
    if ((flags & ~(discard ? 0 : WRITE_ZEROES_FLAG_UNMAP)) !== 0) return VIRTIO_BLK_S_UNSUPP;
    if (count > VIRTIO_BLK_MAX_DISCARD_SECTORS || !this.rangeOk(sector, count * SECTOR_SIZE)) return VIRTIO_BLK_S_IOERR;
    if (discard) this.backend.discard!(sector * SECTOR_SIZE, count * SECTOR_SIZE);
    else this.backend.writeZeroes!(sector * SECTOR_SIZE, count * SECTOR_SIZE);
    return VIRTIO_BLK_S_OK;
  }

  reset(): void {
    this.s = this.defaultState();
    this.config[CFG_WRITEBACK] = this.s.writeback;
  }

  saveState(): VirtioBlkState {
    return { ...this.s };
  }

  validateState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, 'virtio-blk');
    expectInt(expectRecord(state, 'virtio-blk'), 'writeback', 0, 1, 'virtio-blk');
  }

  loadState(state: unknown, version: number): void {
    this.validateState(state, version);
    this.s = { writeback: (state as VirtioBlkState).writeback };
    this.config[CFG_WRITEBACK] = this.s.writeback;
  }
}

/** The writable segments without the final status byte. */
function trimLastByte(segs: readonly Segment[]): Segment[] {
  const out = segs.map((s) => ({ ...s }));
  const last = out[out.length - 1]!;
  if (last.len === 1) out.pop();
  else last.len -= 1;
  return out;
}
