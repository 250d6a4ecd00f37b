// Runs a command (pcvm or QEMU) that boots a guest on its console, timestamps every console line,
// and lets a caller wait for patterns and type input. Shared by the guest tests
// (test/guests) and the benchmark (scripts/bench.mjs), so that both measure the same way.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
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

/** The guests a test runs: both, or the one PCVM_GUEST_ARCH (i386 or amd64) names. */
export function selectedGuestArches() {
  return ['i386', 'amd64'].filter((a) => (process.env.PCVM_GUEST_ARCH ?? a) === a);
}

/** The QEMU-compatible arguments that boot `guest` with `append` on the serial console. */
export function guestArgs(guest, append, extra = []) {
  return ['-m', '256', '-nographic', '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', append, ...extra];
}

/**
 * Spawns `command args` and returns a handle: `lines` (each { t: seconds since spawn, text }),
 * `waitFor(regex, timeoutMs)` resolving to the first match, `type(text)`, `exit` (a promise of
 * { status, signal }), and `kill()`.
 *
 * With `logFile` (the guest tests pass one when PCVM_GUEST_LOG_DIR is set) every console line is
 * also appended there as it arrives, so that a boot that takes many minutes can be watched.
 */
export function runConsole(command, args, { env, logFile } = {}) {
  const start = performance.now();
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines = [];
  let exited = false;
  let partial = '';
  const record = (line) => {
    lines.push(line);
    if (logFile) appendFileSync(logFile, `[${line.t.toFixed(1)}] ${line.text}\n`);
  };
  let stderr = '';
  const waiters = new Set();
  const check = () => {
    for (const w of waiters) w();
  };
  child.stdout.on('data', (chunk) => {
    partial += chunk.toString('latin1');
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      record({ t: (performance.now() - start) / 1000, text: partial.slice(0, nl).replace(/\r$/, '') });
      partial = partial.slice(nl + 1);
    }
    check();
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk.toString();
  });
  const exit = new Promise((resolve) => {
    child.on('close', (status, signal) => {
      if (partial) record({ t: (performance.now() - start) / 1000, text: partial });
      partial = '';
      // Before the waiters look: one that finds no match must see that the console has ended.
      exited = true;
      resolve({ status, signal });
      check();
    });
  });
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

/** Where a guest test tees the console of the VM it calls `name`: under PCVM_GUEST_LOG_DIR, if set. */
export function consoleLogFile(name) {
  const dir = process.env.PCVM_GUEST_LOG_DIR;
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name}.console.txt`);
}

/**
 * `BENCH name ms` at the end of a console line. The benchmark runs in the background while the
 * shell starts, so its first line can follow the prompt and the shell's cursor query on the
 * same console line ("guest:/# \x1b[6nBENCH md5-32M 74950").
 */
export const BENCH_LINE = /BENCH (\S+) (\d+)$/;

/** Parses `BENCH name ms` lines into { name: ms }. */
export function benchFigures(lines) {
  const figures = {};
  for (const { text } of lines) {
    const m = BENCH_LINE.exec(text.trim());
    if (m) figures[m[1]] = Number(m[2]);
  }
  return figures;
}
