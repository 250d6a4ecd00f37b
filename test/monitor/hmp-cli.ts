/** Drives pcvm's CLI (`dist/`) with the HMP monitor on stdio, for `info` tests against QEMU's output. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../src/machine/default-firmware.js';

const CLI = join(packageRoot(), 'dist/src/cli/main.js');

export async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Starts `pcvm -S ARGS` (ARGS put the monitor on stdio), types `command` at the first prompt
 * and returns its output lines (no echo, no prompt). `cleanups` gets the process's kill.
 */
export async function hmpLinesFromCli(args: string[], command: string, cleanups: (() => void)[], prelude = ''): Promise<string[]> {
  const child: ChildProcess = spawn(process.execPath, [CLI, '-S', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  cleanups.push(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('latin1')));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // `prelude`: what reaches the monitor first (C-a c under -nographic's mux).
  if (prelude) child.stdin!.write(prelude);
  await until(() => out.includes('(qemu) ') || child.exitCode !== null, 'the prompt');
  if (!out.includes('(qemu) ')) throw new Error(`pcvm exited: ${err}`);
  const before = out.length;
  child.stdin!.write(`${command}\n`);
  await until(() => out.slice(before).endsWith('(qemu) '), 'the command output');
  child.stdin!.write('quit\n');
  // Drop the echoed command line (with its line-editing sequences) and the closing prompt.
  return out.slice(before).replace(/\r/g, '').split('\n').slice(1, -1);
}
