/**
 * Memory access for translated code through a flat segment (base 0, limit 4 GiB, a writable
 * expand-up data segment: the block checks that on entry). Offset and linear address are the
 * same then, so the access goes straight to the TLB (tlb.ts) and, on a hit on a RAM page, to
 * guest RAM. Everything else — a TLB miss, a page crossing, MMIO, an offset whose last byte
 * would pass 4 GiB — takes the CPU's own path (`cpu.readN(seg, off)`), which checks, walks,
 * faults and counts exactly as the interpreter does.
 *
 * One set of these functions per CPU, shared by all blocks, so the host engine optimizes them
 * once.
 */
import { TLB_BITS, TLB_MASK } from '../tlb.js';
import type { X86Cpu } from '../cpu.js';
import { makeTlbRamView, type TlbRamView } from './tlb-ram-view.js';

/** `TlbRamView`: the arrays translated code reads for its inlined TLB hit (operands.ts). */
export interface FlatAccess extends TlbRamView {
  rd8(ea: number, set: number, seg: number): number;
  rd16(ea: number, set: number, seg: number): number;
  rd32(ea: number, set: number, seg: number): number;
  wr8(ea: number, set: number, seg: number, v: number): void;
  wr16(ea: number, set: number, seg: number, v: number): void;
  wr32(ea: number, set: number, seg: number, v: number): void;
  /** POP through a flat 32-bit SS (X86Cpu.pop: read, then move ESP). */
  popFlat16(set: number): number;
  popFlat32(set: number): number;
}

export function makeFlatAccess(cpu: X86Cpu): FlatAccess {
  const mem = cpu.bus.mem;
  const view = makeTlbRamView(cpu);
  const { tagRead, tagWrite, ramOffset, ram, ram32, codePages } = view;
  const aligned32 = view.aligned === 0;

  /** RAM index of `ea` for a `size`-byte read that stays in its page, or -1. */
  function readIndex(ea: number, set: number, size: number): number {
    const off = ea & 0xfff;
    const vpn = (ea - off) / 4096;
    const i = (set << TLB_BITS) | (vpn & TLB_MASK);
    if (tagRead[i] !== vpn || off + size > 4096) return -1;
    const r = ramOffset[i]!;
    return r < 0 ? -1 : r + off;
  }

  function writeIndex(ea: number, set: number, size: number): number {
    const off = ea & 0xfff;
    const vpn = (ea - off) / 4096;
    const i = (set << TLB_BITS) | (vpn & TLB_MASK);
    if (tagWrite[i] !== vpn || off + size > 4096) return -1;
    const r = ramOffset[i]!;
    if (r < 0) return -1;
    // Translated code made from this page is stale now (self-modifying code).
    if (codePages[r / 4096] !== 0) mem.onCodeWrite?.(r + off, size);
    return r + off;
  }

  const gpr = cpu.s.gpr;
  const access: FlatAccess = {
    ...view,
    rd8(ea, set, seg) {
      const a = readIndex(ea, set, 1);
      return a >= 0 ? ram[a]! : cpu.read8(seg, ea);
    },
    rd16(ea, set, seg) {
      const a = readIndex(ea, set, 2);
      return a >= 0 ? ram[a]! | (ram[a + 1]! << 8) : cpu.read16(seg, ea);
    },
    rd32(ea, set, seg) {
      const a = readIndex(ea, set, 4);
      if (a < 0) return cpu.read32(seg, ea);
      if ((a & 3) === 0 && aligned32) return ram32[a / 4]! >>> 0;
      return (ram[a]! | (ram[a + 1]! << 8) | (ram[a + 2]! << 16) | (ram[a + 3]! << 24)) >>> 0;
    },
    wr8(ea, set, seg, v) {
      const a = writeIndex(ea, set, 1);
      if (a < 0) cpu.write8(seg, ea, v);
      else ram[a] = v;
    },
    wr16(ea, set, seg, v) {
      const a = writeIndex(ea, set, 2);
      if (a < 0) {
        cpu.write16(seg, ea, v);
        return;
      }
      ram[a] = v;
      ram[a + 1] = v >>> 8;
    },
    wr32(ea, set, seg, v) {
      const a = writeIndex(ea, set, 4);
      if (a < 0) {
        cpu.write32(seg, ea, v);
        return;
      }
      if ((a & 3) === 0 && aligned32) {
        ram32[a / 4] = v;
        return;
      }
      ram[a] = v;
      ram[a + 1] = v >>> 8;
      ram[a + 2] = v >>> 16;
      ram[a + 3] = v >>> 24;
    },
    popFlat16(set) {
      const sp = gpr[4]! >>> 0;
      const v = access.rd16(sp, set, 2);
      gpr[4] = sp + 2;
      return v;
    },
    popFlat32(set) {
      const sp = gpr[4]! >>> 0;
      const v = access.rd32(sp, set, 2);
      gpr[4] = sp + 4;
      return v;
    },
  };
  return access;
}
