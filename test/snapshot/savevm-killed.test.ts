/**
 * `kill -9` in the middle of savevm: a child pcvm machine (dist/) saves snapshots of a 64 MiB
 * guest with incompressible RAM over and over into a qcow2 image until it is killed. The image
 * must still pass `qemu-img check` (exit 0, or 3 for leaked clusters only) and the snapshots
 * completed before the kill must still load.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/machine/default-firmware.js';
import { openDrive } from '../../src/block/open-drive.js';
import { isSnapshotCapable } from '../../src/block/block-backend.js';
import { runHmpCommand } from '../../src/monitor/hmp.js';
import { ticksMachine, TICKS_KERNEL } from './ticks-guest.js';

const hasQemuImg = spawnSync('qemu-img', ['--version']).status === 0;
const dist = (p: string) => join(packageRoot(), 'dist/src', p);

/** The child: builds the same machine as ticksMachine({ memoryBytes: 64 MiB }) and saves in a loop. */
function childScript(image: string): string {
  return `
import { readFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { Machine } from ${JSON.stringify(dist('machine/machine.js'))};
import { defaultMachineConfig } from ${JSON.stringify(dist('machine/config.js'))};
import { NULL_LOGGER } from ${JSON.stringify(dist('machine/log.js'))};
import { openDrive } from ${JSON.stringify(dist('block/open-drive.js'))};
const m = new Machine(defaultMachineConfig({ memoryBytes: 64 << 20, clock: { kind: 'icount', shift: 2 },
  debugExits: [{ iobase: 0xf4, iosize: 4 }],
  kernel: { fileName: 'ticks.bin', data: new Uint8Array(readFileSync(${JSON.stringify(TICKS_KERNEL)})), cmdline: '', initrd: [] } }),
  { serial: [], log: NULL_LOGGER });
const disk = openDrive({ file: ${JSON.stringify(image)}, format: 'qcow2', readOnly: false, snapshot: false, cache: 'writeback' }, () => {});
m.blockBackends = () => [disk];
// Incompressible RAM above the kernel's pages makes each savevm write ~60 MiB.
randomFillSync(m.memory.ram.subarray(4 << 20));
for (let i = 0; ; i++) {
  disk.write(0, new Uint8Array(512).fill(i & 0xff));
  m.snapshots.save('s' + i);
  process.stdout.write('saved s' + i + '\\n');
}
`;
}

describe.skipIf(!hasQemuImg)('savevm killed with SIGKILL', () => {
  it('leaves an image qemu-img check accepts, and the earlier snapshots load', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-kill-'));
    const image = join(dir, 'disk.qcow2');
    expect(spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '256M']).status).toBe(0);
    const script = join(dir, 'child.mjs');
    writeFileSync(script, childScript(image));
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    // Kill it part-way through the savevm after the second completed one, late in it, when the
    // image is being written (the stream is built first): at 85% of the time one savevm took.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child never saved twice: ${out}`)), 120_000);
      let t0 = 0;
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (t0 === 0 && out.includes('saved s0\n')) t0 = performance.now();
        if (out.includes('saved s1\n')) {
          clearTimeout(timer);
          const oneSave = performance.now() - t0;
          setTimeout(() => (child.kill('SIGKILL'), resolve()), oneSave * 0.85);
        }
      });
    });
    await new Promise((r) => child.on('close', r));
    const saved = out.trim().split('\n').map((l) => l.replace('saved ', ''));

    const check = spawnSync('qemu-img', ['check', '-f', 'qcow2', image], { encoding: 'utf8' });
    expect([0, 3], check.stdout + check.stderr).toContain(check.status);

    const disk = openDrive({ file: image, format: 'qcow2', readOnly: false, snapshot: false, cache: 'writeback' }, () => {});
    if (!isSnapshotCapable(disk)) throw new Error('qcow2 is snapshot-capable');
    const names = disk.listSnapshots().map((s) => s.name);
    for (const s of saved) expect(names).toContain(s);
    const { m } = ticksMachine({ memoryBytes: 64 << 20 });
    m.blockBackends = () => [disk];
    for (const s of saved) {
      expect(runHmpCommand(m, `loadvm ${s}`)).toBe('');
      const b = new Uint8Array(512);
      disk.read(0, b);
      expect(b[0]).toBe(Number(s.slice(1)) & 0xff);
    }
    disk.close();
  }, 180_000);
});
