/**
 * ELF32 executables as a boot loader reads them: the file header and the PT_LOAD program
 * headers, placed by physical address (p_paddr), as QEMU's load_elf does for a multiboot
 * kernel (System V ABI "ELF header", "Program header"; Multiboot 0.6.96 §3.1.3).
 *
 * Not implemented: section headers, relocation, ELF64 (refused by the caller), big-endian.
 */

export const EM_386 = 3;
export const EM_X86_64 = 62;
const PT_LOAD = 1;
const ELF32_EHDR_SIZE = 52;
const ELF32_PHDR_SIZE = 32;

/** The loaded image: bytes for [low, high), zero where no segment puts file data. */
export interface Elf32Image {
  low: number;
  high: number;
  entry: number;
  bytes: Uint8Array;
}

/** e_machine, at offset 18 in both ELF32 and ELF64 headers (what QEMU checks for x86-64). */
export function elfMachine(img: Uint8Array): number {
  return img.length >= 20 ? img[18]! | (img[19]! << 8) : -1;
}

/**
 * Loads an ELF32 little-endian i386 executable whose segments span at most `maxBytes`.
 * `fail` receives a short reason and must throw.
 */
export function loadElf32(img: Uint8Array, maxBytes: number, fail: (why: string) => never): Elf32Image {
  if (img.length < ELF32_EHDR_SIZE || img[0] !== 0x7f || img[1] !== 0x45 || img[2] !== 0x4c || img[3] !== 0x46) {
    fail('not an ELF file');
  }
  if (img[4] !== 1) fail('not a 32-bit ELF file');
  if (img[5] !== 1) fail('not a little-endian ELF file');
  const view = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const u16 = (o: number) => view.getUint16(o, true);
  const u32 = (o: number) => view.getUint32(o, true);
  if (u16(18) !== EM_386) fail(`ELF machine ${u16(18)} is not i386 (3)`);
  const entry = u32(24);
  const phoff = u32(28);
  const phentsize = u16(42);
  const phnum = u16(44);
  if (phnum === 0) fail('no program headers');
  if (phentsize !== ELF32_PHDR_SIZE) fail(`program header size ${phentsize} is not ${ELF32_PHDR_SIZE}`);
  if (phoff + phnum * ELF32_PHDR_SIZE > img.length) fail('program headers lie outside the file');

  interface Segment { paddr: number; offset: number; filesz: number; memsz: number }
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * ELF32_PHDR_SIZE;
    if (u32(ph) !== PT_LOAD) continue;
    const seg = { offset: u32(ph + 4), paddr: u32(ph + 12), filesz: u32(ph + 16), memsz: u32(ph + 20) };
    if (seg.memsz === 0) continue;
    if (seg.filesz > seg.memsz) fail(`segment ${i}: p_filesz is larger than p_memsz`);
    if (seg.offset + seg.filesz > img.length) fail(`segment ${i} lies outside the file`);
    if (seg.paddr + seg.memsz > 2 ** 32) fail(`segment ${i} does not fit in the 32-bit address space`);
    segments.push(seg);
  }
  if (segments.length === 0) fail('no loadable segments');
  const low = Math.min(...segments.map((s) => s.paddr));
  const high = Math.max(...segments.map((s) => s.paddr + s.memsz));
  if (high - low > maxBytes) fail(`its segments span ${high - low} bytes, more than guest RAM`);
  const bytes = new Uint8Array(high - low);
  for (const s of segments) bytes.set(img.subarray(s.offset, s.offset + s.filesz), s.paddr - low);
  return { low, high, entry, bytes };
}
