/**
 * Test fakes for the virtio devices: an in-memory BlockBackend, a NetBackend that records
 * frames, and a guest driver that does what Linux's virtio_pci / virtio_ring do — through
 * the legacy I/O BAR or the modern BAR4 — with rings laid out in guest RAM by the test.
 * Everything the driver does goes through the device's BARs and PCI configuration space.
 */
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import type { AccessSize } from '../../src/memory/io-bus.js';
import type { BlockBackend } from '../../src/block/block-backend.js';
import { BlockError } from '../../src/block/block-backend.js';
import type { NetBackend, NetPeer } from '../../src/net/net-backend.js';
import { VirtioPciDevice } from '../../devices/virtio/virtio-pci.js';
import { VirtioBlk, VIRTIO_BLK_PCI_CLASS } from '../../devices/virtio/virtio-blk.js';
import type { VirtioDeviceModel } from '../../devices/virtio/virtio-device.js';
import { legacyRingAddresses } from '../../devices/virtio/virtqueue.js';

export class MemBlockBackend implements BlockBackend {
  readonly format = 'raw';
  readonly fileName = 'mem.img';
  readonly data: Uint8Array;
  flushes = 0;
  closed = false;
  failNext = false;
  readonly log: string[] = [];
  discard?: (offset: number, length: number) => void;
  writeZeroes?: (offset: number, length: number) => void;

  constructor(sizeBytes: number, readonly readOnly = false, opts: { discard?: boolean } = {}) {
    this.data = new Uint8Array(sizeBytes);
    if (opts.discard) {
      this.discard = (o, n) => {
        this.log.push(`discard ${o} ${n}`);
        this.data.fill(0, o, o + n);
      };
      this.writeZeroes = (o, n) => {
        this.log.push(`zeroes ${o} ${n}`);
        this.data.fill(0, o, o + n);
      };
    }
  }
  get sizeBytes(): number {
    return this.data.length;
  }
  read(offset: number, buf: Uint8Array): void {
    if (offset + buf.length > this.data.length) throw new BlockError('read beyond end');
    buf.set(this.data.subarray(offset, offset + buf.length));
  }
  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new BlockError('read-only');
    if (this.failNext) {
      this.failNext = false;
      throw new BlockError('injected failure');
    }
    if (offset + data.length > this.data.length) throw new BlockError('write beyond end');
    this.data.set(data, offset);
  }
  flush(): void {
    this.flushes++;
  }
  close(): void {
    this.closed = true;
  }
}

export class RecordingNetBackend implements NetBackend {
  readonly sent: Uint8Array[] = [];
  peer: NetPeer | undefined;
  readyCalls = 0;
  readonly queue: Uint8Array[] = [];
  constructor(readonly id = 'net0') {}
  describe(): string {
    return `${this.id}: index=0,type=user,net=10.0.2.0,restrict=off`;
  }
  send(frame: Uint8Array): void {
    this.sent.push(frame.slice());
  }
  attach(peer: NetPeer): void {
    this.peer = peer;
  }
  /** A frame from "the network": queued when the NIC cannot take it (as back ends must). */
  deliver(frame: Uint8Array): void {
    if (this.queue.length > 0 || !this.peer?.canReceive() || !this.peer.receive(frame)) this.queue.push(frame);
  }
  receiveReady(): void {
    this.readyCalls++;
    while (this.queue.length > 0 && this.peer?.canReceive() && this.peer.receive(this.queue[0]!)) this.queue.shift();
  }
  close(): void {}
}

export interface Msi {
  addrLo: number;
  addrHi: number;
  data: number;
}

/** A device on a fake bus: RAM at 0, MSI writes and the INTx level recorded. */
export class Rig {
  readonly memory: PhysicalMemory;
  readonly msis: Msi[] = [];
  intx = false;
  intxEdges = 0;
  readonly dev: VirtioPciDevice;

  constructor(model: VirtioDeviceModel, classCode = VIRTIO_BLK_PCI_CLASS, ramBytes = 1 << 20) {
    this.memory = new PhysicalMemory(ramBytes);
    this.memory.mapRam(0, ramBytes, 0);
    this.dev = new VirtioPciDevice({ id: 'virtio-test', memory: this.memory, msi: { sendMsi: (addrLo, addrHi, data) => this.msis.push({ addrLo, addrHi, data }) }, classCode }, model);
    this.dev.attach(3 << 3, {
      updateBar: () => {},
      setIntx: (_d, level) => {
        if (level && !this.intx) this.intxEdges++;
        this.intx = level;
      },
    });
    this.dev.configWrite(0x04, 2, 0x0007); // I/O, memory, bus master
  }

  static blk(backend: BlockBackend, opts: { serial?: string; writeback?: boolean; ramBytes?: number } = {}): Rig {
    return new Rig(new VirtioBlk({ backend, serial: opts.serial, writeback: opts.writeback ?? true }), VIRTIO_BLK_PCI_CLASS, opts.ramBytes);
  }

  legacyRead(off: number, size: AccessSize): number {
    return this.dev.barDefinition(0)!.io!.ioRead(off, size);
  }
  legacyWrite(off: number, size: AccessSize, v: number): void {
    this.dev.barDefinition(0)!.io!.ioWrite(off, size, v);
  }
  modernRead(off: number, size: AccessSize): number {
    return this.dev.barDefinition(4)!.mmio!.mmioRead(off, size);
  }
  modernWrite(off: number, size: AccessSize, v: number): void {
    this.dev.barDefinition(4)!.mmio!.mmioWrite(off, size, v);
  }
  msixWrite(off: number, v: number): void {
    this.dev.barDefinition(1)!.mmio!.mmioWrite(off, 4, v);
  }
  msixRead(off: number): number {
    return this.dev.barDefinition(1)!.mmio!.mmioRead(off, 4);
  }

  w8(addr: number, v: number): void {
    this.memory.writeBytes(addr, new Uint8Array([v]));
  }
  w16(addr: number, v: number): void {
    this.memory.writeBytes(addr, new Uint8Array([v & 0xff, (v >>> 8) & 0xff]));
  }
  w32(addr: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.memory.writeBytes(addr, b);
  }
  w64(addr: number, v: number): void {
    this.w32(addr, v % 2 ** 32);
    this.w32(addr + 4, Math.floor(v / 2 ** 32));
  }
  r8(addr: number): number {
    return this.memory.readBytes(addr, 1)[0]!;
  }
  r16(addr: number): number {
    const b = this.memory.readBytes(addr, 2);
    return b[0]! | (b[1]! << 8);
  }
  r32(addr: number): number {
    const b = this.memory.readBytes(addr, 4);
    return new DataView(b.buffer, b.byteOffset).getUint32(0, true);
  }

  /** Finds the vendor capability of `cfgType` (4.1.4); returns its config offset. */
  findVirtioCap(cfgType: number): number {
    for (let p = this.dev.configRead(0x34, 1); p !== 0; p = this.dev.configRead(p + 1, 1)) {
      if (this.dev.configRead(p, 1) === 0x09 && this.dev.configRead(p + 3, 1) === cfgType) return p;
    }
    return -1;
  }
  findCap(id: number): number {
    for (let p = this.dev.configRead(0x34, 1); p !== 0; p = this.dev.configRead(p + 1, 1)) {
      if (this.dev.configRead(p, 1) === id) return p;
    }
    return -1;
  }

  /** Enables MSI-X and programs every vector to APIC 0, vector 0x40 + n, unmasked. */
  enableMsix(): void {
    const cap = this.findCap(0x11);
    const n = (this.dev.configRead(cap + 2, 2) & 0x7ff) + 1;
    for (let v = 0; v < n; v++) {
      this.msixWrite(16 * v, 0xfee00000);
      this.msixWrite(16 * v + 4, 0);
      this.msixWrite(16 * v + 8, 0x40 + v);
      this.msixWrite(16 * v + 12, 0);
    }
    this.dev.configWrite(cap + 2, 2, 0x8000);
  }
}

/** A split ring the test driver owns, at `base` in guest RAM. */
export class Ring {
  readonly descAddr: number;
  readonly availAddr: number;
  readonly usedAddr: number;
  private availIdx = 0;
  lastUsed = 0;
  private nextFree = 0;

  constructor(private readonly rig: Rig, readonly size: number, base: number, legacy: boolean) {
    this.descAddr = base;
    if (legacy) {
      const l = legacyRingAddresses(base, size);
      this.availAddr = l.availAddr;
      this.usedAddr = l.usedAddr;
    } else {
      this.availAddr = base + 16 * size;
      this.usedAddr = (this.availAddr + 6 + 2 * size + 3) & ~3;
    }
    // A driver hands the device zeroed rings (Linux allocates them zeroed).
    if (rig.memory.isRam(base, this.bytes)) rig.memory.writeBytes(base, new Uint8Array(this.bytes));
  }

  /** Bytes the ring occupies from `descAddr` (used ring with avail_event included). */
  get bytes(): number {
    return this.usedAddr + 6 + 8 * this.size - this.descAddr;
  }

  writeDesc(i: number, addr: number, len: number, flags: number, next: number, table = this.descAddr): void {
    const at = table + 16 * i;
    this.rig.w64(at, addr);
    this.rig.w32(at + 8, len);
    this.rig.w16(at + 12, flags);
    this.rig.w16(at + 14, next);
  }

  /** Writes a chain of buffers into free descriptors and makes it available; returns the head. */
  add(bufs: { addr: number; len: number; write?: boolean }[]): number {
    const ids = bufs.map((_, i) => (this.nextFree + i) % this.size);
    this.nextFree = (this.nextFree + bufs.length) % this.size;
    bufs.forEach((b, i) => this.writeDesc(ids[i]!, b.addr, b.len, (b.write ? 2 : 0) | (i < bufs.length - 1 ? 1 : 0), ids[i + 1] ?? 0));
    this.publish(ids[0]!);
    return ids[0]!;
  }

  /** Same chain through one indirect table at `table`. */
  addIndirect(bufs: { addr: number; len: number; write?: boolean }[], table: number): number {
    bufs.forEach((b, i) => this.writeDesc(i, b.addr, b.len, (b.write ? 2 : 0) | (i < bufs.length - 1 ? 1 : 0), i + 1, table));
    const id = this.nextFree;
    this.nextFree = (this.nextFree + 1) % this.size;
    this.writeDesc(id, table, 16 * bufs.length, 4, 0);
    this.publish(id);
    return id;
  }

  publish(head: number): void {
    this.rig.w16(this.availAddr + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.rig.w16(this.availAddr + 2, this.availIdx);
  }

  /** Sets avail.idx directly (tests of a driver that jumps ahead). */
  setAvailIdx(v: number): void {
    this.availIdx = v & 0xffff;
    this.rig.w16(this.availAddr + 2, this.availIdx);
  }

  usedIdx(): number {
    return this.rig.r16(this.usedAddr + 2);
  }
  /** Used elements added since the last call. */
  takeUsed(): { id: number; len: number }[] {
    const out: { id: number; len: number }[] = [];
    const idx = this.usedIdx();
    while (this.lastUsed !== idx) {
      const at = this.usedAddr + 4 + 8 * (this.lastUsed % this.size);
      out.push({ id: this.rig.r32(at), len: this.rig.r32(at + 4) });
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }
  setUsedEvent(v: number): void {
    this.rig.w16(this.availAddr + 4 + 2 * this.size, v);
  }
  availEvent(): number {
    return this.rig.r16(this.usedAddr + 4 + 8 * this.size);
  }
  setAvailFlags(v: number): void {
    this.rig.w16(this.availAddr, v);
  }
}

// Common configuration offsets (virtio 1.1 4.1.4.3) as a driver knows them.
export const COMMON = {
  dfselect: 0x00, df: 0x04, gfselect: 0x08, gf: 0x0c, msix: 0x10, numq: 0x12, status: 0x14, generation: 0x15,
  qselect: 0x16, qsize: 0x18, qmsix: 0x1a, qenable: 0x1c, qnoff: 0x1e, qdesc: 0x20, qavail: 0x28, qused: 0x30,
} as const;

/** A modern (virtio 1.x) driver over BAR4, as Linux's virtio_pci_modern. */
export class ModernDriver {
  constructor(readonly rig: Rig) {}

  deviceFeatures(): bigint {
    const r = this.rig;
    r.modernWrite(COMMON.dfselect, 4, 0);
    const lo = r.modernRead(COMMON.df, 4);
    r.modernWrite(COMMON.dfselect, 4, 1);
    const hi = r.modernRead(COMMON.df, 4);
    return BigInt(lo) | (BigInt(hi) << 32n);
  }

  /** Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether FEATURES_OK stuck. */
  negotiate(features: bigint): boolean {
    const r = this.rig;
    r.modernWrite(COMMON.status, 1, 0);
    r.modernWrite(COMMON.status, 1, 1);
    r.modernWrite(COMMON.status, 1, 3);
    r.modernWrite(COMMON.gfselect, 4, 0);
    r.modernWrite(COMMON.gf, 4, Number(features & 0xffffffffn));
    r.modernWrite(COMMON.gfselect, 4, 1);
    r.modernWrite(COMMON.gf, 4, Number(features >> 32n));
    r.modernWrite(COMMON.status, 1, 0x0b);
    return (r.modernRead(COMMON.status, 1) & 0x08) !== 0;
  }

  setupQueue(q: number, ring: Ring, vector = 0xffff): void {
    const r = this.rig;
    r.modernWrite(COMMON.qselect, 2, q);
    r.modernWrite(COMMON.qsize, 2, ring.size);
    r.modernWrite(COMMON.qdesc, 4, ring.descAddr);
    r.modernWrite(COMMON.qdesc + 4, 4, 0);
    r.modernWrite(COMMON.qavail, 4, ring.availAddr);
    r.modernWrite(COMMON.qavail + 4, 4, 0);
    r.modernWrite(COMMON.qused, 4, ring.usedAddr);
    r.modernWrite(COMMON.qused + 4, 4, 0);
    r.modernWrite(COMMON.qmsix, 2, vector);
    r.modernWrite(COMMON.qenable, 2, 1);
  }

  driverOk(): void {
    this.rig.modernWrite(COMMON.status, 1, 0x0f);
  }

  notify(q: number): void {
    this.rig.modernWrite(0x3000 + 4 * q, 2, q);
  }

  isr(): number {
    return this.rig.modernRead(0x1000, 1);
  }

  status(): number {
    return this.rig.modernRead(COMMON.status, 1);
  }
}

/** A legacy (virtio 0.9.5) driver over the I/O BAR, as Linux's virtio_pci_legacy. */
export class LegacyDriver {
  constructor(readonly rig: Rig) {}

  negotiate(features: number): void {
    const r = this.rig;
    r.legacyWrite(0x12, 1, 0);
    r.legacyWrite(0x12, 1, 1);
    r.legacyWrite(0x12, 1, 3);
    r.legacyWrite(0x04, 4, features & r.legacyRead(0x00, 4));
  }

  /** The legacy ring at `base` (4 KiB aligned), with its size read from QUEUE_NUM. */
  setupQueue(q: number, base: number): Ring {
    const r = this.rig;
    r.legacyWrite(0x0e, 2, q);
    const size = r.legacyRead(0x0c, 2);
    const ring = new Ring(r, size, base, true);
    r.legacyWrite(0x08, 4, base / 4096);
    return ring;
  }

  driverOk(): void {
    this.rig.legacyWrite(0x12, 1, 0x07);
  }

  notify(q: number): void {
    this.rig.legacyWrite(0x10, 2, q);
  }

  isr(): number {
    return this.rig.legacyRead(0x13, 1);
  }

  status(): number {
    return this.rig.legacyRead(0x12, 1);
  }
}
