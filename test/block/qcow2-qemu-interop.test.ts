/**
 * qcow2 images written by pcvm are valid for QEMU (`qemu-img check` exits 0, `qemu-img
 * convert -O raw` shows the data, `qemu-img snapshot -l` lists pcvm's snapshots), and images
 * and snapshots written by QEMU (`qemu-io`, `qemu-img snapshot -c`) read back in pcvm.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQcow2 } from '../../src/block/qcow2/create.js';
import { Qcow2Image } from '../../src/block/qcow2/qcow2-image.js';
import { HAS_QEMU_IMG, HAS_QEMU_IO, qemuImg, run, tempDir } from './qemu-tools.js';

let t: ReturnType<typeof tempDir>;
beforeAll(() => (t = tempDir()));
afterAll(() => t.cleanup());

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 0xff; }
  return b;
}

function check(p: string): void {
  const r = run('qemu-img', 'check', p);
  expect(r.stdout + r.stderr, 'qemu-img check output').toContain('No errors were found');
  expect(r.status).toBe(0);
}

function asRaw(p: string): Buffer {
  const out = t.path(`raw-${Math.random().toString(36).slice(2)}`);
  qemuImg('convert', '-O', 'raw', p, out);
  return readFileSync(out);
}

describe.skipIf(!HAS_QEMU_IMG || !HAS_QEMU_IO)('qcow2 interoperability with qemu-img', () => {
  it.each([
    ['v3, 64 KiB clusters', {}],
    ['v2', { version: 2 as const }],
    ['512-byte clusters (refcount table growth)', { clusterBits: 9 }],
    ['2 MiB clusters', { clusterBits: 21 }],
    ['8-bit refcounts', { refcountOrder: 3 }],
    ['1-bit refcounts', { refcountOrder: 0 }],
    ['64-bit refcounts', { refcountOrder: 6 }],
  ])('creates and writes an image QEMU accepts (%s)', (_name, opts) => {
    const p = t.path(`pcvm-${_name.replace(/\W+/g, '_')}.qcow2`);
    const size = 8 << 20;
    createQcow2(p, size, opts);
    check(p);
    const expected = new Uint8Array(size);
    const img = Qcow2Image.open(p, { readOnly: false });
    const writes: [number, number][] = [[0, 4096], [12345, 100000], [5 << 20, 3 << 20], [size - 512, 512], [777, 3]];
    writes.forEach(([off, len], i) => {
      const d = pattern(len, i + 1);
      img.write(off, d);
      expected.set(d, off);
    });
    const back = new Uint8Array(size);
    img.read(0, back);
    expect(Buffer.compare(back, expected)).toBe(0);
    img.close();
    check(p);
    expect(Buffer.compare(asRaw(p), expected)).toBe(0);
  });

  it('reads what qemu-io wrote, writes over it, and QEMU reads the result', () => {
    const p = t.path('q.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', p, '16M');
    expect(run('qemu-io', '-f', 'qcow2', '-c', 'write -P 0xab 1M 192k', '-c', 'write -P 0x11 0 1k', p).status).toBe(0);
    const img = Qcow2Image.open(p, { readOnly: false });
    expect(img.sizeBytes).toBe(16 << 20);
    const b = new Uint8Array(192 << 10);
    img.read(1 << 20, b);
    expect(b.every((x) => x === 0xab)).toBe(true);
    const head = new Uint8Array(2048);
    img.read(0, head);
    expect(head.subarray(0, 1024).every((x) => x === 0x11)).toBe(true);
    expect(head.subarray(1024).every((x) => x === 0)).toBe(true);
    img.write((1 << 20) + 100, new Uint8Array(10).fill(0x5a));
    img.close();
    check(p);
    const raw = asRaw(p);
    expect(raw[(1 << 20) + 99]).toBe(0xab);
    expect(raw.subarray((1 << 20) + 100, (1 << 20) + 110).every((x) => x === 0x5a)).toBe(true);
    expect(raw[(1 << 20) + 110]).toBe(0xab);
  });

  it('reads zlib-compressed clusters written by qemu-img convert -c, and copies them on write', () => {
    const src = t.path('plain.raw');
    const data = new Uint8Array(1 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i >> 9) & 0xff; // compressible, not zero
    writeFileSync(src, data);
    const p = t.path('compressed.qcow2');
    qemuImg('convert', '-c', '-f', 'raw', '-O', 'qcow2', src, p);
    const img = Qcow2Image.open(p, { readOnly: false });
    const back = new Uint8Array(data.length);
    img.read(0, back);
    expect(Buffer.compare(back, data)).toBe(0);
    img.write(70000, new Uint8Array([1, 2, 3]));
    data.set([1, 2, 3], 70000);
    img.close();
    check(p);
    expect(Buffer.compare(asRaw(p), data)).toBe(0);
  });

  it('follows a backing file (relative name) and copies on write', () => {
    const base = t.path('base.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', base, '4M');
    expect(run('qemu-io', '-f', 'qcow2', '-c', 'write -P 0x42 0 4M', base).status).toBe(0);
    const top = t.path('top.qcow2');
    createQcow2(top, 4 << 20, { backingFile: 'base.qcow2', backingFormat: 'qcow2' });
    const img = Qcow2Image.open(top, { readOnly: false });
    const b = new Uint8Array(8);
    img.read(3 << 20, b);
    expect([...b]).toEqual(Array(8).fill(0x42));
    img.write(100, new Uint8Array([9, 9]));
    img.read(96, b);
    expect([...b]).toEqual([0x42, 0x42, 0x42, 0x42, 9, 9, 0x42, 0x42]);
    img.close();
    check(top);
    const info = qemuImg('info', top);
    expect(info).toContain('backing file: base.qcow2');
    const raw = asRaw(top);
    expect(raw[99]).toBe(0x42);
    expect(raw[100]).toBe(9);
    expect(raw[(1 << 20)]).toBe(0x42);
  });

  it("lists pcvm's snapshots in qemu-img snapshot -l and qemu-img applies them", () => {
    const p = t.path('snap.qcow2');
    createQcow2(p, 32 << 20);
    const img = Qcow2Image.open(p, { readOnly: false });
    img.write(0, new Uint8Array(65536).fill(1));
    img.write(10 << 20, new Uint8Array(1000).fill(2));
    const vm = pattern(200_000, 77);
    const info = img.createSnapshot({ name: 'first', dateSec: 1_700_000_000, dateNsec: 42, vmClockNs: 5_000_000_000, icount: -1 }, vm);
    expect(info.id).toBe('1');
    expect(info.vmStateSize).toBe(200_000);
    img.write(0, new Uint8Array(100).fill(3));
    img.createSnapshot({ name: 'second', dateSec: 1_700_000_100, dateNsec: 0, vmClockNs: 0, icount: 12345 }, new Uint8Array(0));
    img.write(10 << 20, new Uint8Array(1000).fill(4));
    expect(Buffer.compare(img.readVmState('first'), vm)).toBe(0);
    img.close();
    check(p);
    const list = qemuImg('snapshot', '-l', p);
    expect(list).toMatch(/^1\s+first\s+195 KiB\s/m);
    expect(list).toMatch(/^2\s+second\s+0 B\s/m);
    // QEMU applies our snapshot 1: the disk is back to its content then.
    qemuImg('snapshot', '-a', 'first', p);
    check(p);
    const raw = asRaw(p);
    expect(raw.subarray(0, 65536).every((x) => x === 1)).toBe(true);
    expect(raw.subarray(10 << 20, (10 << 20) + 1000).every((x) => x === 2)).toBe(true);
  });

  it('lists and applies snapshots made by qemu-img snapshot -c, and deletes them cleanly', () => {
    const p = t.path('qsnap.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', p, '8M');
    expect(run('qemu-io', '-f', 'qcow2', '-c', 'write -P 0x61 0 128k', p).status).toBe(0);
    qemuImg('snapshot', '-c', 'before', p);
    expect(run('qemu-io', '-f', 'qcow2', '-c', 'write -P 0x62 0 64k', p).status).toBe(0);
    const img = Qcow2Image.open(p, { readOnly: false });
    const list = img.listSnapshots();
    expect(list.map((s) => [s.id, s.name, s.vmStateSize])).toEqual([['1', 'before', 0]]);
    const b = new Uint8Array(1);
    img.read(0, b);
    expect(b[0]).toBe(0x62);
    img.applySnapshot('before');
    img.read(0, b);
    expect(b[0]).toBe(0x61);
    img.write(4096, new Uint8Array([0x63]));
    img.close();
    check(p);
    const raw = asRaw(p);
    expect(raw[0]).toBe(0x61);
    expect(raw[4096]).toBe(0x63);
    expect(raw[(64 << 10) + 1]).toBe(0x61);
    const img2 = Qcow2Image.open(p, { readOnly: false });
    img2.deleteSnapshot('1');
    expect(img2.listSnapshots()).toEqual([]);
    img2.close();
    check(p);
    expect(qemuImg('snapshot', '-l', p).trim()).toBe('');
    expect(asRaw(p)[4096]).toBe(0x63);
  });
});
