/**
 * The example: the Debian amd64 guest under a short pcvm-test script
 * (test/guests/scripts/debian-amd64-uname.json) waits for GUEST-READY, runs `uname -a`,
 * checks it, takes a snapshot and powers off — and the same script with a wrong pattern
 * fails with a readable report. The `pcvm-test` command runs as CI would run it (its own
 * process, with the V8 flag its first line gives). Runs with PCVM_GUEST_TESTS=1 when the guests
 * are built (an amd64 boot takes 10 minutes on an idle host, far more on a loaded one).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript module shared with scripts/bench.mjs
import { guestFiles, REPO } from '../../scripts/guest-run.mjs';

const PCVM_TEST = join(REPO, 'dist/src/expect/pcvm-test.js');

const SCRIPT = new URL('./scripts/debian-amd64-uname.json', import.meta.url).pathname;
const guest = process.env.PCVM_GUEST_TESTS === '1' ? guestFiles('amd64') : null;
const BOOT_MS = 2_700_000;

/** `pcvm-test SCRIPT` with PCVM_GUEST_DIR and PCVM_DISK set: its exit status and report. */
function run(script: string, disk: string): Promise<{ status: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(PCVM_TEST, [script], { env: { ...process.env, PCVM_GUEST_DIR: guest.dir, PCVM_DISK: disk } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (status) => resolve({ status: status ?? -1, out }));
  });
}

describe.skipIf(!guest)('expect script on the Debian amd64 guest', () => {
  it('passes: GUEST-READY, uname -a, savevm, poweroff', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-guest-'));
    const disk = join(dir, 'disk.qcow2');
    copyFileSync(guest.qcow2, disk);
    const r = await run(SCRIPT, disk);
    expect(r.out).not.toMatch(/^not ok/m);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^ok 9 - exit status 0 # time=\d+ms$/m);
  }, BOOT_MS);

  it('fails with a readable report when the uname pattern is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-guest-'));
    const disk = join(dir, 'disk.qcow2');
    copyFileSync(guest.qcow2, disk);
    const wrong = join(dir, 'wrong.json');
    writeFileSync(wrong, readFileSync(SCRIPT, 'utf8').replace('x86_64 GNU/Linux', 'riscv64 GNU/Linux'));
    const r = await run(wrong, disk);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/^not ok 5 - expect \/Linux guest .*riscv64 GNU\/Linux\/$/m);
    expect(r.out).toMatch(/  console: \|\n[\s\S]*x86_64 GNU\/Linux/);
    expect(r.out).toMatch(/^Bail out! step 5 failed/m);
  }, BOOT_MS);
});
