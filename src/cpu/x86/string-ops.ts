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
import { Fl, Reg, SegReg } from './state.js';
import type { X86Cpu } from './cpu.js';
import type { AccessSize } from '../../memory/io-bus.js';

/** Iterations done in one go before letting interrupts in (the instruction then restarts). */
const CHUNK = 4096;

export const enum StrOp { Movs, Cmps, Stos, Lods, Scas, Ins, Outs }

export function stringOp(cpu: X86Cpu, op: StrOp, size: number): void {
  const s = cpu.s;
  const g = s.gpr;
  const ad = cpu.adSize;
  const step = s.eflags & Fl.DF ? -(size / 8) : size / 8;
  const rep = cpu.repPrefix;
  const src = cpu.dataSeg;
  const bytes = (size / 8) as AccessSize;
  let count = rep ? indexReg(cpu, Reg.ECX, ad) : 1;
  if (count === 0) return;
  let n = 0;
  for (; n < CHUNK && count > 0; n++) {
    const si = indexReg(cpu, Reg.ESI, ad);
    const di = indexReg(cpu, Reg.EDI, ad);
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
    }
  }
  // Not finished: restart the instruction so that pending interrupts are taken in between.
  if (rep && count > 0) {
    s.eip = cpu.startEip;
    s.ripHi = cpu.startRipHi;
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
