/**
 * String instructions MOVS CMPS STOS LODS SCAS INS OUTS, with REP/REPE/REPNE (SDM Vol. 2).
 *
 * A repeated instruction runs its iterations in a loop here, but keeps the architectural
 * state exact after each one (ECX, ESI, EDI updated per element), so a fault in the middle
 * restarts the instruction with the remaining count, as hardware does. Long repetitions are
 * cut into chunks so that interrupts are taken between them (the instruction restarts).
 */
import { alu, AluOp } from './alu.js';
import { alu64 } from './alu64.js';
import { Ar, Fl, Reg, SegReg } from './state.js';
import { Access } from './paging.js';
import type { X86Cpu } from './cpu.js';
import type { AccessSize } from '../../memory/io-bus.js';

/** Iterations done in one go before letting interrupts in (the instruction then restarts). */
const CHUNK = 4096;

export const enum StrOp { Movs, Cmps, Stos, Lods, Scas, Ins, Outs }

export function stringOp(cpu: X86Cpu, op: StrOp, size: number): void {
  const s = cpu.s;
  const g = s.gpr;
  const ad = cpu.adSize;
  /** Offset mask of the address size; -1 in 64-bit mode, where limits do not apply. */
  const amask = ad === 32 ? 0xffffffff : ad === 16 ? 0xffff : -1;
  const step = s.eflags & Fl.DF ? -(size / 8) : size / 8;
  const rep = cpu.repPrefix;
  const src = cpu.dataSeg;
  const bytes = (size / 8) as AccessSize;
  let count = rep ? indexReg(cpu, Reg.ECX, ad) : 1;
  if (count === 0) return;
  // A #DB trap waiting (single step, or a breakpoint hit): one iteration, then the trap
  // (SDM 18.3.1.4: a REP string instruction is stepped one iteration at a time).
  const chunk = s.pendingDebug !== 0 ? 1 : CHUNK;
  // REP MOVS/STOS between RAM pages go a page at a time (blockMove below).
  const block = rep !== 0 && (op === StrOp.Movs || op === StrOp.Stos) && !expandDown(cpu, SegReg.ES) && (op === StrOp.Stos || !expandDown(cpu, src));
  let n = 0;
  for (; n < chunk && count > 0; n++) {
    const si = indexReg(cpu, Reg.ESI, ad);
    const di = indexReg(cpu, Reg.EDI, ad);
    if (block) {
      const m = blockMove(cpu, op === StrOp.Movs, size / 8, src, si, di, Math.min(count, chunk - n), step < 0, amask);
      if (m > 0) {
        const delta = step * m;
        if (op === StrOp.Movs) advance(cpu, Reg.ESI, si, delta, ad);
        advance(cpu, Reg.EDI, di, delta, ad);
        count -= m;
        setIndexReg(cpu, Reg.ECX, count, ad);
        n += m - 1;
        continue;
      }
    }
    let stop = false;
    switch (op) {
      case StrOp.Movs:
        cpu.writeSized(size, SegReg.ES, di, cpu.readSized(size, src, si));
        advance(cpu, Reg.ESI, si, step, ad);
        advance(cpu, Reg.EDI, di, step, ad);
        break;
      case StrOp.Cmps: {
        const a = cpu.readSized(size, src, si);
        const aHi = cpu.hi;
        const b = cpu.readSized(size, SegReg.ES, di);
        if (size === 64) alu64(cpu, AluOp.Cmp, a, aHi, b, cpu.hi);
        else alu(cpu, AluOp.Cmp, size, a, b);
        advance(cpu, Reg.ESI, si, step, ad);
        advance(cpu, Reg.EDI, di, step, ad);
        stop = rep === 0xf3 ? !cpu.getZF() : rep === 0xf2 ? cpu.getZF() : false;
        break;
      }
      case StrOp.Stos:
        cpu.writeSized(size, SegReg.ES, di, cpu.getReg(size, Reg.EAX));
        advance(cpu, Reg.EDI, di, step, ad);
        break;
      case StrOp.Lods:
        cpu.setReg(size, Reg.EAX, cpu.readSized(size, src, si));
        advance(cpu, Reg.ESI, si, step, ad);
        break;
      case StrOp.Scas: {
        const b = cpu.readSized(size, SegReg.ES, di);
        if (size === 64) alu64(cpu, AluOp.Cmp, g[Reg.EAX]!, s.gprHi[Reg.EAX]!, b, cpu.hi);
        else alu(cpu, AluOp.Cmp, size, cpu.getReg(size, Reg.EAX), b);
        advance(cpu, Reg.EDI, di, step, ad);
        stop = rep === 0xf3 ? !cpu.getZF() : rep === 0xf2 ? cpu.getZF() : false;
        break;
      }
      case StrOp.Ins: {
        const port = g[Reg.EDX]! & 0xffff;
        // Check the destination is writable before the port read has side effects.
        cpu.segAddr(SegReg.ES, di, size / 8, true);
        const v = cpu.portIn(port, bytes);
        cpu.writeSized(size, SegReg.ES, di, v);
        advance(cpu, Reg.EDI, di, step, ad);
        break;
      }
      default: { // Outs
        const port = g[Reg.EDX]! & 0xffff;
        cpu.portOut(port, bytes, cpu.readSized(size, src, si));
        advance(cpu, Reg.ESI, si, step, ad);
        break;
      }
    }
    count--;
    if (rep) {
      setIndexReg(cpu, Reg.ECX, count, ad);
      if (stop) return;
      // A data or I/O breakpoint hit: the trap comes after this iteration (SDM 18.3.1.2).
      if (s.pendingDebug !== 0) break;
    }
  }
  // Not finished: restart the instruction so that pending interrupts are taken in between.
  // An event between iterations pushes RF = 1, so that an instruction breakpoint on the
  // instruction does not fire again when it resumes (SDM 18.3.1.1).
  if (rep && count > 0) {
    s.eip = cpu.startEip;
    if (cpu.mode64) s.ripHi = cpu.startRipHi;
    s.eflags |= Fl.RF;
    cpu.debug.update();
  }
}

/** rSI, rDI or rCX at address size `ad` (64: a signed number, exact below 2^53). */
function indexReg(cpu: X86Cpu, reg: number, ad: number): number {
  const g = cpu.s.gpr;
  return ad === 32 ? g[reg]! >>> 0 : ad === 16 ? g[reg]! & 0xffff : cpu.reg64(reg);
}

/** Writes rSI, rDI or rCX at address size `ad` (32-bit writes zero-extend, 16-bit ones merge). */
function setIndexReg(cpu: X86Cpu, reg: number, v: number, ad: number): void {
  const g = cpu.s.gpr;
  if (ad === 32) cpu.setReg32(reg, v);
  else if (ad === 16) g[reg] = (g[reg]! & ~0xffff) | (v & 0xffff);
  else cpu.setReg64From(reg, v);
}

function advance(cpu: X86Cpu, reg: number, value: number, step: number, ad: number): void {
  setIndexReg(cpu, reg, ad === 32 ? (value + step) >>> 0 : value + step, ad);
}

function expandDown(cpu: X86Cpu, seg: number): boolean {
  return cpu.protectedMode && (cpu.s.segAr[seg]! & (Ar.S | 0xc)) === (Ar.S | 0x4);
}

/**
 * Does up to `max` iterations of REP MOVS (`movs`) or REP STOS straight in guest RAM, as many
 * as stay within the segment limits, without wrapping the offsets, and inside one source and
 * one destination page. Returns how many it did; 0 sends the caller to the one-element path
 * (MMIO or ROM, an element crossing a page or the limit). The first element's checks run in
 * the order one iteration does them (source segment, source page, destination segment,
 * destination page), so a fault is raised exactly where the element-wise loop raises it.
 * Elements are copied one at a time in the direction of DF, so overlapping moves behave as
 * on hardware.
 */
function blockMove(cpu: X86Cpu, movs: boolean, bytes: number, src: number, si: number, di: number, max: number, down: boolean, amask: number): number {
  const s = cpu.s;
  const set = cpu.tlbSet;
  let m = Math.min(max, inSegment(s.segLimit[SegReg.ES]!, di, bytes, down, amask));
  let from = 0;
  if (movs) {
    m = Math.min(m, inSegment(s.segLimit[src]!, si, bytes, down, amask));
    if (m < 2) return 0;
    const sLin = cpu.segAddr(src, si, bytes, false);
    from = cpu.mmu.ramIndex(sLin, Access.Read, set);
    if (from < 0) return 0;
    m = Math.min(m, inPage(sLin, bytes, down));
  }
  if (m < 2) return 0;
  const dLin = cpu.segAddr(SegReg.ES, di, bytes, true);
  const to = cpu.mmu.ramIndex(dLin, Access.Write, set);
  if (to < 0) return 0;
  m = Math.min(m, inPage(dLin, bytes, down));
  if (m < 2) return 0;
  const ram = cpu.bus.mem.ram;
  // Drop any code translated from the bytes about to be written (all in this page).
  cpu.bus.mem.noteRamWrite(down ? to - (m - 1) * bytes : to, m * bytes);
  const st = down ? -bytes : bytes;
  let d = to;
  if (movs) {
    let f = from;
    const len = m * bytes;
    // Copying in the direction of DF reads every byte before overwriting it exactly when the
    // destination does not lie ahead of the source within the range: then it is a memmove.
    if (down ? d >= f || d + bytes <= f - len + bytes : d <= f || d >= f + len) {
      const lo = down ? f - len + bytes : f;
      ram.copyWithin(down ? d - len + bytes : d, lo, lo + len);
      return m;
    }
    if (bytes === 1) {
      for (let k = 0; k < m; k++, f += st, d += st) ram[d] = ram[f]!;
    } else if (bytes === 2) {
      for (let k = 0; k < m; k++, f += st, d += st) {
        const v = ram[f]! | (ram[f + 1]! << 8);
        ram[d] = v;
        ram[d + 1] = v >> 8;
      }
    } else if (bytes === 8) {
      for (let k = 0; k < m; k++, f += st, d += st) {
        for (let b = 0; b < 8; b++) ram[d + b] = ram[f + b]!;
      }
    } else {
      for (let k = 0; k < m; k++, f += st, d += st) {
        const v = ram[f]! | (ram[f + 1]! << 8) | (ram[f + 2]! << 16) | (ram[f + 3]! << 24);
        ram[d] = v;
        ram[d + 1] = v >> 8;
        ram[d + 2] = v >> 16;
        ram[d + 3] = v >> 24;
      }
    }
  } else {
    const v = s.gpr[Reg.EAX]!;
    if (bytes === 1) {
      ram.fill(v & 0xff, down ? d - m + 1 : d, down ? d + 1 : d + m);
      return m;
    }
    const vHi = s.gprHi[Reg.EAX]!;
    for (let k = 0; k < m; k++, d += st) {
      ram[d] = v;
      if (bytes > 1) ram[d + 1] = v >> 8;
      if (bytes > 2) {
        ram[d + 2] = v >> 16;
        ram[d + 3] = v >> 24;
      }
      if (bytes > 4) {
        ram[d + 4] = vHi;
        ram[d + 5] = vHi >> 8;
        ram[d + 6] = vHi >> 16;
        ram[d + 7] = vHi >> 24;
      }
    }
  }
  return m;
}

/** Elements from offset `off` (in the direction of DF) that stay within `limit` and `amask`. */
function inSegment(limit: number, off: number, bytes: number, down: boolean, amask: number): number {
  // 64-bit mode: no limits; the pages bound a block. Upper-half (negative) offsets are fine:
  // an element that would wrap past 2^64 lies on another page.
  if (amask < 0) return 0x7fffffff;
  if (down) return Math.floor(off / bytes) + 1;
  return Math.max(0, Math.floor((Math.min(limit, amask) - off + 1) / bytes));
}

/** Elements from linear `lin` (in the direction of DF) that stay inside its page. */
function inPage(lin: number, bytes: number, down: boolean): number {
  const o = lin & 0xfff;
  if (o + bytes > 4096) return 0;
  return down ? Math.floor(o / bytes) + 1 : Math.floor((4096 - o) / bytes);
}
