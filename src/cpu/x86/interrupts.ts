/**
 * Delivering interrupts and exceptions (SDM Vol. 3A 6.12 and 20.1.4): through the real-mode
 * IVT, or through protected-mode interrupt and trap gates with the stack switch from the TSS
 * when the handler runs at a more privileged level.
 *
 * Events raised in virtual-8086 mode take the protected-mode path; the ring-0 entry with the
 * data segments saved (SDM 20.3.1.1) is vm86.ts. IA-32e mode delivery is interrupts-long.ts.
 * A task gate switches to the interrupt task (SDM 6.12.2; task-switch.ts, or in VMX non-root
 * operation a VM exit, task-switch-exit.ts).
 *
 * The checks and their error codes follow the INT n pseudocode (Vol. 2): a fault raised by
 * the delivery of anything but INT n/INT3/INTO has EXT = 1 (bit 0); IDT-related faults carry
 * vector * 8 + 2 (the IDT bit). Everything that can fault — the gate, the code segment, the
 * new stack's descriptor, the room for the whole frame on it, the handler's EIP against the
 * CS limit — is checked before a register changes.
 */
import { Ar, Fl, Reg, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import { loadSegmentUnchecked, copyDescriptor, readDescriptor, type Descriptor } from './segmentation.js';
import { deliverLong } from './interrupts-long.js';
import type { X86Cpu } from './cpu.js';
import { taskGateInIdt } from './vmx/task-switch-exit.js';
import { deliverFromVm86 } from './vm86.js';
import { espWithSp, stackHasRoom, writeStackFrame } from './stack-room.js';

export const enum EventKind {
  /** A hardware interrupt from the interrupt controller. */
  External = 0,
  Nmi = 1,
  /** A fault or trap raised by an instruction. */
  Exception = 2,
  /** INT n: the gate's DPL is checked against CPL. */
  SoftwareInt = 3,
  /** INT3 and INTO: exceptions raised by software, DPL checked like INT n. */
  SoftwareException = 4,
  /** INT1 (ICEBP): a #DB raised by software without the DPL check (VMX type 5). */
  PrivSoftwareException = 5,
}

/** An interrupt or trap gate as delivery found it, with its code segment checked (code, present, DPL <= CPL). */
export interface IdtGate {
  /** A 32-bit gate (type 0xE/0xF); otherwise a 16-bit one (0x6/0x7). */
  gate32: boolean;
  trapGate: boolean;
  selector: number;
  /** The handler's code-segment descriptor. */
  cs: Descriptor;
  /** The handler's offset (16 bits through a 16-bit gate). */
  offset: number;
}

const ssScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };
const csScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };
const gateScratch: IdtGate = { gate32: true, trapGate: false, selector: 0, cs: csScratch, offset: 0 };
/** The values an interrupt frame pushes, in push order (at most SS, ESP, EFLAGS, CS, EIP, error code). */
const frame = new Array<number>(6).fill(0);

/** Delivers `vector`. EIP must already be what the handler's IRET returns to. */
export function deliverEvent(cpu: X86Cpu, vector: number, kind: EventKind, hasCode: boolean, code: number): void {
  // VMX non-root operation: the exception bitmap and IDT-vectoring information (vmx/vmx-unit.ts).
  if (cpu.vmxNonRoot) cpu.vmx!.deliver(vector, kind, hasCode, code);
  else deliverEventDirect(cpu, vector, kind, hasCode, code);
}

/** Delivers `vector` through the IVT or IDT, whatever VMX says (VMX's own entry point). */
export function deliverEventDirect(cpu: X86Cpu, vector: number, kind: EventKind, hasCode: boolean, code: number): void {
  // The traps of the interrupted instruction are dropped; a #DB updates DR6 (debug-exceptions.ts).
  cpu.debug.onDelivery(vector, kind);
  // EXT, bit 0 of the error code of every fault the delivery itself raises (SDM Vol. 2 INT n
  // "Operation", Vol. 3A 6.13): 0 while delivering a software interrupt (INT n, INT3, INTO),
  // 1 for everything else — external interrupts, NMIs, exceptions, and INT1.
  const ext = kind === EventKind.SoftwareInt || kind === EventKind.SoftwareException ? 0 : 1;
  if (cpu.lma) deliverLong(cpu, vector, ext, ext === 0, hasCode, code);
  else if (cpu.protectedMode || (cpu.s.eflags & Fl.VM)) deliverProtected(cpu, vector, ext, hasCode, code);
  else deliverReal(cpu, vector);
}

function deliverReal(cpu: X86Cpu, vector: number): void {
  const s = cpu.s;
  if (vector * 4 + 3 > s.idtLimit) cpu.gp(0);
  const entry = cpu.readLinear(s.idtBase + vector * 4, 4);
  const flags = cpu.getEflags();
  cpu.push(16, flags);
  cpu.push(16, s.segSel[SegReg.CS]!);
  cpu.push(16, s.eip);
  cpu.setEflags(flags & ~(Fl.IF | Fl.TF | Fl.AC | Fl.RF));
  cpu.farJump(entry >>> 16, entry & 0xffff);
}

/**
 * PROTECTED-MODE and TRAP-OR-INTERRUPT-GATE of the INT n pseudocode: the gate, then its code
 * segment, each fault with the error code the SDM gives (`ext` added: error_code(num, idt, EXT)).
 * A software interrupt (`ext` = 0) checks the gate's DPL against CPL.
 */
function deliverProtected(cpu: X86Cpu, vector: number, ext: number, hasCode: boolean, code: number): void {
  const s = cpu.s;
  const idtErr = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > s.idtLimit) cpu.gp(idtErr);
  const lo = cpu.readLinear(s.idtBase + vector * 8, 4);
  const hi = cpu.readLinear(s.idtBase + vector * 8 + 4, 4);
  const type = (hi >>> 8) & 0x1f;
  const gateDpl = (hi >>> 13) & 3;
  if (type !== 0x05 && type !== 0x06 && type !== 0x07 && type !== 0x0e && type !== 0x0f) cpu.gp(idtErr);
  if (ext === 0 && gateDpl < cpu.cpl) cpu.gp(idtErr);
  if (!(hi & 0x8000)) cpu.raise(Vec.NP, idtErr);
  // A task gate: the interrupt task runs (with the error code on its stack), or a VM exit.
  if (type === 0x05) {
    taskGateInIdt(cpu, lo, ext, hasCode ? code : undefined);
    return;
  }
  const g = gateScratch;
  g.gate32 = (type & 0x8) !== 0;
  g.trapGate = (type & 1) !== 0;
  g.selector = lo >>> 16;
  g.offset = g.gate32 ? ((lo & 0xffff) | (hi & 0xffff0000)) >>> 0 : lo & 0xffff;

  const selErr = (g.selector & 0xfffc) + ext;
  if ((g.selector & 0xfffc) === 0) cpu.gp(ext);
  const cs = copyDescriptor(readDescriptor(cpu, g.selector, Vec.GP, ext), csScratch);
  g.cs = cs;
  const csDpl = (cs.ar >> Ar.DPL_SHIFT) & 3;
  if (!(cs.ar & Ar.S) || !(cs.ar & 0x8) || csDpl > cpu.cpl) cpu.gp(selErr);
  if (!(cs.ar & Ar.P)) cpu.raise(Vec.NP, selErr);

  if (!(cs.ar & 0x4) && csDpl < cpu.cpl) {
    if (s.eflags & Fl.VM) deliverFromVm86(cpu, g, ext, hasCode, code);
    else deliverToInnerLevel(cpu, g, csDpl, ext, hasCode, code);
  } else {
    // A conforming segment or DPL = CPL (DPL > CPL faulted above); never from virtual-8086 mode.
    if (s.eflags & Fl.VM) cpu.gp(selErr);
    deliverToSameLevel(cpu, g, ext, hasCode, code);
  }
}

/**
 * INTER-PRIVILEGE-LEVEL-INTERRUPT: the stack for privilege level `dpl` from the TSS, checked
 * (#TS, #SS with NewSS's selector) and, with the handler's EIP, before anything changes; then
 * SS, ESP, EFLAGS, CS, EIP (and the error code) pushed there at the gate's width with
 * supervisor writes. A #PF on the new stack leaves the interrupted state whole.
 */
function deliverToInnerLevel(cpu: X86Cpu, g: IdtGate, dpl: number, ext: number, hasCode: boolean, code: number): void {
  const s = cpu.s;
  const width = g.gate32 ? 4 : 2;
  const n = hasCode ? 6 : 5;
  // "IF new stack does not have room for 24 bytes (error code pushed) or 20 bytes" (12 or 10
  // through a 16-bit gate): #SS(NewSS + EXT), checked by innerStack.
  const { ss, esp } = innerStack(cpu, dpl, ext, ssScratch, n, width);
  const ssd = ssScratch;
  if (g.offset > g.cs.limit) cpu.gp(ext);

  const flags = cpu.getEflags();
  frame[0] = s.segSel[SegReg.SS]!;
  frame[1] = s.gpr[Reg.ESP]! >>> 0;
  frame[2] = flags;
  frame[3] = s.segSel[SegReg.CS]!;
  frame[4] = s.eip >>> 0;
  frame[5] = code;
  const sp = writeStackFrame(cpu, ssd.base, ssd.ar, esp, frame, n, width);
  loadSegmentUnchecked(cpu, SegReg.SS, (ss & 0xfffc) | dpl, ssd);
  s.gpr[Reg.ESP] = espWithSp(ssd.ar, s.gpr[Reg.ESP]!, sp);
  enterHandler(cpu, g, dpl, flags);
}

/**
 * INTRA-PRIVILEGE-LEVEL-INTERRUPT: EFLAGS, CS, EIP (and the error code) on the current stack at
 * the gate's width, written at the CPL. The room on the stack ("#SS(EXT)", the error code
 * holds no selector) and the handler's EIP ("#GP(EXT)") are checked first, and ESP changes
 * only after every write, so a fault leaves the interrupted state whole.
 */
function deliverToSameLevel(cpu: X86Cpu, g: IdtGate, ext: number, hasCode: boolean, code: number): void {
  const s = cpu.s;
  const width = g.gate32 ? 4 : 2;
  const n = hasCode ? 4 : 3;
  const ssAr = s.segAr[SegReg.SS]!;
  const sp = cpu.sp;
  if ((ssAr & Ar.UNUSABLE) || !stackHasRoom(ssAr, s.segLimit[SegReg.SS]!, sp, n, width)) cpu.raise(Vec.SS, ext);
  if (g.offset > g.cs.limit) cpu.gp(ext);

  const flags = cpu.getEflags();
  frame[0] = flags;
  frame[1] = s.segSel[SegReg.CS]!;
  frame[2] = s.eip >>> 0;
  frame[3] = code;
  const mask = cpu.ss32 ? 0xffffffff : 0xffff;
  for (let i = 0; i < n; i++) {
    const off = ((sp - (i + 1) * width) & mask) >>> 0;
    if (width === 4) cpu.write32(SegReg.SS, off, frame[i]!);
    else cpu.write16(SegReg.SS, off, frame[i]!);
  }
  cpu.setSp((sp - n * width) & mask);
  enterHandler(cpu, g, cpu.cpl, flags);
}

/** CS:EIP from the gate at privilege `cpl`; TF, NT, VM, RF cleared, and IF through an interrupt gate. */
function enterHandler(cpu: X86Cpu, g: IdtGate, cpl: number, flags: number): void {
  loadSegmentUnchecked(cpu, SegReg.CS, (g.selector & 0xfffc) | cpl, g.cs);
  cpu.s.eip = g.offset;
  let nf = flags & ~(Fl.TF | Fl.NT | Fl.VM | Fl.RF);
  if (!g.trapGate) nf &= ~Fl.IF;
  cpu.setEflags(nf);
  cpu.updateMode();
}

/**
 * The stack of a more privileged level `dpl` from the current TSS, checked as the INT n and
 * CALL (call gate) pseudocode check NewSS before anything is pushed: a null selector is
 * #TS(EXT); RPL or DPL not `dpl`, or not a writable data segment, #TS(NewSS + EXT) (so is a
 * selector outside its table, from readDescriptor); not present, #SS(NewSS + EXT); no room
 * below ESP for the whole frame, `slots` of `width` bytes (expand-down stacks too),
 * #SS(NewSS + EXT). Leaves the descriptor in `ssd`; returns the selector and the ESP from the TSS.
 */
export function innerStack(cpu: X86Cpu, dpl: number, ext: number, ssd: Descriptor, slots: number, width: number): { ss: number; esp: number } {
  const { ss, esp } = tssStack(cpu, dpl, ext);
  const ssErr = (ss & 0xfffc) + ext;
  if ((ss & 0xfffc) === 0) cpu.raise(Vec.TS, ext);
  if ((ss & 3) !== dpl) cpu.raise(Vec.TS, ssErr);
  copyDescriptor(readDescriptor(cpu, ss, Vec.TS, ext), ssd);
  const ssDpl = (ssd.ar >> Ar.DPL_SHIFT) & 3;
  if (ssDpl !== dpl || !(ssd.ar & Ar.S) || (ssd.ar & 0xa) !== 0x2) cpu.raise(Vec.TS, ssErr);
  if (!(ssd.ar & Ar.P)) cpu.raise(Vec.SS, ssErr);
  if (!stackHasRoom(ssd.ar, ssd.limit, esp, slots, width)) cpu.raise(Vec.SS, ssErr);
  return { ss, esp };
}

/** SS:ESP for privilege level `dpl` from the current TSS (16- or 32-bit). */
export function tssStack(cpu: X86Cpu, dpl: number, ext: number): { ss: number; esp: number } {
  const s = cpu.s;
  const type = s.segAr[SegReg.TR]! & 0xf;
  const base = s.segBase[SegReg.TR]!;
  const limit = s.segLimit[SegReg.TR]!;
  const trErr = (s.segSel[SegReg.TR]! & 0xfffc) + ext;
  if (type === 0x9 || type === 0xb) {
    const off = 4 + dpl * 8;
    if (off + 5 > limit) cpu.raise(Vec.TS, trErr);
    return { esp: cpu.readLinear(base + off, 4), ss: cpu.readLinear(base + off + 4, 2) };
  }
  if (type === 0x1 || type === 0x3) {
    const off = 2 + dpl * 4;
    if (off + 3 > limit) cpu.raise(Vec.TS, trErr);
    return { esp: cpu.readLinear(base + off, 2), ss: cpu.readLinear(base + off + 2, 2) };
  }
  return cpu.raise(Vec.TS, trErr);
}
