/**
 * SYSENTER and SYSEXIT (0F 34, 0F 35; SDM Vol. 2B, Vol. 3A 5.8.7): fast calls to CPL 0 and
 * back to CPL 3 through flat segments derived from IA32_SYSENTER_CS, with no descriptor
 * reads and no stack switch beyond the MSR-given one.
 *
 *  SYSENTER: #GP(0) in real mode or with SYSENTER_CS[15:2] = 0. Clears VM, IF and RF; CS =
 *  SYSENTER_CS & FFFCh, SS = CS + 8, both flat at DPL 0; CS is 64-bit (L = 1) in IA-32e mode.
 *  ESP/EIP come from SYSENTER_ESP/EIP (all 64 bits in IA-32e mode).
 *  SYSEXIT: #GP(0) in real mode, at CPL ≠ 0 (which covers virtual-8086 mode) or with
 *  SYSENTER_CS[15:2] = 0. Legacy form: CS = SYSENTER_CS + 16, SS = + 24, EIP = EDX, ESP = ECX.
 *  REX.W form (64-bit mode): CS = + 32 (64-bit code), SS = + 40, RIP = RDX, RSP = RCX, #GP(0)
 *  if either is not canonical. Both return to RPL/DPL 3.
 */
import { Fl, Reg } from './state.js';
import { loadFlat } from './long-control.js';
import { isCanonical } from './long-decode.js';
import type { X86Cpu } from './cpu.js';

export function sysenter(cpu: X86Cpu): void {
  const s = cpu.s;
  const cs = s.sysenterCs & 0xfffc;
  if (!(s.cr0 & 1) || cs === 0) cpu.gp(0);
  const ia32e = cpu.lma;
  s.eflags &= ~(Fl.VM | Fl.IF | Fl.RF);
  loadFlat(cpu, cs, (cs + 8) & 0xfffc, 0, ia32e);
  cpu.updateMode();
  if (ia32e) {
    cpu.setReg64From(Reg.ESP, s.sysenterEsp);
    cpu.setRip(s.sysenterEip);
  } else {
    // Outside IA-32e mode only bits 31:0 are used.
    cpu.setReg32(Reg.ESP, s.sysenterEsp >>> 0);
    s.eip = s.sysenterEip >>> 0;
  }
}

export function sysexit(cpu: X86Cpu): void {
  const s = cpu.s;
  const base = s.sysenterCs;
  if (!(s.cr0 & 1) || cpu.cpl !== 0 || (base & 0xfffc) === 0) cpu.gp(0);
  if (cpu.mode64 && cpu.rexW) {
    const rip = cpu.reg64(Reg.EDX);
    const rsp = cpu.reg64(Reg.ECX);
    if (!isCanonical(rip) || !isCanonical(rsp)) cpu.gp(0);
    loadFlat(cpu, ((base + 32) & 0xfffc) | 3, ((base + 40) & 0xfffc) | 3, 3, true);
    cpu.updateMode();
    cpu.setReg64From(Reg.ESP, rsp);
    cpu.setRip(rip);
    return;
  }
  const eip = s.gpr[Reg.EDX]! >>> 0;
  const esp = s.gpr[Reg.ECX]! >>> 0;
  loadFlat(cpu, ((base + 16) & 0xfffc) | 3, ((base + 24) & 0xfffc) | 3, 3, false);
  cpu.updateMode();
  cpu.setReg32(Reg.ESP, esp);
  s.eip = eip;
}
