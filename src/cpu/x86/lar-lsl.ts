/**
 * LAR and LSL (0F 02, 0F 03; SDM Vol. 2A "LAR—Load Access Rights Byte", "LSL—Load Segment
 * Limit"): read a descriptor's access rights or byte-granular limit if the descriptor is
 * visible at CPL and RPL and of a type the instruction accepts; ZF says whether it was.
 * Neither faults on a bad selector — only the operand read and the descriptor read itself
 * can fault. Protected mode and IA-32e mode only (#UD in real and virtual-8086 mode).
 *
 * The system types each accepts (SDM LAR Table 3-52, LSL Table 3-60): call gates are
 * visible to LAR but have no limit for LSL; IA-32e mode accepts only its own 16-byte types.
 */
import { Ar, Fl, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import { readDescriptor, type Descriptor } from './segmentation.js';
import type { X86Cpu } from './cpu.js';

const bits = (...types: number[]): number => types.reduce((m, t) => m | (1 << t), 0);

/** LAR, protected mode: 16-bit TSSs, LDT, 16-bit call gate, task gate, 32-bit TSSs, 32-bit call gate. */
const LAR_LEGACY = bits(0x1, 0x2, 0x3, 0x4, 0x5, 0x9, 0xb, 0xc);
/** LAR, IA-32e mode: the 64-bit TSSs and the 64-bit call gate (the table lists the LDT as invalid). */
const LAR_IA32E = bits(0x9, 0xb, 0xc);
/** LSL, protected mode: the TSSs and the LDT, which have limits. */
const LSL_LEGACY = bits(0x1, 0x2, 0x3, 0x9, 0xb);
/** LSL, IA-32e mode: LDT, 64-bit TSSs and, as Table 3-60 lists it, type 0 (the upper half of a 16-byte descriptor). */
const LSL_IA32E = bits(0x0, 0x2, 0x9, 0xb);

/** LAR r, r/m16 (`lsl` false) or LSL r, r/m16, at the operand size (16, 32 or 64). */
export function larLsl(cpu: X86Cpu, lsl: boolean): void {
  if (!cpu.protectedMode) cpu.raise(Vec.UD);
  cpu.decodeModrm();
  const sel = cpu.readRm(16);
  const d = visibleDescriptor(cpu, sel, lsl ? (cpu.lma ? LSL_IA32E : LSL_LEGACY) : cpu.lma ? LAR_IA32E : LAR_LEGACY);
  cpu.materializeFlags();
  if (!d) {
    cpu.s.eflags &= ~Fl.ZF;
    return;
  }
  cpu.s.eflags |= Fl.ZF;
  // LAR: the descriptor's second dword masked by 00FxFF00H (bits 19:16 given as 0, as QEMU
  // does); 16-bit operands keep FF00H of it. LSL: the limit with the granularity applied.
  const v = lsl ? d.limit : d.hi & 0x00f0ff00;
  const r = cpu.modReg;
  if (cpu.opSize === 16) cpu.setReg(16, r, v);
  else cpu.setReg64(r, v, 0);
}

/** The descriptor `sel` names if LAR/LSL may see it, else undefined (ZF = 0). */
function visibleDescriptor(cpu: X86Cpu, sel: number, systemTypes: number): Descriptor | undefined {
  const s = cpu.s;
  if ((sel & 0xfffc) === 0) return undefined;
  const index = sel & 0xfff8;
  const inTable = sel & 4
    ? !(s.segAr[SegReg.LDTR]! & Ar.UNUSABLE) && index + 7 <= s.segLimit[SegReg.LDTR]!
    : index + 7 <= s.gdtLimit;
  if (!inTable) return undefined;
  const d = readDescriptor(cpu, sel);
  const dpl = (d.ar >> Ar.DPL_SHIFT) & 3;
  if (d.ar & Ar.S) {
    const conformingCode = (d.ar & 0xc) === 0xc;
    if (!conformingCode && (dpl < cpu.cpl || dpl < (sel & 3))) return undefined;
    return d;
  }
  if (!(systemTypes & (1 << (d.ar & 0xf)))) return undefined;
  if (dpl < cpu.cpl || dpl < (sel & 3)) return undefined;
  return d;
}
