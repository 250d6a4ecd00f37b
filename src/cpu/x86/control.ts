/**
 * Far control transfers: CALL/JMP far, RETF, IRET (SDM Vol. 2 CALL, JMP, RET, IRET pages;
 * Vol. 3A 5.8). Real mode and virtual-8086 mode are direct (8086-style segment loads);
 * protected mode does the descriptor checks, goes through call gates (call-gate.ts), returns
 * to outer privilege levels with their stack, and switches tasks for a far CALL/JMP to a TSS
 * or task gate and for IRET with NT = 1 (vmx/task-switch-exit.ts checks, task-switch.ts
 * switches). IRET into and inside virtual-8086 mode is vm86.ts.
 */
import { Ar, Fl, Reg, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import { invalidateOuterSegments, loadSegmentUnchecked, copyDescriptor, readDescriptor, type Descriptor } from './segmentation.js';
import type { X86Cpu } from './cpu.js';
import { iretUnblocksNmi } from './nmi-blocking.js';
import { farTransferToTask, iretTaskReturn } from './vmx/task-switch-exit.js';
import { farTransferThroughCallGate } from './call-gate.js';
import { iretInVm86, iretToVm86 } from './vm86.js';

const csScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };
const ssScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };

/** JMP ptr16:16/32 or JMP m16:16/32. */
export function jmpFar(cpu: X86Cpu, selector: number, offset: number): void {
  if (cpu.protectedMode) {
    if (checkFarTarget(cpu, selector, false)) return;
  } else checkRealTarget(cpu, offset);
  farJumpInLimit(cpu, selector, offset);
}

/** CALL ptr16:16/32 or CALL m16:16/32. */
export function callFar(cpu: X86Cpu, selector: number, offset: number): void {
  const s = cpu.s;
  const size = cpu.opSize;
  if (cpu.protectedMode) {
    if (checkFarTarget(cpu, selector, true)) return;
  } else checkRealTarget(cpu, offset);
  const oldCs = s.segSel[SegReg.CS]!;
  const oldEip = s.eip;
  // Push first (may fault) with the old CS still in place, then switch; a fault in either
  // (the CS checks too) leaves ESP as it was.
  const oldSp = s.gpr[Reg.ESP]!;
  try {
    cpu.push(size, oldCs);
    cpu.push(size, oldEip);
    farJumpInLimit(cpu, selector, offset);
  } catch (e) {
    s.gpr[Reg.ESP] = oldSp;
    throw e;
  }
}

/**
 * Checks a protected-mode far target; true when the transfer is done already: through a call
 * gate (call-gate.ts) or a task switch.
 */
function checkFarTarget(cpu: X86Cpu, selector: number, call: boolean): boolean {
  if ((selector & 0xfffc) === 0) cpu.gp(0);
  const d = readDescriptor(cpu, selector);
  if (!(d.ar & Ar.S)) {
    const type = d.ar & 0xf;
    // IA-32e mode (here: compatibility mode) has no task switches and only 64-bit call gates.
    if (cpu.lma && type !== 0xc) cpu.gp(selector & 0xfffc);
    if (type === 0x4 || type === 0xc) {
      farTransferThroughCallGate(cpu, selector, call);
      return true;
    }
    // A task switch (a VM exit in non-root operation). CALL pushes nothing: the return is
    // IRET through the new TSS's link.
    if (type === 0x5 || type === 0x1 || type === 0x9) {
      farTransferToTask(cpu, selector, call);
      return true;
    }
    cpu.gp(selector & 0xfffc);
  }
  return false;
}

/**
 * Real and virtual-8086 mode: the target offset must lie within the CS limit, which the load
 * keeps (real mode) or sets to 0xFFFF (virtual-8086 mode, where it always is 0xFFFF) — checked
 * before CS changes, so that the #GP(0) sees the caller's CS:EIP (SDM JMP/CALL/RET).
 */
function checkRealTarget(cpu: X86Cpu, offset: number): void {
  if ((offset >>> 0) > cpu.s.segLimit[SegReg.CS]!) cpu.gp(0);
}

/**
 * Loads CS:EIP for a far JMP/CALL to a code segment (farJump makes the descriptor checks). An
 * EIP past the new limit is #GP(0) with CS and EIP as they were: the SDM checks the limit
 * before CS is loaded. 64-bit code (reached from compatibility mode) has no limit.
 */
function farJumpInLimit(cpu: X86Cpu, selector: number, offset: number): void {
  const s = cpu.s;
  const sel = s.segSel[SegReg.CS]!;
  const base = s.segBase[SegReg.CS]!;
  const limit = s.segLimit[SegReg.CS]!;
  const ar = s.segAr[SegReg.CS]!;
  const eip = s.eip;
  cpu.farJump(selector, offset);
  if (cpu.mode64 || (s.eip >>> 0) <= s.segLimit[SegReg.CS]!) return;
  s.segSel[SegReg.CS] = sel;
  s.segBase[SegReg.CS] = base;
  s.segLimit[SegReg.CS] = limit;
  s.segAr[SegReg.CS] = ar;
  s.eip = eip;
  cpu.updateMode();
  cpu.gp(0);
}

/** RETF [imm16]. */
export function retFar(cpu: X86Cpu, size: number, popBytes: number): void {
  const s = cpu.s;
  const eip = cpu.peekStack(size, 0);
  const cs = cpu.peekStack(size, size / 8) & 0xffff;
  if (!cpu.protectedMode) {
    checkRealTarget(cpu, eip);
    cpu.setSp(cpu.sp + 2 * (size / 8) + popBytes);
    cpu.farJump(cs, eip);
    return;
  }
  const rpl = cs & 3;
  if (rpl < cpu.cpl || (cs & 0xfffc) === 0) cpu.gp(cs & 0xfffc);
  const d = copyDescriptor(readDescriptor(cpu, cs), csScratch);
  checkReturnCs(cpu, cs, d);
  if (rpl === cpu.cpl) {
    checkReturnEip(cpu, d, eip);
    cpu.setSp(cpu.sp + 2 * (size / 8) + popBytes);
    loadSegmentUnchecked(cpu, SegReg.CS, cs, d);
    s.eip = eip;
    cpu.updateMode();
    return;
  }
  // Return to an outer level: the caller's SS:ESP follow the immediate bytes, which RETF imm16
  // releases from both stacks (the parameters a call gate copied, SDM Vol. 3A 5.8.6).
  const base = 2 * (size / 8) + popBytes;
  const esp = cpu.peekStack(size, base);
  const ss = cpu.peekStack(size, base + size / 8) & 0xffff;
  const ssd = checkReturnSs(cpu, ss, rpl);
  checkReturnEip(cpu, d, eip);
  loadSegmentUnchecked(cpu, SegReg.CS, cs, d);
  s.eip = eip;
  loadSegmentUnchecked(cpu, SegReg.SS, ss, ssd);
  cpu.updateMode();
  cpu.setSp(esp + popBytes);
  invalidateOuterSegments(cpu);
}

/**
 * RET and IRET: "IF the return instruction pointer is not within the return code segment
 * limit THEN #GP(0)", checked before anything is popped or loaded; 64-bit code (from
 * compatibility mode) has no limit.
 */
function checkReturnEip(cpu: X86Cpu, d: Descriptor, eip: number): void {
  if (!(cpu.lma && (d.ar & Ar.L)) && (eip >>> 0) > d.limit) cpu.gp(0);
}

/** IRET/IRETD. */
export function iret(cpu: X86Cpu, size: number): void {
  const s = cpu.s;
  iretUnblocksNmi(cpu);
  const oldFlags = cpu.getEflags();
  if (oldFlags & Fl.VM) {
    iretInVm86(cpu, size);
    return;
  }
  if (!cpu.protectedMode) {
    const eip = cpu.pop(size);
    const cs = cpu.pop(size) & 0xffff;
    const flags = cpu.pop(size);
    const keep = oldFlags & (Fl.VM | Fl.VIF | Fl.VIP);
    const writable = size === 32 ? 0x257fd5 & ~(Fl.VM | Fl.VIF | Fl.VIP) : 0xffff;
    const nf = (flags & writable) | (oldFlags & ~writable) | keep;
    cpu.farJump(cs, eip);
    cpu.setEflags(nf);
    return;
  }
  if ((oldFlags & Fl.NT) && cpu.lma) cpu.gp(0); // no task return in IA-32e mode
  if (oldFlags & Fl.NT) {
    iretTaskReturn(cpu);
    return;
  }
  const eip = cpu.peekStack(size, 0);
  const cs = cpu.peekStack(size, size / 8) & 0xffff;
  const flags = cpu.peekStack(size, 2 * (size / 8));
  if (size === 32 && (flags & Fl.VM) && cpu.cpl === 0) {
    iretToVm86(cpu);
    return;
  }
  const rpl = cs & 3;
  if ((cs & 0xfffc) === 0 || rpl < cpu.cpl) cpu.gp(cs & 0xfffc);
  const d = copyDescriptor(readDescriptor(cpu, cs), csScratch);
  checkReturnCs(cpu, cs, d);
  const oldCpl = cpu.cpl;
  const iopl = (oldFlags & Fl.IOPL) >> 12;
  // Which flags the new value may change (SDM IRET: IF only if CPL <= IOPL, IOPL only at CPL 0).
  let writable = size === 32 ? 0x257fd5 & ~(Fl.VM | Fl.VIF | Fl.VIP) : 0x7fd5;
  if (oldCpl > iopl) writable &= ~Fl.IF;
  if (oldCpl !== 0) writable &= ~(Fl.IOPL | Fl.VIF | Fl.VIP);
  else if (size === 32) writable |= Fl.VIF | Fl.VIP;
  const nf = (flags & writable) | (oldFlags & ~writable & ~Fl.VM);
  if (rpl === oldCpl) {
    checkReturnEip(cpu, d, eip);
    cpu.setSp(cpu.sp + 3 * (size / 8));
    loadSegmentUnchecked(cpu, SegReg.CS, cs, d);
    s.eip = eip;
    cpu.setEflags(nf);
    cpu.updateMode();
    return;
  }
  const esp = cpu.peekStack(size, 3 * (size / 8));
  const ss = cpu.peekStack(size, 4 * (size / 8)) & 0xffff;
  const ssd = checkReturnSs(cpu, ss, rpl);
  checkReturnEip(cpu, d, eip);
  loadSegmentUnchecked(cpu, SegReg.CS, cs, d);
  s.eip = eip;
  loadSegmentUnchecked(cpu, SegReg.SS, ss, ssd);
  cpu.setEflags(nf);
  cpu.updateMode();
  if (size === 32 || ssd.ar & Ar.DB) cpu.setSp(esp);
  else cpu.setSp(esp & 0xffff);
  invalidateOuterSegments(cpu);
}

function checkReturnCs(cpu: X86Cpu, cs: number, d: Descriptor): void {
  const rpl = cs & 3;
  const dpl = (d.ar >> Ar.DPL_SHIFT) & 3;
  if (!(d.ar & Ar.S) || !(d.ar & 0x8)) cpu.gp(cs & 0xfffc);
  if (d.ar & 0x4 ? dpl > rpl : dpl !== rpl) cpu.gp(cs & 0xfffc);
  if (!(d.ar & Ar.P)) cpu.raise(Vec.NP, cs & 0xfffc);
}

function checkReturnSs(cpu: X86Cpu, ss: number, rpl: number): Descriptor {
  if ((ss & 0xfffc) === 0) cpu.gp(0);
  const d = copyDescriptor(readDescriptor(cpu, ss), ssScratch);
  const dpl = (d.ar >> Ar.DPL_SHIFT) & 3;
  if ((ss & 3) !== rpl || dpl !== rpl || !(d.ar & Ar.S) || (d.ar & 0xa) !== 0x2) cpu.gp(ss & 0xfffc);
  if (!(d.ar & Ar.P)) cpu.raise(Vec.SS, ss & 0xfffc);
  return d;
}
