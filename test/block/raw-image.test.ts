/**
 * The raw format: byte-for-byte reads and writes on the host file, size rounding, read-only
 * opens, write-zeroes, flush, and QEMU's errors for missing files.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlockError } from '../../src/block/block-backend.js';
import { RawImage } from '../../src/block/raw-image.js';
import { tempDir } from './qemu-tools.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => (t = tempDir()));
afterEach(() => t.cleanup());

const rw = { readOnly: false, cache: 'writeback', probed: false };

describe('RawImage', () => {
  it('reads and writes the host file byte for byte', () => {
    const p = t.path('disk.img');
    const init = new Uint8Array(4096).map((_, i) => i & 0xff);
    writeFileSync(p, init);
    const img = RawImage.open(p, rw);
    expect(img.format).toBe('raw');
    expect(img.sizeBytes).toBe(4096);
    const buf = new Uint8Array(100);
    img.read(1000, buf);
    expect([...buf]).toEqual([...init.subarray(1000, 1100)]);
    img.write(3000, new Uint8Array([1, 2, 3]));
    img.flush();
    img.close();
    img.close(); // idempotent
    const after = readFileSync(p);
    expect([...after.subarray(2999, 3004)]).toEqual([init[2999], 1, 2, 3, init[3003]]);
  });

  it('rounds the size up to whole sectors and reads zeros past the end of the file', () => {
    const p = t.path('odd.img');
    writeFileSync(p, new Uint8Array(700).fill(0xaa));
    const img = RawImage.open(p, rw);
    expect(img.sizeBytes).toBe(1024);
    const buf = new Uint8Array(512).fill(0x55);
    img.read(512, buf);
    expect(buf.subarray(0, 188).every((b) => b === 0xaa)).toBe(true);
    expect(buf.subarray(188).every((b) => b === 0)).toBe(true);
    img.close();
  });

  it('refuses ranges outside the disk with a BlockError', () => {
    const p = t.path('disk.img');
    writeFileSync(p, new Uint8Array(1024));
    const img = RawImage.open(p, rw);
    expect(() => img.read(1000, new Uint8Array(100))).toThrow(BlockError);
    expect(() => img.write(-1, new Uint8Array(1))).toThrow(BlockError);
    expect(() => img.writeZeroes(0, 2048)).toThrow(BlockError);
    img.close();
  });

  it('opens read-only files O_RDONLY and refuses writes', () => {
    const p = t.path('disk.img');
    writeFileSync(p, new Uint8Array(1024).fill(7));
    const img = RawImage.open(p, { ...rw, readOnly: true });
    expect(img.readOnly).toBe(true);
    expect(() => img.write(0, new Uint8Array(1))).toThrow(/read-only/);
    expect(() => img.writeZeroes(0, 512)).toThrow(BlockError);
    img.flush();
    img.close();
    expect(readFileSync(p).every((b) => b === 7)).toBe(true);
  });

  it('write-zeroes and discard zero the range without growing the file', () => {
    const p = t.path('disk.img');
    writeFileSync(p, new Uint8Array(3 << 20).fill(0xff));
    const img = RawImage.open(p, { ...rw, cache: 'writethrough' });
    img.writeZeroes(100, (2 << 20) + 5);
    img.discard(3 << 20 >> 1, 0);
    img.close();
    const data = readFileSync(p);
    expect(data[99]).toBe(0xff);
    expect(data.subarray(100, 100 + (2 << 20) + 5).every((b) => b === 0)).toBe(true);
    expect(data[100 + (2 << 20) + 5]).toBe(0xff);
    expect(statSync(p).size).toBe(3 << 20);
  });

  it("gives QEMU's message for a missing file and for a directory", () => {
    const missing = t.path('nope.img');
    expect(() => RawImage.open(missing, rw)).toThrow(new BlockError(`Could not open '${missing}': No such file or directory`));
    expect(() => RawImage.open(t.dir, { ...rw, readOnly: true })).toThrow(`'file' driver requires '${t.dir}' to be a regular file`);
  });
});
