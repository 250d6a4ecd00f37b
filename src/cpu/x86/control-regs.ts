/**
 * Writes to the paging-related control registers — MOV to CR0, CR3, CR4 and WRMSR to
 * IA32_EFER — with their checks and their effect on the TLB and the PAE PDPTE registers
 * (SDM Vol. 3A 2.5, 4.1.1, 4.4.1, 4.10.4.1; Vol. 2 MOV—Move to/from Control Registers).
 *
 * TLB effects (SDM 4.10.4.1): MOV to CR3 drops non-global translations; changing CR0.PG,
 * CR0.WP, CR4.PGE, CR4.PAE, CR4.PSE or EFER.NXE drops all of them (the cached rights depend on
 * them). PDPTEs are (re)loaded, with #GP(0) for reserved bits, when PAE paging is in use after
 * a MOV to CR3, after a MOV to CR0 that changes PG, CD or NW, and after a MOV to CR4 that
 * changes PAE, PGE or PSE (SDM 4.4.1).
 *
 * IA-32e mode (SDM 9.8.5, 2.2.1): with EFER.LME set, enabling CR0.PG activates IA-32e mode
 * (EFER.LMA = 1) and disabling it leaves it; #GP(0) for enabling it without CR4.PAE or with a
 * 64-bit CS, for clearing PG in 64-bit mode, for clearing CR4.PAE while LMA = 1, and for
 * changing EFER.LME while paging is on. IA-32e mode uses 4-level paging, without PDPTE loads.
 *
 * CR4.MCE (machine-check enable) is kept: pcvm never raises #MC (machine-check.ts).
 *
 * VMX (vmx/): CR4.VMXE exists on models with VMX; in VMX root operation CR0.PE, NE, PG and
 * CR4.VMXE cannot be cleared (#GP, SDM 24.8).
 *
 * Not implemented (reserved, #GP): CR4 bits of features CPUID does not advertise (VME, PVI, DE, PCE,
 * OSFXSR, OSXMMEXCPT, UMIP, SMXE, FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP, PKE).
 */
import { Ar, Cr0, Cr4, Efer, SegReg } from './state.js';
import { pagingMode, PagingMode } from './paging.js';
import type { X86Cpu } from './cpu.js';
import { ExtEdx } from './cpu-model.js';
import { MISC_ENABLE_HI_XD_DISABLE } from './platform-msrs.js';
import { vmxCr0Ok, vmxCr4Ok } from './vmx/vmx-instructions.js';

/** CR0 bits that exist (PG CD NW AM WP NE ET TS EM MP PE); the rest read as zero. */
const CR0_BITS = 0xe005003f;
/** CR4 bits of implemented features; setting any other bit is #GP(0). */
export const CR4_SUPPORTED = Cr4.TSD | Cr4.PSE | Cr4.PAE | Cr4.MCE | Cr4.PGE | Cr4.OSFXSR | Cr4.OSXMMEXCPT;
/** IA32_EFER bits WRMSR may change: SCE (SYSCALL), LME (long mode), NXE. */
export const EFER_WRITABLE = Efer.SCE | Efer.LME | Efer.NXE;

/** MOV to CR0. */
export function writeCr0(cpu: X86Cpu, value: number): void {
  const s = cpu.s;
  const v = value >>> 0;
  if ((v & Cr0.PG) && !(v & Cr0.PE)) cpu.gp(0);
  if ((v & Cr0.NW) && !(v & Cr0.CD)) cpu.gp(0);
  if (!vmxCr0Ok(cpu, v)) cpu.gp(0);
  // ET is hardwired to 1 on P6-class parts.
  const next = ((v | Cr0.ET) & CR0_BITS) >>> 0;
  const old = s.cr0 >>> 0;
  const changed = old ^ next;
  if ((next & Cr0.PG) && !(old & Cr0.PG) && (s.efer & Efer.LME)) {
    if (!(s.cr4 & Cr4.PAE)) cpu.gp(0);
    if (s.segAr[SegReg.CS]! & Ar.L) cpu.gp(0);
  }
  if (!(next & Cr0.PG) && (old & Cr0.PG) && cpu.mode64) cpu.gp(0);
  // With LME set, paging on means IA-32e mode: 4-level tables, no PDPTE registers.
  if ((changed & (Cr0.PG | Cr0.CD | Cr0.NW)) && (next & Cr0.PG) && (s.cr4 & Cr4.PAE) && !(s.efer & Efer.LME)) {
    if (!cpu.mmu.loadPdptes(s.cr3)) cpu.gp(0);
  }
  s.cr0 = next;
  if ((next & Cr0.PG) && (s.efer & Efer.LME)) s.efer |= Efer.LMA;
  else s.efer &= ~Efer.LMA;
  cpu.updateMode();
  if (changed & (Cr0.PG | Cr0.WP)) cpu.mmu.flushAll();
}

/** MOV to CR3. */
export function writeCr3(cpu: X86Cpu, value: number): void {
  const s = cpu.s;
  // In 64-bit mode CR3 holds up to MAXPHYADDR bits (the caller checked the reserved ones).
  const v = cpu.mode64 ? value : value >>> 0;
  if (pagingMode(s) === PagingMode.Pae && !cpu.mmu.loadPdptes(v)) cpu.gp(0);
  // Every bit is kept: outside PAE the low bits are ignored when walking, not cleared.
  s.cr3 = v;
  cpu.mmu.flushNonGlobal();
}

/** MOV to CR4. */
export function writeCr4(cpu: X86Cpu, value: number): void {
  const s = cpu.s;
  const v = value >>> 0;
  if (v & ~(cpu.vmx ? CR4_SUPPORTED | Cr4.VMXE : CR4_SUPPORTED)) cpu.gp(0);
  if (!vmxCr4Ok(cpu, v)) cpu.gp(0);
  // CR4.PAE cannot be cleared while IA-32e mode is active (SDM 4.1.2).
  if ((s.efer & Efer.LMA) && !(v & Cr4.PAE)) cpu.gp(0);
  const changed = (s.cr4 ^ v) & (Cr4.PAE | Cr4.PGE | Cr4.PSE);
  if (changed && (s.cr0 & Cr0.PG) && (v & Cr4.PAE) && !(s.efer & Efer.LMA)) {
    if (!cpu.mmu.loadPdptes(s.cr3)) cpu.gp(0);
  }
  s.cr4 = v;
  if (changed) cpu.mmu.flushAll();
}

/**
 * The EFER bits of the CPU's model: SCE and LME with Intel 64, NXE with XD unless
 * IA32_MISC_ENABLE's XD-disable hides it (SDM Vol. 4 Table 2-2, bit 34).
 */
function eferWritable(cpu: X86Cpu): number {
  const ext = cpu.model.extEdx;
  let bits = 0;
  if (ext & ExtEdx.SYSCALL) bits |= Efer.SCE;
  if (ext & ExtEdx.LM) bits |= Efer.LME;
  if ((ext & ExtEdx.NX) && !(cpu.s.platform.miscEnableHi & MISC_ENABLE_HI_XD_DISABLE)) bits |= Efer.NXE;
  return bits & EFER_WRITABLE;
}

/** WRMSR to IA32_EFER (0xC0000080): reserved bits #GP(0); LMA is the processor's to set. */
export function writeEfer(cpu: X86Cpu, lo: number, hi: number): void {
  const s = cpu.s;
  // A bit of a feature the model lacks is reserved; one already set (NXE before XD-disable) may be written back.
  if (hi !== 0 || ((lo >>> 0) & ~(eferWritable(cpu) | (s.efer & EFER_WRITABLE) | Efer.LMA))) cpu.gp(0);
  // LME cannot change while paging is enabled (SDM 9.8.5).
  if ((s.cr0 & Cr0.PG) && ((lo ^ s.efer) & Efer.LME)) cpu.gp(0);
  const next = ((lo & EFER_WRITABLE) | (s.efer & ~EFER_WRITABLE)) >>> 0;
  const changed = s.efer ^ next;
  s.efer = next;
  if (changed & Efer.NXE) cpu.mmu.flushAll();
  cpu.updateMode();
}
