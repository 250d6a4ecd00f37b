/**
 * Task switches in VMX non-root operation (SDM Vol. 3C 26.4.2 "Treatment of Task Switches"):
 * every attempt is a VM exit with reason 9, after the checks the processor makes before any
 * VM exit can happen — the privilege and present checks on the task gate or TSS descriptor,
 * and the present bit and limit of the TSS descriptor. The exit qualification (SDM Table
 * 28-2) holds the selector of the TSS the guest tried to switch to in bits 15:0 and its
 * source in bits 31:30.
 *
 * Outside non-root operation the same paths, after the same checks, make the task switch
 * itself (task-switch.ts).
 */
import type { X86Cpu } from '../cpu.js';
import { Ar, SegReg } from '../state.js';
import { Vec } from '../exceptions.js';
import { readDescriptor } from '../segmentation.js';
import { ExitReason, vmExit } from './vm-exit.js';
import { switchTask, TaskSource } from '../task-switch.js';

const enum SysType { Tss16 = 0x1, TaskGate = 0x5, Tss32 = 0x9 }

/**
 * Far CALL or JMP in protected mode to a system descriptor of type 1 or 9 (available TSS) or
 * 5 (task gate): the task switch, a VM exit or a fault.
 */
export function farTransferToTask(cpu: X86Cpu, selector: number, call: boolean): void {
  const d = readDescriptor(cpu, selector);
  const type = d.ar & 0xf;
  const gateLo = d.lo;
  // DPL of the gate or TSS descriptor must be numerically >= CPL and the selector's RPL.
  const dpl = (d.ar >> Ar.DPL_SHIFT) & 3;
  if (dpl < cpu.cpl || dpl < (selector & 3)) cpu.gp(selector & 0xfffc);
  let tss = selector;
  if (type === SysType.TaskGate) {
    if (!(d.ar & Ar.P)) cpu.raise(Vec.NP, selector & 0xfffc);
    tss = gateLo >>> 16;
  }
  checkTargetTss(cpu, tss, 0);
  taskSwitch(cpu, call ? TaskSource.Call : TaskSource.Jmp, tss, 0, undefined);
}

/**
 * An event delivered through a task gate in the IDT (the gate's DPL and present bit are
 * already checked). `gateLo` is the gate's low dword, whose bits 31:16 select the TSS; `ext`
 * the EXT bit of the event's error codes; `errorCode` the exception's, if it has one (pushed
 * on the new task's stack, SDM 6.12.2).
 */
export function taskGateInIdt(cpu: X86Cpu, gateLo: number, ext: number, errorCode: number | undefined): void {
  const tss = gateLo >>> 16;
  checkTargetTss(cpu, tss, ext);
  taskSwitch(cpu, TaskSource.IdtTaskGate, tss, ext, errorCode);
}

/** IRET with EFLAGS.NT = 1 outside IA-32e mode: a return to the task in the back link. */
export function iretTaskReturn(cpu: X86Cpu): void {
  // The previous-task link is the first word of the current TSS (SDM 7.4).
  const link = cpu.readLinear(cpu.s.segBase[SegReg.TR]!, 2) & 0xffff;
  taskSwitch(cpu, TaskSource.Iret, link, 0, undefined);
}

/**
 * The target TSS of a CALL, JMP or task gate: in the GDT, an available TSS, present, with a
 * limit covering the TSS (SDM 7.3, TASK SWITCHING checks before the switch commits).
 */
function checkTargetTss(cpu: X86Cpu, tss: number, ext: number): void {
  const err = (tss & 0xfffc) + ext;
  if ((tss & 4) || (tss & 0xfffc) === 0) cpu.gp(err);
  const d = readDescriptor(cpu, tss, Vec.GP, ext);
  const type = d.ar & 0x1f; // S included: a code/data segment is not a TSS
  if (type !== SysType.Tss16 && type !== SysType.Tss32) cpu.gp(err);
  if (!(d.ar & Ar.P)) cpu.raise(Vec.NP, err);
  if (d.limit < (type === SysType.Tss32 ? 0x67 : 0x2b)) cpu.raise(Vec.TS, err);
}

/** The switch itself (task-switch.ts), or in VMX non-root operation the VM exit. */
function taskSwitch(cpu: X86Cpu, source: TaskSource, tss: number, ext: number, errorCode: number | undefined): void {
  if (!cpu.vmxNonRoot) {
    switchTask(cpu, source, tss, ext, errorCode);
    return;
  }
  const vmx = cpu.vmx!;
  // The instruction's length for CALL, JMP, IRET and software interrupts (INT n, INT3, INTO
  // have moved EIP past themselves); 0 for hardware events through an IDT task gate. A task
  // gate reached while delivering an event reports that event as IDT-vectoring information.
  const vectoring = vmx.vectoringInfo;
  const swEvent = source !== TaskSource.IdtTaskGate || ((vectoring & 0x80000000) !== 0 && ((vectoring >>> 8) & 7) >= 4);
  vmExit(vmx, ExitReason.TaskSwitch, {
    qual: ((source << 30) | (tss & 0xffff)) >>> 0,
    instrLen: swEvent ? (cpu.s.eip - cpu.startEip) & 0xf : 0,
  });
  return vmx.unwind();
}
