/**
 * Interrupt and exception delivery in IA-32e mode (SDM Vol. 3A 6.14): 16-byte IDT gates whose
 * target is a 64-bit code segment, the stack from the 64-bit TSS (RSP0-2, or an IST entry),
 * the stack aligned to 16 bytes, SS:RSP, RFLAGS, CS:RIP and the error code pushed as 8-byte
 * values, and a null SS selector (RPL = new CPL) on a privilege change. Only interrupt (0xE)
 * and trap (0xF) gates exist; anything else, task gates included, is #GP.
 */
import { Ar, Fl, Reg, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import { copyDescriptor, loadSegmentUnchecked, readDescriptor, type Descriptor } from './segmentation.js';
import { isCanonical, linear48 } from './long-decode.js';
import type { X86Cpu } from './cpu.js';

const csScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };
/** The frame is built here before any state changes, so that a fault leaves nothing half done. */
const frame = new Float64Array(12);

/**
 * Delivers `vector` in IA-32e mode. `ext` is the EXT bit of the error codes of the faults
 * the delivery raises (0 for INT n / INT3 / INTO, 1 otherwise); `software` for INT n / INT3 /
 * INTO (the gate DPL is checked against CPL).
 */
export function deliverLong(cpu: X86Cpu, vector: number, ext: number, software: boolean, hasCode: boolean, code: number): void {
  const s = cpu.s;
  const idtErr = vector * 8 + 2 + ext;
  if (vector * 16 + 15 > s.idtLimit) cpu.gp(idtErr);
  const gateAddr = s.idtBase + vector * 16;
  const w0 = cpu.readLinear(linear48(gateAddr), 4);
  const w1 = cpu.readLinear(linear48(gateAddr + 4), 4);
  const w2 = cpu.readLinear(linear48(gateAddr + 8), 4);
  const type = (w1 >>> 8) & 0x1f;
  if (type !== 0x0e && type !== 0x0f) cpu.gp(idtErr);
  if (software && ((w1 >>> 13) & 3) < cpu.cpl) cpu.gp(idtErr);
  if (!(w1 & 0x8000)) cpu.raise(Vec.NP, idtErr);
  const selector = w0 >>> 16;
  const ist = w1 & 7;
  const target = (w2 | 0) * 4294967296 + (((w1 & 0xffff0000) | (w0 & 0xffff)) >>> 0);

  if ((selector & 0xfffc) === 0) cpu.gp(ext);
  const cs = copyDescriptor(readDescriptor(cpu, selector, Vec.GP, ext), csScratch);
  const csDpl = (cs.ar >> Ar.DPL_SHIFT) & 3;
  const err = (selector & 0xfffc) + ext;
  // The handler must be 64-bit code (L = 1, D = 0) at a privilege level >= CPL.
  if (!(cs.ar & Ar.S) || !(cs.ar & 0x8) || csDpl > cpu.cpl) cpu.gp(err);
  if (!(cs.ar & Ar.L) || (cs.ar & Ar.DB)) cpu.gp(err);
  if (!(cs.ar & Ar.P)) cpu.raise(Vec.NP, err);
  const conforming = (cs.ar & 0x4) !== 0;
  const newCpl = conforming ? cpu.cpl : csDpl;
  const privilegeChange = newCpl < cpu.cpl;

  const oldRsp = cpu.reg64(Reg.ESP);
  let rsp: number;
  if (ist !== 0) rsp = tssStack(cpu, 0x24 + (ist - 1) * 8, ext);
  else if (privilegeChange) rsp = tssStack(cpu, 4 + newCpl * 8, ext);
  else rsp = oldRsp;
  // The new stack is aligned to 16 bytes whether or not it changed (SDM 6.14.2).
  rsp -= ((rsp % 16) + 16) % 16;

  const flags = cpu.getEflags();
  let n = 0;
  frame[n++] = s.segSel[SegReg.SS]!;
  frame[n++] = oldRsp;
  frame[n++] = flags;
  frame[n++] = s.segSel[SegReg.CS]!;
  frame[n++] = cpu.rip;
  if (hasCode) frame[n++] = code >>> 0;
  const top = rsp - n * 8;
  // A frame leaving canonical space is #SS(EXT), a non-canonical handler #GP(EXT), both
  // before anything is written (Vol. 2 INT n, INTER- and INTRA-PRIVILEGE-LEVEL-INTERRUPT).
  if (!isCanonical(top) || !isCanonical(rsp - 1)) cpu.raise(Vec.SS, ext);
  if (!isCanonical(target)) cpu.gp(ext);
  for (let i = 0; i < n; i++) {
    const v = frame[i]!;
    const addr = linear48(rsp - (i + 1) * 8);
    cpu.writeLinear(addr, 4, v >>> 0);
    cpu.writeLinear(addr + 4, 4, Math.floor(v / 4294967296) >>> 0);
  }

  loadSegmentUnchecked(cpu, SegReg.CS, (selector & 0xfffc) | newCpl, cs);
  if (privilegeChange) {
    // SS becomes a null selector with RPL = new CPL (SDM 6.14.4).
    s.segSel[SegReg.SS] = newCpl;
    s.segBase[SegReg.SS] = 0;
    s.segLimit[SegReg.SS] = 0xffffffff;
    s.segAr[SegReg.SS] = Ar.UNUSABLE | Ar.S | 0x3 | (newCpl << Ar.DPL_SHIFT) | Ar.DB | Ar.G;
  }
  let nf = flags & ~(Fl.TF | Fl.NT | Fl.VM | Fl.RF);
  if (type === 0x0e) nf &= ~Fl.IF;
  cpu.setEflags(nf);
  cpu.updateMode();
  cpu.setReg64From(Reg.ESP, top);
  cpu.setRip(target);
}

/** A stack pointer from the 64-bit TSS at byte `offset` (RSPn or ISTn); #TS past its limit. */
export function tssStack(cpu: X86Cpu, offset: number, ext: number): number {
  const s = cpu.s;
  const trErr = (s.segSel[SegReg.TR]! & 0xfffc) + ext;
  if ((s.segAr[SegReg.TR]! & 0xf) !== 0xb && (s.segAr[SegReg.TR]! & 0xf) !== 0x9) cpu.raise(Vec.TS, trErr);
  if (offset + 7 > s.segLimit[SegReg.TR]!) cpu.raise(Vec.TS, trErr);
  const base = s.segBase[SegReg.TR]! + offset;
  const lo = cpu.readLinear(linear48(base), 4);
  const hi = cpu.readLinear(linear48(base + 4), 4) | 0;
  const v = hi * 4294967296 + lo;
  if (!isCanonical(v)) cpu.raise(Vec.SS, ext);
  return v;
}
