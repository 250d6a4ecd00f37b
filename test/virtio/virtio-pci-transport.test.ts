/**
 * The virtio-pci transport at register level, against the virtio 1.1 specification (4.1)
 * and what QEMU 7.2's virtio-blk-pci shows (`info pci`, lspci -vv of a QEMU guest): the
 * identity, BARs, the vendor capabilities, the legacy and modern registers, feature
 * negotiation, and snapshots of a device mid-flight.
 */
import { describe, expect, it } from 'vitest';
import { COMMON, MemBlockBackend, ModernDriver, Rig, Ring } from './virtio-test-rig.js';
import { VIRTIO_BLK_T_IN } from '../../devices/virtio/virtio-blk.js';
import { SnapshotError } from '../../src/errors.js';

const VERSION_1 = 1n << 32n;

describe('virtio-pci transport', () => {
  it("has QEMU's transitional identity and BAR layout", () => {
    const rig = Rig.blk(new MemBlockBackend(1 << 20));
    const c = rig.dev;
    expect(c.configRead(0x00, 2)).toBe(0x1af4);
    expect(c.configRead(0x02, 2)).toBe(0x1001);
    expect(c.configRead(0x08, 1)).toBe(0); // revision 0: transitional
    expect(c.configRead(0x09, 4) & 0xffffff).toBe(0x010000);
    expect(c.configRead(0x2c, 2)).toBe(0x1af4);
    expect(c.configRead(0x2e, 2)).toBe(2);
    expect(c.configRead(0x3d, 1)).toBe(1);
    expect(c.barDefinition(0)).toMatchObject({ kind: 'io', sizeBytes: 128 });
    expect(c.barDefinition(1)).toMatchObject({ kind: 'mem32', sizeBytes: 0x1000 });
    expect(c.barDefinition(4)).toMatchObject({ kind: 'mem64', sizeBytes: 0x4000, prefetchable: true });
    // BAR sizing by writing all ones (PCI 3.0 6.2.5.1).
    c.configWrite(0x10, 4, 0xffffffff);
    expect(c.configRead(0x10, 4)).toBe(0xffffff81);
    c.configWrite(0x20, 4, 0xffffffff);
    expect(c.configRead(0x20, 4)).toBe(0xffffc00c);
  });

  it('lists the common, ISR, device, notify and PCI-cfg vendor capabilities at QEMU offsets, and MSI-X', () => {
    const rig = Rig.blk(new MemBlockBackend(1 << 20));
    const c = rig.dev;
    const caps: number[][] = [];
    for (const type of [1, 3, 4, 2, 5]) {
      const at = rig.findVirtioCap(type);
      caps.push([at, c.configRead(at + 2, 1), c.configRead(at + 4, 1), c.configRead(at + 8, 4), c.configRead(at + 12, 4)]);
    }
    expect(caps).toEqual([
      [0x40, 16, 4, 0x0000, 0x1000],
      [0x50, 16, 4, 0x1000, 0x1000],
      [0x60, 16, 4, 0x2000, 0x1000],
      [0x70, 20, 4, 0x3000, 0x1000],
      [0x84, 20, 0, 0, 0],
    ]);
    expect(c.configRead(0x70 + 16, 4)).toBe(4); // notify_off_multiplier
    const msix = rig.findCap(0x11);
    expect(msix).toBe(0x98);
    expect(c.configRead(msix + 2, 2)).toBe(1); // 2 vectors (queue + config)
    expect(c.configRead(msix + 4, 4)).toBe(0x00000001); // table in BAR1 at 0
    expect(c.configRead(msix + 8, 4)).toBe(0x00000801); // PBA in BAR1 at 0x800
    expect(c.configRead(0x06, 2) & 0x10).toBe(0x10);
  });

  it('legacy registers: 32 feature bits without VERSION_1, QUEUE_NUM, PFN, ISR read-to-clear, MSI-X shift', () => {
    const rig = Rig.blk(new MemBlockBackend(64 * 512));
    const host = rig.legacyRead(0x00, 4);
    expect(host & (1 << 28)).not.toBe(0); // INDIRECT
    expect(host & (1 << 29)).not.toBe(0); // EVENT_IDX
    expect(host & (1 << 27)).not.toBe(0); // ANY_LAYOUT
    rig.legacyWrite(0x0e, 2, 0);
    expect(rig.legacyRead(0x0c, 2)).toBe(256);
    rig.legacyWrite(0x0e, 2, 1);
    expect(rig.legacyRead(0x0c, 2)).toBe(0); // no queue 1
    rig.legacyWrite(0x0e, 2, 0);
    rig.legacyWrite(0x08, 4, 0x10);
    expect(rig.legacyRead(0x08, 4)).toBe(0x10);
    expect(rig.modernRead(COMMON.qenable, 2)).toBe(1);
    expect(rig.modernRead(COMMON.qavail, 4)).toBe(0x10000 + 16 * 256);
    expect(rig.modernRead(COMMON.qused, 4)).toBe(0x12000);
    // Device configuration at 0x14: capacity 64 sectors.
    expect(rig.legacyRead(0x14, 4)).toBe(64);
    rig.enableMsix();
    expect(rig.legacyRead(0x18, 4)).toBe(64);
    expect(rig.legacyRead(0x14, 2)).toBe(0xffff); // config vector unset
    rig.legacyWrite(0x14, 2, 7); // beyond the table: reads back NO_VECTOR
    expect(rig.legacyRead(0x14, 2)).toBe(0xffff);
    // The guest may only accept what is offered; PFN 0 resets the device.
    rig.legacyWrite(0x04, 4, 0xffffffff);
    expect(rig.legacyRead(0x04, 4)).toBe(host);
    rig.legacyWrite(0x08, 4, 0);
    expect(rig.legacyRead(0x04, 4)).toBe(0);
    expect(rig.modernRead(COMMON.qenable, 2)).toBe(0);
  });

  it('modern feature negotiation: VERSION_1 required, unoffered bits refused, the high word visible', () => {
    const rig = Rig.blk(new MemBlockBackend(1 << 20));
    const drv = new ModernDriver(rig);
    const f = drv.deviceFeatures();
    expect(f & VERSION_1).toBe(VERSION_1);
    expect(drv.negotiate(0n)).toBe(false);
    expect(drv.negotiate(VERSION_1 | (1n << 40n))).toBe(false);
    expect(drv.negotiate(f)).toBe(true);
    rig.modernWrite(COMMON.dfselect, 4, 5);
    expect(rig.modernRead(COMMON.df, 4)).toBe(0);
    expect(rig.modernRead(COMMON.numq, 2)).toBe(1);
    rig.modernWrite(COMMON.qselect, 2, 0);
    expect(rig.modernRead(COMMON.qsize, 2)).toBe(256);
    expect(rig.modernRead(COMMON.qnoff, 2)).toBe(0);
    rig.modernWrite(COMMON.qmsix, 2, 1);
    expect(rig.modernRead(COMMON.qmsix, 2)).toBe(1);
    rig.modernWrite(COMMON.qmsix, 2, 2);
    expect(rig.modernRead(COMMON.qmsix, 2)).toBe(0xffff);
    // The driver cannot set DEVICE_NEEDS_RESET itself; status 0 resets everything.
    rig.modernWrite(COMMON.status, 1, 0x4b);
    expect(drv.status()).toBe(0x0b);
    rig.modernWrite(COMMON.status, 1, 0);
    expect(drv.status()).toBe(0);
    expect(rig.modernRead(COMMON.gf, 4)).toBe(0);
  });

  it('the PCI configuration access capability reaches the modern BAR (4.1.4.7)', () => {
    const rig = Rig.blk(new MemBlockBackend(1 << 20));
    const cap = rig.findVirtioCap(5);
    const c = rig.dev;
    c.configWrite(cap + 4, 1, 4);
    c.configWrite(cap + 8, 4, 0x2000); // device config: capacity
    c.configWrite(cap + 12, 4, 4);
    expect(c.configRead(cap + 16, 4)).toBe((1 << 20) / 512);
    c.configWrite(cap + 8, 4, COMMON.status);
    c.configWrite(cap + 12, 4, 1);
    c.configWrite(cap + 16, 1, 1);
    expect(rig.modernRead(COMMON.status, 1)).toBe(1);
  });

  it('saves a device mid-flight and a restored copy completes the queued request', () => {
    const disk = new MemBlockBackend(1 << 20);
    disk.data.fill(0x5a, 0, 512);
    const rig = Rig.blk(disk);
    rig.enableMsix();
    const drv = new ModernDriver(rig);
    drv.negotiate(VERSION_1 | (1n << 29n));
    const ring = new Ring(rig, 64, 0x10000, false);
    drv.setupQueue(0, ring, 1);
    drv.driverOk();
    rig.w32(0x20000, VIRTIO_BLK_T_IN);
    ring.add([{ addr: 0x20000, len: 16 }, { addr: 0x21000, len: 512, write: true }, { addr: 0x30000, len: 1, write: true }]);
    drv.notify(0);
    ring.takeUsed();
    ring.setUsedEvent(1); // EVENT_IDX: interrupt when the next entry is used
    // A second request is made available but not yet notified when the snapshot is taken.
    ring.add([{ addr: 0x20000, len: 16 }, { addr: 0x22000, len: 512, write: true }, { addr: 0x30000, len: 1, write: true }]);
    const saved = JSON.parse(JSON.stringify(rig.dev.saveState()));

    const copy = Rig.blk(disk);
    copy.memory.writeBytes(0, rig.memory.readBytes(0, 1 << 20));
    copy.dev.loadState(saved, copy.dev.stateVersion);
    expect(JSON.parse(JSON.stringify(copy.dev.saveState()))).toEqual(saved);
    copy.modernWrite(0x3000, 2, 0);
    expect(copy.memory.readBytes(0x22000, 512)).toEqual(new Uint8Array(512).fill(0x5a));
    expect(copy.msis).toEqual([{ addrLo: 0xfee00000, addrHi: 0, data: 0x41 }]);
  });

  it('rejects corrupt snapshots before changing anything', () => {
    const rig = Rig.blk(new MemBlockBackend(1 << 20));
    const good = rig.dev.saveState() as { config: number[]; extra: Record<string, unknown> };
    const bad = (patch: (s: { config: number[]; extra: Record<string, unknown> }) => void) => {
      const s = JSON.parse(JSON.stringify(good));
      patch(s);
      return () => rig.dev.loadState(s, rig.dev.stateVersion);
    };
    expect(bad((s) => ((s.extra['queues'] as unknown[]).length = 0))).toThrow(SnapshotError);
    expect(bad((s) => ((s.extra['queues'] as Record<string, unknown>[])[0]!['size'] = 1000))).toThrow(SnapshotError);
    expect(bad((s) => ((s.extra['queues'] as Record<string, unknown>[])[0]!['msixVector'] = 5))).toThrow(SnapshotError);
    expect(bad((s) => (s.extra['isr'] = 9))).toThrow(SnapshotError);
    expect(bad((s) => ((s.extra['msix'] as Record<string, unknown>)['pending'] = [2, 0]))).toThrow(SnapshotError);
    expect(bad((s) => ((s.extra['device'] as Record<string, unknown>)['writeback'] = 3))).toThrow(SnapshotError);
    expect(JSON.parse(JSON.stringify(rig.dev.saveState()))).toEqual(JSON.parse(JSON.stringify(good)));
  });
});
