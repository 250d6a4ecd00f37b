/**
 * Refcount metadata growth: with 512-byte clusters one refcount block covers 128 KiB and the
 * initial one-cluster refcount table 8 MiB, so filling 12 MiB needs many new refcount blocks
 * and a larger refcount table placed (with the blocks covering it) at the end of the file.
 * QEMU's checker must find the result consistent.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQcow2 } from '../../src/block/qcow2/create.js';
import { Qcow2Image } from '../../src/block/qcow2/qcow2-image.js';
import { HAS_QEMU_IMG, qemuImg, run, tempDir } from './qemu-tools.js';

let t: ReturnType<typeof tempDir>;
beforeAll(() => (t = tempDir()));
afterAll(() => t.cleanup());

describe.skipIf(!HAS_QEMU_IMG)('refcount table growth', () => {
  it.each([4, 0, 6])('grows the refcount table with refcount_order %i and qemu-img check agrees', (order) => {
    const p = t.path(`grow-${order}.qcow2`);
    const size = 12 << 20;
    createQcow2(p, size, { clusterBits: 9, refcountOrder: order });
    const before = readFileSync(p).readUInt32BE(56); // refcount_table_clusters
    const img = Qcow2Image.open(p, { readOnly: false });
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i += 4096) data.fill((i >> 12) & 0xff || 1, i, i + 4096);
    for (let off = 0; off < size; off += 256 << 10) img.write(off, data.subarray(off, off + (256 << 10)));
    const snap = () => img.createSnapshot({ name: 's', dateSec: 1, dateNsec: 0, vmClockNs: 0, icount: -1 }, new Uint8Array(3000).fill(5));
    // 1-bit refcounts cannot count a second reference: refused before anything is written.
    if (order === 0) expect(snap).toThrow(/wider than 1 bit/);
    else snap();
    img.write(0, new Uint8Array(512).fill(0xee));
    img.close();
    const after = readFileSync(p).readUInt32BE(56);
    // Order 0 packs 4,096 counts per block: its one-cluster table covers 128 MiB and need not grow.
    if (order >= 4) expect(after).toBeGreaterThan(before);
    const r = run('qemu-img', 'check', p);
    expect(r.stdout + r.stderr).toContain('No errors were found');
    expect(r.status).toBe(0);
    const raw = t.path(`grow-${order}.raw`);
    qemuImg('convert', '-O', 'raw', p, raw);
    const got = readFileSync(raw);
    data.fill(0xee, 0, 512);
    expect(Buffer.compare(got, data)).toBe(0);
  });
});
