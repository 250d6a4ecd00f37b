/**
 * Builds BIOS images for tests: a 64 KiB ROM whose reset vector (offset 0xFFF0) jumps to
 * code placed at offset 0 (F000:0000 once the CPU runs from the low alias).
 */
export function romWithCode(code: number[], resetVector?: number[]): Uint8Array {
  const rom = new Uint8Array(0x10000).fill(0xf4); // HLT everywhere
  rom.set(code, 0);
  // JMP F000:0000
  rom.set(resetVector ?? [0xea, 0x00, 0x00, 0x00, 0xf0], 0xfff0);
  return rom;
}
