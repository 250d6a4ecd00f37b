/**
 * `snapshot=on`: the guest sees its own writes, the image file is never modified, and the
 * temporary overlay lives in os.tmpdir() only while open (unlinked right away).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDrive } from '../../src/block/open-drive.js';
import { createQcow2 } from '../../src/block/qcow2/create.js';
import { Qcow2Image } from '../../src/block/qcow2/qcow2-image.js';
import { tempDir } from './qemu-tools.js';

let t: ReturnType<typeof tempDir>;
beforeAll(() => (t = tempDir()));
afterAll(() => t.cleanup());

const overlays = () => readdirSync(tmpdir()).filter((n) => n.startsWith(`pcvm-snapshot-${process.pid}-`));

describe('snapshot=on', () => {
  it.each(['raw', 'qcow2', undefined])('keeps writes in a temporary overlay (format %s)', (format) => {
    const p = t.path(`base-${format ?? 'probed'}.img`);
    if (format === 'qcow2') {
      createQcow2(p, 1 << 20);
      const img = Qcow2Image.open(p, { readOnly: false });
      img.write(0, new Uint8Array(1 << 20).fill(0x33));
      img.close();
    } else {
      writeFileSync(p, new Uint8Array(1 << 20).fill(0x33));
    }
    const before = readFileSync(p);
    const warnings: string[] = [];
    const d = openDrive({ file: p, ...(format ? { format } : {}), readOnly: false, snapshot: true, cache: 'writeback' }, (m) => warnings.push(m));
    expect(warnings.length).toBe(format === undefined ? 1 : 0);
    expect(d.format).toBe('qcow2');
    expect(d.readOnly).toBe(false);
    expect(d.sizeBytes).toBe(1 << 20);
    expect(overlays()).toEqual([]); // already unlinked
    const b = new Uint8Array(4);
    d.read(1000, b);
    expect([...b]).toEqual([0x33, 0x33, 0x33, 0x33]);
    d.write(1001, new Uint8Array([1, 2]));
    // A qcow2 header in block 0 is fine: it is the overlay's data, never probed.
    d.write(0, new Uint8Array([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]));
    d.read(1000, b);
    expect([...b]).toEqual([0x33, 1, 2, 0x33]);
    d.flush();
    d.close();
    expect(Buffer.compare(readFileSync(p), before)).toBe(0);
    expect(overlays()).toEqual([]);
  });

  it('with readonly=on opens the image read-only and makes no overlay', () => {
    const p = t.path('ro.img');
    writeFileSync(p, new Uint8Array(4096));
    const d = openDrive({ file: p, format: 'raw', readOnly: true, snapshot: true, cache: 'writeback' }, () => {});
    expect(d.readOnly).toBe(true);
    expect(d.format).toBe('raw');
    d.close();
  });

  it("reports QEMU's error for a missing image", () => {
    const p = t.path('missing.img');
    expect(() => openDrive({ file: p, readOnly: false, snapshot: true, cache: 'writeback' }, () => {}))
      .toThrow(`Could not open '${p}': No such file or directory`);
    expect(overlays()).toEqual([]);
  });
});
