/**
 * Every driver requirement of the split virtqueue (virtio 1.1 2.6) that the device checks:
 * a driver that breaks one gets DEVICE_NEEDS_RESET (status bit 0x40) and a configuration
 * interrupt (ISR bit 1), the device stops using the queue, and nothing is thrown. A reset
 * (status 0) brings the device back.
 */
import { describe, expect, it } from 'vitest';
import { MemBlockBackend, ModernDriver, Rig, Ring } from './virtio-test-rig.js';

const VERSION_1 = 1n << 32n;
const INDIRECT = 1n << 28n;
const RAM = 1 << 20;
const RING = 0x10000;
const HDR = 0x20000;
const DATA = 0x21000;
const STATUS = 0x30000;
const TABLE = 0x31000;
const F_NEXT = 1;
const F_WRITE = 2;
const F_INDIRECT = 4;

function setup(features = VERSION_1 | INDIRECT, size = 16, msix = false) {
  const disk = new MemBlockBackend(1 << 20);
  const rig = Rig.blk(disk, { ramBytes: RAM });
  const drv = new ModernDriver(rig);
  if (msix) rig.enableMsix();
  drv.negotiate(features);
  const ring = new Ring(rig, size, RING, false);
  drv.setupQueue(0, ring, msix ? 1 : 0xffff);
  rig.modernWrite(0x10, 2, msix ? 0 : 0xffff); // config vector
  drv.driverOk();
  // A valid FLUSH header for chains that need one.
  rig.w32(HDR, 4);
  return { rig, drv, ring, disk };
}

/** The device is broken: NEEDS_RESET, a config interrupt, and further requests are ignored. */
function expectBroken(s: ReturnType<typeof setup>): void {
  const { rig, drv, ring } = s;
  expect(drv.status() & 0x40).toBe(0x40);
  expect(rig.intx).toBe(true);
  expect(drv.isr() & 2).toBe(2);
  const before = ring.usedIdx();
  ring.add([{ addr: HDR, len: 16 }, { addr: STATUS, len: 1, write: true }]);
  drv.notify(0);
  expect(ring.usedIdx()).toBe(before);
}

function expectHealthy(s: ReturnType<typeof setup>): void {
  expect(s.drv.status() & 0x40).toBe(0);
}

describe('split virtqueue rule checks', () => {
  it('a valid request works (the baseline for the cases below)', () => {
    const s = setup();
    s.ring.add([{ addr: HDR, len: 16 }, { addr: STATUS, len: 1, write: true }]);
    s.drv.notify(0);
    expect(s.ring.takeUsed().length).toBe(1);
    expectHealthy(s);
  });

  it('queue size not a power of two: enabling the queue breaks the device', () => {
    const disk = new MemBlockBackend(1 << 20);
    const rig = Rig.blk(disk);
    const drv = new ModernDriver(rig);
    drv.negotiate(VERSION_1);
    rig.modernWrite(0x16, 2, 0);
    rig.modernWrite(0x18, 2, 100);
    rig.modernWrite(0x1c, 2, 1);
    expect(drv.status() & 0x40).toBe(0x40);
    expect(rig.modernRead(0x1c, 2)).toBe(0);
  });

  it('queue size above the maximum is refused and the old size kept', () => {
    const disk = new MemBlockBackend(1 << 20);
    const rig = Rig.blk(disk);
    rig.modernWrite(0x16, 2, 0);
    rig.modernWrite(0x18, 2, 32768);
    expect(rig.modernRead(0x18, 2)).toBe(256);
    rig.modernWrite(0x18, 2, 64);
    expect(rig.modernRead(0x18, 2)).toBe(64);
  });

  it('avail.idx more than queue size ahead', () => {
    const s = setup();
    s.ring.setAvailIdx(17);
    s.drv.notify(0);
    expectBroken(s);
  });

  it('head index beyond the queue', () => {
    const s = setup();
    s.ring.publish(16);
    s.drv.notify(0);
    expectBroken(s);
  });

  it('next index beyond the queue', () => {
    const s = setup();
    s.ring.writeDesc(0, HDR, 16, F_NEXT, 99);
    s.ring.publish(0);
    s.drv.notify(0);
    expectBroken(s);
  });

  it('a loop in the chain (chain longer than the queue)', () => {
    const s = setup();
    s.ring.writeDesc(0, HDR, 16, F_NEXT, 1);
    s.ring.writeDesc(1, DATA, 16, F_NEXT, 0);
    s.ring.publish(0);
    s.drv.notify(0);
    expectBroken(s);
  });

  it('a chain of exactly queue-size descriptors is fine', () => {
    const s = setup();
    for (let i = 0; i < 15; i++) s.ring.writeDesc(i, HDR + (i === 0 ? 0 : 16 + i), i === 0 ? 16 : 1, F_NEXT, i + 1);
    s.ring.writeDesc(15, STATUS, 1, F_WRITE, 0);
    s.ring.publish(0);
    s.drv.notify(0);
    expect(s.ring.takeUsed().length).toBe(1);
    expectHealthy(s);
  });

  it('INDIRECT without the negotiated feature', () => {
    const s = setup(VERSION_1);
    s.ring.addIndirect([{ addr: HDR, len: 16 }, { addr: STATUS, len: 1, write: true }], TABLE);
    s.drv.notify(0);
    expectBroken(s);
  });

  it('INDIRECT nested inside an indirect table', () => {
    const s = setup();
    s.ring.writeDesc(0, TABLE + 0x100, 32, F_INDIRECT, 0, TABLE);
    s.ring.writeDesc(0, TABLE, 16, F_INDIRECT, 0);
    s.ring.publish(0);
    s.drv.notify(0);
    expectBroken(s);
  });

  it('INDIRECT together with NEXT', () => {
    const s = setup();
    s.ring.writeDesc(0, TABLE, 32, F_INDIRECT | F_NEXT, 1);
    s.ring.writeDesc(1, STATUS, 1, F_WRITE, 0);
    s.ring.publish(0);
    s.drv.notify(0);
    expectBroken(s);
  });

  it.each([0, 8, 24, 33])('indirect table length %i (not a non-zero multiple of 16)', (len) => {
    const s = setup();
    s.ring.writeDesc(0, TABLE, len, F_INDIRECT, 0);
    s.ring.publish(0);
    s.drv.notify(0);
    expectBroken(s);
  });

  it('a loop inside an indirect table', () => {
    const s = setup();
    s.ring.writeDesc(0, HDR, 16, F_NEXT, 1, TABLE);
    s.ring.writeDesc(1, DATA, 16, F_NEXT, 0, TABLE);
    s.ring.writeDesc(0, TABLE, 32, F_INDIRECT, 0);
    s.ring.publish(0);
    s.drv.notify(0);
    expectBroken(s);
  });

  it('next beyond the indirect table', () => {
    const s = setup();
    s.ring.writeDesc(0, HDR, 16, F_NEXT, 2, TABLE);
    s.ring.writeDesc(1, STATUS, 1, F_WRITE, 0, TABLE);
    s.ring.writeDesc(0, TABLE, 32, F_INDIRECT, 0);
    s.ring.publish(0);
    s.drv.notify(0);
    expectBroken(s);
  });

  it('indirect table outside RAM', () => {
    const s = setup();
    s.ring.writeDesc(0, RAM - 16, 32, F_INDIRECT, 0);
    s.ring.publish(0);
    s.drv.notify(0);
    expectBroken(s);
  });

  it('a buffer ending exactly at the top of RAM is fine; one byte further is not', () => {
    const ok = setup();
    ok.ring.add([{ addr: HDR, len: 16 }, { addr: RAM - 1, len: 1, write: true }]);
    ok.drv.notify(0);
    expect(ok.ring.takeUsed().length).toBe(1);
    expect(ok.rig.r8(RAM - 1)).toBe(0);
    expectHealthy(ok);
    ok.ring.add([{ addr: HDR, len: 16 }, { addr: RAM - 1, len: 2, write: true }]);
    ok.drv.notify(0);
    expectBroken(ok);
  });

  it('a buffer address beyond 2^53 or in the MMIO hole', () => {
    const s = setup();
    s.ring.add([{ addr: HDR, len: 16 }, { addr: 0xfee00000, len: 1, write: true }]);
    s.drv.notify(0);
    expectBroken(s);
    const t = setup();
    t.ring.add([{ addr: 2 ** 60, len: 16 }, { addr: STATUS, len: 1, write: true }]);
    t.drv.notify(0);
    expectBroken(t);
  });

  it('a zero-length buffer', () => {
    const s = setup();
    s.ring.add([{ addr: HDR, len: 16 }, { addr: DATA, len: 0 }, { addr: STATUS, len: 1, write: true }]);
    s.drv.notify(0);
    expectBroken(s);
  });

  it('a device-readable buffer after a device-writable one', () => {
    const s = setup();
    s.ring.add([{ addr: HDR, len: 16 }, { addr: STATUS, len: 1, write: true }, { addr: DATA, len: 512 }]);
    s.drv.notify(0);
    expectBroken(s);
  });

  it('rings outside RAM or misaligned', () => {
    const s = setup();
    s.rig.modernWrite(0x16, 2, 0);
    // A queue cannot be moved while enabled; reset and set it up at the top of RAM.
    s.drv.negotiate(VERSION_1);
    const top = new Ring(s.rig, 16, RAM - 0x100, false);
    s.drv.setupQueue(0, top);
    s.drv.driverOk();
    s.drv.notify(0);
    expectBroken(s);
    const t = setup();
    t.drv.negotiate(VERSION_1);
    const odd = new Ring(t.rig, 16, RING + 8, false);
    t.drv.setupQueue(0, odd);
    t.drv.driverOk();
    t.drv.notify(0);
    expectBroken(t);
  });

  it('a block request without header or status byte (virtio-blk 5.2.6.1)', () => {
    const s = setup();
    s.ring.add([{ addr: HDR, len: 8 }, { addr: STATUS, len: 1, write: true }]);
    s.drv.notify(0);
    expectBroken(s);
    const t = setup();
    t.ring.add([{ addr: HDR, len: 16 }]);
    t.drv.notify(0);
    expectBroken(t);
  });

  it('with MSI-X the config-change vector is signalled, and a reset clears NEEDS_RESET', () => {
    const s = setup(VERSION_1 | INDIRECT, 16, true);
    s.ring.publish(16);
    s.drv.notify(0);
    expect(s.drv.status() & 0x40).toBe(0x40);
    expect(s.rig.msis).toEqual([{ addrLo: 0xfee00000, addrHi: 0, data: 0x40 }]);
    expect(s.rig.intx).toBe(false);
    s.drv.negotiate(VERSION_1);
    expect(s.drv.status() & 0x40).toBe(0);
    const ring = new Ring(s.rig, 16, RING, false);
    s.drv.setupQueue(0, ring, 1);
    s.drv.driverOk();
    ring.add([{ addr: HDR, len: 16 }, { addr: STATUS, len: 1, write: true }]);
    s.drv.notify(0);
    expect(ring.takeUsed().length).toBe(1);
  });
});
