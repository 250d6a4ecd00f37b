/**
 * The VMX instructions (SDM Vol. 3C ch. 31, "VMX Instruction Reference"): VMXON, VMXOFF,
 * VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE, VMLAUNCH, VMRESUME, INVEPT, INVVPID, VMCALL,
 * with VMsucceed / VMfailInvalid / VMfailValid and the VM-instruction error numbers of 31.4.
 * In non-root operation each of them causes a VM exit. Also the exits of MONITOR, MWAIT and
 * RDPMC, instructions pcvm does not otherwise implement (#UD outside non-root operation).
 *
 * Opcodes: 0F 01 C1 VMCALL, C2 VMLAUNCH, C3 VMRESUME, C4 VMXOFF; 0F 78 VMREAD; 0F 79 VMWRITE;
 * 0F C7 /6 VMPTRLD (66: VMCLEAR, F3: VMXON); 0F C7 /7 VMPTRST; 66 0F 38 80 INVEPT, 81 INVVPID.
 */
import type { X86Cpu } from '../cpu.js';
import { Cr4, Fl } from '../state.js';
import { Vec } from '../exceptions.js';
import { F, fieldWidth, isReadOnly, lookupField, Width } from './vmcs-fields.js';
import { CR0_FIXED0, CR4_FIXED0, Proc, VMCS_REVISION } from './vmx-capabilities.js';
import { validEptp } from './ept.js';
import { physWrite32 } from './vmx-memory.js';
import { ExitReason } from './vm-exit.js';
import { vmEntry } from './vm-entry.js';
import { instructionExit } from './vmx-intercepts.js';
import { NO_VMCS, type VmxUnit } from './vmx-unit.js';
import { VMCS_LAUNCH_OFFSET } from './vmcs-fields.js';

/** VM-instruction error numbers (SDM 31.4). */
export const enum VmError {
  VmcallInRoot = 1, VmclearInvalidAddress = 2, VmclearVmxonPointer = 3, VmlaunchNonClear = 4,
  VmresumeNonLaunched = 5, VmptrldInvalidAddress = 9, VmptrldVmxonPointer = 10,
  VmptrldBadRevision = 11, UnsupportedComponent = 12, VmwriteReadOnly = 13, VmxonInRoot = 15,
  InvalidInvOperand = 28,
}

const ARITH = Fl.CF | Fl.PF | Fl.AF | Fl.ZF | Fl.SF | Fl.OF;

function setFlags(cpu: X86Cpu, set: number): void {
  cpu.materializeFlags();
  cpu.s.eflags = (cpu.s.eflags & ~ARITH) | set;
}

/** VMsucceed: all six arithmetic flags clear. */
function succeed(cpu: X86Cpu): void {
  setFlags(cpu, 0);
}

/** VMfail: VMfailValid(err) with a current VMCS (ZF, error field), else VMfailInvalid (CF). */
function fail(vmx: VmxUnit, err: number): void {
  if (vmx.currentPtr === NO_VMCS) {
    setFlags(vmx.cpu, Fl.CF);
    return;
  }
  vmx.vmcs!.set(F.VM_INSTRUCTION_ERROR, err);
  setFlags(vmx.cpu, Fl.ZF);
}

function failInvalid(vmx: VmxUnit): void {
  setFlags(vmx.cpu, Fl.CF);
}

/**
 * The checks every VMX instruction but VMXON and VMCALL starts with (SDM 31.3): #UD outside
 * VMX operation, in real or virtual-8086 mode and in compatibility mode; a VM exit in non-root
 * operation; #GP(0) above CPL 0.
 */
function vmxCommon(cpu: X86Cpu, reason: ExitReason): VmxUnit {
  const vmx = cpu.vmx;
  if (vmx === undefined || !vmx.inVmx || !cpu.protectedMode || (cpu.lma && !cpu.mode64)) return cpu.raise(Vec.UD);
  if (vmx.nonRoot) instructionExit(cpu, reason);
  if (cpu.cpl !== 0) cpu.gp(0);
  return vmx;
}

/** A 64-bit memory operand (register forms are #UD): [low, high]. */
function readM64(cpu: X86Cpu): [number, number] {
  if (cpu.modrm >= 0xc0) cpu.raise(Vec.UD);
  const lo = cpu.read64(cpu.eaSeg, cpu.eaOff);
  return [lo >>> 0, cpu.hi >>> 0];
}

/** 0F 01 C1-C4 and C8/C9 (after decodeModrm). */
export function vmxGroup7(cpu: X86Cpu): void {
  switch (cpu.modrm) {
    case 0xc1: vmcall(cpu); return;
    case 0xc2: vmlaunchResume(cpu, true); return;
    case 0xc3: vmlaunchResume(cpu, false); return;
    case 0xc4: vmxoff(cpu); return;
    case 0xc8: // MONITOR
      if (cpu.vmx?.nonRoot && (cpu.vmx.vmcs!.get(F.PROC_CONTROLS) & Proc.MONITOR)) instructionExit(cpu, ExitReason.Monitor);
      cpu.unimplemented('monitor');
      return;
    case 0xc9: // MWAIT
      if (cpu.vmx?.nonRoot && (cpu.vmx.vmcs!.get(F.PROC_CONTROLS) & Proc.MWAIT)) instructionExit(cpu, ExitReason.Mwait);
      cpu.unimplemented('mwait');
      return;
    default:
      cpu.unimplemented(`0f 01 ${cpu.modrm.toString(16)}`);
  }
}

/** 0F 33 RDPMC: no performance counters exist; in non-root operation it may exit first. */
export function rdpmc(cpu: X86Cpu): void {
  if (cpu.vmx?.nonRoot && (cpu.vmx.vmcs!.get(F.PROC_CONTROLS) & Proc.RDPMC)) instructionExit(cpu, ExitReason.Rdpmc);
  cpu.unimplemented('rdpmc');
}

/** 0F C7 /6 and /7 (after decodeModrm): VMPTRLD, VMCLEAR, VMXON, VMPTRST. */
export function vmxGroup9(cpu: X86Cpu): void {
  if (cpu.modrm >= 0xc0) cpu.unimplemented(cpu.modOp === 6 ? 'rdrand' : 'rdseed');
  if (cpu.modOp === 7) {
    if (cpu.repPrefix !== 0 || cpu.prefix66) cpu.raise(Vec.UD);
    vmptrst(cpu);
  } else if (cpu.repPrefix === 0xf3) {
    vmxon(cpu);
  } else if (cpu.prefix66) {
    vmclear(cpu);
  } else if (cpu.repPrefix === 0) {
    vmptrld(cpu);
  } else {
    cpu.raise(Vec.UD);
  }
}

function vmxon(cpu: X86Cpu): void {
  const vmx = cpu.vmx;
  const s = cpu.s;
  if (vmx === undefined || !(s.cr4 & Cr4.VMXE) || !cpu.protectedMode || (cpu.lma && !cpu.mode64)) cpu.raise(Vec.UD);
  if (vmx.nonRoot) instructionExit(cpu, ExitReason.Vmxon);
  if (vmx.inVmx) {
    if (cpu.cpl !== 0) cpu.gp(0);
    fail(vmx, VmError.VmxonInRoot);
    return;
  }
  if (cpu.cpl !== 0) cpu.gp(0);
  // CR0/CR4 must meet the fixed bits (IA32_FEATURE_CONTROL is locked with VMX enabled).
  if (((s.cr0 & CR0_FIXED0) >>> 0) !== CR0_FIXED0 || (s.cr4 & CR4_FIXED0) !== CR4_FIXED0 || (s.cr4 & ~vmx.caps.cr4Fixed1)) cpu.gp(0);
  const [lo, hi] = readM64(cpu);
  if (!vmx.validRegion(lo, hi) || vmx.regionRevision(lo + hi * 4294967296) !== VMCS_REVISION) {
    failInvalid(vmx);
    return;
  }
  vmx.inVmx = true;
  vmx.vmxonPtr = lo + hi * 4294967296;
  vmx.currentPtr = NO_VMCS;
  vmx.vmcs = undefined;
  succeed(cpu);
}

function vmxoff(cpu: X86Cpu): void {
  const vmx = vmxCommon(cpu, ExitReason.Vmxoff);
  // Active VMCSs are written back: software should have cleared them (SDM 25.11.3).
  for (const addr of [...vmx.cache.keys()]) vmx.flushVmcs(addr);
  vmx.inVmx = false;
  vmx.currentPtr = NO_VMCS;
  vmx.vmcs = undefined;
  // An INIT latched in root operation is unblocked now and would reset the processor (SDM
  // 24.8); the INIT reset is not modelled, so it is logged and dropped.
  if (vmx.initPending) {
    vmx.initPending = false;
    if (cpu.bus.log.enabled('unimp')) cpu.bus.log.log('unimp', 'pcvm: INIT latched in VMX root operation unblocked by VMXOFF: INIT reset not implemented, ignored');
  }
  succeed(cpu);
}

function vmclear(cpu: X86Cpu): void {
  const vmx = vmxCommon(cpu, ExitReason.Vmclear);
  const [lo, hi] = readM64(cpu);
  const addr = lo + hi * 4294967296;
  if (!vmx.validRegion(lo, hi)) return fail(vmx, VmError.VmclearInvalidAddress);
  if (addr === vmx.vmxonPtr) return fail(vmx, VmError.VmclearVmxonPointer);
  const cached = vmx.cache.get(addr);
  if (cached) {
    cached.launched = false;
    vmx.flushVmcs(addr);
  } else {
    physWrite32(cpu.bus.mem, addr + VMCS_LAUNCH_OFFSET, 0);
  }
  if (addr === vmx.currentPtr) {
    vmx.currentPtr = NO_VMCS;
    vmx.vmcs = undefined;
  }
  succeed(cpu);
}

function vmptrld(cpu: X86Cpu): void {
  const vmx = vmxCommon(cpu, ExitReason.Vmptrld);
  const [lo, hi] = readM64(cpu);
  const addr = lo + hi * 4294967296;
  if (!vmx.validRegion(lo, hi)) return fail(vmx, VmError.VmptrldInvalidAddress);
  if (addr === vmx.vmxonPtr) return fail(vmx, VmError.VmptrldVmxonPointer);
  // Bit 31 (shadow VMCS) must be 0 without VMCS shadowing: it makes the revision mismatch.
  if (vmx.regionRevision(addr) !== VMCS_REVISION) return fail(vmx, VmError.VmptrldBadRevision);
  vmx.vmcs = vmx.loadVmcs(addr);
  vmx.currentPtr = addr;
  succeed(cpu);
}

function vmptrst(cpu: X86Cpu): void {
  const vmx = vmxCommon(cpu, ExitReason.Vmptrst);
  const p = vmx.currentPtr;
  if (p === NO_VMCS) cpu.write64(cpu.eaSeg, cpu.eaOff, 0xffffffff, 0xffffffff);
  else cpu.write64(cpu.eaSeg, cpu.eaOff, p >>> 0, Math.floor(p / 4294967296));
  succeed(cpu);
}

/** The field encoding in the ModRM reg operand; -1 when bits 63:32 are set (64-bit mode). */
function encodingOperand(cpu: X86Cpu): number {
  const r = cpu.modReg;
  if (cpu.mode64 && cpu.s.gprHi[r] !== 0) return -1;
  return cpu.s.gpr[r]! >>> 0;
}

/** 0F 78: VMREAD r/m, reg. */
export function vmread(cpu: X86Cpu): void {
  if (cpu.prefix66 || cpu.repPrefix !== 0) cpu.raise(Vec.UD); // EXTRQ/INSERTQ (AMD) do not exist here
  cpu.decodeModrm();
  const vmx = vmxCommon(cpu, ExitReason.Vmread);
  if (vmx.currentPtr === NO_VMCS) return failInvalid(vmx);
  const enc = encodingOperand(cpu);
  const slot = enc < 0 ? -1 : lookupField(enc);
  if (slot < 0) return fail(vmx, VmError.UnsupportedComponent);
  const v = vmx.vmcs!;
  let lo: number;
  let hi: number;
  if (enc & 1) {
    lo = v.hi[slot]!;
    hi = 0;
  } else {
    lo = v.lo[slot]!;
    hi = v.hi[slot]!;
    const w = fieldWidth(enc);
    if (w === Width.W16) lo &= 0xffff;
    if (w === Width.W16 || w === Width.W32) hi = 0;
  }
  if (cpu.mode64) {
    cpu.hi = hi | 0;
    cpu.writeRm(64, lo);
  } else {
    cpu.writeRm(32, lo);
  }
  succeed(cpu);
}

/** 0F 79: VMWRITE reg, r/m. */
export function vmwrite(cpu: X86Cpu): void {
  if (cpu.prefix66 || cpu.repPrefix !== 0) cpu.raise(Vec.UD);
  cpu.decodeModrm();
  const vmx = vmxCommon(cpu, ExitReason.Vmwrite);
  if (vmx.currentPtr === NO_VMCS) return failInvalid(vmx);
  let lo: number;
  let hi = 0;
  if (cpu.mode64) {
    lo = cpu.readRm(64);
    hi = cpu.hi >>> 0;
  } else {
    lo = cpu.readRm(32);
  }
  const enc = encodingOperand(cpu);
  const slot = enc < 0 ? -1 : lookupField(enc);
  if (slot < 0) return fail(vmx, VmError.UnsupportedComponent);
  if (isReadOnly(enc)) return fail(vmx, VmError.VmwriteReadOnly);
  const v = vmx.vmcs!;
  if (enc & 1) {
    v.hi[slot] = lo >>> 0; // the high half of a 64-bit field
  } else {
    const w = fieldWidth(enc);
    v.lo[slot] = (w === Width.W16 ? lo & 0xffff : lo) >>> 0;
    // 32-bit operands clear the upper half of 64-bit and natural-width fields.
    v.hi[slot] = w === Width.W16 || w === Width.W32 ? 0 : hi;
  }
  succeed(cpu);
}

function vmlaunchResume(cpu: X86Cpu, launch: boolean): void {
  const vmx = vmxCommon(cpu, launch ? ExitReason.Vmlaunch : ExitReason.Vmresume);
  if (vmx.currentPtr === NO_VMCS) return failInvalid(vmx);
  const v = vmx.vmcs!;
  if (launch && v.launched) return fail(vmx, VmError.VmlaunchNonClear);
  if (!launch && !v.launched) return fail(vmx, VmError.VmresumeNonLaunched);
  const err = vmEntry(vmx, launch);
  if (err !== 0) fail(vmx, err);
}

function vmcall(cpu: X86Cpu): void {
  const vmx = cpu.vmx;
  if (vmx === undefined || !vmx.inVmx) cpu.raise(Vec.UD);
  if (vmx.nonRoot) instructionExit(cpu, ExitReason.Vmcall);
  if ((cpu.s.eflags & Fl.VM) || (cpu.lma && !cpu.mode64)) cpu.raise(Vec.UD);
  if (cpu.cpl !== 0) cpu.gp(0);
  // No SMM dual-monitor treatment: VMCALL in root operation fails.
  fail(vmx, VmError.VmcallInRoot);
}

/** 66 0F 38 80 INVEPT / 81 INVVPID r, m128 (after the third opcode byte). */
export function invEptVpid(cpu: X86Cpu, op3: number): void {
  cpu.decodeModrm();
  if (cpu.modrm >= 0xc0) cpu.raise(Vec.UD);
  const invept = op3 === 0x80;
  const vmx = vmxCommon(cpu, invept ? ExitReason.Invept : ExitReason.Invvpid);
  const r = cpu.modReg;
  const typeHi = cpu.mode64 ? cpu.s.gprHi[r]! : 0;
  const type = cpu.s.gpr[r]! >>> 0;
  const d0 = cpu.read64(cpu.eaSeg, cpu.eaOff) >>> 0;
  const d0hi = cpu.hi >>> 0;
  cpu.read64(cpu.eaSeg, cpu.offsetAdd(cpu.eaOff, 8)); // the linear address (INVVPID) or reserved (INVEPT)
  const d1hi = cpu.hi | 0;
  if (typeHi !== 0) return fail(vmx, VmError.InvalidInvOperand);
  if (invept) {
    // Types 1 (single-context, with a valid EPTP) and 2 (global) are supported.
    if (type !== 1 && type !== 2) return fail(vmx, VmError.InvalidInvOperand);
    if (type === 1 && !validEptp(d0, d0hi)) return fail(vmx, VmError.InvalidInvOperand);
  } else {
    // Types 0 (individual address), 1 (single context), 2 (all contexts), 3 (single context
    // retaining globals); bits 63:16 of the descriptor are reserved; VPID 0 only for type 2.
    if (type > 3) return fail(vmx, VmError.InvalidInvOperand);
    if ((d0 >>> 16) !== 0 || d0hi !== 0) return fail(vmx, VmError.InvalidInvOperand);
    if (type !== 2 && (d0 & 0xffff) === 0) return fail(vmx, VmError.InvalidInvOperand);
    if (type === 0 && (d1hi >> 15) !== 0 && (d1hi >> 15) !== -1) return fail(vmx, VmError.InvalidInvOperand);
  }
  // Translations are never kept across VM entries and exits, so the TLB is all there is to drop.
  cpu.mmu.flushAll();
  succeed(cpu);
}

/** CR0 bits that may not be cleared in VMX operation (MOV to CR0 in root operation: #GP). */
export function vmxCr0Ok(cpu: X86Cpu, value: number): boolean {
  const vmx = cpu.vmx;
  if (!vmx?.inVmx || vmx.nonRoot) return true;
  return ((value & CR0_FIXED0) >>> 0) === CR0_FIXED0;
}

/** CR4 in VMX root operation keeps VMXE (MOV to CR4 clearing it: #GP). */
export function vmxCr4Ok(cpu: X86Cpu, value: number): boolean {
  const vmx = cpu.vmx;
  if (!vmx?.inVmx || vmx.nonRoot) return true;
  return (value & Cr4.VMXE) !== 0;
}

