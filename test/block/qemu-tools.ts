/**
 * The QEMU tools the block tests use as an independent oracle (qemu-img, qemu-io from the
 * qemu-utils package). Tests that need them are skipped — with a visible message — only when
 * the tools are absent.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function has(tool: string): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
}

export const HAS_QEMU_IMG = has('qemu-img');
export const HAS_QEMU_IO = has('qemu-io');
if (!HAS_QEMU_IMG || !HAS_QEMU_IO) {
  console.warn('test/block: qemu-img/qemu-io not installed (apt-get install qemu-utils); the QEMU comparison tests are SKIPPED');
}

/** Runs qemu-img; returns stdout, throws on a non-zero exit. */
export function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a tool and returns its exit status and output without throwing. */
export function run(tool: string, ...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh temporary directory and a function that removes it. */
export function tempDir(): { dir: string; path: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pcvm-block-'));
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
