/**
 * Memory access for translated 64-bit-mode code (SDM Vol. 3A 5.3.1): no segment has a limit
 * or type check, only FS and GS have a base, and an access must be canonical. The offset is
 * a signed 64-bit number, as the interpreter's `eaOff`; the linear address goes to the TLB
 * (tlb.ts) as its 48-bit form (`linear48`), and on a hit on a RAM page straight to guest RAM.
 * Everything else — a non-canonical address, a TLB miss, a page crossing, MMIO — takes the
 * CPU's own path (`cpu.readN(seg, off)`), which checks, walks, faults and counts exactly as
 * the interpreter does.
 *
 * 64-bit values follow X86Cpu's convention: reads return the low half (unsigned) and leave the
 * high half (signed int32) in `cpu.hi`; writes take both halves.
 *
 * One set of these functions per CPU, shared by all blocks (as flat-memory.ts).
 */
import { TLB_BITS, TLB_MASK } from '../tlb.js';
import { CANONICAL_LIMIT } from '../long-decode.js';
import { SegReg } from '../state.js';
import type { X86Cpu } from '../cpu.js';
import { makeTlbRamView, type TlbRamView } from './tlb-ram-view.js';

/** `TlbRamView`: the arrays translated code reads for its inlined TLB hit (operands64.ts). */
export interface LongAccess extends TlbRamView {
  /**
   * Set when a write took the CPU's path (MMIO, a TLB miss): a device may have asked the run
   * loop to look (an exit request, a new interrupt), which the block then checks.
   */
  slowWrite: boolean;
  rd8(off: number, set: number, seg: number): number;
  rd16(off: number, set: number, seg: number): number;
  rd32(off: number, set: number, seg: number): number;
  /** Low half; the high half in cpu.hi. */
  rd64(off: number, set: number, seg: number): number;
  wr8(off: number, set: number, seg: number, v: number): void;
  wr16(off: number, set: number, seg: number, v: number): void;
  wr32(off: number, set: number, seg: number, v: number): void;
  wr64(off: number, set: number, seg: number, lo: number, hi: number): void;
}

const TWO_48 = 0x1000000000000;

export function makeLongAccess(cpu: X86Cpu): LongAccess {
  const mem = cpu.bus.mem;
  const view = makeTlbRamView(cpu);
  const { tagRead, tagWrite, ramOffset, ram, ram32, codePages } = view;
  const aligned32 = view.aligned === 0;
  const segBase = cpu.s.segBase;

  /**
   * RAM index of a `size`-byte read at offset `off` in `seg` that is canonical, stays in its
   * page and hits the TLB, or -1 (the CPU's path then decides).
   */
  function readIndex(off: number, seg: number, set: number, size: number): number {
    const lin = seg >= SegReg.FS ? off + segBase[seg]! : off;
    if (lin < -CANONICAL_LIMIT || lin > CANONICAL_LIMIT - size) return -1;
    const l = lin < 0 ? lin + TWO_48 : lin;
    const o = l & 0xfff; // exact: l is an integer below 2^48
    if (o > 4096 - size) return -1;
    const vpn = (l - o) / 4096;
    const i = (set << TLB_BITS) | (vpn & TLB_MASK);
    if (tagRead[i] !== vpn) return -1;
    const r = ramOffset[i]!;
    return r < 0 ? -1 : r + o;
  }

  /** readIndex for a write (the write tag: writable and dirty); marks translated code stale. */
  function writeIndex(off: number, seg: number, set: number, size: number): number {
    const lin = seg >= SegReg.FS ? off + segBase[seg]! : off;
    if (lin < -CANONICAL_LIMIT || lin > CANONICAL_LIMIT - size) return -1;
    const l = lin < 0 ? lin + TWO_48 : lin;
    const o = l & 0xfff;
    if (o > 4096 - size) return -1;
    const vpn = (l - o) / 4096;
    const i = (set << TLB_BITS) | (vpn & TLB_MASK);
    if (tagWrite[i] !== vpn) return -1;
    const r = ramOffset[i]!;
    if (r < 0) return -1;
    // Translated code made from this page is stale now (self-modifying code).
    if (codePages[r / 4096] !== 0) mem.onCodeWrite?.(r + o, size);
    return r + o;
  }

  function word(a: number): number {
    if ((a & 3) === 0 && aligned32) return ram32[a / 4]! >>> 0;
    return (ram[a]! | (ram[a + 1]! << 8) | (ram[a + 2]! << 16) | (ram[a + 3]! << 24)) >>> 0;
  }

  function setWord(a: number, v: number): void {
    if ((a & 3) === 0 && aligned32) {
      ram32[a / 4] = v;
      return;
    }
    ram[a] = v;
    ram[a + 1] = v >>> 8;
    ram[a + 2] = v >>> 16;
    ram[a + 3] = v >>> 24;
  }

  const access: LongAccess = {
    slowWrite: false,
    ...view,
    rd8(off, set, seg) {
      const a = readIndex(off, seg, set, 1);
      return a >= 0 ? ram[a]! : cpu.read8(seg, off);
    },
    rd16(off, set, seg) {
      const a = readIndex(off, seg, set, 2);
      return a >= 0 ? ram[a]! | (ram[a + 1]! << 8) : cpu.read16(seg, off);
    },
    rd32(off, set, seg) {
      const a = readIndex(off, seg, set, 4);
      return a >= 0 ? word(a) : cpu.read32(seg, off);
    },
    rd64(off, set, seg) {
      const a = readIndex(off, seg, set, 8);
      if (a < 0) return cpu.read64(seg, off);
      cpu.hi = word(a + 4) | 0;
      return word(a);
    },
    wr8(off, set, seg, v) {
      const a = writeIndex(off, seg, set, 1);
      if (a >= 0) {
        ram[a] = v;
        return;
      }
      access.slowWrite = true;
      cpu.write8(seg, off, v);
    },
    wr16(off, set, seg, v) {
      const a = writeIndex(off, seg, set, 2);
      if (a < 0) {
        access.slowWrite = true;
        cpu.write16(seg, off, v);
        return;
      }
      ram[a] = v;
      ram[a + 1] = v >>> 8;
    },
    wr32(off, set, seg, v) {
      const a = writeIndex(off, seg, set, 4);
      if (a >= 0) {
        setWord(a, v);
        return;
      }
      access.slowWrite = true;
      cpu.write32(seg, off, v);
    },
    wr64(off, set, seg, lo, hi) {
      const a = writeIndex(off, seg, set, 8);
      if (a < 0) {
        access.slowWrite = true;
        cpu.write64(seg, off, lo, hi);
        return;
      }
      setWord(a, lo);
      setWord(a + 4, hi);
    },
  };
  return access;
}
