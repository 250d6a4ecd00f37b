/**
 * The library Machine restores `-incoming file:` and `-loadvm` as the `pcvm` command does (it
 * used to boot the kernel afresh, ignoring both), and its `drives` back the virtio disks that
 * savevm needs (they used to be opened and dropped, so savevm found no disk). A deterministic
 * run (-icount) of the ticks kernel is cut in two — `migrate file:` or `savevm` part-way, then
 * a new Machine with `args: ['-incoming', …]` or `['-loadvm', …]` — and the two halves of the
 * console joined are the uninterrupted run's, byte for byte.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Machine, SnapshotError, type MachineOptions } from '../../src/index.js';
import { createQcow2 } from '../../src/block/qcow2/create.js';
import { TICKS_KERNEL } from '../snapshot/ticks-guest.js';

const TICKS: MachineOptions = {
  memory: 16,
  icount: 2,
  // A fixed RTC base: the RTC's divider phase follows its start time.
  rtc: 'base=2020-01-01T00:00:00',
  kernel: TICKS_KERNEL,
  devices: ['isa-debug-exit,iobase=0xf4,iosize=0x04'],
};
/** isa-debug-exit's status for the ticks kernel's final write (0x10 → (0x10 << 1) | 1). */
const TICKS_DONE = 33;

const machines: Machine[] = [];
afterEach(async () => {
  for (const m of machines.splice(0)) await m.close();
});
function make(options: MachineOptions): Machine {
  const m = new Machine(options);
  machines.push(m);
  return m;
}

async function reference(): Promise<string> {
  const r = make(TICKS);
  await r.start();
  expect(await r.exitStatus).toBe(TICKS_DONE);
  return r.console.all();
}

describe('library Machine with a saved state', () => {
  it("args: ['-incoming', 'file:PATH'] resumes the migrated run instead of booting", async () => {
    const ref = await reference();
    const state = join(mkdtempSync(join(tmpdir(), 'pcvm-lib-incoming-')), 'state.bin');
    const src = make(TICKS);
    await src.start();
    await src.waitForSerial('p=00000030');
    src.stop();
    const before = src.console.all();
    await src.qmp('migrate', { uri: `file:${state}` });
    expect(src.runState).toBe('postmigrate');
    await src.close();

    const dst = make({ ...TICKS, args: ['-incoming', `file:${state}`] });
    await dst.start();
    expect(await dst.exitStatus).toBe(TICKS_DONE);
    expect(before).not.toContain('done');
    expect(dst.console.all()).not.toContain('ticks: PIT, RTC and LAPIC timers running');
    expect(before + dst.console.all()).toBe(ref);
  }, 60_000);

  it("-incoming defer waits in inmigrate; a stream that does not load rejects start() with the CLI's message", async () => {
    const waiting = make({ ...TICKS, args: ['-incoming', 'defer'] });
    await waiting.start();
    expect(waiting.runState).toBe('inmigrate');
    expect(waiting.console.all()).toBe('');
    const bad = make({ ...TICKS, args: ['-incoming', `file:${TICKS_KERNEL}`] });
    const failed = bad.start();
    await expect(failed).rejects.toBeInstanceOf(SnapshotError);
    await expect(failed).rejects.toThrow('load of migration failed: vmstate: not a pcvm machine-state stream (bad magic)');
    expect(bad.console.all()).toBe('');
  });

  it("drives: savevm goes to the qcow2 drive, and args: ['-loadvm', TAG] resumes from it", async () => {
    const ref = await reference();
    const disk = join(mkdtempSync(join(tmpdir(), 'pcvm-lib-loadvm-')), 'disk.qcow2');
    createQcow2(disk, 16 * 1024 * 1024);
    const drives = [`file=${disk},format=qcow2,if=virtio`];
    const src = make({ ...TICKS, drives });
    await src.start();
    await src.waitForSerial('p=00000050');
    src.stop();
    const before = src.console.all();
    expect(await src.savevm('s1')).toBe('');
    expect(await src.monitor('info snapshots')).toMatch(/\bs1\b/);
    await src.close();

    const dst = make({ ...TICKS, drives, args: ['-loadvm', 's1'] });
    await dst.start();
    expect(await dst.exitStatus).toBe(TICKS_DONE);
    expect(dst.console.all()).not.toContain('ticks: PIT, RTC and LAPIC timers running');
    expect(before + dst.console.all()).toBe(ref);

    const missing = make({ ...TICKS, drives, args: ['-loadvm', 'nope'] });
    await expect(missing.start()).rejects.toThrow("Snapshot 'nope' does not exist in one or more devices");
  }, 60_000);
});
