/**
 * Migration through the `pcvm` command (dist/): a deterministic run of the ticks kernel is
 * migrated to a file part-way (QMP `migrate file:` while it runs, at whatever point the host's
 * timing gives), and `pcvm -incoming file:` finishes it: the two outputs joined are the
 * uninterrupted run's, byte for byte. Also -loadvm without a snapshot-capable disk.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/machine/default-firmware.js';
import { TICKS_KERNEL } from './ticks-guest.js';

const CLI = join(packageRoot(), 'dist/src/cli/main.js');
/**
 * A fixed -rtc base: the RTC's divider phase follows its start time, so a run that starts it
 * from the host clock (the default) is not the same run twice, in QEMU as here.
 */
const GUEST = ['-m', '16', '-icount', 'shift=2', '-rtc', 'base=2020-01-01T00:00:00', '-kernel', TICKS_KERNEL, '-device', 'isa-debug-exit,iobase=0xf4,iosize=4'];

function pcvm(args: string[], stdin?: (write: (s: string) => void) => Promise<void>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`timed out: ${stdout} ${stderr}`))), 60_000);
    child.on('close', (status) => (clearTimeout(timer), resolve({ status, stdout, stderr })));
    if (stdin) void stdin((s) => child.stdin.write(s)).catch(reject);
    else child.stdin.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pcvm -incoming', () => {
  it('migrate file: mid-run, then -incoming file: finishes the run as if never interrupted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-incoming-'));
    const state = join(dir, 'state.bin');
    const out1 = join(dir, 'out1.txt');
    const ref = await pcvm(['-nographic', ...GUEST]);
    expect(ref.status).toBe(33);

    const src = await pcvm(['-display', 'none', '-serial', `file:${out1}`, '-qmp', 'stdio', ...GUEST], async (write) => {
      write('{"execute":"qmp_capabilities"}\n');
      await sleep(300);
      write(`{"execute":"migrate","arguments":{"uri":"file:${state}"}}\n`);
      write('{"execute":"query-status"}\n');
      write('{"execute":"quit"}\n');
    });
    expect(src.status).toBe(0);
    expect(src.stdout).toContain('"status": "postmigrate"'.replace(': ', ':'));
    const before = readFileSync(out1, 'latin1');
    expect(before).not.toContain('done');

    const dst = await pcvm(['-nographic', '-incoming', `file:${state}`, ...GUEST]);
    expect(dst.stderr).toBe('');
    expect(dst.status).toBe(33);
    expect(before + dst.stdout).toBe(ref.stdout);
  }, 120_000);

  it('a corrupt incoming stream ends pcvm with status 1 and one line; -loadvm needs a snapshot-capable disk', async () => {
    const r = await pcvm(['-display', 'none', '-incoming', `file:${TICKS_KERNEL}`, ...GUEST]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('pcvm: load of migration failed: vmstate: not a pcvm machine-state stream (bad magic)\n');
    const l = await pcvm(['-display', 'none', '-loadvm', 's1', ...GUEST]);
    expect(l.status).toBe(1);
    expect(l.stderr).toBe('pcvm: no block device can store vmstate for snapshot\n');
  });
});
