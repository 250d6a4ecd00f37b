/**
 * VM entry (SDM Vol. 3C ch. 27) after VMLAUNCH/VMRESUME have checked the launch state: the
 * checks of vm-entry-checks.ts, loading guest state (27.3.2), the VM-entry MSR-load area
 * (27.4), entering non-root operation, and event injection (27.6).
 */
import { Cr0, Cr4, Efer, Reg } from '../state.js';
import { readPdptes } from '../paging.js';
import { deliverEventDirect, EventKind } from '../interrupts.js';
import { F } from './vmcs-fields.js';
import { EntryCtl, Proc, Proc2 } from './vmx-capabilities.js';
import { checkControls, checkGuest, checkHost } from './vm-entry-checks.js';
import { entryFailure, ExitReason, loadMsrList } from './vm-exit.js';
import { IntrType, type VmxUnit } from './vmx-unit.js';
import { dr7Value, Shadow } from '../debug-exceptions.js';

/** VM-instruction errors of VM entry (SDM 31.4). */
export const enum EntryError { Controls = 7, HostState = 8 }

/**
 * Performs a VM entry with the current VMCS. Returns 0 when the instruction completed (the
 * guest runs, or a VM-entry failure loaded host state), else the VM-instruction error for
 * VMfailValid (invalid controls or host state: nothing was changed).
 */
export function vmEntry(vmx: VmxUnit, launch: boolean): number {
  if (!checkControls(vmx)) return EntryError.Controls;
  if (!checkHost(vmx)) return EntryError.HostState;
  const qual = checkGuest(vmx);
  if (qual >= 0) {
    entryFailure(vmx, ExitReason.InvalidGuestState, qual);
    return 0;
  }
  const cpu = vmx.cpu;
  const v = vmx.vmcs!;
  vmx.hostNmiBlocked = cpu.s.nmiBlocked;
  if (!loadGuestState(vmx)) {
    entryFailure(vmx, ExitReason.InvalidGuestState, 2); // PDPTE loading (27.3.1.6)
    return 0;
  }
  const failed = loadMsrList(vmx, v.getU(F.ENTRY_MSR_LOAD_ADDR), v.get(F.ENTRY_MSR_LOAD_COUNT));
  if (failed !== 0) {
    entryFailure(vmx, ExitReason.MsrLoading, failed);
    return 0;
  }
  if (launch) v.launched = true;
  vmx.enterNonRoot();
  injectEvent(vmx);
  return 0;
}

/** SDM 27.3.2. Returns false if PAE PDPTEs read from guest CR3 have reserved bits set. */
function loadGuestState(vmx: VmxUnit): boolean {
  const cpu = vmx.cpu;
  const s = cpu.s;
  const v = vmx.vmcs!;
  const entry = v.get(F.ENTRY_CONTROLS);
  const ia32e = (entry & EntryCtl.IA32E_GUEST) !== 0;
  const proc2 = v.get(F.PROC_CONTROLS) & Proc.SECONDARY ? v.get(F.PROC_CONTROLS2) : 0;
  s.cr0 = ((v.get(F.GUEST_CR0) | Cr0.ET) & 0xe005003f) >>> 0;
  s.cr3 = v.getU(F.GUEST_CR3);
  s.cr4 = v.get(F.GUEST_CR4);
  if (entry & EntryCtl.LOAD_DEBUG) s.dr[7] = dr7Value(v.get(F.GUEST_DR7));
  s.sysenterCs = v.get(F.GUEST_SYSENTER_CS) & 0xffff;
  s.sysenterEsp = v.getNum(F.GUEST_SYSENTER_ESP);
  s.sysenterEip = v.getNum(F.GUEST_SYSENTER_EIP);
  if (entry & EntryCtl.LOAD_EFER) s.efer = v.get(F.GUEST_EFER);
  else s.efer = ia32e ? s.efer | Efer.LMA | Efer.LME : s.efer & ~(Efer.LMA | Efer.LME);
  if (entry & EntryCtl.LOAD_PAT) {
    s.platform.patLo = v.get(F.GUEST_PAT);
    s.platform.patHi = v.getHi(F.GUEST_PAT);
  }
  for (let i = 0; i < 8; i++) {
    s.segSel[i] = v.get(F.GUEST_ES_SEL + 2 * i) & 0xffff;
    s.segBase[i] = v.getNum(F.GUEST_ES_BASE + 2 * i);
    s.segLimit[i] = v.get(F.GUEST_ES_LIMIT + 2 * i);
    s.segAr[i] = v.get(F.GUEST_ES_AR + 2 * i) & 0x1f0ff;
  }
  s.gdtBase = v.getNum(F.GUEST_GDTR_BASE);
  s.gdtLimit = v.get(F.GUEST_GDTR_LIMIT);
  s.idtBase = v.getNum(F.GUEST_IDTR_BASE);
  s.idtLimit = v.get(F.GUEST_IDTR_LIMIT);
  s.eip = v.get(F.GUEST_RIP);
  s.ripHi = v.getHi(F.GUEST_RIP) | 0;
  s.gpr[Reg.ESP] = v.get(F.GUEST_RSP);
  s.gprHi[Reg.ESP] = v.getHi(F.GUEST_RSP);
  cpu.setEflags(v.get(F.GUEST_RFLAGS));
  const intr = v.get(F.GUEST_INTERRUPTIBILITY);
  // Blocking by MOV SS also holds debug exceptions (debug-exceptions.ts Shadow).
  s.interruptShadow = intr & 2 ? Shadow.MovSs : intr & 1 ? Shadow.Sti : Shadow.None;
  // Pending debug exceptions (B0-B3, BS) become #DB traps at the first boundary (SDM 26.7.3).
  cpu.debug.loadPendingFromVmEntry(v.get(F.GUEST_PENDING_DBG));
  s.nmiBlocked = (intr & 8) !== 0;
  s.halted = v.get(F.GUEST_ACTIVITY_STATE) === 1;
  cpu.updateMode();
  const pae = (s.cr0 & Cr0.PG) !== 0 && (s.cr4 & Cr4.PAE) !== 0 && !ia32e;
  if (pae) {
    if (proc2 & Proc2.EPT) {
      for (let i = 0; i < 4; i++) {
        s.pdpte[2 * i] = v.get(F.GUEST_PDPTE0 + 2 * i);
        s.pdpte[2 * i + 1] = v.getHi(F.GUEST_PDPTE0 + 2 * i);
      }
    } else if (!readPdptes(cpu.bus.mem, s.cr3, cpu.a20Mask, s.pdpte)) {
      return false;
    }
  }
  cpu.mmu.flushAll();
  return true;
}

/** Event injection (SDM 27.6): delivered through the guest IDT as if it had just occurred. */
function injectEvent(vmx: VmxUnit): void {
  const cpu = vmx.cpu;
  const s = cpu.s;
  const v = vmx.vmcs!;
  const info = v.get(F.ENTRY_INTR_INFO);
  if (!(info & 0x80000000)) return;
  const vector = info & 0xff;
  const type = (info >>> 8) & 7;
  const hasCode = (info & 0x800) !== 0;
  const code = hasCode ? v.get(F.ENTRY_EXCEPTION_ERROR) : 0;
  // A fault while delivering restarts at guest RIP (and reports this event as IDT-vectoring).
  cpu.startEip = s.eip;
  cpu.startRipHi = s.ripHi;
  let kind: EventKind;
  switch (type) {
    case IntrType.External: kind = EventKind.External; break;
    case IntrType.Nmi: kind = EventKind.Nmi; s.nmiBlocked = true; break;
    case IntrType.SoftwareInt: kind = EventKind.SoftwareInt; break;
    case IntrType.SwException: kind = EventKind.SoftwareException; break;
    case IntrType.PrivSwException: kind = EventKind.PrivSoftwareException; break;
    default: kind = EventKind.Exception; break;
  }
  if (type === IntrType.SoftwareInt || type === IntrType.SwException || type === IntrType.PrivSwException) {
    // Software events push the address of the next instruction.
    const next = (s.eip >>> 0) + v.get(F.ENTRY_INSTRUCTION_LENGTH);
    if (cpu.mode64 && next > 0xffffffff) s.ripHi = (s.ripHi + 1) | 0;
    s.eip = cpu.mode64 ? next >>> 0 : (next & cpu.ipMask) >>> 0;
  }
  vmx.vectoringInfo = (info & 0x80000fff) >>> 0;
  vmx.vectoringError = code;
  s.halted = false;
  deliverEventDirect(cpu, vector, kind, hasCode, code);
  vmx.vectoringInfo = vmx.vectoringError = 0;
}
