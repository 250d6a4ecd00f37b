/**
 * openDrive: format probing, QEMU's probed-raw warning and its block-0 write restriction,
 * checked against qemu-io doing the same writes on the same kind of file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockError } from '../../src/block/block-backend.js';
import { openDrive } from '../../src/block/open-drive.js';
import { probeFormat } from '../../src/block/probe-format.js';
import { HAS_QEMU_IMG, HAS_QEMU_IO, qemuImg, run, tempDir } from './qemu-tools.js';

let t: ReturnType<typeof tempDir>;
beforeAll(() => (t = tempDir()));
afterAll(() => t.cleanup());

const base = { readOnly: false, snapshot: false, cache: 'writeback' };

describe('openDrive', () => {
  it('probes raw, warns with QEMU\'s exact text, and opens it', () => {
    const p = t.path('plain.img');
    writeFileSync(p, new Uint8Array(8192));
    const warnings: string[] = [];
    const d = openDrive({ ...base, file: p }, (m) => warnings.push(m));
    expect(d.format).toBe('raw');
    expect(d.fileName).toBe(p);
    expect(d.sizeBytes).toBe(8192);
    d.close();
    expect(warnings).toEqual([
      `WARNING: Image format was not specified for '${p}' and probing guessed raw.\n` +
      '         Automatically detecting the format is dangerous for raw images, write operations on block 0 will be restricted.\n' +
      "         Specify the 'raw' format explicitly to remove the restrictions.",
    ]);
  });

  it.skipIf(!HAS_QEMU_IO)('prints the same warning as qemu-io on the same file', () => {
    const p = t.path('same.img');
    writeFileSync(p, new Uint8Array(4096));
    const q = run('qemu-io', '-c', 'read 0 512', p);
    const warnings: string[] = [];
    openDrive({ ...base, file: p }, (m) => warnings.push(m)).close();
    expect(q.stderr.trim()).toBe(warnings[0]);
  });

  it('does not probe or warn with format=raw', () => {
    const p = t.path('explicit.img');
    writeFileSync(p, new Uint8Array(4096));
    const warnings: string[] = [];
    const d = openDrive({ ...base, file: p, format: 'raw' }, (m) => warnings.push(m));
    // A qcow2-looking sector 0 may be written when the format was given.
    const hdr = new Uint8Array(512);
    hdr.set([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
    d.write(0, hdr);
    d.close();
    expect(warnings).toEqual([]);
    expect([...readFileSync(p).subarray(0, 8)]).toEqual([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
  });

  it("gives QEMU's message for a missing file", () => {
    const p = t.path('missing.img');
    expect(() => openDrive({ ...base, file: p }, () => {})).toThrow(new BlockError(`Could not open '${p}': No such file or directory`));
  });

  it('opens read-only when asked', () => {
    const p = t.path('ro.img');
    writeFileSync(p, new Uint8Array(1024));
    const d = openDrive({ ...base, file: p, format: 'raw', readOnly: true }, () => {});
    expect(d.readOnly).toBe(true);
    expect(() => d.write(512, new Uint8Array(512))).toThrow(BlockError);
    d.close();
  });

  it('refuses formats pcvm does not implement', () => {
    const p = t.path('fmt.img');
    writeFileSync(p, new Uint8Array(1024));
    expect(() => openDrive({ ...base, file: p, format: 'vmdk' }, () => {})).toThrow(/not supported/);
  });
});

const FORMATS = ['qcow2', 'qcow', 'vmdk', 'vdi', 'vpc', 'vhdx', 'qed', 'parallels'];

describe.skipIf(!HAS_QEMU_IMG || !HAS_QEMU_IO)('probed raw: block 0 writes, compared with qemu-io', () => {
  it.each(FORMATS)('probes the header qemu-img writes for %s as that format', (fmt) => {
    const p = t.path(`probe.${fmt}`);
    qemuImg('create', '-q', '-f', fmt, p, '1M');
    expect(probeFormat(readFileSync(p).subarray(0, 512))).toBe(fmt);
  });

  it.each(FORMATS)('refuses to write a %s header into sector 0, as QEMU does', (fmt) => {
    const hdrImg = t.path(`hdr.${fmt}`);
    qemuImg('create', '-q', '-f', fmt, hdrImg, '1M');
    const sector = readFileSync(hdrImg).subarray(0, 512);
    const sectorFile = t.path(`sector.${fmt}`);
    writeFileSync(sectorFile, sector);

    const viaQemu = t.path(`q.${fmt}.img`);
    writeFileSync(viaQemu, new Uint8Array(65536));
    const q = run('qemu-io', '-c', `write -s ${sectorFile} 0 512`, viaQemu);
    expect(q.stdout + q.stderr).toContain('Operation not permitted');

    const ours = t.path(`p.${fmt}.img`);
    writeFileSync(ours, new Uint8Array(65536));
    const d = openDrive({ ...base, file: ours }, () => {});
    expect(() => d.write(0, sector)).toThrow(BlockError);
    // A write of only the first 8 bytes is judged on the merged sector: agree with qemu-io on it.
    const headFile = t.path(`head.${fmt}`);
    writeFileSync(headFile, sector.subarray(0, 8));
    const qHead = run('qemu-io', '-c', `write -s ${headFile} 0 8`, viaQemu);
    const qemuRefused = (qHead.stdout + qHead.stderr).includes('Operation not permitted');
    let weRefused = false;
    try { d.write(0, sector.subarray(0, 8)); } catch (e) { expect(e).toBeInstanceOf(BlockError); weRefused = true; }
    expect(weRefused).toBe(qemuRefused);
    expect(readFileSync(ours).subarray(0, 8)).toEqual(readFileSync(viaQemu).subarray(0, 8));
    d.close();
    expect(readFileSync(ours).subarray(8, 512).every((b) => b === 0)).toBe(true);
  });

  it('allows a sector 0 that still probes as raw, as QEMU does', () => {
    const sector = new Uint8Array(512).map((_, i) => (i * 7 + 1) & 0xff);
    const sectorFile = t.path('mbr.bin');
    writeFileSync(sectorFile, sector);
    const viaQemu = t.path('q.mbr.img');
    writeFileSync(viaQemu, new Uint8Array(65536));
    expect(run('qemu-io', '-c', `write -s ${sectorFile} 0 512`, viaQemu).status).toBe(0);
    expect(readFileSync(viaQemu).subarray(0, 512)).toEqual(Buffer.from(sector));

    const ours = t.path('p.mbr.img');
    writeFileSync(ours, new Uint8Array(65536));
    const d = openDrive({ ...base, file: ours }, () => {});
    d.write(0, sector);
    d.close();
    expect(readFileSync(ours).subarray(0, 512)).toEqual(Buffer.from(sector));
  });
});
