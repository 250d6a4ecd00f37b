/**
 * VM exits (SDM Vol. 3C ch. 28): recording the exit information, saving guest state into the
 * VMCS, the VM-exit MSR-store area, loading host state and the VM-exit MSR-load area. Also
 * the VM-entry failures of SDM 27.8, which load host state the same way without saving guest
 * state.
 */
import { Ar, Cr0, Cr4, Efer, Fl, Reg, SegReg } from '../state.js';
import { pagingMode, PagingMode, readPdptes } from '../paging.js';
import { readMsr, writeMsr } from '../msr.js';
import { F } from './vmcs-fields.js';
import { EntryCtl, ExitCtl, Pin, Proc2, CR0_FIXED0 } from './vmx-capabilities.js';
import { physRead32, physWrite32 } from './vmx-memory.js';
import type { VmxUnit } from './vmx-unit.js';
import { Shadow } from '../debug-exceptions.js';

/** Basic exit reasons (SDM Appendix C). */
export const enum ExitReason {
  ExceptionOrNmi = 0, ExternalInterrupt = 1, TripleFault = 2, Init = 3, InterruptWindow = 7, NmiWindow = 8,
  TaskSwitch = 9, Cpuid = 10,
  Hlt = 12, Invd = 13, Invlpg = 14, Rdpmc = 15, Rdtsc = 16, Vmcall = 18, Vmclear = 19,
  Vmlaunch = 20, Vmptrld = 21, Vmptrst = 22, Vmread = 23, Vmresume = 24, Vmwrite = 25,
  Vmxoff = 26, Vmxon = 27, CrAccess = 28, MovDr = 29, Io = 30, Rdmsr = 31, Wrmsr = 32,
  InvalidGuestState = 33, MsrLoading = 34, Mwait = 36, Monitor = 39, Pause = 40,
  EptViolation = 48, EptMisconfig = 49, Invept = 50, Rdtscp = 51, PreemptionTimer = 52,
  Invvpid = 53, Wbinvd = 54,
}

/** Bit 31 of the exit reason: VM-entry failure. */
export const ENTRY_FAILURE = 0x80000000;

export interface ExitDetails {
  qual?: number;
  instrLen?: number;
  intrInfo?: number;
  intrError?: number;
  linear?: number;
  gpa?: number;
}

/** VMX-abort indicators (SDM 28.7). */
const enum Abort { SavingMsrs = 1, HostPdpte = 2, LoadingMsrs = 4 }

/**
 * A VM exit from non-root operation: guest RIP is cpu.startEip (the instruction that caused
 * it, or the boundary the run loop set). Leaves the CPU in root operation running the host.
 */
export function vmExit(vmx: VmxUnit, reason: number, d: ExitDetails): void {
  const v = vmx.vmcs!;
  v.set(F.EXIT_REASON, reason);
  v.setNum(F.EXIT_QUALIFICATION, d.qual ?? 0);
  v.set(F.EXIT_INTR_INFO, d.intrInfo ?? 0);
  v.set(F.EXIT_INTR_ERROR, d.intrError ?? 0);
  v.set(F.EXIT_INSTRUCTION_LENGTH, d.instrLen ?? 0);
  // XXX: VM-exit instruction information (for VMX instructions, INS/OUTS...) is not provided.
  v.set(F.EXIT_INSTRUCTION_INFO, 0);
  v.setNum(F.GUEST_LINEAR_ADDRESS, d.linear ?? 0);
  v.setNum(F.GUEST_PHYSICAL_ADDRESS, d.gpa ?? 0);
  v.set(F.IDT_VECTORING_INFO, vmx.vectoringInfo);
  v.set(F.IDT_VECTORING_ERROR, vmx.vectoringError);
  vmx.vectoringInfo = vmx.vectoringError = 0;
  saveGuestState(vmx);
  // Every VM exit clears the valid bit of the VM-entry interruption-information field (SDM 28.2).
  v.set(F.ENTRY_INTR_INFO, v.get(F.ENTRY_INTR_INFO) & 0x7fffffff);
  if (!storeMsrs(vmx)) {
    vmx.leaveNonRoot();
    vmx.abort(Abort.SavingMsrs);
    return;
  }
  vmx.leaveNonRoot();
  loadHostState(vmx, reason === ExitReason.ExceptionOrNmi && ((d.intrInfo ?? 0) & 0x700) === 0x200);
}

/**
 * A VM-entry failure during or after the guest-state checks (SDM 27.8): exit reason with bit
 * 31 set, the qualification, host state loaded. Nothing of the guest is saved.
 */
export function entryFailure(vmx: VmxUnit, reason: number, qual: number): void {
  const v = vmx.vmcs!;
  v.set(F.EXIT_REASON, (ENTRY_FAILURE | reason) >>> 0);
  v.setNum(F.EXIT_QUALIFICATION, qual);
  if (vmx.nonRoot) vmx.leaveNonRoot();
  loadHostState(vmx, false);
}

function saveGuestState(vmx: VmxUnit): void {
  const cpu = vmx.cpu;
  const s = cpu.s;
  const v = vmx.vmcs!;
  v.set(F.GUEST_CR0, s.cr0);
  v.setNum(F.GUEST_CR3, s.cr3);
  v.set(F.GUEST_CR4, s.cr4);
  const exitCtl = v.get(F.EXIT_CONTROLS);
  if (exitCtl & ExitCtl.SAVE_DEBUG) {
    v.set(F.GUEST_DR7, s.dr[7]! >>> 0);
    v.set(F.GUEST_DEBUGCTL, 0);
  }
  v.set(F.GUEST_RSP, s.gpr[Reg.ESP]!, s.gprHi[Reg.ESP]!);
  v.set(F.GUEST_RIP, cpu.startEip, cpu.startRipHi);
  v.set(F.GUEST_RFLAGS, cpu.getEflags());
  for (let i = 0; i < 8; i++) {
    v.set(F.GUEST_ES_SEL + 2 * i, s.segSel[i]!);
    v.setNum(F.GUEST_ES_BASE + 2 * i, s.segBase[i]!);
    v.set(F.GUEST_ES_LIMIT + 2 * i, s.segLimit[i]!);
    v.set(F.GUEST_ES_AR + 2 * i, s.segAr[i]!);
  }
  v.setNum(F.GUEST_GDTR_BASE, s.gdtBase);
  v.set(F.GUEST_GDTR_LIMIT, s.gdtLimit);
  v.setNum(F.GUEST_IDTR_BASE, s.idtBase);
  v.set(F.GUEST_IDTR_LIMIT, s.idtLimit);
  v.set(F.GUEST_SYSENTER_CS, s.sysenterCs);
  v.setNum(F.GUEST_SYSENTER_ESP, s.sysenterEsp);
  v.setNum(F.GUEST_SYSENTER_EIP, s.sysenterEip);
  // Interruptibility (SDM Table 25-3): the shadow is reported as blocking by STI when IF = 1
  // (it came from STI), else by MOV SS; blocking by NMI.
  let intr = 0;
  if (s.interruptShadow) intr |= s.interruptShadow === Shadow.MovSs ? 2 : 1;
  if (s.nmiBlocked) intr |= 8;
  v.set(F.GUEST_INTERRUPTIBILITY, intr);
  v.set(F.GUEST_ACTIVITY_STATE, s.halted ? 1 : 0);
  // #DB traps the guest had waiting (debug-exceptions.ts): the VMM re-enters with them.
  v.set(F.GUEST_PENDING_DBG, cpu.debug.takePendingForVmExit());
  if (exitCtl & ExitCtl.SAVE_PAT) v.set(F.GUEST_PAT, s.platform.patLo, s.platform.patHi);
  if (exitCtl & ExitCtl.SAVE_EFER) v.set(F.GUEST_EFER, s.efer);
  if ((exitCtl & ExitCtl.SAVE_PREEMPTION) && (v.get(F.PIN_CONTROLS) & Pin.PREEMPTION_TIMER)) {
    v.set(F.PREEMPTION_TIMER, vmx.preemptionTimerValue());
  }
  // With EPT and PAE paging, the PDPTE registers are saved (SDM 28.3.4).
  if ((v.get(F.PROC_CONTROLS) >>> 31) && (v.get(F.PROC_CONTROLS2) & Proc2.EPT) && pagingMode(s) === PagingMode.Pae) {
    for (let i = 0; i < 4; i++) v.set(F.GUEST_PDPTE0 + 2 * i, s.pdpte[2 * i]!, s.pdpte[2 * i + 1]!);
  }
  // IA32_VMX_MISC[5]: the "IA-32e mode guest" entry control follows EFER.LMA.
  const entry = v.get(F.ENTRY_CONTROLS);
  v.set(F.ENTRY_CONTROLS, s.efer & Efer.LMA ? entry | EntryCtl.IA32E_GUEST : entry & ~EntryCtl.IA32E_GUEST);
}

/** The VM-exit MSR-store area (SDM 28.4): false on a failure (VMX abort). */
function storeMsrs(vmx: VmxUnit): boolean {
  const cpu = vmx.cpu;
  const v = vmx.vmcs!;
  const count = v.get(F.EXIT_MSR_STORE_COUNT);
  const base = v.getU(F.EXIT_MSR_STORE_ADDR);
  const mem = cpu.bus.mem;
  for (let i = 0; i < count; i++) {
    const e = base + 16 * i;
    const index = physRead32(mem, e);
    if ((index >>> 8) === 0x8 || index === 0x9e || physRead32(mem, e + 4) !== 0) return false;
    try {
      const [lo, hi] = readMsr(cpu, index);
      physWrite32(mem, e + 8, lo);
      physWrite32(mem, e + 12, hi);
    } catch (err) {
      if (err !== cpu.fault) throw err;
      return false;
    }
  }
  return true;
}

/**
 * Loads the MSR list at `base` (VM-entry and VM-exit MSR-load areas, SDM 27.4 and 28.6):
 * returns 0 on success or the 1-based index of the failing entry.
 */
export function loadMsrList(vmx: VmxUnit, base: number, count: number): number {
  const cpu = vmx.cpu;
  const mem = cpu.bus.mem;
  for (let i = 0; i < count; i++) {
    const e = base + 16 * i;
    const index = physRead32(mem, e);
    // Refused: x2APIC MSRs, FS/GS base, SMBASE, IA32_SMM_MONITOR_CTL, reserved bits.
    if ((index >>> 8) === 0x8 || index === 0xc0000100 || index === 0xc0000101 || index === 0x9e || index === 0x9b ||
      physRead32(mem, e + 4) !== 0) return i + 1;
    try {
      writeMsr(cpu, index, physRead32(mem, e + 8), physRead32(mem, e + 12));
    } catch (err) {
      if (err !== cpu.fault) throw err;
      return i + 1;
    }
  }
  return 0;
}

/** Host-state loading (SDM 28.5). `nmiExit`: the exit was caused by an NMI (blocking by NMI). */
function loadHostState(vmx: VmxUnit, nmiExit: boolean): void {
  const cpu = vmx.cpu;
  const s = cpu.s;
  const v = vmx.vmcs!;
  const exitCtl = v.get(F.EXIT_CONTROLS);
  const host64 = (exitCtl & ExitCtl.HOST_64) !== 0;
  // CR0: bits fixed to 1 in VMX operation stay set (the entry checks ensured them).
  s.cr0 = ((v.get(F.HOST_CR0) | CR0_FIXED0 | Cr0.ET) & 0xe005003f) >>> 0;
  s.cr3 = host64 ? v.getU(F.HOST_CR3) : v.get(F.HOST_CR3);
  s.cr4 = (v.get(F.HOST_CR4) | Cr4.VMXE) >>> 0;
  s.dr[7] = 0x400;
  s.sysenterCs = v.get(F.HOST_SYSENTER_CS) & 0xffff;
  s.sysenterEsp = host64 ? v.getNum(F.HOST_SYSENTER_ESP) : v.get(F.HOST_SYSENTER_ESP);
  s.sysenterEip = host64 ? v.getNum(F.HOST_SYSENTER_EIP) : v.get(F.HOST_SYSENTER_EIP);
  if (exitCtl & ExitCtl.LOAD_EFER) s.efer = v.get(F.HOST_EFER);
  // LMA and LME follow the host address-space size (SDM 28.5.1).
  s.efer = host64 ? s.efer | Efer.LMA | Efer.LME : s.efer & ~(Efer.LMA | Efer.LME);
  if (exitCtl & ExitCtl.LOAD_PAT) {
    s.platform.patLo = v.get(F.HOST_PAT);
    s.platform.patHi = v.getHi(F.HOST_PAT);
  }
  // Segment registers (SDM 28.5.2).
  for (let i = 0; i < 6; i++) {
    const sel = v.get(F.HOST_ES_SEL + 2 * i) & 0xffff;
    s.segSel[i] = sel;
    if (i === SegReg.CS) {
      s.segBase[i] = 0;
      s.segLimit[i] = 0xffffffff;
      s.segAr[i] = 0xb | Ar.S | Ar.P | Ar.G | (host64 ? Ar.L : Ar.DB);
      continue;
    }
    const unusable = sel === 0 && (i !== SegReg.SS || !host64) ? Ar.UNUSABLE : 0;
    s.segBase[i] = i === SegReg.FS ? hostBase(v, F.HOST_FS_BASE, host64) : i === SegReg.GS ? hostBase(v, F.HOST_GS_BASE, host64) : 0;
    s.segLimit[i] = 0xffffffff;
    s.segAr[i] = unusable | 0x3 | Ar.S | Ar.P | Ar.DB | Ar.G;
  }
  s.segSel[SegReg.TR] = v.get(F.HOST_TR_SEL) & 0xffff;
  s.segBase[SegReg.TR] = hostBase(v, F.HOST_TR_BASE, host64);
  s.segLimit[SegReg.TR] = 0x67;
  s.segAr[SegReg.TR] = 0xb | Ar.P;
  s.segSel[SegReg.LDTR] = 0;
  s.segBase[SegReg.LDTR] = 0;
  s.segLimit[SegReg.LDTR] = 0;
  s.segAr[SegReg.LDTR] = Ar.UNUSABLE;
  s.gdtBase = hostBase(v, F.HOST_GDTR_BASE, host64);
  s.gdtLimit = 0xffff;
  s.idtBase = hostBase(v, F.HOST_IDTR_BASE, host64);
  s.idtLimit = 0xffff;
  if (host64) {
    s.eip = v.get(F.HOST_RIP);
    s.ripHi = v.getHi(F.HOST_RIP) | 0;
    s.gpr[Reg.ESP] = v.get(F.HOST_RSP);
    s.gprHi[Reg.ESP] = v.getHi(F.HOST_RSP);
  } else {
    s.eip = v.get(F.HOST_RIP);
    s.ripHi = 0;
    s.gpr[Reg.ESP] = v.get(F.HOST_RSP);
  }
  cpu.setEflags(Fl.FIXED1);
  s.interruptShadow = 0;
  s.pendingDebug = 0;
  cpu.debug.update(); // DR7 and the traps changed
  s.halted = false;
  s.nmiBlocked = nmiExit ? true : vmx.hostNmiBlocked;
  cpu.updateMode();
  cpu.mmu.flushAll();
  // PAE paging on the host: PDPTEs from the host CR3 (SDM 28.5.4); a reserved bit aborts.
  if (pagingMode(s) === PagingMode.Pae && !readPdptes(cpu.bus.mem, s.cr3, cpu.a20Mask, s.pdpte)) {
    vmx.abort(Abort.HostPdpte);
    return;
  }
  if (loadMsrList(vmx, v.getU(F.EXIT_MSR_LOAD_ADDR), v.get(F.EXIT_MSR_LOAD_COUNT)) !== 0) vmx.abort(Abort.LoadingMsrs);
}

function hostBase(v: NonNullable<VmxUnit['vmcs']>, enc: number, host64: boolean): number {
  return host64 ? v.getNum(enc) : v.get(enc);
}
