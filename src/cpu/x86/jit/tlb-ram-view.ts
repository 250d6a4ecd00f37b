/**
 * What translated code needs for its inlined TLB hit, shared by the 32-bit (flat-memory.ts)
 * and 64-bit (long-memory.ts) access paths: the TLB's read and write tags and RAM offsets,
 * guest RAM as bytes and (when aligned) as dwords, and the code-page marks. A block binds them
 * to short local names once (TLB_RAM_PRELUDE) and operands.ts/operands64.ts use those names.
 *
 * Blocks test the TLB's int32 forms (TR = jitTagRead, TW = jitTagWrite: the page number's bits
 * above the slot's; RO = jitRamOffset): with the Float64 tags and offsets every hit converted
 * between doubles and integers several times. Measured from the i386 decompressor snapshot,
 * 800 M instructions: 7.71 s before, 7.02 s after (mean of 3; runs vary by ±1 s); amd64,
 * 1.7 G instructions: 23.4 s before, 20.0 s after.
 */
import type { X86Cpu } from '../cpu.js';

export interface TlbRamView {
  readonly tagRead: Float64Array;
  readonly tagWrite: Float64Array;
  readonly ramOffset: Float64Array;
  /** The int32 forms of the hit (Tlb.jitTagRead/jitTagWrite/jitRamOffset) that blocks inline. */
  readonly jitTagRead: Int32Array;
  readonly jitTagWrite: Int32Array;
  readonly jitRamOffset: Int32Array;
  readonly ram: Uint8Array;
  /** RAM as dwords when `aligned` is 0; empty otherwise. */
  readonly ram32: Int32Array;
  /** 0 when `ram32` views RAM, else 4 (never equal to `index & 3`). */
  readonly aligned: number;
  readonly codePages: Uint8Array;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function makeTlbRamView(cpu: X86Cpu): TlbRamView {
  const tlb = cpu.mmu.tlb;
  const ram = cpu.bus.mem.ram;
  const aligned32 = LITTLE_ENDIAN && ram.byteOffset % 4 === 0 && ram.length % 4 === 0;
  return {
    tagRead: tlb.tagRead,
    tagWrite: tlb.tagWrite,
    ramOffset: tlb.ramOffset,
    jitTagRead: tlb.jitTagRead,
    jitTagWrite: tlb.jitTagWrite,
    jitRamOffset: tlb.jitRamOffset,
    ram,
    ram32: aligned32 ? new Int32Array(ram.buffer, ram.byteOffset, ram.length / 4) : new Int32Array(0),
    aligned: aligned32 ? 0 : 4,
    codePages: cpu.bus.mem.codePages,
  };
}

/** Block source that binds the view `v` (a factory parameter's name) to the names operands use. */
export function tlbRamPrelude(v: string): string {
  return `const TR = ${v}.jitTagRead, TW = ${v}.jitTagWrite, RO = ${v}.jitRamOffset, R8 = ${v}.ram, R32 = ${v}.ram32, RA = ${v}.aligned, CP = ${v}.codePages;\n`;
}
