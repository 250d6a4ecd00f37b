/**
 * Control transfers of IA-32e mode (SDM Vol. 2: CALL, JMP, RET, IRET, SYSCALL, SYSRET pages;
 * Vol. 3A 5.8.8): far CALL/JMP through memory, far RET and IRET(Q) in 64-bit mode, and the
 * fast system calls. The target code segment decides between 64-bit mode (CS.L = 1) and
 * compatibility mode. 16-byte call gates are call-gate.ts. Task switches do not exist in
 * IA-32e mode (#GP).
 */
import { Ar, Efer, Fl, Reg, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import {
  copyDescriptor, invalidateOuterSegments, loadSegmentUnchecked, readDescriptor, type Descriptor,
} from './segmentation.js';
import { isCanonical } from './long-decode.js';
import type { X86Cpu } from './cpu.js';
import { iretUnblocksNmi } from './nmi-blocking.js';
import { farTransferThroughCallGate } from './call-gate.js';

const csScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };
const ssScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };

/** Sets RIP/EIP after CS changed: canonical check in 64-bit mode, limit check otherwise. */
function setTargetIp(cpu: X86Cpu, lo: number, hi: number): void {
  cpu.updateMode();
  if (cpu.mode64) {
    cpu.setRip((hi | 0) * 4294967296 + (lo >>> 0));
  } else {
    cpu.s.ripHi = 0;
    cpu.s.eip = lo;
    if ((lo >>> 0) > cpu.s.segLimit[SegReg.CS]!) cpu.gp(0);
  }
}

/**
 * The target RIP/EIP of a far transfer to code segment `d`, checked before CS changes: canonical
 * for 64-bit code, within the limit for compatibility mode (#GP(0), SDM CALL/JMP/RET).
 */
function checkTargetIp(cpu: X86Cpu, d: Descriptor, lo: number, hi: number): void {
  if (d.ar & Ar.L) {
    if (!isCanonical((hi | 0) * 4294967296 + (lo >>> 0))) cpu.gp(0);
  } else if ((lo >>> 0) > d.limit) {
    cpu.gp(0);
  }
}

/**
 * Checks a code segment descriptor for a far CALL/JMP at the same privilege level; undefined
 * for a system descriptor, which only a 64-bit call gate may be (call-gate.ts checks it).
 */
function checkFarCode(cpu: X86Cpu, selector: number): Descriptor | undefined {
  if ((selector & 0xfffc) === 0) cpu.gp(0);
  const d = copyDescriptor(readDescriptor(cpu, selector), csScratch);
  const err = selector & 0xfffc;
  if (!(d.ar & Ar.S)) return undefined;
  if (!(d.ar & 0x8)) cpu.gp(err);
  const dpl = (d.ar >> Ar.DPL_SHIFT) & 3;
  if (d.ar & 0x4) {
    if (dpl > cpu.cpl) cpu.gp(err);
  } else if ((selector & 3) > cpu.cpl || dpl !== cpu.cpl) {
    cpu.gp(err);
  }
  if ((d.ar & Ar.L) && (d.ar & Ar.DB)) cpu.gp(err);
  if (!(d.ar & Ar.P)) cpu.raise(Vec.NP, err);
  return d;
}

/** Far CALL/JMP m16:16/32/64 in 64-bit mode. `offHi` is the offset's high half (REX.W). */
export function farTransferLong(cpu: X86Cpu, call: boolean, selector: number, off: number, offHi: number): void {
  const s = cpu.s;
  const size = cpu.opSize;
  const d = checkFarCode(cpu, selector);
  if (!d) return farTransferThroughCallGate(cpu, selector, call);
  const oldLo = s.gpr[Reg.ESP]!;
  const oldHi = s.gprHi[Reg.ESP]!;
  const oldCs = s.segSel[SegReg.CS]!;
  const retLo = s.eip >>> 0;
  const retHi = s.ripHi;
  checkTargetIp(cpu, d, size === 16 ? off & 0xffff : off, size === 64 ? offHi : 0);
  try {
    if (call) {
      cpu.hi = 0;
      cpu.push(size, oldCs);
      cpu.hi = retHi;
      cpu.push(size, size === 16 ? retLo & 0xffff : retLo);
    }
    loadSegmentUnchecked(cpu, SegReg.CS, (selector & 0xfffc) | cpu.cpl, d);
    setTargetIp(cpu, size === 16 ? off & 0xffff : off, size === 64 ? offHi : 0);
  } catch (e) {
    s.gpr[Reg.ESP] = oldLo;
    s.gprHi[Reg.ESP] = oldHi;
    throw e;
  }
}

function checkReturnCs(cpu: X86Cpu, cs: number): Descriptor {
  const err = cs & 0xfffc;
  if (err === 0 || (cs & 3) < cpu.cpl) cpu.gp(err);
  const d = copyDescriptor(readDescriptor(cpu, cs), csScratch);
  const rpl = cs & 3;
  const dpl = (d.ar >> Ar.DPL_SHIFT) & 3;
  if (!(d.ar & Ar.S) || !(d.ar & 0x8)) cpu.gp(err);
  if (d.ar & 0x4 ? dpl > rpl : dpl !== rpl) cpu.gp(err);
  if ((d.ar & Ar.L) && (d.ar & Ar.DB)) cpu.gp(err);
  if (!(d.ar & Ar.P)) cpu.raise(Vec.NP, err);
  return d;
}

/**
 * The SS for a return to privilege `rpl`. A null selector is allowed when the return goes
 * to 64-bit mode at CPL < 3 (SDM IRET, RET: "IA-32e mode"); it yields an unusable SS.
 */
function checkReturnSs(cpu: X86Cpu, ss: number, rpl: number, to64: boolean): Descriptor | undefined {
  if ((ss & 0xfffc) === 0) {
    if (to64 && rpl !== 3 && (ss & 3) === rpl) return undefined;
    cpu.gp(0);
  }
  const d = copyDescriptor(readDescriptor(cpu, ss), ssScratch);
  const dpl = (d.ar >> Ar.DPL_SHIFT) & 3;
  if ((ss & 3) !== rpl || dpl !== rpl || !(d.ar & Ar.S) || (d.ar & 0xa) !== 0x2) cpu.gp(ss & 0xfffc);
  if (!(d.ar & Ar.P)) cpu.raise(Vec.SS, ss & 0xfffc);
  return d;
}

function loadSs(cpu: X86Cpu, ss: number, d: Descriptor | undefined): void {
  const s = cpu.s;
  if (d) {
    loadSegmentUnchecked(cpu, SegReg.SS, ss, d);
    return;
  }
  s.segSel[SegReg.SS] = ss;
  s.segBase[SegReg.SS] = 0;
  s.segLimit[SegReg.SS] = 0xffffffff;
  // A null SS in 64-bit mode: unusable, but its DPL follows CPL (SDM Vol. 3A 5.8.8).
  s.segAr[SegReg.SS] = Ar.UNUSABLE | Ar.S | 0x3 | ((ss & 3) << Ar.DPL_SHIFT) | Ar.DB | Ar.G;
}

/** RETF [imm16] in 64-bit mode (operand size 32 by default, 64 with REX.W). */
export function retFarLong(cpu: X86Cpu, size: number, popBytes: number): void {
  const bytes = size / 8;
  const ipLo = cpu.peekStack(size, 0);
  const ipHi = size === 64 ? cpu.hi : 0;
  const cs = cpu.peekStack(size, bytes) & 0xffff;
  const d = checkReturnCs(cpu, cs);
  const rpl = cs & 3;
  const to64 = (d.ar & Ar.L) !== 0;
  if (rpl === cpu.cpl) {
    const rsp = cpu.sp + 2 * bytes + popBytes;
    checkTargetIp(cpu, d, ipLo, ipHi);
    loadSegmentUnchecked(cpu, SegReg.CS, cs, d);
    setTargetIp(cpu, ipLo, ipHi);
    cpu.setReg64From(Reg.ESP, rsp);
    return;
  }
  const spLo = cpu.peekStack(size, 2 * bytes + popBytes);
  const spHi = size === 64 ? cpu.hi : 0;
  const ss = cpu.peekStack(size, 3 * bytes + popBytes) & 0xffff;
  const ssd = checkReturnSs(cpu, ss, rpl, to64);
  checkTargetIp(cpu, d, ipLo, ipHi);
  loadSegmentUnchecked(cpu, SegReg.CS, cs, d);
  loadSs(cpu, ss, ssd);
  setTargetIp(cpu, ipLo, ipHi);
  cpu.setReg64(Reg.ESP, spLo, spHi);
  if (popBytes) cpu.setSp(cpu.sp + popBytes);
  invalidateOuterSegments(cpu);
}

/**
 * IRET/IRETD/IRETQ in 64-bit mode (SDM IRET, "IA-32e-MODE"): RIP, CS, RFLAGS, RSP and SS are
 * always popped, each at the operand size. Returns to 64-bit or compatibility mode.
 */
export function iretLong(cpu: X86Cpu, size: number): void {
  const s = cpu.s;
  iretUnblocksNmi(cpu);
  const oldFlags = cpu.getEflags();
  if (oldFlags & Fl.NT) cpu.gp(0); // no task return in IA-32e mode
  const bytes = size / 8;
  const ipLo = cpu.peekStack(size, 0);
  const ipHi = size === 64 ? cpu.hi : 0;
  const cs = cpu.peekStack(size, bytes) & 0xffff;
  const flags = cpu.peekStack(size, 2 * bytes);
  const spLo = cpu.peekStack(size, 3 * bytes);
  const spHi = size === 64 ? cpu.hi : 0;
  const ss = cpu.peekStack(size, 4 * bytes) & 0xffff;
  const d = checkReturnCs(cpu, cs);
  const rpl = cs & 3;
  const to64 = (d.ar & Ar.L) !== 0;
  const oldCpl = cpu.cpl;
  const iopl = (oldFlags & Fl.IOPL) >> 12;
  let writable = size === 16 ? 0x7fd5 : 0x257fd5 & ~Fl.VM;
  if (oldCpl > iopl) writable &= ~Fl.IF;
  if (oldCpl !== 0) writable &= ~(Fl.IOPL | Fl.VIF | Fl.VIP);
  const nf = (flags & writable) | (oldFlags & ~writable & ~(Fl.VM | Fl.RF));
  let ssd: Descriptor | undefined;
  if (rpl !== oldCpl || to64 || size === 64) ssd = checkReturnSs(cpu, ss, rpl, to64);
  else ssd = copyDescriptor(readDescriptor(cpu, ss), ssScratch);
  checkTargetIp(cpu, d, size === 16 ? ipLo & 0xffff : ipLo, ipHi);
  loadSegmentUnchecked(cpu, SegReg.CS, cs, d);
  loadSs(cpu, ss, ssd);
  cpu.setEflags(nf);
  setTargetIp(cpu, size === 16 ? ipLo & 0xffff : ipLo, ipHi);
  if (size === 64) cpu.setReg64(Reg.ESP, spLo, spHi);
  else if (size === 32) cpu.setReg32(Reg.ESP, spLo);
  else s.gpr[Reg.ESP] = (s.gpr[Reg.ESP]! & ~0xffff) | (spLo & 0xffff);
  if (rpl !== oldCpl) invalidateOuterSegments(cpu);
}

// =============================================================================================
// SYSCALL / SYSRET (SDM Vol. 2B; Vol. 3A 5.8.8)
// =============================================================================================

/** Loads the flat CS and SS that SYSCALL/SYSRET (and SYSENTER/SYSEXIT) set up without reading descriptors. */
export function loadFlat(cpu: X86Cpu, csSel: number, ssSel: number, dpl: number, long64: boolean): void {
  const s = cpu.s;
  s.segSel[SegReg.CS] = csSel;
  s.segBase[SegReg.CS] = 0;
  s.segLimit[SegReg.CS] = 0xffffffff;
  s.segAr[SegReg.CS] = 0xb | Ar.S | (dpl << Ar.DPL_SHIFT) | Ar.P | Ar.G | (long64 ? Ar.L : Ar.DB);
  s.segSel[SegReg.SS] = ssSel;
  s.segBase[SegReg.SS] = 0;
  s.segLimit[SegReg.SS] = 0xffffffff;
  s.segAr[SegReg.SS] = 0x3 | Ar.S | (dpl << Ar.DPL_SHIFT) | Ar.P | Ar.DB | Ar.G;
}

/** SYSCALL: #UD outside 64-bit mode (Intel) or with EFER.SCE clear. */
export function syscall(cpu: X86Cpu): void {
  const s = cpu.s;
  const l = s.long;
  if (!cpu.mode64 || !(s.efer & Efer.SCE)) cpu.raise(Vec.UD);
  const flags = cpu.getEflags();
  cpu.setReg64(Reg.ECX, s.eip, s.ripHi);
  cpu.setReg64(Reg.R11, flags & ~Fl.RF, 0);
  const sel = l.starHi & 0xffff;
  loadFlat(cpu, sel & 0xfffc, (sel + 8) & 0xfffc, 0, true);
  cpu.setEflags(flags & ~l.sfmask & ~Fl.RF);
  cpu.updateMode();
  cpu.setRip(l.lstar);
}

/** SYSRET: back to CPL 3, 64-bit mode with REX.W, compatibility mode without. */
export function sysret(cpu: X86Cpu): void {
  const s = cpu.s;
  const l = s.long;
  if (!(s.efer & Efer.SCE)) cpu.raise(Vec.UD);
  if (!cpu.mode64 || cpu.cpl !== 0) cpu.gp(0);
  const to64 = cpu.rexW;
  const rcx = cpu.reg64(Reg.ECX);
  // A non-canonical RCX faults here, at CPL 0 (the Intel behaviour, SDM SYSRET).
  if (to64 && !isCanonical(rcx)) cpu.gp(0);
  const sel = l.starHi >>> 16;
  const csSel = to64 ? ((sel + 16) & 0xfffc) | 3 : (sel & 0xfffc) | 3;
  loadFlat(cpu, csSel, ((sel + 8) & 0xfffc) | 3, 3, to64);
  cpu.setEflags((s.gpr[Reg.R11]! & 0x3c7fd7) | Fl.FIXED1);
  cpu.updateMode();
  if (to64) cpu.setRip(rcx);
  else s.eip = s.gpr[Reg.ECX]!;
}

/** SWAPGS (0F 01 F8): exchanges GS.base with IA32_KERNEL_GS_BASE; 64-bit mode, CPL 0. */
export function swapgs(cpu: X86Cpu): void {
  const s = cpu.s;
  if (!cpu.mode64) cpu.raise(Vec.UD);
  if (cpu.cpl !== 0) cpu.gp(0);
  const t = s.segBase[SegReg.GS]!;
  s.segBase[SegReg.GS] = s.long.kernelGsBase;
  s.long.kernelGsBase = t;
}
