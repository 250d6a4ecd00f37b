/**
 * Multiboot v1 direct boot: the project's test kernel (firmware/multiboot-test/mbtest.asm)
 * checks what it received against the multiboot specification and fw_cfg and reports through
 * COM1 and isa-debug-exit (0x10 = every check passed → status 33; 0x20 + n = check n failed).
 * Loader errors are checked with synthetic images.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig, type KernelBootConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { ConfigError } from '../../src/errors.js';
import { isMultibootKernel, planDirectBoot } from '../../src/machine/boot/direct-boot.js';
import { parseMultibootModules } from '../../src/machine/boot/multiboot.js';
import { packageRoot } from '../../src/machine/default-firmware.js';

const MiB = 1024 * 1024;
const ELF = new Uint8Array(readFileSync(join(packageRoot(), 'firmware/multiboot-test/mbtest.elf')));
const AOUT = new Uint8Array(readFileSync(join(packageRoot(), 'firmware/multiboot-test/mbtest-aout.bin')));
const PASS = (0x10 << 1) | 1;
const failStatus = (check: number) => ((0x20 + check) << 1) | 1;

/** The modules the test kernel expects: 4219 bytes of (i * 7 + 3) & 0xFF, and "second module\n". */
function modules(): KernelBootConfig['initrd'] {
  const mod0 = new Uint8Array(4219);
  for (let i = 0; i < mod0.length; i++) mod0[i] = (i * 7 + 3) & 0xff;
  return [
    { name: '/tmp/mods/mod0.bin alpha beta', data: mod0 },
    { name: '/tmp/mods/mod,1.bin', data: new TextEncoder().encode('second module\n') },
  ];
}

function kernel(data: Uint8Array, cmdline = 'console=ttyS0 pcvm-multiboot-test', initrd = modules()): KernelBootConfig {
  return { fileName: 'firmware/multiboot-test/mbtest.elf', data, cmdline, initrd };
}

async function boot(k: KernelBootConfig, memoryBytes = 64 * MiB): Promise<{ status: number; out: string; m: Machine }> {
  const serial = new MemoryCharBackend();
  const m = new Machine(
    defaultMachineConfig({ memoryBytes, kernel: k, debugExits: [{ iobase: 0xf4, iosize: 4 }] }),
    { serial: [serial], log: NULL_LOGGER },
  );
  m.start();
  const status = await m.waitForExit();
  return { status, out: serial.text(), m };
}

function planError(k: KernelBootConfig, memoryBytes = 64 * MiB): string {
  try {
    planDirectBoot(k, { memoryBytes, isRam: (a, n) => a >= 0 && a + n <= memoryBytes - 0x10000 && !(a < 0x100000 && a + n > 0xa0000) });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

/** A minimal a.out-kludge image: header at `offset` with the given fields, `size` bytes long. */
function aoutImage(fields: { flags?: number; header: number; load: number; loadEnd: number; bssEnd: number; entry: number }, offset = 0x40, size = 0x200): Uint8Array {
  const img = new Uint8Array(size);
  const v = new DataView(img.buffer);
  const flags = fields.flags ?? 0x10003;
  v.setUint32(offset, 0x1badb002, true);
  v.setUint32(offset + 4, flags, true);
  v.setUint32(offset + 8, (-(0x1badb002 + flags)) >>> 0, true);
  v.setUint32(offset + 12, fields.header, true);
  v.setUint32(offset + 16, fields.load, true);
  v.setUint32(offset + 20, fields.loadEnd, true);
  v.setUint32(offset + 24, fields.bssEnd, true);
  v.setUint32(offset + 28, fields.entry, true);
  return img;
}

describe('multiboot direct boot', () => {
  it('the ELF test kernel passes every check with 64 MiB', async () => {
    const { status, out, m } = await boot(kernel(ELF));
    expect(out).not.toContain('FAIL');
    expect(out).toContain('PASS: all checks');
    expect(out).toContain('INFO: cmdline: firmware/multiboot-test/mbtest.elf console=ttyS0 pcvm-multiboot-test');
    expect(status).toBe(PASS);
    // The info structure and the memory map where QEMU puts them.
    expect(m.cpu.s.gpr[3]! >>> 0).toBe(0x9500); // EBX is still the info address (the kernel keeps it)
    expect(m.memory.read(0x9500 + 48, 4)).toBe(0x9000);
  });

  it('the a.out-kludge test kernel passes every check with 200 MiB', async () => {
    const { status, out } = await boot(kernel(AOUT), 200 * MiB);
    expect(out).not.toContain('FAIL');
    expect(status).toBe(PASS);
  });

  it('the test kernel notices a wrong command line and a missing module (so its checks can fail)', async () => {
    const wrongAppend = await boot(kernel(ELF, 'console=ttyS0'));
    expect(wrongAppend.out).toContain('FAIL: cmdline is the kernel file name and -append');
    expect(wrongAppend.status).toBe(failStatus(7));
    const oneModule = await boot(kernel(AOUT, 'console=ttyS0 pcvm-multiboot-test', modules().slice(0, 1)));
    expect(oneModule.out).toContain('FAIL: two modules');
    expect(oneModule.status).toBe(failStatus(8));
  });

  it('lays the buffer out as QEMU does: kernel, module list, strings, loader name, then page-aligned modules', () => {
    const plan = planDirectBoot(kernel(AOUT), { memoryBytes: 64 * MiB, isRam: () => true });
    expect(plan.protocol).toBe('multiboot');
    expect(plan.entry).toMatchObject({ eax: 0x2badb002, ebx: 0x9500, codeSelector: 0x08, dataSelector: 0x10 });
    const kernelPiece = plan.pieces.find((p) => p.what === 'kernel')!;
    expect(kernelPiece.addr).toBe(0x100000);
    const list = plan.pieces.find((p) => p.what === 'multiboot module list and strings')!;
    expect(list.addr).toBe(0x100000 + Math.ceil(kernelPiece.data.length / 4096) * 4096);
    const v = new DataView(list.data.buffer);
    const mod0Start = v.getUint32(0, true);
    expect(mod0Start).toBe(list.addr + list.data.length);
    expect(v.getUint32(4, true)).toBe(mod0Start + 4219);
    expect(v.getUint32(16, true)).toBe(mod0Start + 8192); // 4219 bytes rounded up to pages
    const str = (addr: number) => {
      const o = addr - list.addr;
      return new TextDecoder().decode(list.data.subarray(o, list.data.indexOf(0, o)));
    };
    expect(str(v.getUint32(8, true))).toBe('/tmp/mods/mod0.bin alpha beta');
    expect(str(v.getUint32(24, true))).toBe('/tmp/mods/mod,1.bin');
    // The kernel command line follows the module strings; "pcvm" follows it.
    const info = plan.pieces.find((p) => p.what === 'multiboot info')!;
    const iv = new DataView(info.data.buffer);
    expect(str(iv.getUint32(16, true))).toBe('firmware/multiboot-test/mbtest.elf console=ttyS0 pcvm-multiboot-test');
    expect(str(iv.getUint32(64, true))).toBe('pcvm');
    expect(iv.getUint32(0, true)).toBe(0x24d); // memory, cmdline, mods, mmap, loader name
    expect([iv.getUint32(4, true), iv.getUint32(8, true)]).toEqual([639, (64 * MiB - 0x10000 - MiB) / 1024]);
    expect(iv.getUint32(44, true)).toBe(6 * 24);
  });

  it('splits -initrd as QEMU does: commas separate modules, ",," is a comma, arguments follow a space', () => {
    expect(parseMultibootModules('a.bin x y,b,,c.bin,d')).toEqual([
      { string: 'a.bin x y', file: 'a.bin' },
      { string: 'b,c.bin', file: 'b,c.bin' },
      { string: 'd', file: 'd' },
    ]);
    expect(parseMultibootModules('one')).toEqual([{ string: 'one', file: 'one' }]);
  });

  it('chooses multiboot only for images without a Linux setup header', () => {
    expect(isMultibootKernel(ELF)).toBe(true);
    const both = new Uint8Array(0x2000);
    both.set(ELF.subarray(0, 0x1f0));
    both.set(new TextEncoder().encode('HdrS'), 0x202);
    expect(isMultibootKernel(both)).toBe(false);
  });

  it('refuses what QEMU refuses, with its messages', () => {
    const elf64 = ELF.slice();
    elf64[18] = 62; // e_machine = EM_X86_64
    expect(planError(kernel(elf64))).toBe('-kernel firmware/multiboot-test/mbtest.elf: Cannot load x86-64 image, give a 32bit one.');
    const notElf = ELF.slice();
    notElf[1] = 0x58;
    expect(planError(kernel(notElf))).toMatch(/Error while loading elf kernel: not an ELF file$/);
    const header = 0x100040;
    expect(planError(kernel(aoutImage({ header, load: header + 4, loadEnd: 0, bssEnd: 0, entry: header })))).toMatch(/invalid load_addr address$/);
    expect(planError(kernel(aoutImage({ header, load: header - 0x80, loadEnd: 0, bssEnd: 0, entry: header })))).toMatch(/invalid header_addr address$/);
    expect(planError(kernel(aoutImage({ header, load: 0x100000, loadEnd: 0xffff0, bssEnd: 0, entry: header })))).toMatch(/invalid load_end_addr address$/);
    expect(planError(kernel(aoutImage({ header, load: 0x100000, loadEnd: 0x100100, bssEnd: 0x1000ff, entry: header })))).toMatch(/invalid bss_end_addr address$/);
    expect(planError(kernel(aoutImage({ header, load: 0x100000, loadEnd: 0x100400, bssEnd: 0, entry: header })))).toMatch(/lies past the end of the file/);
    expect(planError(kernel(aoutImage({ flags: 0x10013, header, load: 0x100000, loadEnd: 0, bssEnd: 0, entry: header })))).toMatch(
      /the multiboot header requires features pcvm does not know \(flags 0x10\)$/,
    );
  });

  it('warns about a video mode request as QEMU does and boots anyway', () => {
    const header = 0x100040;
    const plan = planDirectBoot(
      kernel(aoutImage({ flags: 0x10007, header, load: 0x100000, loadEnd: 0, bssEnd: 0x102000, entry: header }), '', []),
      { memoryBytes: 64 * MiB, isRam: () => true },
    );
    expect(plan.warnings).toEqual(["multiboot knows VBE. we don't"]);
    expect(plan.pieces.find((p) => p.what === 'kernel')!.data.length).toBe(0x2000);
  });

  it('never fails with anything but a one-line ConfigError, whatever the ELF and a.out fields hold', () => {
    let seed = 777;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let n = 0; n < 400; n++) {
      const elf = n % 2 === 0;
      const img = (elf ? ELF : AOUT).slice();
      // ELF: the file and program headers (0x00-0x53); a.out: the address fields after the checksum.
      const [from, span] = elf ? [0, 0x54] : [12, 20];
      for (let k = 0; k < 4; k++) img[from + (rand() % span)] = rand();
      try {
        planDirectBoot(kernel(img), { memoryBytes: 64 * MiB, isRam: (a, len) => a + len <= 64 * MiB });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as Error).message).not.toContain('\n');
      }
    }
  });

  it('refuses a kernel that would overwrite the loader\'s structures or does not fit in RAM', () => {
    // Loaded at 0x8000: its 8 KiB bss would cover the memory map at 0x9000.
    expect(planError(kernel(aoutImage({ header: 0x8040, load: 0x8000, loadEnd: 0, bssEnd: 0xa000, entry: 0x8040 }), '', []))).toMatch(
      /the (multiboot memory map at 0x9000 overlaps the kernel|kernel at 0x8000 overlaps the multiboot memory map)/,
    );
    expect(planError(kernel(aoutImage({ header: 0x3ff0040, load: 0x3ff0000, loadEnd: 0, bssEnd: 0, entry: 0x3ff0040 }), '', []))).toMatch(
      /does not fit in guest RAM \(64 MiB\)$/,
    );
  });
});
