/**
 * Far CALL and JMP through call gates (SDM Vol. 3A 5.8.3 "Call Gates", 5.8.4 "Accessing a Code
 * Segment Through a Call Gate", 5.8.5 "Stack Switching", 5.8.3.1 "IA-32e Mode Call Gates";
 * Vol. 2 CALL and JMP, "CALL-GATE" and "MORE-PRIVILEGE"/"SAME-PRIVILEGE").
 *
 * Outside IA-32e mode a gate is 8 bytes: type 4 (16-bit gate) or 0xC (32-bit gate), with a
 * parameter count (bits 4:0 of the high dword) of words or dwords to copy from the caller's
 * stack when a CALL goes to a more privileged non-conforming segment. The gate's size, not the
 * instruction's operand size, sets the width of every push and of the target offset.
 *
 * In IA-32e mode (64-bit and compatibility mode) only the 16-byte 64-bit gate exists (type
 * 0xC; type 4 is reserved): the target must be 64-bit code (L = 1, D = 0), pushes are 8 bytes,
 * no parameters are copied, and a privilege change takes RSPn from the 64-bit TSS and loads a
 * null SS whose RPL is the new CPL.
 *
 * Every check and every memory access (the TSS, the caller's parameters, the frame on the new
 * stack, the descriptors' accessed bits) happens before a register changes, so a fault leaves
 * the caller's state whole. The way back is RETF (control.ts retFar, long-control.ts
 * retFarLong), with `RETF imm16` releasing the copied parameters from both stacks.
 */
import { Ar, Reg, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import {
  copyDescriptor, descriptorAddress, loadSegmentUnchecked, readDescriptor, setAccessed, type Descriptor,
} from './segmentation.js';
import { innerStack } from './interrupts.js';
import { espWithSp, writeStackFrame } from './stack-room.js';
import { tssStack as tssStack64 } from './interrupts-long.js';
import { isCanonical, linear48 } from './long-decode.js';
import type { X86Cpu } from './cpu.js';

const gateScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };
const csScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };
const ssScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };
/** The values a legacy inner CALL pushes, in push order: SS, ESP, up to 31 parameters, CS, EIP. */
const frame = new Uint32Array(35);
/** A 64-bit gate's frame as (low, high) pairs: SS, RSP, CS, RIP (or only CS, RIP). */
const frame64 = new Int32Array(8);

const enum GateType { Call16 = 0x4, Call32 = 0xc }

/**
 * A far CALL (`call`) or JMP whose selector names a system descriptor of type 4 or 0xC (in
 * IA-32e mode: any system descriptor other than a task gate or TSS, which the callers refuse
 * first). Completes the transfer or faults with nothing changed.
 */
export function farTransferThroughCallGate(cpu: X86Cpu, selector: number, call: boolean): void {
  const s = cpu.s;
  const gateErr = selector & 0xfffc;
  const gate = copyDescriptor(readDescriptor(cpu, selector), gateScratch);
  const type = gate.ar & 0xf;
  // IA-32e mode redefines type 0xC as the 64-bit gate and has no 16-bit gate (5.8.3.1).
  if (cpu.lma ? type !== GateType.Call32 : type !== GateType.Call16 && type !== GateType.Call32) cpu.gp(gateErr);
  const gateDpl = (gate.ar >> Ar.DPL_SHIFT) & 3;
  if (gateDpl < cpu.cpl || gateDpl < (selector & 3)) cpu.gp(gateErr);
  if (!(gate.ar & Ar.P)) cpu.raise(Vec.NP, gateErr);
  const targetLo = type === GateType.Call32 ? ((gate.lo & 0xffff) | (gate.hi & 0xffff0000)) >>> 0 : gate.lo & 0xffff;
  let targetHi = 0;
  if (cpu.lma) {
    // The upper 8 bytes lie inside the table and carry type 0 in bits 12:8 of their high dword,
    // so that the upper half of a 16-byte descriptor is never taken for a gate (5.8.3.1).
    const tableLimit = selector & 4 ? s.segLimit[SegReg.LDTR]! : s.gdtLimit;
    if ((selector & 0xfff8) + 15 > tableLimit) cpu.gp(gateErr);
    const upper = descriptorAddress(cpu, selector) + 8;
    const offsetHi = cpu.readLinear(upper, 4);
    if ((cpu.readLinear(upper + 4, 4) >>> 8) & 0x1f) cpu.gp(gateErr);
    targetHi = offsetHi | 0;
  }

  // The target code segment (CALL-GATE in the CALL and JMP pages). Its selector's RPL is not checked.
  const csSel = gate.lo >>> 16;
  if ((csSel & 0xfffc) === 0) cpu.gp(0);
  const cs = copyDescriptor(readDescriptor(cpu, csSel), csScratch);
  const csErr = csSel & 0xfffc;
  const csDpl = (cs.ar >> Ar.DPL_SHIFT) & 3;
  const conforming = (cs.ar & 0x4) !== 0;
  if (!(cs.ar & Ar.S) || !(cs.ar & 0x8)) cpu.gp(csErr);
  // CALL may go inward (DPL <= CPL); JMP only to the same level unless the target conforms.
  if (call || conforming ? csDpl > cpu.cpl : csDpl !== cpu.cpl) cpu.gp(csErr);
  if (cpu.lma && (!(cs.ar & Ar.L) || (cs.ar & Ar.DB))) cpu.gp(csErr);
  if (!(cs.ar & Ar.P)) cpu.raise(Vec.NP, csErr);

  const inner = !conforming && csDpl < cpu.cpl;
  if (cpu.lma) {
    const target = targetHi * 4294967296 + targetLo;
    if (!call) jump64(cpu, csSel, cs, target);
    else if (inner) callInner64(cpu, csSel, cs, csDpl, target);
    else callSame64(cpu, csSel, cs, target);
  } else if (!call) {
    jumpLegacy(cpu, csSel, cs, targetLo);
  } else if (inner) {
    callInnerLegacy(cpu, type === GateType.Call32 ? 4 : 2, gate.hi & 0x1f, csSel, cs, csDpl, targetLo);
  } else {
    callSameLegacy(cpu, type === GateType.Call32 ? 4 : 2, csSel, cs, targetLo);
  }
}

// =============================================================================================
// Legacy protected mode (and never compatibility mode: IA-32e gates are 64-bit)
// =============================================================================================

function jumpLegacy(cpu: X86Cpu, csSel: number, cs: Descriptor, target: number): void {
  if (target > cs.limit) cpu.gp(0);
  loadSegmentUnchecked(cpu, SegReg.CS, (csSel & 0xfffc) | cpu.cpl, cs);
  cpu.s.eip = target;
  cpu.updateMode();
}

/** SAME-PRIVILEGE: CS:EIP pushed at the gate's width on the current stack. */
function callSameLegacy(cpu: X86Cpu, width: number, csSel: number, cs: Descriptor, target: number): void {
  const s = cpu.s;
  const oldEsp = s.gpr[Reg.ESP]!;
  try {
    cpu.push(width * 8, s.segSel[SegReg.CS]!);
    cpu.push(width * 8, width === 4 ? s.eip : s.eip & 0xffff);
    if (target > cs.limit) cpu.gp(0);
    setAccessed(cpu, csSel, cs);
  } catch (e) {
    s.gpr[Reg.ESP] = oldEsp;
    throw e;
  }
  loadSegmentUnchecked(cpu, SegReg.CS, (csSel & 0xfffc) | cpu.cpl, cs);
  s.eip = target;
  cpu.updateMode();
}

/**
 * MORE-PRIVILEGE (5.8.5, Figure 5-13): SS:ESP for the new CPL from the TSS, the caller's SS:ESP,
 * `count` parameters and CS:EIP pushed there at the gate's width.
 */
function callInnerLegacy(cpu: X86Cpu, width: number, count: number, csSel: number, cs: Descriptor, newCpl: number, target: number): void {
  const s = cpu.s;
  // Room on the new stack for every slot (innerStack checks it against the limit).
  const { ss, esp } = innerStack(cpu, newCpl, 0, ssScratch, count + 4, width);
  const ssd = ssScratch;
  if (target > cs.limit) cpu.gp(0);

  // The frame, the parameters read from the caller's stack at its privilege (#SS(0), #PF).
  const oldMask = cpu.ss32 ? 0xffffffff : 0xffff;
  const oldSp = cpu.sp;
  let n = 0;
  frame[n++] = s.segSel[SegReg.SS]!;
  frame[n++] = width === 4 ? s.gpr[Reg.ESP]! : s.gpr[Reg.ESP]! & 0xffff;
  for (let i = count - 1; i >= 0; i--) {
    const off = ((oldSp + i * width) & oldMask) >>> 0;
    frame[n++] = width === 4 ? cpu.read32(SegReg.SS, off) : cpu.read16(SegReg.SS, off);
  }
  frame[n++] = s.segSel[SegReg.CS]!;
  frame[n++] = width === 4 ? s.eip : s.eip & 0xffff;

  // Descriptor accessed bits, then the frame: supervisor writes, as the new CPL is below 3.
  setAccessed(cpu, ss, ssd);
  setAccessed(cpu, csSel, cs);
  const sp = writeStackFrame(cpu, ssd.base, ssd.ar, esp, frame, n, width);

  loadSegmentUnchecked(cpu, SegReg.SS, ss, ssd);
  // A 16-bit stack changes SP only, as every push does (QEMU and Bochs keep ESP[31:16]).
  s.gpr[Reg.ESP] = espWithSp(ssd.ar, s.gpr[Reg.ESP]!, sp);
  loadSegmentUnchecked(cpu, SegReg.CS, (csSel & 0xfffc) | newCpl, cs);
  s.eip = target;
  cpu.updateMode();
}

// =============================================================================================
// IA-32e mode: 64-bit call gates
// =============================================================================================

function jump64(cpu: X86Cpu, csSel: number, cs: Descriptor, target: number): void {
  if (!isCanonical(target)) cpu.gp(0);
  loadSegmentUnchecked(cpu, SegReg.CS, (csSel & 0xfffc) | cpu.cpl, cs);
  cpu.updateMode();
  cpu.setRip(target);
}

/**
 * SAME-PRIVILEGE through a 64-bit gate: CS and RIP pushed as quadwords on the current stack,
 * which from compatibility mode is RSP in the 64-bit mode the gate enters.
 */
function callSame64(cpu: X86Cpu, csSel: number, cs: Descriptor, target: number): void {
  const s = cpu.s;
  const rsp = cpu.reg64(Reg.ESP);
  if (!isCanonical(rsp - 16) || !isCanonical(rsp - 1)) cpu.raise(Vec.SS, 0);
  if (!isCanonical(target)) cpu.gp(0);
  frame64[0] = s.segSel[SegReg.CS]!;
  frame64[1] = 0;
  frame64[2] = s.eip;
  frame64[3] = s.ripHi;
  setAccessed(cpu, csSel, cs);
  writeFrame64(cpu, rsp, 2, false);
  loadSegmentUnchecked(cpu, SegReg.CS, (csSel & 0xfffc) | cpu.cpl, cs);
  cpu.updateMode();
  cpu.setReg64From(Reg.ESP, rsp - 16);
  cpu.setRip(target);
}

/** MORE-PRIVILEGE through a 64-bit gate: RSPn from the 64-bit TSS, SS:RSP and CS:RIP pushed as quadwords. */
function callInner64(cpu: X86Cpu, csSel: number, cs: Descriptor, newCpl: number, target: number): void {
  const s = cpu.s;
  // A non-canonical RSPn is #SS(0) there, as is a frame that would leave canonical space.
  const rsp = tssStack64(cpu, 4 + newCpl * 8, 0);
  if (!isCanonical(rsp - 32) || !isCanonical(rsp - 1)) cpu.raise(Vec.SS, 0);
  if (!isCanonical(target)) cpu.gp(0);
  frame64[0] = s.segSel[SegReg.SS]!;
  frame64[1] = 0;
  frame64[2] = s.gpr[Reg.ESP]!;
  frame64[3] = s.gprHi[Reg.ESP]!;
  frame64[4] = s.segSel[SegReg.CS]!;
  frame64[5] = 0;
  frame64[6] = s.eip;
  frame64[7] = s.ripHi;
  setAccessed(cpu, csSel, cs);
  writeFrame64(cpu, rsp, 4, true);
  loadSegmentUnchecked(cpu, SegReg.CS, (csSel & 0xfffc) | newCpl, cs);
  // SS becomes a null selector with RPL = new CPL (5.8.5, "IA-32e mode").
  s.segSel[SegReg.SS] = newCpl;
  s.segBase[SegReg.SS] = 0;
  s.segLimit[SegReg.SS] = 0xffffffff;
  s.segAr[SegReg.SS] = Ar.UNUSABLE | Ar.S | 0x3 | (newCpl << Ar.DPL_SHIFT) | Ar.DB | Ar.G;
  cpu.updateMode();
  cpu.setReg64From(Reg.ESP, rsp - 32);
  cpu.setRip(target);
}

/** Writes `count` quadwords of frame64 below `rsp`, supervisor writes or at the CPL. */
function writeFrame64(cpu: X86Cpu, rsp: number, count: number, supervisor: boolean): void {
  for (let i = 0; i < count; i++) {
    const addr = linear48(rsp - (i + 1) * 8);
    const lo = frame64[2 * i]! >>> 0;
    const hi = frame64[2 * i + 1]! >>> 0;
    if (supervisor) {
      cpu.writeLinear(addr, 4, lo);
      cpu.writeLinear(addr + 4, 4, hi);
    } else {
      cpu.writeData(addr, 4, lo);
      cpu.writeData(addr + 4, 4, hi);
    }
  }
}
