// Runs a command (pcvm or QEMU) that boots a guest on its console, timestamps every console line,
// and lets a caller wait for patterns and type input. Shared by the guest tests
// (test/guests) and the benchmark (scripts/bench.mjs), so that both measure the same way.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PCVM = join(REPO, 'dist/src/cli/main.js');

/** The guest built by `npm run guests` for `arch` (i386 | amd64), or null when absent. */
export function guestFiles(arch) {
  const dir = process.env.PCVM_GUESTS ? join(process.env.PCVM_GUESTS, arch) : join(REPO, 'guests', arch);
  const files = { dir, kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), disk: join(dir, 'disk.ext4'), qcow2: join(dir, 'disk.qcow2') };
  return existsSync(files.kernel) && existsSync(files.initrd) ? files : null;
}

/** The QEMU-compatible arguments that boot `guest` with `append` on the serial console. */
export function guestArgs(guest, append, extra = []) {
  return ['-m', '256', '-nographic', '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', append, ...extra];
}

/**
 * Spawns `command args` and returns a handle: `lines` (each { t: seconds since spawn, text }),
 * `waitFor(regex, timeoutMs)` resolving to the first match, `type(text)`, `exit` (a promise of
 * { status, signal }), and `kill()`.
 */
export function runConsole(command, args, { env } = {}) {
  const start = performance.now();
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines = [];
  let partial = '';
  let stderr = '';
  const waiters = new Set();
  const check = () => {
    for (const w of waiters) w();
  };
  child.stdout.on('data', (chunk) => {
    partial += chunk.toString('latin1');
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      lines.push({ t: (performance.now() - start) / 1000, text: partial.slice(0, nl).replace(/\r$/, '') });
      partial = partial.slice(nl + 1);
    }
    check();
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk.toString();
  });
  const exit = new Promise((resolve) => {
    child.on('close', (status, signal) => {
      if (partial) lines.push({ t: (performance.now() - start) / 1000, text: partial });
      partial = '';
      resolve({ status, signal });
      check();
    });
  });
  let exited = false;
  void exit.then(() => (exited = true));
  const text = () => lines.map((l) => l.text).join('\n') + (partial ? '\n' + partial : '');
  return {
    lines,
    get stderr() {
      return stderr;
    },
    text,
    exit,
    /** Resolves with the first console line matching `pattern` (searching from line `from`). */
    waitFor(pattern, timeoutMs, from = 0) {
      return new Promise((resolve, reject) => {
        const w = () => {
          for (let i = from; i < lines.length; i++) {
            const m = pattern.exec(lines[i].text);
            if (m) {
              waiters.delete(w);
              clearTimeout(timer);
              resolve({ index: i, t: lines[i].t, match: m, text: lines[i].text });
              return;
            }
          }
          if (exited) {
            waiters.delete(w);
            clearTimeout(timer);
            reject(new Error(`exited before ${pattern}; last lines:\n${lines.slice(-50).map((l) => l.text).join('\n')}\nstderr: ${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; last lines:\n${lines.slice(-50).map((l) => l.text).join('\n')}\nstderr: ${stderr}`));
        }, timeoutMs);
        waiters.add(w);
        w();
      });
    },
    type(s) {
      child.stdin.write(s);
    },
    kill() {
      child.kill('SIGKILL');
    },
  };
}

/** Parses `BENCH name ms` lines into { name: ms }. */
export function benchFigures(lines) {
  const figures = {};
  for (const { text } of lines) {
    const m = /^BENCH (\S+) (\d+)$/.exec(text.trim());
    if (m) figures[m[1]] = Number(m[2]);
  }
  return figures;
}
