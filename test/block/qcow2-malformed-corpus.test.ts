/**
 * A corpus of malformed qcow2 images, generated here from a valid image by patching bytes.
 * Each must give a BlockError (never another exception), leave the file byte-for-byte
 * unchanged, and — where pcvm claims QEMU's wording — say what QEMU says about the same file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockError } from '../../src/block/block-backend.js';
import { openDrive } from '../../src/block/open-drive.js';
import { MAX_BACKING_CHAIN } from '../../src/block/qcow2/backing.js';
import { createQcow2 } from '../../src/block/qcow2/create.js';
import { Qcow2Image } from '../../src/block/qcow2/qcow2-image.js';
import { HAS_QEMU_IO, run, tempDir } from './qemu-tools.js';

let t: ReturnType<typeof tempDir>;
beforeAll(() => (t = tempDir()));
afterAll(() => t.cleanup());

const CS = 0x10000;
// createQcow2(4 MiB) + one write at 0: header 0, reftable 0x10000, refblock 0x20000, L1 0x30000,
// L2 table 0x40000, data cluster 0x50000.
const REFTABLE = 0x10000, REFBLOCK = 0x20000, L1 = 0x30000, L2 = 0x40000, DATA = 0x50000;

function base(name: string, opts: Parameters<typeof createQcow2>[2] = {}): string {
  const p = t.path(name);
  createQcow2(p, 4 << 20, opts);
  if (opts.backingFile !== undefined) return p; // the corpus's backing files cannot be opened
  const img = Qcow2Image.open(p, { readOnly: false });
  img.write(0, new Uint8Array(CS).fill(0x11));
  img.close();
  return p;
}

function patch(p: string, off: number, bytes: number[] | Uint8Array): void {
  const b = readFileSync(p);
  b.set(bytes, off);
  writeFileSync(p, b);
}

function be32(v: number): number[] { return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]; }
function be64(v: number, hiFlags = 0): number[] { return [...be32((Math.floor(v / 2 ** 32) | hiFlags) >>> 0), ...be32(v >>> 0)]; }

type Op = 'open' | 'read' | 'write' | 'write-new' | 'snapshot';

interface Case {
  name: string;
  make: () => string;
  op: Op;
  error: RegExp;
  /** qemu-io on the same file reports this message too. */
  qemuSays?: boolean;
}

const cases: Case[] = [
  { name: 'empty file', make: () => { const p = t.path('empty'); writeFileSync(p, ''); return p; }, op: 'open', error: /Image is not in qcow2 format/, qemuSays: true },
  { name: 'truncated header', make: () => { const p = t.path('trunc'); writeFileSync(p, readFileSync(base('trunc0')).subarray(0, 20)); return p; }, op: 'open', error: /Unsupported cluster size: 2\^0/, qemuSays: true },
  { name: 'version 4', make: () => { const p = base('v4'); patch(p, 4, be32(4)); return p; }, op: 'open', error: /Unsupported qcow2 version 4/, qemuSays: true },
  { name: 'cluster_bits 22', make: () => { const p = base('cb22'); patch(p, 20, be32(22)); return p; }, op: 'open', error: /Unsupported cluster size: 2\^22/, qemuSays: true },
  { name: 'cluster_bits 8', make: () => { const p = base('cb8'); patch(p, 20, be32(8)); return p; }, op: 'open', error: /Unsupported cluster size: 2\^8/, qemuSays: true },
  { name: 'header_length too short', make: () => { const p = base('hl'); patch(p, 100, be32(100)); return p; }, op: 'open', error: /qcow2 header too short/, qemuSays: true },
  { name: 'header_length beyond the cluster', make: () => { const p = base('hl2'); patch(p, 100, be32(0x20000)); return p; }, op: 'open', error: /qcow2 header exceeds cluster size/, qemuSays: true },
  { name: 'unknown incompatible feature bit', make: () => { const p = base('inc'); patch(p, 72, be64(2 ** 40)); return p; }, op: 'open', error: /Unsupported qcow2 feature\(s\): Unknown incompatible feature: 10000000000/, qemuSays: true },
  { name: 'corrupt bit (read/write open)', make: () => { const p = base('corrupt'); patch(p, 72, be64(2)); return p; }, op: 'open', error: /qcow2: Image is corrupt; cannot be opened read\/write/, qemuSays: true },
  { name: 'dirty bit (lazy refcounts)', make: () => { const p = base('dirty'); patch(p, 72, be64(1)); return p; }, op: 'open', error: /dirty/ },
  { name: 'external data file bit', make: () => { const p = base('df'); patch(p, 72, be64(4)); return p; }, op: 'open', error: /external data file/ },
  { name: 'extended L2 bit', make: () => { const p = base('extl2'); patch(p, 72, be64(16)); return p; }, op: 'open', error: /extended L2/ },
  { name: 'zstd type without its feature bit', make: () => { const p = base('zstd'); patch(p, 104, [1]); return p; }, op: 'open', error: /Compression type incompatible feature bit must be set/, qemuSays: true },
  { name: 'unknown compression type', make: () => { const p = base('ct'); patch(p, 104, [7]); return p; }, op: 'open', error: /unknown compression type: 7/, qemuSays: true },
  { name: 'encrypted (AES)', make: () => { const p = base('aes'); patch(p, 32, be32(1)); return p; }, op: 'open', error: /AES-CBC encrypted/ },
  { name: 'refcount_order 7', make: () => { const p = base('ro7'); patch(p, 96, be32(7)); return p; }, op: 'open', error: /Reference count entry width too large/, qemuSays: true },
  { name: 'no refcount table', make: () => { const p = base('nort'); patch(p, 56, be32(0)); return p; }, op: 'open', error: /Image does not contain a reference count table/, qemuSays: true },
  { name: 'huge refcount table', make: () => { const p = base('bigrt'); patch(p, 56, be32(0x100000)); return p; }, op: 'open', error: /Reference count table too large/, qemuSays: true },
  { name: 'unaligned refcount table', make: () => { const p = base('urt'); patch(p, 48, be64(REFTABLE + 8)); return p; }, op: 'open', error: /Reference count table offset invalid/, qemuSays: true },
  { name: 'refcount table beyond the file', make: () => { const p = base('rteof'); patch(p, 48, be64(0x7000_0000)); return p; }, op: 'open', error: /Reference count table lies beyond the end/ },
  { name: 'huge L1 size', make: () => { const p = base('bigl1'); patch(p, 36, be32(0x1000_0000)); return p; }, op: 'open', error: /Active L1 table too large/, qemuSays: true },
  { name: 'unaligned L1 table', make: () => { const p = base('ul1'); patch(p, 40, be64(L1 + 0x200)); return p; }, op: 'open', error: /Active L1 table offset invalid/, qemuSays: true },
  { name: 'L1 table offset near 2^64', make: () => { const p = base('l1max'); patch(p, 40, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0]); return p; }, op: 'open', error: /Active L1 table offset invalid/, qemuSays: true },
  { name: 'L1 table beyond the file', make: () => { const p = base('l1eof'); patch(p, 40, be64(0x7000_0000)); return p; }, op: 'open', error: /Active L1 table lies beyond the end/ },
  { name: 'L1 table too small for the size', make: () => { const p = base('l1small'); patch(p, 24, be64(2 ** 30)); return p; }, op: 'open', error: /L1 table is too small/, qemuSays: true },
  { name: 'virtual size 2^60', make: () => { const p = base('huge'); patch(p, 24, be64(2 ** 60)); return p; }, op: 'open', error: /Image is too big/, qemuSays: true },
  { name: 'too many snapshots', make: () => { const p = base('nsn'); patch(p, 60, be32(70000)); return p; }, op: 'open', error: /Snapshot table too large/, qemuSays: true },
  {
    name: 'snapshot with too much extra data',
    make: () => {
      const p = base('sxd');
      const img = Qcow2Image.open(p, { readOnly: false });
      img.createSnapshot({ name: 's', dateSec: 0, dateNsec: 0, vmClockNs: 0, icount: -1 }, new Uint8Array(0));
      img.close();
      const table = readFileSync(p).readUInt32BE(64 + 4);
      patch(p, table + 36, be32(2000));
      return p;
    },
    op: 'open', error: /Too much extra metadata in snapshot table entry 0/, qemuSays: true,
  },
  { name: 'backing file offset beyond the cluster', make: () => { const p = base('bfo'); patch(p, 8, be64(CS + 8)); patch(p, 16, be32(4)); return p; }, op: 'open', error: /Invalid backing file offset/, qemuSays: true },
  { name: 'backing file name too long', make: () => { const p = base('bfl'); patch(p, 8, be64(0x1000)); patch(p, 16, be32(1500)); return p; }, op: 'open', error: /Backing file name too long/, qemuSays: true },
  { name: 'backing file is itself', make: () => base('self.qcow2', { backingFile: 'self.qcow2', backingFormat: 'qcow2' }), op: 'open', error: /loop/ },
  {
    name: 'backing loop through two images',
    make: () => { base('loop-b.qcow2', { backingFile: 'loop-a.qcow2', backingFormat: 'qcow2' }); return base('loop-a.qcow2', { backingFile: 'loop-b.qcow2', backingFormat: 'qcow2' }); },
    op: 'open', error: /loop/,
  },
  {
    name: `backing chain deeper than ${MAX_BACKING_CHAIN}`,
    make: () => {
      createQcow2(t.path('chain-0.qcow2'), 4 << 20);
      for (let i = 1; i <= MAX_BACKING_CHAIN; i++) createQcow2(t.path(`chain-${i}.qcow2`), 4 << 20, { backingFile: `chain-${i - 1}.qcow2`, backingFormat: 'qcow2' });
      return t.path(`chain-${MAX_BACKING_CHAIN}.qcow2`);
    },
    op: 'open', error: /deeper than 64 images/,
  },
  { name: 'backing file /dev/zero', make: () => base('devzero', { backingFile: '/dev/zero', backingFormat: 'raw' }), op: 'open', error: /'file' driver requires '\/dev\/zero' to be a regular file/ },
  { name: 'backing file json:', make: () => base('json', { backingFile: 'json:{"driver":"raw","file":{"driver":"file","filename":"/etc/passwd"}}' }), op: 'open', error: /names a protocol/ },
  { name: 'backing file nbd:', make: () => base('nbd', { backingFile: 'nbd:localhost:10809' }), op: 'open', error: /names a protocol/ },
  { name: 'missing backing file', make: () => base('nob', { backingFile: 'does-not-exist.qcow2', backingFormat: 'qcow2' }), op: 'open', error: /Could not open backing file: Could not open '.*does-not-exist.qcow2': No such file or directory/ },
  { name: 'unsupported backing format', make: () => { writeFileSync(t.path('x.vmdk'), 'KDMV'); return base('bvmdk', { backingFile: 'x.vmdk', backingFormat: 'vmdk' }); }, op: 'open', error: /has format 'vmdk', which pcvm does not support/ },
  { name: 'L1 entry pointing at the L1 table', make: () => { const p = base('l1self'); patch(p, L1, be64(L1, 0x8000_0000)); return p; }, op: 'read', error: /overlaps the L1 or refcount table/ },
  { name: 'L1 entry pointing at the refcount table', make: () => { const p = base('l1rt'); patch(p, L1, be64(REFTABLE, 0x8000_0000)); return p; }, op: 'write', error: /overlaps the L1 or refcount table/ },
  { name: 'L1 entry pointing at the header', make: () => { const p = base('l1hdr'); patch(p, L1, be64(0x200, 0x8000_0000)); return p; }, op: 'read', error: /unaligned/ },
  { name: 'L1 entry beyond the file', make: () => { const p = base('l1e'); patch(p, L1, be64(0x7000_0000, 0x8000_0000)); return p; }, op: 'read', error: /beyond the end of the file/ },
  { name: 'L2 entry pointing at its own L2 table (loop), write', make: () => { const p = base('l2loop'); patch(p, L2, be64(L2, 0x8000_0000)); return p; }, op: 'write', error: /overlaps metadata/ },
  { name: 'L2 entry pointing at the refcount block, write', make: () => { const p = base('l2rb'); patch(p, L2, be64(REFBLOCK, 0x8000_0000)); return p; }, op: 'write', error: /overlaps metadata/ },
  { name: 'L2 entry unaligned', make: () => { const p = base('l2u'); patch(p, L2, be64(DATA + 0x200, 0x8000_0000)); return p; }, op: 'read', error: /unaligned/ },
  { name: 'L2 entry beyond the file', make: () => { const p = base('l2e'); patch(p, L2, be64(0x7000_0000, 0x8000_0000)); return p; }, op: 'read', error: /beyond the end of the file/ },
  { name: 'compressed cluster of garbage', make: () => { const p = base('cgarb'); patch(p, L2, be64(DATA + 100, 0x4000_0000 | (3 << 24))); return p; }, op: 'read', error: /compressed cluster/ },
  { name: 'refcount overflow on snapshot', make: () => { const p = base('rcof'); patch(p, REFBLOCK + 2 * (DATA / CS), [0xff, 0xff]); return p; }, op: 'snapshot', error: /Refcount overflow/ },
  { name: 'refcount table free but in use (allocation would hit it)', make: () => { const p = base('rc0'); patch(p, REFBLOCK + 2, [0, 0]); return p; }, op: 'write-new', error: /Preventing invalid write on metadata/ },
  { name: 'unaligned refcount block', make: () => { const p = base('rbu'); patch(p, REFTABLE, be64(REFBLOCK + 0x200)); return p; }, op: 'write-new', error: /Refblock offset 0x20000 unaligned|Refblock offset .* unaligned/ },
  { name: 'refcount block beyond the file', make: () => { const p = base('rbe'); patch(p, REFTABLE, be64(0x7000_0000)); return p; }, op: 'write-new', error: /Refblock at offset .* beyond the end of the file/ },
];

function attempt(p: string, op: Op): void {
  const d = openDrive({ file: p, format: 'qcow2', readOnly: false, snapshot: false, cache: 'writeback' }, () => {});
  try {
    if (op === 'read') d.read(0, new Uint8Array(d.sizeBytes));
    if (op === 'write') d.write(0, new Uint8Array(512).fill(0x77));
    if (op === 'write-new') d.write(2 << 20, new Uint8Array(512).fill(0x77));
    if (op === 'snapshot' && 'createSnapshot' in d) {
      (d as Qcow2Image).createSnapshot({ name: 'x', dateSec: 0, dateNsec: 0, vmClockNs: 0, icount: -1 }, new Uint8Array(1000));
    }
  } finally {
    d.close();
  }
}

describe('malformed qcow2 images', () => {
  it.each(cases)('$name: a clear BlockError, the file untouched', (c) => {
    const p = c.make();
    const before = readFileSync(p);
    let caught: unknown;
    try { attempt(p, c.op); } catch (err) { caught = err; }
    expect(caught, 'an error is raised').toBeInstanceOf(BlockError);
    expect((caught as Error).message).toMatch(c.error);
    expect((caught as Error).message).not.toContain('\n');
    expect(Buffer.compare(readFileSync(p), before), 'the file is unchanged').toBe(0);
    if (c.qemuSays && HAS_QEMU_IO) {
      const q = run('qemu-io', '-f', 'qcow2', '-c', 'read 0 512', p);
      expect(q.stderr + q.stdout).toMatch(c.error);
      expect(Buffer.compare(readFileSync(p), before), 'qemu-io did not change it either').toBe(0);
    }
  });

  it('a corrupt-bit image still opens read-only, as in QEMU', () => {
    const p = base('corrupt-ro');
    patch(p, 72, be64(2));
    const d = openDrive({ file: p, format: 'qcow2', readOnly: true, snapshot: false, cache: 'writeback' }, () => {});
    const b = new Uint8Array(4);
    d.read(0, b);
    expect([...b]).toEqual([0x11, 0x11, 0x11, 0x11]);
    d.close();
  });

  it('after corruption is found every later request fails, also elsewhere on the disk', () => {
    const p = base('sticky');
    patch(p, L2, be64(L2, 0x8000_0000));
    const before = readFileSync(p);
    const img = Qcow2Image.open(p, { readOnly: false });
    expect(() => img.write(0, new Uint8Array(512))).toThrow(BlockError);
    expect(() => img.write(3 << 20, new Uint8Array(512))).toThrow(/corrupt/);
    expect(() => img.read(3 << 20, new Uint8Array(512))).toThrow(/corrupt/);
    img.close();
    expect(Buffer.compare(readFileSync(p), before)).toBe(0);
  });
});
