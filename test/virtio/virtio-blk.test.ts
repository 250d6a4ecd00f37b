/**
 * virtio-blk through a fake guest driver: rings in guest RAM, requests as Linux's virtio_blk
 * builds them (header, data, status), completions through INTx (legacy and modern) and
 * MSI-X. Expected values come from the virtio 1.1 specification, section 5.2.
 */
import { describe, expect, it } from 'vitest';
import { LegacyDriver, MemBlockBackend, ModernDriver, Rig, Ring } from './virtio-test-rig.js';
import {
  VIRTIO_BLK_F_CONFIG_WCE, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_WRITE_ZEROES,
} from '../../devices/virtio/virtio-blk.js';

const VERSION_1 = 1n << 32n;
const INDIRECT = 1n << 28n;
const EVENT_IDX = 1n << 29n;
const bit = (n: number) => 1n << BigInt(n);

const RING = 0x10000;
const HDR = 0x20000;
const DATA = 0x21000;
const STATUS = 0x30000;
const TABLE = 0x31000;

function header(rig: Rig, type: number, sector: number, at = HDR): void {
  rig.w32(at, type);
  rig.w32(at + 4, 0);
  rig.w64(at + 8, sector);
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

function modernBlk(backend: MemBlockBackend, features = VERSION_1 | INDIRECT | EVENT_IDX, opts: { serial?: string; writeback?: boolean; msix?: boolean } = {}) {
  const rig = Rig.blk(backend, opts);
  const drv = new ModernDriver(rig);
  if (opts.msix) rig.enableMsix();
  expect(drv.negotiate(features)).toBe(true);
  const ring = new Ring(rig, 256, RING, false);
  drv.setupQueue(0, ring, opts.msix ? 1 : 0xffff);
  drv.driverOk();
  return { rig, drv, ring };
}

describe('virtio-blk over the modern interface', () => {
  it('writes then reads back sectors, completing through INTx with ISR bit 0', () => {
    const disk = new MemBlockBackend(1 << 20);
    const { rig, drv, ring } = modernBlk(disk);
    const data = pattern(1024, 3);
    rig.memory.writeBytes(DATA, data);
    header(rig, VIRTIO_BLK_T_OUT, 5);
    rig.w8(STATUS, 0xff);
    const head = ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len: 1024 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(ring.takeUsed()).toEqual([{ id: head, len: 1 }]);
    expect(rig.r8(STATUS)).toBe(VIRTIO_BLK_S_OK);
    expect(disk.data.subarray(5 * 512, 5 * 512 + 1024)).toEqual(data);
    expect(rig.intx).toBe(true);
    expect(drv.isr()).toBe(1);
    expect(rig.intx).toBe(false);

    // Read it back into a buffer split in two descriptors.
    rig.memory.writeBytes(DATA, new Uint8Array(1024));
    header(rig, VIRTIO_BLK_T_IN, 5);
    const h2 = ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len: 100, write: true }, { addr: DATA + 100, len: 924, write: true }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(ring.takeUsed()).toEqual([{ id: h2, len: 1025 }]);
    expect(rig.memory.readBytes(DATA, 1024)).toEqual(data);
    expect(rig.r8(STATUS)).toBe(VIRTIO_BLK_S_OK);
  });

  it('takes header, data and status in one descriptor each way and through an indirect table', () => {
    const disk = new MemBlockBackend(1 << 20);
    disk.data.set(pattern(512, 9), 0);
    const { rig, drv, ring } = modernBlk(disk);
    header(rig, VIRTIO_BLK_T_IN, 0);
    const head = ring.addIndirect([{ addr: HDR, len: 16 }, { addr: DATA, len: 512, write: true }, { addr: STATUS, len: 1, write: true }], TABLE);
    drv.notify(0);
    expect(ring.takeUsed()).toEqual([{ id: head, len: 513 }]);
    expect(rig.memory.readBytes(DATA, 512)).toEqual(pattern(512, 9));
  });

  it('completes through MSI-X: the queue vector is written to the APIC window, INTx stays low', () => {
    const disk = new MemBlockBackend(1 << 20);
    const { rig, drv, ring } = modernBlk(disk, VERSION_1, { msix: true });
    header(rig, VIRTIO_BLK_T_FLUSH, 0);
    ring.add([{ addr: HDR, len: 16 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(disk.flushes).toBe(1);
    expect(rig.msis).toEqual([{ addrLo: 0xfee00000, addrHi: 0, data: 0x41 }]);
    expect(rig.intx).toBe(false);
    // A masked vector holds the message as pending (PBA bit) until unmasked (PCI 3.0 6.8.2).
    rig.msixWrite(16 + 12, 1);
    ring.add([{ addr: HDR, len: 16 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(rig.msis.length).toBe(1);
    expect(rig.msixRead(0x800)).toBe(0b10);
    rig.msixWrite(16 + 12, 0);
    expect(rig.msis.length).toBe(2);
    expect(rig.msixRead(0x800)).toBe(0);
  });

  it('flush calls backend.flush; get-id returns the serial NUL-padded to 20 bytes', () => {
    const disk = new MemBlockBackend(1 << 20);
    const { rig, drv, ring } = modernBlk(disk, VERSION_1, { serial: 'PCVM-SERIAL-1' });
    expect((drv.deviceFeatures() & bit(VIRTIO_BLK_F_FLUSH)) !== 0n).toBe(true);
    header(rig, VIRTIO_BLK_T_GET_ID, 0);
    rig.memory.writeBytes(DATA, new Uint8Array(20).fill(0xee));
    const head = ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len: 20, write: true }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(ring.takeUsed()).toEqual([{ id: head, len: 21 }]);
    const id = new Uint8Array(20);
    id.set(new TextEncoder().encode('PCVM-SERIAL-1'));
    expect(rig.memory.readBytes(DATA, 20)).toEqual(id);
  });

  it('answers IOERR for sectors beyond the end and for partial sectors, UNSUPP for unknown types', () => {
    const disk = new MemBlockBackend(64 * 512);
    const { rig, drv, ring } = modernBlk(disk);
    const status = (type: number, sector: number, len: number, write: boolean) => {
      header(rig, type, sector);
      rig.w8(STATUS, 0xff);
      ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len, write }, { addr: STATUS, len: 1, write: true }]);
      drv.notify(0);
      return rig.r8(STATUS);
    };
    expect(status(VIRTIO_BLK_T_IN, 63, 512, true)).toBe(VIRTIO_BLK_S_OK);
    expect(status(VIRTIO_BLK_T_IN, 63, 1024, true)).toBe(VIRTIO_BLK_S_IOERR);
    expect(status(VIRTIO_BLK_T_IN, 64, 512, true)).toBe(VIRTIO_BLK_S_IOERR);
    expect(status(VIRTIO_BLK_T_OUT, 2 ** 40, 512, false)).toBe(VIRTIO_BLK_S_IOERR);
    expect(status(VIRTIO_BLK_T_OUT, 0, 100, false)).toBe(VIRTIO_BLK_S_IOERR);
    expect(status(77, 0, 512, true)).toBe(VIRTIO_BLK_S_UNSUPP);
    disk.failNext = true;
    expect(status(VIRTIO_BLK_T_OUT, 0, 512, false)).toBe(VIRTIO_BLK_S_IOERR);
    expect(drv.status() & 0x40).toBe(0);
  });

  it('a read-only disk offers VIRTIO_BLK_F_RO, no discard, and fails writes with IOERR', () => {
    const disk = new MemBlockBackend(1 << 20, true, { discard: true });
    const { rig, drv, ring } = modernBlk(disk);
    const f = drv.deviceFeatures();
    expect(f & bit(VIRTIO_BLK_F_RO)).not.toBe(0n);
    expect(f & bit(VIRTIO_BLK_F_DISCARD)).toBe(0n);
    header(rig, VIRTIO_BLK_T_OUT, 0);
    ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len: 512 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(rig.r8(STATUS)).toBe(VIRTIO_BLK_S_IOERR);
  });

  it('offers discard and write-zeroes only when the backend has them, and executes one segment', () => {
    const plain = Rig.blk(new MemBlockBackend(1 << 20));
    const f0 = new ModernDriver(plain).deviceFeatures();
    expect(f0 & (bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES))).toBe(0n);

    const disk = new MemBlockBackend(1 << 20, false, { discard: true });
    disk.data.fill(0xaa);
    const { rig, drv, ring } = modernBlk(disk, VERSION_1 | bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES));
    const seg = (sector: number, n: number, flags: number) => {
      rig.w64(DATA, sector);
      rig.w32(DATA + 8, n);
      rig.w32(DATA + 12, flags);
    };
    header(rig, VIRTIO_BLK_T_DISCARD, 0);
    seg(2, 4, 0);
    ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len: 16 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(rig.r8(STATUS)).toBe(VIRTIO_BLK_S_OK);
    header(rig, VIRTIO_BLK_T_WRITE_ZEROES, 0);
    seg(10, 1, 1); // UNMAP allowed for write-zeroes
    ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len: 16 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(rig.r8(STATUS)).toBe(VIRTIO_BLK_S_OK);
    expect(disk.log).toEqual(['discard 1024 2048', 'zeroes 5120 512']);
    header(rig, VIRTIO_BLK_T_DISCARD, 0);
    seg(0, 1, 1); // UNMAP is not a discard flag
    ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len: 16 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(rig.r8(STATUS)).toBe(VIRTIO_BLK_S_UNSUPP);
    header(rig, VIRTIO_BLK_T_DISCARD, 0);
    seg(2047, 2, 0);
    ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len: 16 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(rig.r8(STATUS)).toBe(VIRTIO_BLK_S_IOERR);
  });

  it('exposes capacity, size_max, seg_max, geometry and blk_size in the device configuration', () => {
    const disk = new MemBlockBackend(64 << 20);
    const rig = Rig.blk(disk);
    const cfg = (o: number, s: 1 | 2 | 4) => rig.modernRead(0x2000 + o, s);
    expect(cfg(0, 4)).toBe((64 << 20) / 512);
    expect(cfg(4, 4)).toBe(0);
    expect(cfg(0x08, 4)).toBe(1 << 20);
    expect(cfg(0x0c, 4)).toBe(254);
    expect([cfg(0x10, 2), cfg(0x12, 1), cfg(0x13, 1)]).toEqual([130, 16, 63]);
    expect(cfg(0x14, 4)).toBe(512);
    expect(cfg(0x20, 1)).toBe(1);
  });

  it('with CONFIG_WCE the driver turns the write cache off, and then every write is flushed', () => {
    const disk = new MemBlockBackend(1 << 20);
    const { rig, drv, ring } = modernBlk(disk, VERSION_1 | bit(VIRTIO_BLK_F_CONFIG_WCE));
    rig.modernWrite(0x2000 + 0x20, 1, 0);
    expect(rig.modernRead(0x2000 + 0x20, 1)).toBe(0);
    header(rig, VIRTIO_BLK_T_OUT, 0);
    ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len: 512 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(disk.flushes).toBe(1);
  });

  it('EVENT_IDX: interrupts only when used.idx crosses used_event, and publishes avail_event', () => {
    const disk = new MemBlockBackend(1 << 20);
    const { rig, drv, ring } = modernBlk(disk);
    const flush = () => {
      header(rig, VIRTIO_BLK_T_FLUSH, 0);
      ring.add([{ addr: HDR, len: 16 }, { addr: STATUS, len: 1, write: true }]);
      drv.notify(0);
    };
    ring.setUsedEvent(0);
    flush(); // used.idx 0 -> 1 crosses used_event 0
    expect(rig.intxEdges).toBe(1);
    expect(ring.availEvent()).toBe(1);
    drv.isr();
    ring.setUsedEvent(5);
    flush(); // 1 -> 2: no interrupt
    flush(); // 2 -> 3
    expect(rig.intxEdges).toBe(1);
    flush(); flush(); flush(); // 3 -> 6 crosses 5
    expect(rig.intxEdges).toBe(2);
    expect(ring.availEvent()).toBe(6);
  });

  it('without EVENT_IDX, VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the interrupt', () => {
    const disk = new MemBlockBackend(1 << 20);
    const { rig, drv, ring } = modernBlk(disk, VERSION_1);
    ring.setAvailFlags(1);
    header(rig, VIRTIO_BLK_T_FLUSH, 0);
    ring.add([{ addr: HDR, len: 16 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(ring.takeUsed().length).toBe(1);
    expect(rig.intxEdges).toBe(0);
  });
});

describe('virtio-blk over the legacy interface', () => {
  it('reads and writes through a PFN-placed ring with INTx', () => {
    const disk = new MemBlockBackend(1 << 20);
    disk.data.set(pattern(512, 1), 512 * 7);
    const rig = Rig.blk(disk);
    const drv = new LegacyDriver(rig);
    drv.negotiate(0xffffffff);
    const ring = drv.setupQueue(0, RING);
    expect(ring.size).toBe(256);
    drv.driverOk();
    header(rig, VIRTIO_BLK_T_IN, 7);
    ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len: 512, write: true }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(rig.memory.readBytes(DATA, 512)).toEqual(pattern(512, 1));
    expect(rig.intx).toBe(true);
    expect(drv.isr()).toBe(1);
    expect(rig.intx).toBe(false);
    rig.memory.writeBytes(DATA, pattern(512, 2));
    header(rig, VIRTIO_BLK_T_OUT, 8);
    ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len: 512 }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(disk.data.subarray(8 * 512, 9 * 512)).toEqual(pattern(512, 2));
  });

  it('reads and writes with MSI-X enabled (config moved to 0x18, vectors at 0x14/0x16)', () => {
    const disk = new MemBlockBackend(1 << 20);
    const rig = Rig.blk(disk);
    const drv = new LegacyDriver(rig);
    rig.enableMsix();
    drv.negotiate(0xffffffff);
    rig.legacyWrite(0x14, 2, 0);
    expect(rig.legacyRead(0x14, 2)).toBe(0);
    const ring = drv.setupQueue(0, RING);
    rig.legacyWrite(0x16, 2, 1);
    expect(rig.legacyRead(0x16, 2)).toBe(1);
    drv.driverOk();
    disk.data.set(pattern(512, 4), 0);
    header(rig, VIRTIO_BLK_T_IN, 0);
    ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len: 512, write: true }, { addr: STATUS, len: 1, write: true }]);
    drv.notify(0);
    expect(rig.memory.readBytes(DATA, 512)).toEqual(pattern(512, 4));
    expect(rig.msis).toEqual([{ addrLo: 0xfee00000, addrHi: 0, data: 0x41 }]);
    expect(rig.intx).toBe(false);
  });
});
