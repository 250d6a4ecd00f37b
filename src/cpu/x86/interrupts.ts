/**
 * Delivering interrupts and exceptions (SDM Vol. 3A 6.12 and 20.1.4): through the real-mode
 * IVT, or through protected-mode interrupt and trap gates with the stack switch from the TSS
 * when the handler runs at a more privileged level.
 *
 * Events raised in virtual-8086 mode take the protected-mode path; the ring-0 entry with the
 * data segments saved (SDM 20.3.1.1) is vm86.ts. IA-32e mode delivery is interrupts-long.ts.
 * A task gate switches to the interrupt task (SDM 6.12.2; task-switch.ts, or in VMX non-root
 * operation a VM exit, task-switch-exit.ts).
 */
import { Ar, Fl, Reg, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import { loadSegmentUnchecked, copyDescriptor, readDescriptor, type Descriptor } from './segmentation.js';
import { deliverLong } from './interrupts-long.js';
import type { X86Cpu } from './cpu.js';
import { taskGateInIdt } from './vmx/task-switch-exit.js';
import { deliverFromVm86, type Vm86Gate } from './vm86.js';

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

const ssScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };
const csScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };
const vm86Gate: Vm86Gate = { gate32: true, trapGate: false, selector: 0, cs: csScratch, offset: 0 };

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
  if (cpu.lma) {
    const ext = kind === EventKind.External || kind === EventKind.Nmi ? 1 : 0;
    deliverLong(cpu, vector, ext, kind === EventKind.SoftwareInt || kind === EventKind.SoftwareException, hasCode, code);
  } else if (cpu.protectedMode || (cpu.s.eflags & Fl.VM)) deliverProtected(cpu, vector, kind, hasCode, code);
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

function deliverProtected(cpu: X86Cpu, vector: number, kind: EventKind, hasCode: boolean, code: number): void {
  const s = cpu.s;
  const ext = kind === EventKind.External || kind === EventKind.Nmi ? 1 : 0;
  const idtErr = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > s.idtLimit) cpu.gp(idtErr);
  const lo = cpu.readLinear(s.idtBase + vector * 8, 4);
  const hi = cpu.readLinear(s.idtBase + vector * 8 + 4, 4);
  const type = (hi >>> 8) & 0x1f;
  const gateDpl = (hi >>> 13) & 3;
  if (type !== 0x05 && type !== 0x06 && type !== 0x07 && type !== 0x0e && type !== 0x0f) cpu.gp(idtErr);
  if ((kind === EventKind.SoftwareInt || kind === EventKind.SoftwareException) && gateDpl < cpu.cpl) cpu.gp(idtErr);
  if (!(hi & 0x8000)) cpu.raise(Vec.NP, idtErr);
  // A task gate: the interrupt task runs (with the error code on its stack), or a VM exit.
  if (type === 0x05) {
    taskGateInIdt(cpu, lo, ext, hasCode ? code : undefined);
    return;
  }
  const gate32 = (type & 0x8) !== 0;
  const trapGate = (type & 1) !== 0;
  const selector = lo >>> 16;
  const offset = gate32 ? ((lo & 0xffff) | (hi & 0xffff0000)) >>> 0 : lo & 0xffff;

  if ((selector & 0xfffc) === 0) cpu.gp(ext);
  const cs = copyDescriptor(readDescriptor(cpu, selector), csScratch);
  const csDpl = (cs.ar >> Ar.DPL_SHIFT) & 3;
  if (!(cs.ar & Ar.S) || !(cs.ar & 0x8) || csDpl > cpu.cpl) cpu.gp((selector & 0xfffc) + ext);
  if (!(cs.ar & Ar.P)) cpu.raise(Vec.NP, (selector & 0xfffc) + ext);

  const flags = cpu.getEflags();
  const oldCs = s.segSel[SegReg.CS]!;
  const oldEip = s.eip >>> 0;
  const width = gate32 ? 4 : 2;
  const conforming = (cs.ar & 0x4) !== 0;

  if (!conforming && csDpl < cpu.cpl) {
    if (flags & Fl.VM) {
      const g = vm86Gate;
      g.gate32 = gate32;
      g.trapGate = trapGate;
      g.selector = selector;
      g.cs = cs;
      g.offset = offset;
      deliverFromVm86(cpu, g, ext, hasCode, code);
      return;
    }
    // Inter-privilege: switch to the stack for csDpl from the TSS.
    const { ss, esp } = tssStack(cpu, csDpl, ext);
    const ssd = copyDescriptor(readDescriptor(cpu, ss, Vec.TS), ssScratch);
    const ssDpl = (ssd.ar >> Ar.DPL_SHIFT) & 3;
    if ((ss & 3) !== csDpl || ssDpl !== csDpl || !(ssd.ar & Ar.S) || (ssd.ar & 0xa) !== 0x2) cpu.raise(Vec.TS, (ss & 0xfffc) + ext);
    if (!(ssd.ar & Ar.P)) cpu.raise(Vec.SS, (ss & 0xfffc) + ext);
    const mask = ssd.ar & Ar.DB ? 0xffffffff : 0xffff;
    let sp = esp;
    const push = (v: number) => {
      sp = ((sp - width) & mask) >>> 0;
      cpu.writeLinear(ssd.base + sp, width === 4 ? 4 : 2, v);
    };
    push(s.segSel[SegReg.SS]!);
    push(s.gpr[Reg.ESP]! >>> 0);
    push(flags);
    push(oldCs);
    push(oldEip);
    if (hasCode) push(code);
    loadSegmentUnchecked(cpu, SegReg.SS, (ss & 0xfffc) | csDpl, ssd);
    if (mask === 0xffff) s.gpr[Reg.ESP] = (s.gpr[Reg.ESP]! & ~0xffff) | sp;
    else s.gpr[Reg.ESP] = sp;
  } else if (conforming || csDpl === cpu.cpl) {
    if (flags & Fl.VM) cpu.gp((selector & 0xfffc) + ext);
    cpu.push(width * 8, flags);
    cpu.push(width * 8, oldCs);
    cpu.push(width * 8, oldEip);
    if (hasCode) cpu.push(width * 8, code);
  } else {
    cpu.gp((selector & 0xfffc) + ext);
  }
  const newCpl = conforming ? cpu.cpl : csDpl;
  loadSegmentUnchecked(cpu, SegReg.CS, (selector & 0xfffc) | newCpl, cs);
  s.eip = offset;
  let nf = flags & ~(Fl.TF | Fl.NT | Fl.VM | Fl.RF);
  if (!trapGate) nf &= ~Fl.IF;
  cpu.setEflags(nf);
  cpu.updateMode();
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
