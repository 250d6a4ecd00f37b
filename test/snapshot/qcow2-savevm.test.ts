/**
 * savevm / loadvm / delvm on real qcow2 images (src/block/qcow2): the images stay valid for
 * `qemu-img check`, `qemu-img snapshot -l` lists our snapshots exactly as our `info snapshots`
 * does (an independent reading of the snapshot table and its VM state sizes), the disk contents
 * come back with the VM, and a new machine opening the image later resumes from a snapshot
 * (what `pcvm -loadvm` does at start).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDrive } from '../../src/block/open-drive.js';
import { createQcow2 } from '../../src/block/qcow2/create.js';
import { isSnapshotCapable, type BlockBackend } from '../../src/block/block-backend.js';
import { runHmpCommand } from '../../src/monitor/hmp.js';
import { snapshotLine } from '../../src/snapshot/snapshot-list-format.js';
import { runToExit, runUntil, ticksMachine } from './ticks-guest.js';

const hasQemuImg = spawnSync('qemu-img', ['--version']).status === 0;

let referenceText: string;
let referenceRetired: number;

beforeAll(() => {
  const ref = ticksMachine();
  runToExit(ref.m);
  referenceText = ref.serial.text();
  referenceRetired = ref.m.cpu.retired;
});

function open(path: string): BlockBackend {
  return openDrive({ file: path, format: 'qcow2', readOnly: false, snapshot: false, cache: 'writeback' }, () => {});
}

function sector(d: BlockBackend, offset: number): number {
  const b = new Uint8Array(512);
  d.read(offset, b);
  return b[0]!;
}

describe.skipIf(!hasQemuImg)('savevm/loadvm on qcow2 images', () => {
  it('round trip with the disk, qemu-img check and snapshot -l, then a new machine resumes from the image', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-qcow2-snap-'));
    const path = join(dir, 'disk.qcow2');
    createQcow2(path, 64 * 1024 * 1024);
    const disk = open(path);
    const { m, serial } = ticksMachine();
    m.blockBackends = () => [disk];

    runUntil(m, Math.floor(referenceRetired * 0.4));
    disk.write(0, new Uint8Array(512).fill(0x11));
    expect(runHmpCommand(m, 'savevm s1')).toBe('');
    const atSave = { retired: m.cpu.retired, text: serial.text() };
    runUntil(m, Math.floor(referenceRetired * 0.7));
    disk.write(0, new Uint8Array(512).fill(0x22));
    disk.write(1 << 20, new Uint8Array(512).fill(0x33));
    expect(runHmpCommand(m, 'savevm s2')).toBe('');
    expect(runHmpCommand(m, 'loadvm s1')).toBe('');
    expect(m.cpu.retired).toBe(atSave.retired);
    expect(sector(disk, 0)).toBe(0x11);
    expect(sector(disk, 1 << 20)).toBe(0);
    const printed = serial.text().length;
    expect(runToExit(m)).toBe(33);
    expect(atSave.text + serial.text().slice(printed)).toBe(referenceText);
    expect(m.cpu.retired).toBe(referenceRetired);

    expect(runHmpCommand(m, 'savevm gone')).toBe('');
    expect(runHmpCommand(m, 'delvm gone')).toBe('');
    const ours = runHmpCommand(m, 'info snapshots').split('\n');
    expect(ours.slice(2).map((l) => l.slice(10, 27).trim())).toEqual(['s1', 's2']);
    if (!isSnapshotCapable(disk)) throw new Error('qcow2 is snapshot-capable');
    const table = disk.listSnapshots();
    disk.close();

    const check = spawnSync('qemu-img', ['check', '-f', 'qcow2', path], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    const list = spawnSync('qemu-img', ['snapshot', '-l', path], { encoding: 'utf8' });
    expect(list.status).toBe(0);
    // qemu-img prints each snapshot with its own id; our listing's line format is QEMU's.
    expect(list.stdout.trimEnd().split('\n')).toEqual([
      'Snapshot list:',
      'ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT',
      ...table.map((sn) => snapshotLine(sn)),
    ]);
    expect(table.every((sn) => sn.vmStateSize > 0)).toBe(true);

    // Later, a new machine with the same image: loadvm s2 (as -loadvm s2 at start).
    const again = open(path);
    const n = ticksMachine();
    n.m.blockBackends = () => [again];
    expect(runHmpCommand(n.m, 'loadvm s2')).toBe('');
    expect(sector(again, 0)).toBe(0x22);
    expect(sector(again, 1 << 20)).toBe(0x33);
    expect(runToExit(n.m)).toBe(33);
    expect(n.m.cpu.retired).toBe(referenceRetired);
    expect(referenceText.endsWith(n.serial.text())).toBe(true);
    again.close();
    expect(spawnSync('qemu-img', ['check', '-f', 'qcow2', path]).status).toBe(0);
  });
});
