/**
 * virtio-net through a fake driver and a recording back end (virtio 1.1 section 5.1): the
 * header sizes of legacy and modern drivers, mergeable receive buffers, and flow control
 * when the guest has no receive buffer.
 */
import { describe, expect, it } from 'vitest';
import { LegacyDriver, ModernDriver, RecordingNetBackend, Rig, Ring } from './virtio-test-rig.js';
import { VirtioNet, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS, VIRTIO_NET_PCI_CLASS } from '../../devices/virtio/virtio-net.js';

const VERSION_1 = 1n << 32n;
const bit = (n: number) => 1n << BigInt(n);
const MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const RX_RING = 0x10000;
const TX_RING = 0x14000;
const BUF = 0x20000;

function frame(n: number, seed = 0): Uint8Array {
  const f = new Uint8Array(n);
  for (let i = 0; i < n; i++) f[i] = (i + seed) & 0xff;
  return f;
}

function netRig() {
  const backend = new RecordingNetBackend('n0');
  const rig = new Rig(new VirtioNet({ mac: MAC, backend }), VIRTIO_NET_PCI_CLASS);
  return { rig, backend };
}

function modernNet(features: bigint) {
  const { rig, backend } = netRig();
  const drv = new ModernDriver(rig);
  expect(drv.negotiate(features)).toBe(true);
  const rx = new Ring(rig, 256, RX_RING, false);
  const tx = new Ring(rig, 256, TX_RING, false);
  drv.setupQueue(0, rx);
  drv.setupQueue(1, tx);
  drv.driverOk();
  return { rig, backend, drv, rx, tx };
}

describe('virtio-net', () => {
  it('identifies as QEMU does: 1af4:1000, subsystem 1af4:0001, Ethernet class; MAC and link-up status in config', () => {
    const { rig } = netRig();
    expect(rig.dev.configRead(0, 4)).toBe(0x10001af4);
    expect(rig.dev.configRead(0x2c, 4)).toBe(0x00011af4);
    expect(rig.dev.configRead(0x08, 4) >>> 8).toBe(0x020000);
    const cfg = Array.from({ length: 6 }, (_, i) => rig.modernRead(0x2000 + i, 1));
    expect(cfg).toEqual(MAC);
    expect(rig.modernRead(0x2006, 2)).toBe(1);
    const f = new ModernDriver(rig).deviceFeatures();
    expect(f & (bit(VIRTIO_NET_F_MAC) | bit(VIRTIO_NET_F_STATUS) | bit(VIRTIO_NET_F_MRG_RXBUF))).toBe(bit(VIRTIO_NET_F_MAC) | bit(VIRTIO_NET_F_STATUS) | bit(VIRTIO_NET_F_MRG_RXBUF));
    expect(f & 1n).toBe(0n); // no CSUM offload
    expect(rig.dev.barDefinition(0)!.sizeBytes).toBe(32);
  });

  it('transmit strips the 12-byte modern header; receive fills one buffer with a zero header', () => {
    const { rig, backend, drv, rx, tx } = modernNet(VERSION_1);
    rig.memory.writeBytes(BUF, new Uint8Array(12).fill(0));
    rig.memory.writeBytes(BUF + 12, frame(60, 1));
    tx.add([{ addr: BUF, len: 12 }, { addr: BUF + 12, len: 60 }]);
    drv.notify(1);
    expect(backend.sent).toEqual([frame(60, 1)]);
    expect(tx.takeUsed()).toEqual([{ id: 0, len: 0 }]);

    rig.memory.writeBytes(BUF + 0x1000, new Uint8Array(1526).fill(0xee));
    const head = rx.add([{ addr: BUF + 0x1000, len: 1526, write: true }]);
    drv.notify(0);
    backend.deliver(frame(100, 7));
    expect(rx.takeUsed()).toEqual([{ id: head, len: 112 }]);
    const got = rig.memory.readBytes(BUF + 0x1000, 112);
    expect(got.subarray(0, 10)).toEqual(new Uint8Array(10));
    expect(got[10]).toBe(1); // num_buffers
    expect(got.subarray(12)).toEqual(frame(100, 7));
  });

  it('mergeable receive buffers: a frame spans chains, num_buffers counts them', () => {
    const { rig, backend, drv, rx } = modernNet(VERSION_1 | bit(VIRTIO_NET_F_MRG_RXBUF));
    for (let i = 0; i < 4; i++) rx.add([{ addr: BUF + 0x100 * i, len: 0x100, write: true }]);
    drv.notify(0);
    backend.deliver(frame(600, 3));
    const used = rx.takeUsed();
    expect(used).toEqual([{ id: 0, len: 256 }, { id: 1, len: 256 }, { id: 2, len: 100 }]);
    const all = rig.memory.readBytes(BUF, 612);
    expect(all[10]).toBe(3);
    expect(all.subarray(12)).toEqual(frame(600, 3));
  });

  it('with no receive buffer the back end keeps frames until the driver adds buffers', () => {
    const { rig, backend, drv, rx } = modernNet(VERSION_1 | bit(VIRTIO_NET_F_MRG_RXBUF));
    backend.deliver(frame(60, 1));
    backend.deliver(frame(60, 2));
    expect(backend.queue.length).toBe(2);
    rx.add([{ addr: BUF, len: 2048, write: true }]);
    drv.notify(0);
    expect(backend.readyCalls).toBeGreaterThan(0);
    expect(backend.queue.length).toBe(1);
    expect(rig.memory.readBytes(BUF + 12, 60)).toEqual(frame(60, 1));
    // Not enough room for a frame across the chains available: none is consumed.
    rx.add([{ addr: BUF + 0x1000, len: 30, write: true }]);
    drv.notify(0);
    expect(backend.queue.length).toBe(1);
    rx.add([{ addr: BUF + 0x2000, len: 64, write: true }]);
    drv.notify(0);
    expect(backend.queue.length).toBe(0);
    expect(rx.takeUsed().map((u) => u.len)).toEqual([72, 30, 42]);
  });

  it('a legacy driver without MRG_RXBUF uses the 10-byte header', () => {
    const { rig, backend } = netRig();
    const drv = new LegacyDriver(rig);
    drv.negotiate(1 << VIRTIO_NET_F_MAC);
    const rx = drv.setupQueue(0, RX_RING);
    const tx = drv.setupQueue(1, TX_RING);
    drv.driverOk();
    rig.memory.writeBytes(BUF, new Uint8Array(10));
    rig.memory.writeBytes(BUF + 10, frame(42, 5));
    tx.add([{ addr: BUF, len: 52 }]);
    drv.notify(1);
    expect(backend.sent).toEqual([frame(42, 5)]);
    rx.add([{ addr: BUF + 0x1000, len: 10, write: true }, { addr: BUF + 0x1100, len: 1514, write: true }]);
    drv.notify(0);
    backend.deliver(frame(64, 9));
    expect(rx.takeUsed()).toEqual([{ id: 0, len: 74 }]);
    expect(rig.memory.readBytes(BUF + 0x1100, 64)).toEqual(frame(64, 9));
  });

  it('a transmit chain shorter than the header breaks the device', () => {
    const { drv, tx } = modernNet(VERSION_1);
    tx.add([{ addr: BUF, len: 8 }]);
    drv.notify(1);
    expect(drv.status() & 0x40).toBe(0x40);
  });
});
