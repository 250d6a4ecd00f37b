/**
 * The `pcvm` command as scripts use it: spawned, options in, exit status and stderr out.
 * Runs the built CLI (dist/), which `npm install` produces.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/machine/default-firmware.js';

const CLI = join(packageRoot(), 'dist/src/cli/main.js');
let dir: string;

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function pcvm(args: string[], input?: (write: (s: string) => void, stdout: () => string) => Promise<void>): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pcvm ${args.join(' ')} timed out; stdout: ${stdout}; stderr: ${stderr}`));
    }, 30_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    if (input) void input((s) => child.stdin.write(s), () => stdout).catch(reject);
  });
}

async function until(get: () => string, text: string): Promise<void> {
  const start = Date.now();
  while (!get().includes(text)) {
    if (Date.now() - start > 20_000) throw new Error(`no ${JSON.stringify(text)} in ${JSON.stringify(get())}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pcvm-cli-'));
});

describe('pcvm command line', () => {
  it('-bios with a ROM writing 0x10 to isa-debug-exit exits with status 33, as QEMU does', async () => {
    const rom = Buffer.alloc(0x10000, 0xff);
    Buffer.from([0xb0, 0x10, 0xe6, 0xf4, 0xf4]).copy(rom, 0xfff0); // mov al,0x10; out 0xf4,al; hlt
    const path = join(dir, 'rom.bin');
    writeFileSync(path, rom);
    const r = await pcvm(['-bios', path, '-display', 'none', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x4']);
    expect(r.status).toBe(33);
    expect(r.stderr).toBe('');
  });

  it('an unknown option is a one-line error and status 1', async () => {
    const r = await pcvm(['-frobnicate']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('pcvm: -frobnicate: invalid option\n');
  });

  it('options of later work are parsed and refused with "not supported yet"', async () => {
    const r = await pcvm(['-m', '256', '-hda', 'disk.img']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('pcvm: -hda: not supported yet\n');
  });

  it("-cpu: an unknown model and 'host' are refused in QEMU's words; -cpu help lists the models", async () => {
    const bad = await pcvm(['-cpu', 'frob', '-display', 'none']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe("pcvm: unable to find CPU model 'frob'\n");
    const host = await pcvm(['-cpu', 'host', '-display', 'none']);
    expect(host.stderr).toBe("pcvm: CPU model 'host' requires KVM or HVF\n");
    const help = await pcvm(['-cpu', 'help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/x86 pcvm +pcvm Virtual CPU/);
    expect(help.stdout).toContain('x86 pcvm32');
  });

  it('a missing BIOS file is a one-line error in QEMU\'s words', async () => {
    const r = await pcvm(['-bios', join(dir, 'missing.bin'), '-display', 'none']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`pcvm: could not load PC BIOS '${join(dir, 'missing.bin')}'\n`);
  });

  it('-version and -h print and exit 0', async () => {
    const v = await pcvm(['-version']);
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/^pcvm emulator version \d+\.\d+\.\d+/);
    const h = await pcvm(['-h']);
    expect(h.status).toBe(0);
    expect(h.stdout).toContain('usage: pcvm [options]');
  });

  it('-nographic boots the demo guest; typed commands run; poweroff exits 0', async () => {
    const r = await pcvm(['-nographic'], async (write, out) => {
      await until(out, 'pcvm> ');
      write('help\r');
      await until(out, 'poweroff');
      write('poweroff\r');
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/pcvm demo firmware \d+\.\d+\.\d+ \(128 MiB RAM, 1 CPU\)/);
    expect(r.stdout).toContain('cpuid');
  });

  it('-nographic: C-a c opens the monitor, info status answers, C-a x quits with status 0', async () => {
    const r = await pcvm(['-nographic', '-m', '32'], async (write, out) => {
      await until(out, 'pcvm> ');
      write('\x01c');
      await until(out, '(qemu) ');
      write('info status\r');
      await until(out, 'VM status: running');
      write('\x01x');
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('QEMU: Terminated');
  });

  it('the monitor quit command ends pcvm with status 0', async () => {
    const r = await pcvm(['-nographic'], async (write, out) => {
      await until(out, 'pcvm> ');
      write('\x01cquit\r');
    });
    expect(r.status).toBe(0);
  });

  it('-serial file: sends the console to a file, stdout stays empty, SIGTERM ends with status 0', async () => {
    const log = join(dir, 'console.txt');
    const child = spawn(process.execPath, [CLI, '-display', 'none', '-serial', `file:${log}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('close', (status) => res(status)));
    await until(() => (existsSync(log) ? readFileSync(log, 'latin1') : ''), 'pcvm> ');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toBe('pcvm: terminating on signal 15\n');
    expect(readFileSync(log, 'latin1')).toMatch(/pcvm demo firmware/);
  });
});

describe('pcvm -kernel (direct boot)', () => {
  const mbtest = join(packageRoot(), 'firmware/multiboot-test/mbtest.elf');
  const debugExit = ['-device', 'isa-debug-exit,iobase=0xf4,iosize=4'];

  function writeModules(): { mod0: string; mod1: string } {
    const mod0 = join(dir, 'mod0.bin');
    writeFileSync(mod0, Uint8Array.from({ length: 4219 }, (_, i) => (i * 7 + 3) & 0xff));
    const mod1 = join(dir, 'mod,1.bin');
    writeFileSync(mod1, 'second module\n');
    return { mod0, mod1 };
  }

  it('boots the multiboot test kernel with -append and -initrd modules ("file args,file2", ",," for a comma)', async () => {
    const { mod0, mod1 } = writeModules();
    const r = await pcvm(['-m', '128', '-nographic', ...debugExit, '-kernel', mbtest,
      '-append', 'console=ttyS0 pcvm-multiboot-test', '-initrd', `${mod0} alpha beta,${mod1.replace(',', ',,')}`]);
    expect(r.stdout).toContain('PASS: all checks');
    expect(r.stdout).not.toContain('FAIL');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(33);
  });

  it('QEMU\'s errors: -append or -initrd without -kernel, unreadable kernel, initrd or module', async () => {
    expect((await pcvm(['-append', 'quiet'])).stderr).toBe('pcvm: -append only allowed with -kernel option\n');
    expect((await pcvm(['-initrd', 'initrd.img'])).stderr).toBe('pcvm: -initrd only allowed with -kernel option\n');
    const missing = join(dir, 'no-such-file');
    const r = await pcvm(['-kernel', missing]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`pcvm: could not load kernel '${missing}': No such file or directory\n`);
    expect((await pcvm(['-kernel', mbtest, '-initrd', `${missing} arg`])).stderr).toBe(`pcvm: Failed to open file '${missing}'\n`);
    const garbage = join(dir, 'garbage.bin');
    writeFileSync(garbage, 'not a kernel');
    const g = await pcvm(['-kernel', garbage]);
    expect(g.status).toBe(1);
    expect(g.stderr).toBe(`pcvm: -kernel ${garbage}: not a Linux bzImage (no "HdrS" setup header) nor a multiboot kernel\n`);
  });
});
