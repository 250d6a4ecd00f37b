/**
 * String instructions MOVS CMPS STOS LODS SCAS INS OUTS, with REP/REPE/REPNE (SDM Vol. 2).
 *
 * A repeated instruction runs its iterations in a loop here, but keeps the architectural
 * state exact after each one (ECX, ESI, EDI updated per element), so a fault in the middle
 * restarts the instruction with the remaining count, as hardware does. Long repetitions are
 * cut into chunks so that interrupts are taken between them (the instruction restarts).
 */
import { alu, AluOp } from './alu.js';
import { Fl, Reg, SegReg } from './state.js';
import type { X86Cpu } from './cpu.js';
import type { AccessSize } from '../../memory/io-bus.js';

/** Iterations done in one go before letting interrupts in (the instruction then restarts). */
const CHUNK = 4096;

export const enum StrOp { Movs, Cmps, Stos, Lods, Scas, Ins, Outs }

export function stringOp(cpu: X86Cpu, op: StrOp, size: number): void {
  const s = cpu.s;
  const g = s.gpr;
  const a32 = cpu.adSize === 32;
  const amask = a32 ? 0xffffffff : 0xffff;
  const step = s.eflags & Fl.DF ? -(size / 8) : size / 8;
  const rep = cpu.repPrefix;
  const src = cpu.dataSeg;
  const bytes = (size / 8) as AccessSize;
  let count = rep ? (a32 ? g[Reg.ECX]! >>> 0 : g[Reg.ECX]! & 0xffff) : 1;
  if (count === 0) return;
  let n = 0;
  for (; n < CHUNK && count > 0; n++) {
    const si = a32 ? g[Reg.ESI]! >>> 0 : g[Reg.ESI]! & 0xffff;
    const di = a32 ? g[Reg.EDI]! >>> 0 : g[Reg.EDI]! & 0xffff;
    let stop = false;
    switch (op) {
      case StrOp.Movs:
        cpu.writeSized(size, SegReg.ES, di, cpu.readSized(size, src, si));
        advance(cpu, Reg.ESI, si, step, amask);
        advance(cpu, Reg.EDI, di, step, amask);
        break;
      case StrOp.Cmps: {
        const a = cpu.readSized(size, src, si);
        const b = cpu.readSized(size, SegReg.ES, di);
        alu(cpu, AluOp.Cmp, size, a, b);
        advance(cpu, Reg.ESI, si, step, amask);
        advance(cpu, Reg.EDI, di, step, amask);
        stop = rep === 0xf3 ? !cpu.getZF() : rep === 0xf2 ? cpu.getZF() : false;
        break;
      }
      case StrOp.Stos:
        cpu.writeSized(size, SegReg.ES, di, cpu.getReg(size, Reg.EAX));
        advance(cpu, Reg.EDI, di, step, amask);
        break;
      case StrOp.Lods:
        cpu.setReg(size, Reg.EAX, cpu.readSized(size, src, si));
        advance(cpu, Reg.ESI, si, step, amask);
        break;
      case StrOp.Scas: {
        const b = cpu.readSized(size, SegReg.ES, di);
        alu(cpu, AluOp.Cmp, size, cpu.getReg(size, Reg.EAX), b);
        advance(cpu, Reg.EDI, di, step, amask);
        stop = rep === 0xf3 ? !cpu.getZF() : rep === 0xf2 ? cpu.getZF() : false;
        break;
      }
      case StrOp.Ins: {
        const port = g[Reg.EDX]! & 0xffff;
        // Check the destination is writable before the port read has side effects.
        cpu.segAddr(SegReg.ES, di, size / 8, true);
        const v = cpu.portIn(port, bytes);
        cpu.writeSized(size, SegReg.ES, di, v);
        advance(cpu, Reg.EDI, di, step, amask);
        break;
      }
      default: { // Outs
        const port = g[Reg.EDX]! & 0xffff;
        cpu.portOut(port, bytes, cpu.readSized(size, src, si));
        advance(cpu, Reg.ESI, si, step, amask);
        break;
      }
    }
    count--;
    if (rep) {
      if (a32) g[Reg.ECX] = count;
      else g[Reg.ECX] = (g[Reg.ECX]! & ~0xffff) | count;
      if (stop) return;
    }
  }
  // Not finished: restart the instruction so that pending interrupts are taken in between.
  if (rep && count > 0) s.eip = cpu.startEip;
}

function advance(cpu: X86Cpu, reg: number, value: number, step: number, amask: number): void {
  const g = cpu.s.gpr;
  const v = (value + step) & amask;
  if (amask === 0xffff) g[reg] = (g[reg]! & ~0xffff) | v;
  else g[reg] = v;
}
