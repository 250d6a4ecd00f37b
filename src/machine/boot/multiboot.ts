/**
 * Multiboot v1 (Multiboot Specification 0.6.96) as QEMU implements it for `-kernel`
 * (hw/i386/multiboot.c and the option ROM pc-bios/optionrom/multiboot.S):
 *
 *  - the header is the first 0x1BADB002 on a 4-byte boundary in the first 8 KiB whose checksum
 *    works out; flag 16 (the "a.out kludge") says where to load the file, otherwise it is an
 *    ELF32 image loaded by p_paddr;
 *  - one buffer starts at the load address: the kernel (with its bss), page aligned; then the
 *    module list (16 bytes a module), the strings (each module's string, the kernel command
 *    line "<kernel file> <-append>") and the boot loader name; page aligned; then each
 *    module, page aligned;
 *  - the memory map (e820 entries in multiboot's form: a size field of 20, then base, length,
 *    type) at 0x9000 and the multiboot information structure at 0x9500;
 *  - EAX = 0x2BADB002, EBX = the info address, flat 32-bit CS 0x08 and data 0x10.
 *
 * Differences from QEMU: no BIOS, so the entry state is set directly (the GDT is at 0x500);
 * boot_device is not reported (QEMU passes a made-up 0x8000ffff); the boot loader name is
 * "pcvm"; header flags in bits 3-15, which the spec says a loader must refuse when it does
 * not know them, are refused (QEMU ignores them); the loader checks that nothing it places
 * overlaps anything else or lies outside RAM.
 *
 * Not implemented: the video mode (flag 2: QEMU's warning), a.out symbol tables, ELF section
 * headers in the info structure (flags 4 and 5 stay clear).
 */
import { ConfigError } from '../../errors.js';
import type { KernelBootConfig } from '../config.js';
import { e820Map, E820Type, EBDA_BASE } from '../memory-layout.js';
import type { BootBoard, BootPiece, BootPlan } from './direct-boot.js';
import { elfMachine, EM_X86_64, loadElf32 } from './elf32.js';
import { flatGdt } from './entry-state.js';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** EAX at entry (spec §3.2). */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** QEMU's places for the memory map and the info structure (ADDR_E820_MAP, ADDR_MBI). */
export const MULTIBOOT_MMAP_ADDR = 0x9000;
export const MULTIBOOT_INFO_ADDR = 0x9500;
export const MULTIBOOT_GDT_ADDR = 0x500;
/** The spec leaves ESP undefined (the kernel must set up its own stack); this is below the info. */
export const MULTIBOOT_INITIAL_ESP = 0x7000;
/** QEMU's option ROM selectors. */
export const MULTIBOOT_CS = 0x08;
export const MULTIBOOT_DS = 0x10;
export const MULTIBOOT_LOADER_NAME = 'pcvm';

/** The header may start anywhere in the first 8 KiB; QEMU stops 48 bytes (the full header) short. */
const SEARCH_BYTES = 8192 - 48;

/** Header flags (spec §3.1.2). */
const enum HeaderFlag {
  PAGE_ALIGN = 1 << 0,
  MEMORY_INFO = 1 << 1,
  VIDEO_MODE = 1 << 2,
  AOUT_KLUDGE = 1 << 16,
  /** Bits 0-15 are requirements: a loader must refuse ones it does not know. */
  REQUIRED_MASK = 0xffff,
}
const KNOWN_REQUIRED = HeaderFlag.PAGE_ALIGN | HeaderFlag.MEMORY_INFO | HeaderFlag.VIDEO_MODE;

/** Info structure flags (spec §3.3). */
export const enum InfoFlag {
  MEMORY = 1 << 0,
  BOOT_DEVICE = 1 << 1,
  CMDLINE = 1 << 2,
  MODS = 1 << 3,
  MMAP = 1 << 6,
  LOADER_NAME = 1 << 9,
}

/** Info structure offsets (spec §3.3) and its size as QEMU writes it (MBI_SIZE). */
const enum Mbi {
  FLAGS = 0,
  MEM_LOWER = 4,
  MEM_UPPER = 8,
  CMDLINE = 16,
  MODS_COUNT = 20,
  MODS_ADDR = 24,
  MMAP_LENGTH = 44,
  MMAP_ADDR = 48,
  BOOT_LOADER_NAME = 64,
  SIZE = 88,
}
const MODULE_ENTRY_BYTES = 16;
const MMAP_ENTRY_BYTES = 24;
const PAGE = 4096;

export interface MultibootHeader {
  /** File offset of the magic. */
  offset: number;
  flags: number;
  /** a.out kludge fields (valid when flags has bit 16). */
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

const hex = (n: number) => `0x${n.toString(16)}`;
const pageAlign = (n: number) => Math.ceil(n / PAGE) * PAGE;

/** The first valid multiboot header in the first 8 KiB, or undefined. */
export function findMultibootHeader(img: Uint8Array): MultibootHeader | undefined {
  const view = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const end = Math.min(SEARCH_BYTES, img.length - 12);
  for (let i = 0; i < end; i += 4) {
    if (view.getUint32(i, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = view.getUint32(i + 4, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + view.getUint32(i + 8, true)) >>> 0) !== 0) continue;
    const field = (o: number) => (i + o + 4 <= img.length ? view.getUint32(i + o, true) : 0);
    return {
      offset: i,
      flags,
      headerAddr: field(12),
      loadAddr: field(16),
      loadEndAddr: field(20),
      bssEndAddr: field(24),
      entryAddr: field(28),
    };
  }
  return undefined;
}

/**
 * Splits `-initrd` for multiboot as QEMU does (get_opt_value): modules are separated by commas,
 * ",," is a literal comma. Each entry is the module's string; its file is the part before the
 * first space.
 */
export function parseMultibootModules(spec: string): { string: string; file: string }[] {
  const out: { string: string; file: string }[] = [];
  let cur = '';
  for (let i = 0; i <= spec.length; i++) {
    const ch = spec[i];
    if (ch === ',' && spec[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (ch === ',' || ch === undefined) {
      const space = cur.indexOf(' ');
      out.push({ string: cur, file: space < 0 ? cur : cur.slice(0, space) });
      cur = '';
    } else {
      cur += ch;
    }
  }
  return out;
}

/** The kernel as loaded: bytes for [loadAddr, loadAddr + bytes.length) and the entry point. */
interface LoadedKernel {
  loadAddr: number;
  entry: number;
  bytes: Uint8Array;
}

function loadKernel(img: Uint8Array, h: MultibootHeader, fail: (why: string) => never, maxBytes: number): LoadedKernel {
  if (!(h.flags & HeaderFlag.AOUT_KLUDGE)) {
    // QEMU checks e_machine before anything else, whatever the class.
    if (elfMachine(img) === EM_X86_64) fail('Cannot load x86-64 image, give a 32bit one.');
    const elf = loadElf32(img, maxBytes, (why) => fail(`Error while loading elf kernel: ${why}`));
    return { loadAddr: elf.low, entry: elf.entry, bytes: elf.bytes };
  }
  // The a.out kludge: the header says where it sits in memory, which fixes where the file goes.
  if (h.offset + 32 > img.length) fail('the multiboot header is cut off by the end of the file');
  if (h.headerAddr < h.loadAddr) fail('invalid load_addr address');
  if (h.headerAddr - h.loadAddr > h.offset) fail('invalid header_addr address');
  const textOffset = h.offset - (h.headerAddr - h.loadAddr);
  let loadSize: number;
  if (h.loadEndAddr) {
    if (h.loadEndAddr < h.loadAddr) fail('invalid load_end_addr address');
    loadSize = h.loadEndAddr - h.loadAddr;
  } else {
    loadSize = img.length - textOffset;
  }
  if (loadSize > 2 ** 32 - h.loadAddr) fail('kernel does not fit in address space');
  if (textOffset + loadSize > img.length) {
    fail(`load_end_addr ${hex(h.loadEndAddr)} lies past the end of the file (${img.length} bytes)`);
  }
  let kernelSize = loadSize;
  if (h.bssEndAddr) {
    if (h.bssEndAddr < h.loadAddr + loadSize) fail('invalid bss_end_addr address');
    kernelSize = h.bssEndAddr - h.loadAddr;
  }
  if (kernelSize > maxBytes) fail(`the kernel with its bss (${kernelSize} bytes) is larger than guest RAM`);
  const bytes = new Uint8Array(kernelSize);
  bytes.set(img.subarray(textOffset, textOffset + loadSize));
  return { loadAddr: h.loadAddr, entry: h.entryAddr, bytes };
}

export function planMultibootBoot(config: KernelBootConfig, board: BootBoard): BootPlan {
  const fail = (why: string): never => {
    throw new ConfigError(`-kernel ${config.fileName}: ${why}`);
  };
  const h = findMultibootHeader(config.data);
  if (!h) return fail('no multiboot header in the first 8 KiB');
  const warnings: string[] = [];
  const unknown = h.flags & HeaderFlag.REQUIRED_MASK & ~KNOWN_REQUIRED;
  if (unknown) fail(`the multiboot header requires features pcvm does not know (flags ${hex(unknown)})`);
  if (h.flags & HeaderFlag.VIDEO_MODE) warnings.push("multiboot knows VBE. we don't"); // QEMU's words

  const kernel = loadKernel(config.data, h, fail, board.memoryBytes);

  // The buffer after the kernel: module list, strings, loader name; then the modules.
  const enc = new TextEncoder();
  const modStrings = config.initrd.map((m) => enc.encode(m.name + '\0'));
  const cmdline = enc.encode(`${config.fileName} ${config.cmdline}\0`);
  const loaderName = enc.encode(MULTIBOOT_LOADER_NAME + '\0');
  const infoOffset = pageAlign(kernel.bytes.length);
  const stringsOffset = infoOffset + MODULE_ENTRY_BYTES * config.initrd.length;
  const stringsBytes = modStrings.reduce((n, s) => n + s.length, 0) + cmdline.length;
  const loaderNameOffset = stringsOffset + stringsBytes;
  let modsOffset = pageAlign(loaderNameOffset + loaderName.length);
  const base = kernel.loadAddr;

  const area = new Uint8Array(modsOffset - infoOffset);
  const areaView = new DataView(area.buffer);
  const pieces: BootPiece[] = [{ what: 'kernel', addr: base, data: kernel.bytes }];
  let str = stringsOffset;
  const addString = (s: Uint8Array): number => {
    area.set(s, str - infoOffset);
    str += s.length;
    return base + str - s.length;
  };
  config.initrd.forEach((m, i) => {
    const stringAddr = addString(modStrings[i]!);
    const start = base + modsOffset;
    const o = i * MODULE_ENTRY_BYTES;
    areaView.setUint32(o, start, true); // mod_start
    areaView.setUint32(o + 4, start + m.data.length, true); // mod_end (exclusive)
    areaView.setUint32(o + 8, stringAddr, true); // string
    pieces.push({ what: `multiboot module '${m.name}'`, addr: start, data: m.data });
    modsOffset = pageAlign(modsOffset + m.data.length);
  });
  const cmdlineAddr = addString(cmdline);
  area.set(loaderName, loaderNameOffset - infoOffset);
  pieces.push({ what: 'multiboot module list and strings', addr: base + infoOffset, data: area });
  if (base + modsOffset > 2 ** 32) fail('the kernel and its modules do not fit below 4 GiB');

  // The memory map in multiboot's form, and mem_lower/mem_upper as QEMU's option ROM computes
  // them: conventional memory below the EBDA (INT 12h), and the RAM contiguous from 1 MiB.
  const map = e820Map(board.memoryBytes);
  const mmap = new Uint8Array(map.length * MMAP_ENTRY_BYTES);
  const mmapView = new DataView(mmap.buffer);
  map.forEach((e, i) => {
    const o = i * MMAP_ENTRY_BYTES;
    mmapView.setUint32(o, MMAP_ENTRY_BYTES - 4, true); // size of the rest of the entry
    mmapView.setUint32(o + 4, e.base >>> 0, true);
    mmapView.setUint32(o + 8, Math.floor(e.base / 2 ** 32), true);
    mmapView.setUint32(o + 12, e.length >>> 0, true);
    mmapView.setUint32(o + 16, Math.floor(e.length / 2 ** 32), true);
    mmapView.setUint32(o + 20, e.type, true);
  });
  let upperEnd = 0x100000;
  for (let grown = true; grown; ) {
    grown = false;
    for (const e of map) {
      if (e.type === E820Type.RAM && e.base <= upperEnd && upperEnd < e.base + e.length && e.base + e.length <= 2 ** 32) {
        upperEnd = e.base + e.length;
        grown = true;
      }
    }
  }

  const info = new Uint8Array(Mbi.SIZE);
  const iv = new DataView(info.buffer);
  iv.setUint32(Mbi.FLAGS, InfoFlag.MEMORY | InfoFlag.CMDLINE | InfoFlag.MODS | InfoFlag.MMAP | InfoFlag.LOADER_NAME, true);
  iv.setUint32(Mbi.MEM_LOWER, EBDA_BASE >> 10, true);
  iv.setUint32(Mbi.MEM_UPPER, (upperEnd - 0x100000) / 1024, true);
  iv.setUint32(Mbi.CMDLINE, cmdlineAddr, true);
  iv.setUint32(Mbi.MODS_COUNT, config.initrd.length, true);
  iv.setUint32(Mbi.MODS_ADDR, base + infoOffset, true);
  iv.setUint32(Mbi.MMAP_LENGTH, mmap.length, true);
  iv.setUint32(Mbi.MMAP_ADDR, MULTIBOOT_MMAP_ADDR, true);
  iv.setUint32(Mbi.BOOT_LOADER_NAME, base + loaderNameOffset, true);

  const entry = {
    eip: kernel.entry,
    eax: MULTIBOOT_BOOTLOADER_MAGIC,
    ebx: MULTIBOOT_INFO_ADDR,
    esi: 0,
    esp: MULTIBOOT_INITIAL_ESP,
    codeSelector: MULTIBOOT_CS,
    dataSelector: MULTIBOOT_DS,
    gdtAddr: MULTIBOOT_GDT_ADDR,
  };
  if (mmap.length > MULTIBOOT_INFO_ADDR - MULTIBOOT_MMAP_ADDR) fail('the memory map is too long');
  pieces.push(
    { what: 'GDT', addr: MULTIBOOT_GDT_ADDR, data: flatGdt(entry) },
    { what: 'multiboot memory map', addr: MULTIBOOT_MMAP_ADDR, data: mmap },
    { what: 'multiboot info', addr: MULTIBOOT_INFO_ADDR, data: info },
  );
  return { protocol: 'multiboot', pieces, entry, warnings };
}
