/**
 * Segment register loads and descriptor-table access (SDM Vol. 3A 3.4-3.5, 5.5-5.8).
 *
 * Real mode and virtual-8086 mode: a load changes selector and base (selector << 4) only,
 * keeping the cached limit and attributes — which is what makes "unreal mode" work.
 * Protected mode: the descriptor is read from the GDT or LDT, checked, its accessed bit set.
 */
import { Ar, Fl, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import type { X86Cpu } from './cpu.js';
import { loadVm86Segment } from './vm86.js';

/** A descriptor as read from a table. */
export interface Descriptor {
  base: number;
  /** Limit in bytes, granularity applied. */
  limit: number;
  /** Access rights in the VMX layout (see state.ts). */
  ar: number;
  /** The raw high dword (for gates). */
  hi: number;
  lo: number;
}

const scratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };

/**
 * Linear address of the descriptor for `selector`, or raises `vector` (#GP unless told) with
 * the selector's index and TI bit past the table's limit. `ext` is the EXT bit (SDM Vol. 3A
 * 6.13) of a fault during the delivery of an event other than INT n/INT3/INTO.
 */
export function descriptorAddress(cpu: X86Cpu, selector: number, vector = Vec.GP, ext = 0): number {
  const s = cpu.s;
  const index = selector & 0xfff8;
  if (selector & 4) {
    if (s.segAr[SegReg.LDTR]! & Ar.UNUSABLE || index + 7 > s.segLimit[SegReg.LDTR]!) cpu.raise(vector, (selector & 0xfffc) | ext);
    return s.segBase[SegReg.LDTR]! + index;
  }
  if (index + 7 > s.gdtLimit) cpu.raise(vector, (selector & 0xfffc) | ext);
  return s.gdtBase + index;
}

/** Reads and parses the descriptor for `selector` into a shared scratch object (faults as descriptorAddress). */
export function readDescriptor(cpu: X86Cpu, selector: number, vector = Vec.GP, ext = 0): Descriptor {
  const addr = descriptorAddress(cpu, selector, vector, ext);
  const lo = cpu.readLinear(addr, 4);
  const hi = cpu.readLinear(addr + 4, 4);
  return parseDescriptor(lo, hi, scratch);
}

export function parseDescriptor(lo: number, hi: number, out: Descriptor): Descriptor {
  out.lo = lo;
  out.hi = hi;
  out.base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if (hi & 0x800000) limit = ((limit << 12) | 0xfff) >>> 0;
  out.limit = limit;
  out.ar = (hi >>> 8) & 0xf0ff;
  return out;
}

/** Copies a descriptor out of the shared scratch object that readDescriptor returns. */
export function copyDescriptor(d: Descriptor, out: Descriptor): Descriptor {
  return parseDescriptor(d.lo, d.hi, out);
}

/** Sets the accessed bit of a code/data descriptor in memory if it is clear. */
export function setAccessed(cpu: X86Cpu, selector: number, d: Descriptor): void {
  if ((d.ar & Ar.S) && !(d.ar & 1)) {
    const addr = descriptorAddress(cpu, selector);
    cpu.writeLinear(addr + 5, 1, ((d.hi >>> 8) & 0xff) | 1);
    d.ar |= 1;
  }
}

function setCache(cpu: X86Cpu, seg: number, selector: number, d: Descriptor): void {
  const s = cpu.s;
  s.segSel[seg] = selector;
  s.segBase[seg] = d.base;
  s.segLimit[seg] = d.limit;
  // CPL is read from CS's cached DPL (X86Cpu.updateMode), and every CS load sets CS.RPL to
  // the new CPL: a conforming segment, whose DPL may be below CPL, is cached with DPL = RPL.
  s.segAr[seg] = seg === SegReg.CS ? (d.ar & ~(3 << Ar.DPL_SHIFT)) | ((selector & 3) << Ar.DPL_SHIFT) : d.ar;
}

/** MOV/POP/LxS to a segment register, and same-privilege far jumps for CS. */
export function loadSegment(cpu: X86Cpu, seg: number, selector: number): void {
  const s = cpu.s;
  selector &= 0xffff;
  if (!cpu.protectedMode) {
    s.segSel[seg] = selector;
    s.segBase[seg] = selector << 4;
    if (s.eflags & Fl.VM) {
      // Virtual-8086 segments are always 64 KiB, DPL 3 read/write data (vm86.ts).
      loadVm86Segment(cpu, seg, selector);
    } else if (seg === SegReg.CS) {
      // A real-mode CS load leaves a 16-bit, present, readable code segment.
      s.segAr[seg] = (s.segAr[seg]! & ~(Ar.DB | Ar.L | Ar.UNUSABLE)) | Ar.P | Ar.S | 0xb;
    } else {
      s.segAr[seg] = (s.segAr[seg]! & ~Ar.UNUSABLE) | Ar.P;
    }
    if (seg === SegReg.SS || seg === SegReg.CS) cpu.updateMode();
    return;
  }
  const rpl = selector & 3;
  const cpl = cpu.cpl;
  if ((selector & 0xfffc) === 0) {
    // 64-bit mode allows a null SS at CPL 0-2 with RPL = CPL (SDM Vol. 3A 5.8.8).
    const nullSsOk = seg === SegReg.SS && cpu.mode64 && cpl !== 3 && rpl === cpl;
    if ((seg === SegReg.SS && !nullSsOk) || seg === SegReg.CS) cpu.gp(0);
    // A null selector in a data segment register is legal until used.
    s.segSel[seg] = selector;
    s.segBase[seg] = 0;
    s.segLimit[seg] = 0;
    s.segAr[seg] = Ar.UNUSABLE;
    return;
  }
  const d = readDescriptor(cpu, selector);
  const ar = d.ar;
  const dpl = (ar >> Ar.DPL_SHIFT) & 3;
  const isCode = (ar & Ar.S) !== 0 && (ar & 0x8) !== 0;
  const isData = (ar & Ar.S) !== 0 && (ar & 0x8) === 0;
  const err = selector & 0xfffc;
  if (seg === SegReg.SS) {
    if (rpl !== cpl || dpl !== cpl || !isData || !(ar & 0x2)) cpu.gp(err);
    if (!(ar & Ar.P)) cpu.raise(Vec.SS, err);
  } else if (seg === SegReg.CS) {
    if (!isCode) cpu.gp(err);
    if (ar & 0x4) {
      if (dpl > cpl) cpu.gp(err); // conforming
    } else if (rpl > cpl || dpl !== cpl) {
      cpu.gp(err);
    }
    if (!(ar & Ar.P)) cpu.raise(Vec.NP, err);
    // L and D together are reserved in IA-32e mode.
    if (cpu.lma && (ar & Ar.L) && (ar & Ar.DB)) cpu.gp(err);
    selector = (selector & 0xfffc) | cpl;
  } else {
    if (!isData && !(isCode && (ar & 0x2))) cpu.gp(err);
    const conformingCode = isCode && (ar & 0x4) !== 0;
    if (!conformingCode && (dpl < cpl || dpl < rpl)) cpu.gp(err);
    if (!(ar & Ar.P)) cpu.raise(Vec.NP, err);
  }
  setAccessed(cpu, selector, d);
  setCache(cpu, seg, selector, d);
  if (seg === SegReg.SS || seg === SegReg.CS) cpu.updateMode();
}

/**
 * Loads CS (or SS) for a privilege-changing transfer (interrupts, far RET/IRET to an outer
 * level) after the caller has done the transfer-specific checks.
 */
export function loadSegmentUnchecked(cpu: X86Cpu, seg: number, selector: number, d: Descriptor): void {
  setAccessed(cpu, selector, d);
  setCache(cpu, seg, selector, d);
}

/**
 * After a return to an outer privilege level, data segment registers whose descriptors the
 * new CPL may not use are nulled (SDM: RET/IRET "check segment registers").
 */
export function invalidateOuterSegments(cpu: X86Cpu): void {
  const s = cpu.s;
  for (const seg of [SegReg.ES, SegReg.DS, SegReg.FS, SegReg.GS]) {
    const ar = s.segAr[seg]!;
    if (ar & Ar.UNUSABLE) continue;
    const dpl = (ar >> Ar.DPL_SHIFT) & 3;
    const conformingCode = (ar & 0xc) === 0xc;
    if (!conformingCode && dpl < cpu.cpl) {
      s.segSel[seg] = 0;
      s.segAr[seg] = Ar.UNUSABLE;
    }
  }
}
