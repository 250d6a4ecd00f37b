/**
 * HMP savevm / loadvm / delvm / info snapshots with QEMU 7.2's messages and listing format
 * (checked against qemu-system-x86_64 7.2 by hand: the same commands, same disks), over
 * in-memory snapshot-capable disks, on the ticks kernel under -icount.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runHmpCommand } from '../../src/monitor/hmp.js';
import { sizeToStr, snapshotHeader } from '../../src/snapshot/snapshot-list-format.js';
import { runToExit, runUntil, ticksMachine } from './ticks-guest.js';
import { FakeRawDisk, FakeSnapshotDisk } from './fake-snapshot-disk.js';
import type { Machine } from '../../src/machine/machine.js';
import type { BlockBackend } from '../../src/block/block-backend.js';

let referenceText: string;
let referenceRetired: number;

beforeAll(() => {
  const ref = ticksMachine();
  runToExit(ref.m);
  referenceText = ref.serial.text();
  referenceRetired = ref.m.cpu.retired;
});

function withDisks(m: Machine, disks: BlockBackend[]): void {
  m.blockBackends = () => disks;
}

const hmp = (m: Machine, line: string) => runHmpCommand(m, line);

describe('QEMU size_to_str', () => {
  it('switches unit when the integer part reaches 1000 and prints three significant digits', () => {
    expect(sizeToStr(0)).toBe('0 B');
    expect(sizeToStr(999)).toBe('999 B');
    expect(sizeToStr(1000)).toBe('0.977 KiB');
    expect(sizeToStr(970752)).toBe('948 KiB');
    expect(sizeToStr(1024 * 1024)).toBe('1 MiB');
    expect(sizeToStr(1.25 * 1024 * 1024)).toBe('1.25 MiB');
    expect(sizeToStr(1258291)).toBe('1.2 MiB');
  });
});

describe('HMP snapshot commands', () => {
  it('without a snapshot-capable disk: QEMU 7.2 messages', () => {
    const { m } = ticksMachine();
    expect(hmp(m, 'savevm s1')).toBe('Error: no block device can store vmstate for snapshot');
    expect(hmp(m, 'loadvm s1')).toBe('Error: no block device can store vmstate for snapshot');
    expect(hmp(m, 'delvm s1')).toBe('');
    expect(hmp(m, 'info snapshots')).toBe('no block device can store vmstate for snapshot');
    withDisks(m, [new FakeRawDisk('raw.img')]);
    expect(hmp(m, 'savevm s1')).toBe("Error: Device 'raw.img' is writable but does not support snapshots");
    // A read-only raw disk is not asked to snapshot.
    withDisks(m, [new FakeRawDisk('ro.img', 65536, true)]);
    expect(hmp(m, 'savevm s1')).toBe('Error: no block device can store vmstate for snapshot');
  });

  it('argument errors as QEMU prints them', () => {
    const { m } = ticksMachine();
    expect(hmp(m, 'loadvm')).toBe('loadvm: string expected\nTry "help loadvm" for more information');
    expect(hmp(m, 'savevm a b')).toBe('savevm: extraneous characters at the end of line\nTry "help savevm" for more information');
    expect(hmp(m, 'help savevm')).toBe('savevm [tag] -- save a VM snapshot. If no tag is provided, a new snapshot is created');
  });

  it('savevm, the guest and disk move on, loadvm: both come back and the run ends as the uninterrupted one', () => {
    const { m, serial } = ticksMachine();
    const disk = new FakeSnapshotDisk('disk0.qcow2');
    withDisks(m, [disk]);
    expect(hmp(m, 'info snapshots')).toBe('There is no snapshot available.');
    runUntil(m, Math.floor(referenceRetired * 0.35));
    disk.data.fill(0x11, 0, 512);
    expect(hmp(m, 'savevm s1')).toBe('');
    expect(disk.flushes).toBe(1);
    const atSave = { retired: m.cpu.retired, text: serial.text() };

    runUntil(m, Math.floor(referenceRetired * 0.8));
    disk.data.fill(0x22, 0, 512);
    expect(m.cpu.retired).toBeGreaterThan(atSave.retired);
    expect(hmp(m, 'loadvm s1')).toBe('');
    expect(m.cpu.retired).toBe(atSave.retired);
    expect(disk.data[0]).toBe(0x11);
    const printedAfterSave = serial.text().length;

    expect(runToExit(m)).toBe(33);
    expect(atSave.text + serial.text().slice(printedAfterSave)).toBe(referenceText);
    expect(m.cpu.retired).toBe(referenceRetired);
  });

  it('info snapshots lists them in QEMU\'s columns; savevm of an existing tag replaces it; delvm removes it', () => {
    const { m } = ticksMachine();
    const disk = new FakeSnapshotDisk('disk0.qcow2');
    withDisks(m, [disk]);
    runUntil(m, 200_000);
    expect(hmp(m, 'savevm s1')).toBe('');
    expect(hmp(m, 'savevm')).toBe('');
    expect(hmp(m, 'savevm s1')).toBe('');
    const lines = hmp(m, 'info snapshots').split('\n');
    expect(lines[0]).toBe('List of snapshots present on all disks:');
    expect(lines[1]).toBe(snapshotHeader());
    expect(lines[1]).toBe('ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT');
    expect(lines).toHaveLength(4);
    // vm-YYYYMMDDHHMMSS for the untagged one, then s1 (re-saved, so last).
    expect(lines[2]).toMatch(/^-- {8}vm-\d{14} +[\d.]+ [KM]iB \d{4}-\d\d-\d\d \d\d:\d\d:\d\d 00:00:00\.00\d +\d+$/);
    const s1 = lines[3]!;
    const sn = disk.listSnapshots().find((s) => s.name === 's1')!;
    expect(s1.slice(0, 27)).toBe('--        s1               ');
    expect(s1.slice(27, 35)).toBe(sizeToStr(sn.vmStateSize).padStart(8));
    expect(s1.slice(55, 68)).toBe(`00:00:00.${String(Math.floor(sn.vmClockNs / 1e6)).padStart(3, '0')}`.padStart(13));
    expect(s1.slice(68)).toBe(String(m.cpu.retired).padStart(11));
    expect(disk.listSnapshots().filter((s) => s.name === 's1')).toHaveLength(1);

    expect(hmp(m, 'delvm s1')).toBe('');
    expect(disk.listSnapshots().map((s) => s.name)).toEqual([lines[2]!.slice(10, 27).trim()]);
    expect(hmp(m, 'loadvm s1')).toBe("Error: Snapshot 's1' does not exist in one or more devices");
  });

  it('two disks: the VM state goes to the first, both get the snapshot; one missing it makes it partial', () => {
    const { m } = ticksMachine();
    const a = new FakeSnapshotDisk('a.qcow2');
    const b = new FakeSnapshotDisk('b.qcow2');
    const ro = new FakeSnapshotDisk('ro.qcow2', 65536, true);
    withDisks(m, [ro, a, b]);
    runUntil(m, 100_000);
    expect(hmp(m, 'savevm s1')).toBe('');
    expect(a.listSnapshots()[0]!.vmStateSize).toBeGreaterThan(0);
    expect(b.listSnapshots()[0]!.vmStateSize).toBe(0);
    expect(ro.listSnapshots()).toHaveLength(0);
    b.deleteSnapshot('s1');
    const out = hmp(m, 'info snapshots').split('\n');
    expect(out[0]).toBe('List of snapshots present on all disks:');
    expect(out[1]).toBe('None');
    expect(out[3]).toBe("List of partial (non-loadable) snapshots on 'a.qcow2':");
    expect(out[5]).toMatch(/^1 {9}s1 /);
    expect(hmp(m, 'loadvm s1')).toBe("Error: Snapshot 's1' does not exist in one or more devices");
  });

  it('a disk-only snapshot cannot be loaded', () => {
    const { m } = ticksMachine();
    const disk = new FakeSnapshotDisk('d.qcow2');
    withDisks(m, [disk]);
    disk.createSnapshot({ name: 'cold', dateSec: 0, dateNsec: 0, vmClockNs: 0, icount: -1 }, new Uint8Array(0));
    expect(hmp(m, 'loadvm cold')).toBe('Error: This is a disk-only snapshot. Revert to it  offline using qemu-img');
  });

  it('a corrupt VM state in the image: loadvm fails and neither the VM nor the disk changes', () => {
    const { m } = ticksMachine();
    const disk = new FakeSnapshotDisk('d.qcow2');
    withDisks(m, [disk]);
    runUntil(m, 100_000);
    hmp(m, 'savevm s1');
    const good = disk.readVmState('s1');
    // Replace the snapshot's VM state with a truncated copy.
    disk.deleteSnapshot('s1');
    disk.data.fill(0x33, 0, 16);
    disk.createSnapshot({ name: 's1', dateSec: 0, dateNsec: 0, vmClockNs: 0, icount: -1 }, good.subarray(0, good.length - 100));
    disk.data.fill(0x44, 0, 16);
    runUntil(m, 300_000);
    const retired = m.cpu.retired;
    expect(hmp(m, 'loadvm s1')).toMatch(/^Error: vmstate: (truncated|corrupt)/);
    expect(m.cpu.retired).toBe(retired);
    expect(disk.data[0]).toBe(0x44);
  });

  it('loadvm and savevm leave a running VM running; a device that blocks migration makes savevm fail cleanly', () => {
    const { m } = ticksMachine();
    const disk = new FakeSnapshotDisk('d.qcow2');
    withDisks(m, [disk]);
    m.cont();
    expect(hmp(m, 'savevm s1')).toBe('');
    expect(m.status().state).toBe('running');
    expect(hmp(m, 'loadvm s1')).toBe('');
    expect(m.status().state).toBe('running');
    m.stop();
    Object.defineProperty(m.devices[0]!, 'migrationBlocker', { value: 'not saveable yet', configurable: true });
    expect(hmp(m, 'savevm s2')).toBe(`Error: State blocked by non-migratable device '${m.devices[0]!.id}': not saveable yet`);
    expect(disk.listSnapshots().map((s) => s.name)).toEqual(['s1']);
  });
});
