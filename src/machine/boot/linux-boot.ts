/**
 * Linux direct boot: the x86 boot protocol's 32-bit entry (Documentation/arch/x86/boot.rst,
 * "32-bit boot protocol"; zero-page.rst for struct boot_params), as a boot loader that skips
 * the kernel's real-mode setup code does it (Firecracker, QEMU's PVH-less path, GRUB's
 * linux32).
 *
 * Guest-physical layout:
 *
 *   0x00500  GDT: null, null, __BOOT_CS 0x10 (flat code), __BOOT_DS 0x18 (flat data)
 *   0x07000  boot_params, the "zero page" (4 KiB); the initial ESP is just below it
 *   0x20000  kernel command line (QEMU's cmdline_addr for protocol ≥ 2.02)
 *   0x100000 the protected-mode part of the bzImage (what follows the setup sectors)
 *   high     the initrd, page aligned, as high as initrd_addr_max and RAM allow
 *
 * The kernel decompresses itself to max(align_up(load address, kernel_alignment),
 * pref_address) for a relocatable kernel, or to pref_address otherwise, and needs init_size
 * bytes there (arch/x86/boot/compressed/head_{32,64}.S); the initrd must stay clear of that.
 *
 * Not implemented: protocol versions before 2.06 (no cmdline_size) and zImages loaded low,
 * the 16-bit entry, setup_data chains, the EFI handover, loading the initrd above 4 GiB.
 */
import { ConfigError } from '../../errors.js';
import type { KernelBootConfig } from '../config.js';
import { ACPI_RSDP_ADDR, acpiTablesBase, e820Map, EBDA_BASE } from '../memory-layout.js';
import type { BootBoard, BootPlan } from './direct-boot.js';
import { flatGdt } from './entry-state.js';

/** Where the loader puts its structures (see the file header). */
export const LINUX_GDT_ADDR = 0x500;
export const LINUX_ZERO_PAGE_ADDR = 0x7000;
export const LINUX_CMDLINE_ADDR = 0x20000;
export const LINUX_KERNEL_ADDR = 0x100000;
/** boot.rst: __BOOT_CS and __BOOT_DS. */
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;

/** Setup header offsets in the image and in boot_params (bootparam.h, struct setup_header). */
const enum Hdr {
  SETUP_SECTS = 0x1f1,
  SYSSIZE = 0x1f4,
  VID_MODE = 0x1fa,
  BOOT_FLAG = 0x1fe,
  JUMP = 0x200,
  HEADER = 0x202,
  VERSION = 0x206,
  TYPE_OF_LOADER = 0x210,
  LOADFLAGS = 0x211,
  CODE32_START = 0x214,
  RAMDISK_IMAGE = 0x218,
  RAMDISK_SIZE = 0x21c,
  HEAP_END_PTR = 0x224,
  CMD_LINE_PTR = 0x228,
  INITRD_ADDR_MAX = 0x22c,
  KERNEL_ALIGNMENT = 0x230,
  RELOCATABLE_KERNEL = 0x234,
  XLOADFLAGS = 0x236,
  CMDLINE_SIZE = 0x238,
  HARDWARE_SUBARCH = 0x23c,
  SETUP_DATA = 0x250,
  PREF_ADDRESS = 0x258,
  INIT_SIZE = 0x260,
}

/** boot_params fields outside the setup header (zero-page.rst). */
const enum Zp {
  ACPI_RSDP_ADDR = 0x070,
  EXT_RAMDISK_IMAGE = 0x0c0,
  EXT_RAMDISK_SIZE = 0x0c4,
  EXT_CMD_LINE_PTR = 0x0c8,
  E820_ENTRIES = 0x1e8,
  /** boot_params.hdr ends where edd_mbr_sig_buffer begins. */
  HDR_LIMIT = 0x290,
  E820_TABLE = 0x2d0,
  E820_MAX = 128,
  SIZE = 0x1000,
}

/** "HdrS" little-endian. */
const HDR_MAGIC = 0x53726448;
const BOOT_FLAG_MAGIC = 0xaa55;
const MIN_PROTOCOL = 0x206;

/** loadflags bits (boot.rst). */
export const LOADED_HIGH = 1 << 0;
export const KEEP_SEGMENTS = 1 << 6;
export const CAN_USE_HEAP = 1 << 7;

/**
 * heap_end_ptr as QEMU sets it: the real-mode code would sit at 0x10000 with its heap ending
 * where the command line starts (0x20000 - 0x10000 - 0x200). The 32-bit entry never runs
 * that code; the field is filled so that the header reads as a complete loader's would.
 */
const HEAP_END_PTR = LINUX_CMDLINE_ADDR - 0x10000 - 0x200;

export interface SetupHeader {
  /** Protocol version, e.g. 0x20f for 2.15. */
  version: number;
  setupSects: number;
  /** Bytes before the protected-mode part: (setup_sects + 1) × 512. */
  setupBytes: number;
  /** Protected-mode size in 16-byte paragraphs. */
  syssize: number;
  loadflags: number;
  code32Start: number;
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  /** Longest command line without its NUL. */
  cmdlineSize: number;
  xloadflags: number;
  /** Where the kernel prefers to run (LOAD_PHYSICAL_ADDR); protocol ≥ 2.10. */
  prefAddress: number;
  /** Memory the kernel needs from where it runs, to decompress and start; protocol ≥ 2.10. */
  initSize: number;
  /** End of the setup header in the image: 0x202 + the jump's displacement byte (boot.rst). */
  headerEnd: number;
}

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const hex = (n: number) => `0x${n.toString(16)}`;
const version = (v: number) => `${v >> 8}.${(v & 0xff).toString().padStart(2, '0')}`;

/** True when the image carries a Linux setup header (QEMU's test: "HdrS" at 0x202). */
export function isLinuxImage(img: Uint8Array): boolean {
  return img.length >= Hdr.HEADER + 4 && u32(img, Hdr.HEADER) === HDR_MAGIC;
}

/** Reads and validates the setup header; `name` prefixes the one-line error. */
export function parseSetupHeader(img: Uint8Array, name: string): SetupHeader {
  const fail = (why: string): never => {
    throw new ConfigError(`-kernel ${name}: ${why}`);
  };
  if (!isLinuxImage(img)) fail('not a Linux bzImage (no "HdrS" setup header at 0x202)');
  const flag = u16(img, Hdr.BOOT_FLAG);
  if (flag !== BOOT_FLAG_MAGIC) fail(`not a Linux bzImage (boot_flag is ${hex(flag)}, not 0xaa55)`);
  if (img.length < Hdr.VERSION + 2) fail(`truncated at ${img.length} bytes inside the setup header`);
  const ver = u16(img, Hdr.VERSION);
  if (ver < MIN_PROTOCOL) {
    fail(`Linux boot protocol ${version(ver)} is too old; pcvm boots kernels with protocol 2.06 or later`);
  }
  // The fields this loader reads: up to cmdline_size (2.06), up to init_size (2.10).
  const need = ver >= 0x20a ? Hdr.INIT_SIZE + 4 : Hdr.CMDLINE_SIZE + 4;
  if (img.length < need) fail(`truncated at ${img.length} bytes inside the setup header`);
  const setupSects = img[Hdr.SETUP_SECTS]! === 0 ? 4 : img[Hdr.SETUP_SECTS]!; // boot.rst: 0 means 4
  const setupBytes = (setupSects + 1) * 512;
  const syssize = u32(img, Hdr.SYSSIZE);
  const loadflags = img[Hdr.LOADFLAGS]!;
  if (!(loadflags & LOADED_HIGH)) fail('a zImage (kernel loaded at 0x10000) is not supported; use a bzImage');
  if (syssize === 0) fail('the setup header gives the kernel a size of 0 (syssize)');
  const total = setupBytes + syssize * 16;
  if (img.length < total) {
    fail(`truncated: the setup header announces ${total} bytes (setup ${setupBytes}, kernel ${syssize * 16}), the file has ${img.length}`);
  }
  const relocatable = img[Hdr.RELOCATABLE_KERNEL]! !== 0;
  const kernelAlignment = u32(img, Hdr.KERNEL_ALIGNMENT);
  if (relocatable && (kernelAlignment === 0 || (kernelAlignment & (kernelAlignment - 1)) !== 0)) {
    fail(`kernel_alignment ${hex(kernelAlignment)} is not a power of two`);
  }
  // The entry point. A loader that places the kernel elsewhere than 1 MiB must adjust it; we
  // load at 1 MiB and, like the kernel's own setup code, jump wherever it points.
  const code32Start = u32(img, Hdr.CODE32_START);
  const headerEnd = Math.min(Hdr.JUMP + 2 + img[Hdr.JUMP + 1]!, Zp.HDR_LIMIT, setupBytes);
  return {
    version: ver,
    setupSects,
    setupBytes,
    syssize,
    loadflags,
    code32Start,
    initrdAddrMax: u32(img, Hdr.INITRD_ADDR_MAX),
    kernelAlignment,
    relocatable,
    cmdlineSize: u32(img, Hdr.CMDLINE_SIZE),
    xloadflags: u16(img, Hdr.XLOADFLAGS),
    // Before 2.10 there is no pref_address or init_size: such kernels run where they are loaded.
    prefAddress: ver >= 0x20a ? u32(img, Hdr.PREF_ADDRESS) + u32(img, Hdr.PREF_ADDRESS + 4) * 2 ** 32 : LINUX_KERNEL_ADDR,
    initSize: ver >= 0x20a ? u32(img, Hdr.INIT_SIZE) : 0,
    headerEnd,
  };
}

/** Lays out a bzImage, its initrd and command line, and the zero page (see the file header). */
export function planLinuxBoot(config: KernelBootConfig, board: BootBoard): BootPlan {
  const img = config.data;
  const hdr = parseSetupHeader(img, config.fileName);
  const kernel = img.subarray(hdr.setupBytes);
  const ramTop = acpiTablesBase(board.memoryBytes);

  // Where the kernel will decompress and run, and the end of everything it needs.
  const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;
  const runAddr = hdr.relocatable ? Math.max(alignUp(LINUX_KERNEL_ADDR, hdr.kernelAlignment), hdr.prefAddress) : hdr.prefAddress;
  const footprintEnd = Math.max(LINUX_KERNEL_ADDR + kernel.length, runAddr + hdr.initSize);
  if (footprintEnd > ramTop) {
    throw new ConfigError(
      `-kernel ${config.fileName}: the kernel needs RAM up to ${hex(footprintEnd)} to decompress (init_size ${hex(hdr.initSize)} ` +
        `at ${hex(runAddr)}); give it more than ${Math.floor(board.memoryBytes / 2 ** 20)} MiB (-m)`,
    );
  }

  // The command line: cmdline_size excludes the terminating NUL; it must also stay below the EBDA.
  const cmdline = new TextEncoder().encode(config.cmdline + '\0');
  const cmdlineMax = Math.min(hdr.cmdlineSize, EBDA_BASE - LINUX_CMDLINE_ADDR - 1);
  if (cmdline.length - 1 > cmdlineMax) {
    throw new ConfigError(`-append: the kernel command line is ${cmdline.length - 1} bytes; this kernel takes at most ${cmdlineMax}`);
  }

  // The initrd: page aligned, as high as allowed — initrd_addr_max is the last byte it may use.
  if (config.initrd.length > 1) {
    throw new ConfigError('-initrd: a Linux kernel takes one initrd file');
  }
  const initrd = config.initrd[0];
  let initrdAddr = 0;
  if (initrd) {
    const top = Math.min(hdr.initrdAddrMax + 1, ramTop);
    initrdAddr = Math.floor((top - initrd.data.length) / 4096) * 4096;
    if (initrdAddr < footprintEnd) {
      throw new ConfigError(
        `-initrd ${initrd.name}: the initrd (${initrd.data.length} bytes) does not fit between the kernel, which needs RAM up to ` +
          `${hex(footprintEnd)}, and ${hex(top)} (initrd_addr_max ${hex(hdr.initrdAddrMax)} and the end of RAM)`,
      );
    }
  }

  const zp = buildZeroPage(img, hdr, board.memoryBytes, {
    cmdlineAddr: LINUX_CMDLINE_ADDR,
    initrdAddr,
    initrdSize: initrd?.data.length ?? 0,
  });
  const entry = {
    eip: hdr.code32Start,
    eax: 0,
    ebx: 0,
    esi: LINUX_ZERO_PAGE_ADDR,
    esp: LINUX_ZERO_PAGE_ADDR,
    codeSelector: BOOT_CS,
    dataSelector: BOOT_DS,
    gdtAddr: LINUX_GDT_ADDR,
  };
  const pieces = [
    { what: 'GDT', addr: LINUX_GDT_ADDR, data: flatGdt(entry) },
    { what: 'zero page (boot_params)', addr: LINUX_ZERO_PAGE_ADDR, data: zp },
    { what: 'kernel command line', addr: LINUX_CMDLINE_ADDR, data: cmdline },
    { what: 'kernel', addr: LINUX_KERNEL_ADDR, data: kernel },
  ];
  if (initrd && initrd.data.length > 0) pieces.push({ what: 'initrd', addr: initrdAddr, data: initrd.data });
  return { protocol: 'linux', pieces, entry, warnings: [] };
}

/**
 * struct boot_params: zero, then the image's setup header copied in and the loader's fields
 * written (boot.rst "Details of header fields": the fields marked write or modify).
 */
export function buildZeroPage(
  img: Uint8Array,
  hdr: SetupHeader,
  memoryBytes: number,
  where: { cmdlineAddr: number; initrdAddr: number; initrdSize: number },
): Uint8Array {
  const zp = new Uint8Array(Zp.SIZE);
  const view = new DataView(zp.buffer);
  zp.set(img.subarray(Hdr.SETUP_SECTS, hdr.headerEnd), Hdr.SETUP_SECTS);
  // No video: screen_info (orig_video_*) stays zero and vid_mode asks for "normal".
  view.setUint16(Hdr.VID_MODE, 0xffff, true);
  view.setUint8(Hdr.TYPE_OF_LOADER, 0xff); // "undefined" loader id
  view.setUint8(Hdr.LOADFLAGS, (hdr.loadflags | LOADED_HIGH | CAN_USE_HEAP) & ~KEEP_SEGMENTS);
  view.setUint16(Hdr.HEAP_END_PTR, HEAP_END_PTR, true);
  view.setUint32(Hdr.CMD_LINE_PTR, where.cmdlineAddr, true);
  view.setUint32(Zp.EXT_CMD_LINE_PTR, Math.floor(where.cmdlineAddr / 2 ** 32), true);
  view.setUint32(Hdr.RAMDISK_IMAGE, where.initrdAddr >>> 0, true);
  view.setUint32(Hdr.RAMDISK_SIZE, where.initrdSize >>> 0, true);
  view.setUint32(Zp.EXT_RAMDISK_IMAGE, Math.floor(where.initrdAddr / 2 ** 32), true);
  view.setUint32(Zp.EXT_RAMDISK_SIZE, Math.floor(where.initrdSize / 2 ** 32), true);
  // Fields the loader owns and a hand-made header might carry garbage in.
  view.setUint32(Hdr.HARDWARE_SUBARCH, 0, true); // X86_SUBARCH_PC
  view.setUint32(Hdr.HARDWARE_SUBARCH + 4, 0, true);
  view.setUint32(Hdr.HARDWARE_SUBARCH + 8, 0, true);
  if (hdr.headerEnd >= Hdr.SETUP_DATA + 8) {
    view.setUint32(Hdr.SETUP_DATA, 0, true);
    view.setUint32(Hdr.SETUP_DATA + 4, 0, true);
  }
  // The RSDP: the board's ACPI tables put it here (as a BIOS would in 0xE0000-0xFFFFF).
  view.setUint32(Zp.ACPI_RSDP_ADDR, ACPI_RSDP_ADDR, true);
  const map = e820Map(memoryBytes);
  if (map.length > Zp.E820_MAX) throw new ConfigError(`the memory map has ${map.length} entries; boot_params holds ${Zp.E820_MAX}`);
  view.setUint8(Zp.E820_ENTRIES, map.length);
  map.forEach((e, i) => {
    const o = Zp.E820_TABLE + i * 20;
    view.setUint32(o, e.base >>> 0, true);
    view.setUint32(o + 4, Math.floor(e.base / 2 ** 32), true);
    view.setUint32(o + 8, e.length >>> 0, true);
    view.setUint32(o + 12, Math.floor(e.length / 2 ** 32), true);
    view.setUint32(o + 16, e.type, true);
  });
  return zp;
}
