/**
 * Debian's gdb, in batch mode, against the `pcvm` command running the multiboot test kernel
 * stopped at its entry (-S -gdb tcp::PORT): target remote, info registers, break *ADDR,
 * continue, stepi, x/4i $pc, watch, detach — and after the detach the guest runs to its
 * isa-debug-exit. Addresses are from ndisasm's listing of mbtest.elf (see gdb-protocol.test.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';

const GDB = '/usr/bin/gdb';
const PCVM = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const KERNEL = new URL('../../firmware/multiboot-test/mbtest.elf', import.meta.url).pathname;

function run(cmd: string, args: string[], timeoutMs: number): { done: Promise<{ status: number | null; out: string; err: string }>; kill(): void } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return {
    done: new Promise((resolve) => child.on('close', (status) => (clearTimeout(timer), resolve({ status, out, err })))),
    kill: () => child.kill('SIGKILL'),
  };
}

describe.skipIf(!existsSync(GDB))('gdb attached to pcvm', () => {
  it('target remote, info registers, break, continue, stepi, x/4i, watch, detach', async () => {
    const port = await freePort();
    const pcvm = run(process.execPath, [PCVM, '-display', 'none', '-serial', 'stdio', '-S', '-gdb', `tcp::${port}`, '-kernel', KERNEL,
      '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'], 60_000);
    try {
      // The gdbstub listens before the guest could start; give pcvm a moment to get there.
      let gdbOut = '';
      for (let attempt = 0; attempt < 50; attempt++) {
        await new Promise((r) => setTimeout(r, 200));
        const gdb = run(GDB, ['-batch', '-nx', '-ex', 'set pagination off', '-ex', `target remote :${port}`,
          '-ex', 'info registers', '-ex', 'break *0x100070', '-ex', 'continue', '-ex', 'stepi', '-ex', 'x/4i $pc',
          '-ex', 'watch *(int *)0x100780', '-ex', 'continue', '-ex', 'print/x $eip', '-ex', 'detach'], 60_000);
        const r = await gdb.done;
        gdbOut = r.out + r.err;
        if (!/Connection refused/.test(gdbOut)) break;
      }
      // info registers: the multiboot entry state (EAX = magic, EIP = ELF entry, flat CS).
      expect(gdbOut).toMatch(/^eax\s+0x2badb002\s/m);
      expect(gdbOut).toMatch(/^eip\s+0x100060\s/m);
      expect(gdbOut).toMatch(/^cs\s+0x8\s/m);
      expect(gdbOut).toMatch(/^eflags\s+0x2\s/m);
      expect(gdbOut).toMatch(/Breakpoint 1 at 0x100070/);
      expect(gdbOut).toMatch(/Breakpoint 1, 0x00100070 in \?\? \(\)/);
      expect(gdbOut).toMatch(/^0x00100071 in \?\? \(\)/m);
      // x/4i $pc at 0x100071: pop dword [0x100780]; mov esi,0x1004f4; call 0x1004d0; cmp …
      expect(gdbOut).toMatch(/=> 0x100071:\s+pop\s+0x100780\n\s+0x100077:\s+mov\s+\$0x1004f4,%esi\n\s+0x10007c:\s+call\s+0x1004d0\n\s+0x100081:\s+cmpl\s+\$0x2badb002,0x100778/);
      expect(gdbOut).toMatch(/Hardware watchpoint 2: \*\(int \*\)0x100780[\s\S]*Old value = 0\nNew value = 2/);
      expect(gdbOut).toMatch(/\$1 = 0x100077/);
      expect(gdbOut).toMatch(/Inferior 1 \(Remote target\) detached/);
      // Detached, the kernel runs its checks and leaves through isa-debug-exit (odd status).
      const r = await pcvm.done;
      expect(r.status! & 1).toBe(1);
      expect(r.out).toContain('PASS: EAX holds 0x2BADB002');
    } finally {
      pcvm.kill();
    }
  }, 120_000);
});
