/**
 * Linux direct boot (`-kernel bzImage`): a synthetic bzImage with a real setup header and a
 * tiny 32-bit payload that reads boot_params through ESI, as the kernel's startup_32 does.
 * Expected values come from Documentation/arch/x86/boot.rst and zero-page.rst (offsets written
 * out here, not taken from the loader) and from the PC memory map the board documents.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig, type KernelBootConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { ConfigError } from '../../src/errors.js';
import { planDirectBoot } from '../../src/machine/boot/direct-boot.js';
import { parseSetupHeader } from '../../src/machine/boot/linux-boot.js';

const MiB = 1024 * 1024;
const REPORT = 0x8000;

/**
 * The payload, loaded at 0x100000 (nasm source, `bits 32`, `org 0x100000`):
 *   mov [0x8000..0x801c], eax ebx ecx edx esi edi ebp esp
 *   mov [0x8020..0x802a], cs ds es ss fs gs;  pushfd; pop [0x802c];  mov eax,cr0; mov [0x8030],eax
 *   sgdt [0x8038]; sidt [0x8040]
 *   mov al,[marker]; mov [0x8048],al; mov byte [marker],0xA5     ; 0x5A unless not reloaded
 *   sum the initrd bytes at [esi+0x218] (ramdisk_image), [esi+0x21c] (ramdisk_size) → [0x804c]
 *   movzx ecx,byte [esi+0x1e8] (e820_entries) → [0x8050]; copy ecx*20 bytes from esi+0x2d0 → 0x8100
 *   print the string at [esi+0x228] (cmd_line_ptr) on COM1, polling LSR.THRE
 *   inc dword [0x8054]; first boot: out 0xcf9,6 (reset); second: out 0xf4,[esi+0x210] (type_of_loader)
 * marker: db 0x5A
 */
const PAYLOAD = [
  0xa3, 0x00, 0x80, 0x00, 0x00, 0x89, 0x1d, 0x04, 0x80, 0x00, 0x00, 0x89, 0x0d, 0x08, 0x80, 0x00, 0x00, 0x89, 0x15, 0x0c,
  0x80, 0x00, 0x00, 0x89, 0x35, 0x10, 0x80, 0x00, 0x00, 0x89, 0x3d, 0x14, 0x80, 0x00, 0x00, 0x89, 0x2d, 0x18, 0x80, 0x00,
  0x00, 0x89, 0x25, 0x1c, 0x80, 0x00, 0x00, 0x8c, 0x0d, 0x20, 0x80, 0x00, 0x00, 0x8c, 0x1d, 0x22, 0x80, 0x00, 0x00, 0x8c,
  0x05, 0x24, 0x80, 0x00, 0x00, 0x8c, 0x15, 0x26, 0x80, 0x00, 0x00, 0x8c, 0x25, 0x28, 0x80, 0x00, 0x00, 0x8c, 0x2d, 0x2a,
  0x80, 0x00, 0x00, 0x9c, 0x8f, 0x05, 0x2c, 0x80, 0x00, 0x00, 0x0f, 0x20, 0xc0, 0xa3, 0x30, 0x80, 0x00, 0x00, 0x0f, 0x01,
  0x05, 0x38, 0x80, 0x00, 0x00, 0x0f, 0x01, 0x0d, 0x40, 0x80, 0x00, 0x00, 0xa0, 0x02, 0x01, 0x10, 0x00, 0xa2, 0x48, 0x80,
  0x00, 0x00, 0xc6, 0x05, 0x02, 0x01, 0x10, 0x00, 0xa5, 0x8b, 0x9e, 0x18, 0x02, 0x00, 0x00, 0x8b, 0x8e, 0x1c, 0x02, 0x00,
  0x00, 0x31, 0xd2, 0x31, 0xc0, 0xe3, 0x07, 0x8a, 0x03, 0x01, 0xc2, 0x43, 0xe2, 0xf9, 0x89, 0x15, 0x4c, 0x80, 0x00, 0x00,
  0x0f, 0xb6, 0x8e, 0xe8, 0x01, 0x00, 0x00, 0x89, 0x0d, 0x50, 0x80, 0x00, 0x00, 0x8d, 0x0c, 0x89, 0xc1, 0xe1, 0x02, 0x56,
  0x8d, 0xb6, 0xd0, 0x02, 0x00, 0x00, 0xbf, 0x00, 0x81, 0x00, 0x00, 0xfc, 0xf3, 0xa4, 0x5e, 0x8b, 0x9e, 0x28, 0x02, 0x00,
  0x00, 0x8a, 0x03, 0x84, 0xc0, 0x74, 0x13, 0x66, 0xba, 0xfd, 0x03, 0xec, 0xa8, 0x20, 0x74, 0xfb, 0x8a, 0x03, 0x66, 0xba,
  0xf8, 0x03, 0xee, 0x43, 0xeb, 0xe7, 0xff, 0x05, 0x54, 0x80, 0x00, 0x00, 0x83, 0x3d, 0x54, 0x80, 0x00, 0x00, 0x01, 0x75,
  0x08, 0x66, 0xba, 0xf9, 0x0c, 0xb0, 0x06, 0xee, 0xf4, 0x8a, 0x86, 0x10, 0x02, 0x00, 0x00, 0xe6, 0xf4, 0xf4, 0x5a,
];

interface ImageOptions {
  version?: number;
  setupSects?: number;
  loadflags?: number;
  initrdAddrMax?: number;
  kernelAlignment?: number;
  relocatable?: boolean;
  cmdlineSize?: number;
  prefAddress?: number;
  initSize?: number;
  bootFlag?: number;
  magic?: string;
}

/** A bzImage: setup sectors with the header at 0x1F1 (boot.rst "The real-mode kernel header"), then the payload. */
function bzImage(o: ImageOptions = {}, payload: number[] = PAYLOAD): Uint8Array {
  const setupSects = o.setupSects ?? 4;
  const setupBytes = (setupSects + 1) * 512;
  const img = new Uint8Array(setupBytes + Math.ceil(payload.length / 16) * 16); // syssize counts whole paragraphs
  const v = new DataView(img.buffer);
  v.setUint8(0x1f1, setupSects);
  v.setUint32(0x1f4, Math.ceil(payload.length / 16), true); // syssize
  v.setUint16(0x1fa, 0xfffd, true); // vid_mode "ask" as a real image has it; the loader must override
  v.setUint16(0x1fe, o.bootFlag ?? 0xaa55, true);
  img.set([0xeb, 0x6a], 0x200); // jmp short to 0x26c: the end of a 2.15 header
  img.set(new TextEncoder().encode(o.magic ?? 'HdrS'), 0x202);
  v.setUint16(0x206, o.version ?? 0x20f, true);
  v.setUint8(0x211, o.loadflags ?? 0x01); // LOADED_HIGH
  v.setUint32(0x214, 0x100000, true); // code32_start
  v.setUint32(0x22c, o.initrdAddrMax ?? 0x7fffffff, true);
  v.setUint32(0x230, o.kernelAlignment ?? 0x200000, true);
  v.setUint8(0x234, o.relocatable === false ? 0 : 1);
  v.setUint16(0x236, 0x0003, true); // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  v.setUint32(0x238, o.cmdlineSize ?? 2047, true);
  v.setUint32(0x250, 0xdeadbeef, true); // setup_data garbage the loader must clear
  v.setUint32(0x258, o.prefAddress ?? 0x400000, true);
  v.setUint32(0x260, o.initSize ?? 0x200000, true);
  img.set(payload, setupBytes);
  return img;
}

function initrdBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

function kernelConfig(data: Uint8Array, cmdline = 'console=ttyS0 root=/dev/ram0', initrd?: Uint8Array): KernelBootConfig {
  return { fileName: 'bzImage', data, cmdline, initrd: initrd ? [{ name: 'initrd.img', data: initrd }] : [] };
}

function machine(kernel: KernelBootConfig, memoryBytes = 64 * MiB, serial = new MemoryCharBackend()): Machine {
  return new Machine(
    defaultMachineConfig({ memoryBytes, kernel, debugExits: [{ iobase: 0xf4, iosize: 4 }] }),
    { serial: [serial], log: NULL_LOGGER },
  );
}

function planError(kernel: KernelBootConfig, memoryBytes = 64 * MiB): string {
  try {
    planDirectBoot(kernel, { memoryBytes, isRam: (a, n) => a >= 0 && a + n <= memoryBytes - 0x10000 });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('Linux direct boot', () => {
  it('enters the payload at code32_start in flat 32-bit protected mode with ESI at boot_params', async () => {
    const initrd = initrdBytes(10000);
    const serial = new MemoryCharBackend();
    const m = machine(kernelConfig(bzImage(), 'console=ttyS0 root=/dev/ram0', initrd), 64 * MiB, serial);
    // Before the first instruction: A20 on, paging off, and the segment caches flat.
    expect(m.cpu.s.a20).toBe(true);
    expect(m.cpu.s.eip).toBe(0x100000);
    expect(m.cpu.s.segLimit[1]).toBe(0xffffffff);
    m.start();
    expect(await m.waitForExit()).toBe((0xff << 1) | 1); // type_of_loader 0xFF, read through ESI
    const r = (off: number, size: 1 | 2 | 4 = 4) => m.memory.read(REPORT + off, size);
    // boot.rst: ESI = boot_params; EBP, EDI, EBX = 0.
    const zp = r(0x10);
    expect(zp).not.toBe(0);
    expect([r(0x04), r(0x14), r(0x18)]).toEqual([0, 0, 0]);
    // __BOOT_CS = 0x10, __BOOT_DS = 0x18 in DS, ES, SS (and FS, GS).
    expect([r(0x20, 2), r(0x22, 2), r(0x24, 2), r(0x26, 2), r(0x28, 2), r(0x2a, 2)]).toEqual([0x10, 0x18, 0x18, 0x18, 0x18, 0x18]);
    expect(r(0x2c) & 0x200).toBe(0); // IF clear
    expect(r(0x30) & 0x80000001).toBe(1); // PE set, PG clear
    // The GDT: flat 4 GiB descriptors at 0x10 (code, execute/read) and 0x18 (data, read/write).
    const gdtLimit = r(0x38, 2);
    const gdtBase = r(0x3a);
    expect(gdtLimit).toBeGreaterThanOrEqual(0x1f);
    const desc = (sel: number) => [m.memory.read(gdtBase + sel, 4), m.memory.read(gdtBase + sel + 4, 4)];
    expect(desc(0x10)[0]).toBe(0x0000ffff);
    expect(desc(0x10)[1]! & 0xffeffaff).toBe(0x00cf9a00);
    expect(desc(0x18)[0]).toBe(0x0000ffff);
    expect(desc(0x18)[1]! & 0xffeffaff).toBe(0x00cf9200);
    expect(r(0x40, 2)).toBe(0); // IDT limit 0

    // The command line, printed by the guest from cmd_line_ptr.
    expect(serial.text()).toBe('console=ttyS0 root=/dev/ram0'.repeat(2));

    // The initrd: page aligned, as high as allowed below the ACPI tables (64 MiB − 64 KiB).
    const ramdiskImage = m.memory.read(zp + 0x218, 4);
    expect(ramdiskImage).toBe(0x3fed000); // floor((0x3ff0000 − 10000) / 4096) × 4096
    expect(m.memory.read(zp + 0x21c, 4)).toBe(10000);
    expect(m.memory.readBytes(ramdiskImage, 10000)).toEqual(initrd);
    expect(r(0x4c)).toBe(initrd.reduce((a, b) => a + b, 0));
    expect([m.memory.read(zp + 0x0c0, 4), m.memory.read(zp + 0x0c4, 4)]).toEqual([0, 0]); // ext_ramdisk_*

    // e820 as the guest copied it from boot_params.
    expect(r(0x50)).toBe(6);
    const e820 = Array.from({ length: 6 }, (_, i) => {
      const o = REPORT + 0x100 + i * 20;
      const q = (x: number) => m.memory.read(o + x, 4) + m.memory.read(o + x + 4, 4) * 2 ** 32;
      return [q(0), q(8), m.memory.read(o + 16, 4)];
    });
    expect(e820).toEqual([
      [0, 0x9fc00, 1],
      [0x9fc00, 0x400, 2],
      [0xf0000, 0x10000, 2],
      [0x100000, 64 * MiB - 0x10000 - 0x100000, 1],
      [64 * MiB - 0x10000, 0x10000, 3],
      [0xfffc0000, 0x40000, 2],
    ]);
    m.close();
  });

  it('fills the zero page as boot.rst and zero-page.rst ask', () => {
    const img = bzImage();
    const m = machine(kernelConfig(img, 'quiet', initrdBytes(100)));
    const zp = m.cpu.s.gpr[6]! >>> 0; // ESI
    const b = (o: number) => m.memory.read(zp + o, 1);
    const w = (o: number) => m.memory.read(zp + o, 2);
    const d = (o: number) => m.memory.read(zp + o, 4);
    // No video: screen_info zero (orig_video_mode 0x06, cols 0x07, lines 0x0e, isVGA 0x0f), vid_mode "normal".
    expect(Array.from(m.memory.readBytes(zp, 0x40)).every((x) => x === 0)).toBe(true);
    expect(w(0x1fa)).toBe(0xffff);
    // The setup header copied in (0x1f1 up to 0x202 + the jump's byte).
    expect(Array.from(m.memory.readBytes(zp + 0x202, 4))).toEqual([0x48, 0x64, 0x72, 0x53]); // "HdrS"
    expect([b(0x1f1), w(0x1fe), w(0x206), d(0x22c), d(0x230), b(0x234), d(0x238), w(0x236)])
      .toEqual([4, 0xaa55, 0x20f, 0x7fffffff, 0x200000, 1, 2047, 3]);
    expect(d(0x260)).toBe(0x200000); // init_size (inside the header: 0x202 + 0x6a = 0x26c)
    expect(b(0x26c)).toBe(0); // nothing copied past the header end
    // The loader's fields.
    expect(b(0x210)).toBe(0xff); // type_of_loader
    expect(b(0x211) & 0x81).toBe(0x81); // LOADED_HIGH | CAN_USE_HEAP
    expect(b(0x211) & 0x40).toBe(0); // not KEEP_SEGMENTS
    expect(w(0x224)).toBe(0xfe00); // heap_end_ptr
    expect(d(0x250)).toBe(0); // setup_data cleared
    const cmdline = d(0x228);
    expect(d(0x0c8)).toBe(0); // ext_cmd_line_ptr
    expect(new TextDecoder().decode(m.memory.readBytes(cmdline, 6))).toBe('quiet\0');
    expect(d(0x070)).toBe(0xf5000); // acpi_rsdp_addr (low half)
    expect(d(0x074)).toBe(0);
    expect(b(0x1e8)).toBe(6); // e820_entries
    // The protected-mode part at 1 MiB.
    expect(Array.from(m.memory.readBytes(0x100000, PAYLOAD.length))).toEqual(PAYLOAD);
    // Direct boot makes 0xE0000-0xFFFFF RAM, where the RSDP will live.
    m.memory.write(0xf5000, 4, 0x20445352);
    expect(m.memory.read(0xf5000, 4)).toBe(0x20445352);
    m.close();
  });

  it('reloads the kernel and boot_params at every reset (the payload\'s data byte is fresh on the second boot)', async () => {
    const m = machine(kernelConfig(bzImage(), 'x'));
    let resets = 0;
    m.on('reset', () => resets++);
    m.start();
    expect(await m.waitForExit()).toBe((0xff << 1) | 1);
    expect(resets).toBe(1);
    expect(m.memory.read(REPORT + 0x54, 4)).toBe(2); // two boots
    expect(m.memory.read(REPORT + 0x48, 1)).toBe(0x5a); // reloaded, not the 0xA5 the first boot wrote
  });

  it('honours initrd_addr_max: the initrd ends at or below it', () => {
    const m = machine(kernelConfig(bzImage({ initrdAddrMax: 0x01ffffff }), '', initrdBytes(10000)));
    expect(m.memory.read(0x7000 + 0x218, 4)).toBe(0x1ffd000); // floor((0x2000000 − 10000) / 4096) × 4096
    m.close();
  });

  it('keeps the initrd clear of where the kernel decompresses (pref_address + init_size)', () => {
    // Relocatable, alignment 16 MiB: runs at 16 MiB and needs 40 MiB there → up to 56 MiB.
    const img = bzImage({ kernelAlignment: 0x1000000, prefAddress: 0x1000000, initSize: 40 * MiB });
    expect(planError(kernelConfig(img, '', initrdBytes(8 * MiB)))).toMatch(
      /^-initrd initrd\.img: the initrd \(8388608 bytes\) does not fit between the kernel, which needs RAM up to 0x3800000, and 0x3ff0000/,
    );
    // 7 MiB fits: 0x3ff0000 − 7 MiB = 0x38f0000.
    const m = machine(kernelConfig(img, '', initrdBytes(7 * MiB)));
    expect(m.memory.read(0x7000 + 0x218, 4)).toBe(0x38f0000);
    m.close();
  });

  it('refuses malformed images with one-line errors', () => {
    const cfg = (img: Uint8Array) => kernelConfig(img);
    expect(planError(cfg(bzImage({ magic: 'HdrX' })))).toBe('-kernel bzImage: not a Linux bzImage (no "HdrS" setup header) nor a multiboot kernel');
    expect(planError(cfg(bzImage({ bootFlag: 0x1234 })))).toBe('-kernel bzImage: not a Linux bzImage (boot_flag is 0x1234, not 0xaa55)');
    expect(planError(cfg(bzImage({ version: 0x204 })))).toBe(
      '-kernel bzImage: Linux boot protocol 2.04 is too old; pcvm boots kernels with protocol 2.06 or later',
    );
    expect(planError(cfg(bzImage({ loadflags: 0 })))).toMatch(/zImage/);
    expect(planError(cfg(bzImage().subarray(0, 0x220)))).toBe('-kernel bzImage: truncated at 544 bytes inside the setup header');
    expect(planError(cfg(bzImage().subarray(0, 5 * 512 + 100)))).toBe(
      `-kernel bzImage: truncated: the setup header announces ${5 * 512 + 272} bytes (setup 2560, kernel 272), the file has ${5 * 512 + 100}`,
    );
    expect(planError(cfg(bzImage({ kernelAlignment: 0x3000 })))).toMatch(/kernel_alignment 0x3000 is not a power of two/);
    expect(planError(cfg(new Uint8Array(0)))).toMatch(/not a Linux bzImage/);
    expect(planError(kernelConfig(bzImage({ cmdlineSize: 8 }), 'console=ttyS0'))).toBe(
      '-append: the kernel command line is 13 bytes; this kernel takes at most 8',
    );
    expect(planError(kernelConfig(bzImage(), '', initrdBytes(64 * MiB)))).toMatch(/^-initrd initrd\.img: the initrd .* does not fit/);
    expect(planError(cfg(bzImage({ prefAddress: 0x1000000, initSize: 60 * MiB })))).toMatch(
      /the kernel needs RAM up to 0x4c00000 to decompress .*give it more than 64 MiB/,
    );
  });

  it('never fails with anything but a ConfigError, whatever the header holds', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const base = bzImage();
    for (let n = 0; n < 400; n++) {
      const img = base.slice(0, rand() < 40 ? 0x1f1 + rand() * 4 : base.length);
      for (let k = 0; k < 6; k++) {
        const at = 0x1f1 + (((rand() << 8) | rand()) % 0x80);
        if (at < img.length && at !== 0x202 && at !== 0x203 && at !== 0x204 && at !== 0x205) img[at] = rand();
      }
      try {
        planDirectBoot(kernelConfig(img, 'x', initrdBytes(rand() * 1000)), { memoryBytes: 64 * MiB, isRam: () => true });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as Error).message).not.toContain('\n');
      }
    }
  });
});

describe.each([
  ['i386', '/work/guests/i386/vmlinuz', false],
  ['amd64', '/work/guests/amd64/vmlinuz', true],
])('the Debian %s kernel', (_arch, path, is64) => {
  it.skipIf(!existsSync(path))('has a setup header pcvm accepts, and lays out with its initrd in 256 MiB', () => {
    const img = new Uint8Array(readFileSync(path));
    const hdr = parseSetupHeader(img, path);
    expect(hdr.version).toBeGreaterThanOrEqual(0x206);
    expect(hdr.loadflags & 1).toBe(1);
    expect(hdr.code32Start).toBe(0x100000);
    expect(hdr.relocatable).toBe(true);
    expect((hdr.xloadflags & 1) === 1).toBe(is64); // XLF_KERNEL_64
    expect(hdr.setupBytes + hdr.syssize * 16).toBeLessThanOrEqual(img.length);
    const initrdPath = path.replace('vmlinuz', 'initrd.img');
    const initrd = existsSync(initrdPath) ? new Uint8Array(readFileSync(initrdPath)) : initrdBytes(4096);
    const plan = planDirectBoot(
      { fileName: path, data: img, cmdline: 'console=ttyS0', initrd: [{ name: initrdPath, data: initrd }] },
      { memoryBytes: 256 * MiB, isRam: () => true },
    );
    const placed = plan.pieces.find((p) => p.what === 'initrd')!;
    expect(placed.addr % 4096).toBe(0);
    expect(placed.addr + initrd.length).toBeLessThanOrEqual(256 * MiB - 0x10000);
    expect(placed.addr).toBeGreaterThanOrEqual(hdr.prefAddress + hdr.initSize);
    expect(plan.entry.eip).toBe(0x100000);
  });
});
