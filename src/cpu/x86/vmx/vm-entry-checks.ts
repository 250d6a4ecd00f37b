/**
 * The checks VMLAUNCH and VMRESUME make before entering the guest (SDM Vol. 3C 27.2-27.3):
 * on the VMX controls and on the host-state area (a failure is VMfailValid with error 7 or 8
 * and nothing changes), then on the guest-state area (a failure is a VM-entry failure with
 * exit reason 33). The VMCS is untrusted input: every field is checked before it is used.
 *
 * Checks of features this implementation does not advertise reduce to "the control is 0",
 * which the allowed-settings check already enforces.
 */
import { Cr0, Cr4, Efer, Fl, SegReg } from '../state.js';
import { MAXPHYADDR } from '../cpu-model.js';
import { F, type Vmcs } from './vmcs-fields.js';
import {
  CR0_FIXED0, CR3_TARGETS, CR4_FIXED0, EntryCtl, ExitCtl, MAX_MSR_LIST, Pin, Proc, Proc2,
} from './vmx-capabilities.js';
import { validEptp } from './ept.js';
import type { VmxUnit } from './vmx-unit.js';
import { IntrType } from './vmx-unit.js';

/** Whether a 64-bit value with high dword `hi` is below 2^MAXPHYADDR (or 2^32 without Intel 64). */
function physOk(vmx: VmxUnit, hi: number): boolean {
  const w = vmx.addrWidth;
  return w <= 32 ? hi === 0 : (hi >>> (w - 32)) === 0;
}

/** Bits 63:47 of a natural-width field all equal (a canonical 48-bit address). */
function canonical(v: Vmcs, enc: number): boolean {
  const top = (v.getHi(enc) | 0) >> 15;
  return top === 0 || top === -1;
}

/** A valid memory type for IA32_PAT entries (0, 1, 4, 5, 6, 7). */
function patOk(lo: number, hi: number): boolean {
  for (let i = 0; i < 8; i++) {
    const t = ((i < 4 ? lo : hi) >>> (8 * (i & 3))) & 0xff;
    if (t === 2 || t === 3 || t > 7) return false;
  }
  return true;
}

/** SDM 27.2.1: VM-execution, VM-exit and VM-entry control fields. True when valid. */
export function checkControls(vmx: VmxUnit): boolean {
  const v = vmx.vmcs!;
  const c = vmx.caps;
  const pin = v.get(F.PIN_CONTROLS);
  const proc = v.get(F.PROC_CONTROLS);
  const proc2 = proc & Proc.SECONDARY ? v.get(F.PROC_CONTROLS2) : 0;
  const exit = v.get(F.EXIT_CONTROLS);
  const entry = v.get(F.ENTRY_CONTROLS);
  const allowed = (val: number, must: number, may: number) => (val & must) === must && (val & ~may) === 0;
  if (!allowed(pin, c.pin0, c.pin1)) return false;
  if (!allowed(proc, c.proc0, c.proc1)) return false;
  if ((proc & Proc.SECONDARY) && (proc2 & ~c.proc2_1) !== 0) return false;
  if (!allowed(exit, c.exit0, c.exit1)) return false;
  if (!allowed(entry, c.entry0, c.entry1)) return false;
  if (v.get(F.CR3_TARGET_COUNT) > CR3_TARGETS) return false;
  if (proc & Proc.IO_BITMAPS) {
    if (!vmx.inWidth(v.get(F.IO_BITMAP_A), v.getHi(F.IO_BITMAP_A), 0xfff)) return false;
    if (!vmx.inWidth(v.get(F.IO_BITMAP_B), v.getHi(F.IO_BITMAP_B), 0xfff)) return false;
  }
  if ((proc & Proc.MSR_BITMAPS) && !vmx.inWidth(v.get(F.MSR_BITMAP), v.getHi(F.MSR_BITMAP), 0xfff)) return false;
  // Virtual NMIs need NMI exiting; NMI-window exiting needs virtual NMIs (SDM 27.2.1.1).
  if ((pin & Pin.VIRTUAL_NMIS) && !(pin & Pin.NMI_EXITING)) return false;
  if ((proc & Proc.NMI_WINDOW) && !(pin & Pin.VIRTUAL_NMIS)) return false;
  if (proc2 & Proc2.EPT) {
    if (!validEptp(v.get(F.EPT_POINTER), v.getHi(F.EPT_POINTER))) return false;
  }
  if ((proc2 & Proc2.UNRESTRICTED) && !(proc2 & Proc2.EPT)) return false;
  if ((proc2 & Proc2.VPID) && (v.get(F.VPID) & 0xffff) === 0) return false;
  // VM-exit controls (27.2.1.2).
  if (!(pin & Pin.PREEMPTION_TIMER) && (exit & ExitCtl.SAVE_PREEMPTION)) return false;
  if (!msrArea(vmx, v, F.EXIT_MSR_STORE_ADDR, F.EXIT_MSR_STORE_COUNT)) return false;
  if (!msrArea(vmx, v, F.EXIT_MSR_LOAD_ADDR, F.EXIT_MSR_LOAD_COUNT)) return false;
  // VM-entry controls (27.2.1.3): event injection.
  const info = v.get(F.ENTRY_INTR_INFO);
  if (info & 0x80000000) {
    const vector = info & 0xff;
    const type = (info >>> 8) & 7;
    if (type === 1 || type === 7) return false; // reserved; "other event" needs MTF
    if (type === IntrType.Nmi && vector !== 2) return false;
    if (type === IntrType.HwException && vector > 31) return false;
    const guestPe = (v.get(F.GUEST_CR0) & Cr0.PE) !== 0;
    const unrestricted = (proc2 & Proc2.UNRESTRICTED) !== 0;
    const deliverCode = (info & 0x800) !== 0;
    const codeVector = vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
    // Bit 11 is set exactly for #DF, #TS, #NP, #SS, #GP, #PF and #AC injected as hardware
    // exceptions into a protected-mode guest (or any guest without unrestricted guest).
    if (deliverCode !== (type === IntrType.HwException && codeVector && (guestPe || !unrestricted))) return false;
    if (info & 0x7ffff000) return false; // bits 30:12 reserved
    if (deliverCode && (v.get(F.ENTRY_EXCEPTION_ERROR) & 0xffff0000)) return false;
    if (type === IntrType.SoftwareInt || type === IntrType.PrivSwException || type === IntrType.SwException) {
      const len = v.get(F.ENTRY_INSTRUCTION_LENGTH);
      if (len < 1 || len > 15) return false;
    }
  }
  if (!msrArea(vmx, v, F.ENTRY_MSR_LOAD_ADDR, F.ENTRY_MSR_LOAD_COUNT)) return false;
  return true;
}

/** An MSR area: 16-byte aligned, its last byte within the address width, a sane count. */
function msrArea(vmx: VmxUnit, v: Vmcs, addrEnc: number, countEnc: number): boolean {
  const count = v.get(countEnc);
  if (count === 0) return true;
  if (count > MAX_MSR_LIST * 8) return false; // beyond any list a real part accepts
  const lo = v.get(addrEnc);
  const hi = v.getHi(addrEnc);
  if (lo & 0xf) return false;
  const last = hi * 4294967296 + lo + 16 * count - 1;
  return last < 2 ** vmx.addrWidth;
}

/** SDM 27.2.2-27.2.4: host-state area. True when valid. */
export function checkHost(vmx: VmxUnit): boolean {
  const cpu = vmx.cpu;
  const v = vmx.vmcs!;
  const exit = v.get(F.EXIT_CONTROLS);
  const host64 = (exit & ExitCtl.HOST_64) !== 0;
  const cr0 = v.get(F.HOST_CR0);
  const cr4 = v.get(F.HOST_CR4);
  if (((cr0 & CR0_FIXED0) >>> 0) !== CR0_FIXED0 || v.getHi(F.HOST_CR0) !== 0) return false;
  if ((cr4 & CR4_FIXED0) !== CR4_FIXED0 || (cr4 & ~vmx.caps.cr4Fixed1) || v.getHi(F.HOST_CR4) !== 0) return false;
  if (!physOk(vmx, v.getHi(F.HOST_CR3))) return false;
  if (host64 && (!canonical(v, F.HOST_SYSENTER_ESP) || !canonical(v, F.HOST_SYSENTER_EIP))) return false;
  if ((exit & ExitCtl.LOAD_PAT) && !patOk(v.get(F.HOST_PAT), v.getHi(F.HOST_PAT))) return false;
  if (exit & ExitCtl.LOAD_EFER) {
    const efer = v.get(F.HOST_EFER);
    if (v.getHi(F.HOST_EFER) !== 0 || (efer & ~(Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE))) return false;
    const lma = (efer & Efer.LMA) !== 0;
    if (lma !== host64 || ((efer & Efer.LME) !== 0) !== host64) return false;
  }
  // Selectors: RPL and TI 0; CS and TR not null; SS not null without a 64-bit host.
  for (let i = 0; i < 7; i++) {
    const sel = v.get(F.HOST_ES_SEL + 2 * i);
    if (sel & 7) return false;
  }
  if (v.get(F.HOST_CS_SEL) === 0 || v.get(F.HOST_TR_SEL) === 0) return false;
  if (!host64 && v.get(F.HOST_SS_SEL) === 0) return false;
  // Address-space size (27.2.4): a host in IA-32e mode must stay 64-bit, and the reverse.
  const lma = (cpu.s.efer & Efer.LMA) !== 0;
  if (lma !== host64) return false;
  if (host64) {
    if (!(cr4 & Cr4.PAE)) return false;
    if (!canonical(v, F.HOST_RIP)) return false;
    for (const b of [F.HOST_FS_BASE, F.HOST_GS_BASE, F.HOST_GDTR_BASE, F.HOST_IDTR_BASE, F.HOST_TR_BASE]) {
      if (!canonical(v, b)) return false;
    }
  } else {
    if (v.get(F.ENTRY_CONTROLS) & EntryCtl.IA32E_GUEST) return false;
    if (v.getHi(F.HOST_RIP) !== 0) return false;
  }
  return true;
}

/**
 * SDM 27.3.1: guest-state area. Returns -1 when valid, else the exit qualification of the
 * VM-entry failure (0 for most checks, 4 for the VMCS link pointer).
 */
export function checkGuest(vmx: VmxUnit): number {
  const v = vmx.vmcs!;
  const proc = v.get(F.PROC_CONTROLS);
  const proc2 = proc & Proc.SECONDARY ? v.get(F.PROC_CONTROLS2) : 0;
  const entry = v.get(F.ENTRY_CONTROLS);
  const ia32e = (entry & EntryCtl.IA32E_GUEST) !== 0;
  const unrestricted = (proc2 & Proc2.UNRESTRICTED) !== 0;
  const cr0 = v.get(F.GUEST_CR0);
  const cr4 = v.get(F.GUEST_CR4);
  // 27.3.1.1: control registers, debug registers, MSRs.
  const fixed0 = unrestricted ? (CR0_FIXED0 & ~(Cr0.PE | Cr0.PG)) >>> 0 : CR0_FIXED0;
  if (((cr0 & fixed0) >>> 0) !== fixed0 || v.getHi(F.GUEST_CR0) !== 0) return 0;
  if ((cr0 & Cr0.PG) && !(cr0 & Cr0.PE)) return 0;
  if ((cr4 & CR4_FIXED0) !== CR4_FIXED0 || (cr4 & ~vmx.caps.cr4Fixed1) || v.getHi(F.GUEST_CR4) !== 0) return 0;
  if (ia32e && (!(cr0 & Cr0.PG) || !(cr4 & Cr4.PAE))) return 0;
  if (!physOk(vmx, v.getHi(F.GUEST_CR3))) return 0;
  if ((entry & EntryCtl.LOAD_DEBUG) && v.getHi(F.GUEST_DR7) !== 0) return 0;
  if (!canonical(v, F.GUEST_SYSENTER_ESP) || !canonical(v, F.GUEST_SYSENTER_EIP)) return 0;
  if ((entry & EntryCtl.LOAD_PAT) && !patOk(v.get(F.GUEST_PAT), v.getHi(F.GUEST_PAT))) return 0;
  if (entry & EntryCtl.LOAD_EFER) {
    const efer = v.get(F.GUEST_EFER);
    if (v.getHi(F.GUEST_EFER) !== 0 || (efer & ~(Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE))) return 0;
    if (((efer & Efer.LMA) !== 0) !== ia32e) return 0;
    if ((cr0 & Cr0.PG) && ((efer & Efer.LMA) !== 0) !== ((efer & Efer.LME) !== 0)) return 0;
  }
  // 27.3.1.2: segment registers.
  const rflags = v.get(F.GUEST_RFLAGS);
  const v86 = (rflags & Fl.VM) !== 0;
  const sel = (i: number) => v.get(F.GUEST_ES_SEL + 2 * i) & 0xffff;
  const ar = (i: number) => v.get(F.GUEST_ES_AR + 2 * i);
  const limit = (i: number) => v.get(F.GUEST_ES_LIMIT + 2 * i);
  const base = (i: number) => v.getU(F.GUEST_ES_BASE + 2 * i);
  const usable = (i: number) => (ar(i) & 0x10000) === 0;
  // The limit must agree with G: bits 11:0 all ones if any of 31:20 is set; 31:20 zero if G = 0.
  const granOk = (i: number) => {
    const l = limit(i);
    const g = (ar(i) & 0x8000) !== 0;
    if ((l & 0xfff) !== 0xfff && g) return false;
    if ((l >>> 20) !== 0 && !g) return false;
    return true;
  };
  if (v.getHi(F.GUEST_TR_SEL) !== 0) return 0;
  if (sel(SegReg.TR) & 4) return 0;
  if (usable(SegReg.LDTR) && (sel(SegReg.LDTR) & 4)) return 0;
  if (!v86 && !unrestricted && (sel(SegReg.SS) & 3) !== (sel(SegReg.CS) & 3)) return 0;
  if (v86) {
    for (let i = 0; i < 6; i++) {
      if (base(i) !== sel(i) * 16 || limit(i) !== 0xffff || ar(i) !== 0xf3) return 0;
    }
  } else {
    for (let i = 0; i < 6; i++) {
      const a = ar(i);
      if (i !== SegReg.CS && !usable(i)) continue;
      if (a & 0xfffe0f00) return 0; // reserved bits 11:8, 31:17
      if (!(a & 0x80)) return 0; // P
      if (!(a & 0x10)) return 0; // S: code or data
      if (!granOk(i)) return 0;
      const type = a & 0xf;
      const dpl = (a >> 5) & 3;
      if (i === SegReg.CS) {
        const okTypes = unrestricted ? [3, 9, 11, 13, 15] : [9, 11, 13, 15];
        if (!okTypes.includes(type)) return 0;
        if (type === 3 && dpl !== 0) return 0;
        if ((type === 9 || type === 11) && dpl !== (ar(SegReg.SS) >> 5 & 3)) return 0;
        if ((type === 13 || type === 15) && dpl > (ar(SegReg.SS) >> 5 & 3)) return 0;
        if (ia32e && (a & 0x2000) && (a & 0x4000)) return 0; // L and D both set
      } else if (i === SegReg.SS) {
        if (type !== 3 && type !== 7) return 0;
        if (!unrestricted && dpl !== (sel(SegReg.SS) & 3)) return 0;
        if (!(cr0 & Cr0.PE) && dpl !== 0) return 0;
      } else {
        if (!(type & 1)) return 0; // accessed
        if ((type & 8) && !(type & 2)) return 0; // code segments must be readable
        if (!unrestricted && type <= 11 && dpl < (sel(i) & 3)) return 0;
      }
    }
  }
  // TR: usable, 32-bit busy TSS (or 16-bit busy outside IA-32e), present, S = 0.
  const tr = ar(SegReg.TR);
  const trType = tr & 0xf;
  if (!usable(SegReg.TR) || (tr & 0x10) || !(tr & 0x80) || (tr & 0xfffe0f00)) return 0;
  if (!(trType === 11 || (!ia32e && trType === 3))) return 0;
  if (!granOk(SegReg.TR)) return 0;
  if (usable(SegReg.LDTR)) {
    const l = ar(SegReg.LDTR);
    if ((l & 0xf) !== 2 || (l & 0x10) || !(l & 0x80) || (l & 0xfffe0f00) || !granOk(SegReg.LDTR)) return 0;
  }
  for (const b of [F.GUEST_FS_BASE, F.GUEST_GS_BASE, F.GUEST_LDTR_BASE, F.GUEST_TR_BASE, F.GUEST_GDTR_BASE, F.GUEST_IDTR_BASE]) {
    if (!canonical(v, b)) return 0;
  }
  if (!ia32e) {
    for (const b of [F.GUEST_CS_BASE, F.GUEST_SS_BASE, F.GUEST_DS_BASE, F.GUEST_ES_BASE]) if (v.getHi(b) !== 0) return 0;
  }
  // 27.3.1.3: descriptor-table registers.
  if (v.get(F.GUEST_GDTR_LIMIT) > 0xffff || v.get(F.GUEST_IDTR_LIMIT) > 0xffff) return 0;
  // 27.3.1.4: RIP and RFLAGS.
  const csL = ia32e && (ar(SegReg.CS) & 0x2000) !== 0;
  if (!csL && v.getHi(F.GUEST_RIP) !== 0) return 0;
  if (csL && !canonical(v, F.GUEST_RIP)) return 0;
  if (v.getHi(F.GUEST_RFLAGS) !== 0 || (rflags & 0xffc08028) || !(rflags & Fl.FIXED1)) return 0;
  if (v86 && (ia32e || !(cr0 & Cr0.PE))) return 0;
  const info = v.get(F.ENTRY_INTR_INFO);
  const injecting = (info & 0x80000000) !== 0;
  const injType = (info >>> 8) & 7;
  if (injecting && injType === IntrType.External && !(rflags & Fl.IF)) return 0;
  // 27.3.1.5: non-register state.
  const activity = v.get(F.GUEST_ACTIVITY_STATE);
  if (activity > 1) return 0; // only active and HLT are supported (IA32_VMX_MISC[8:6])
  const intr = v.get(F.GUEST_INTERRUPTIBILITY);
  if (activity === 1 && (intr & 3)) return 0;
  if (activity === 1 && ((ar(SegReg.SS) >> 5) & 3) !== 0) return 0;
  if (intr & 0xffffffe0) return 0;
  if ((intr & 3) === 3) return 0;
  if (!(rflags & Fl.IF) && (intr & 1)) return 0;
  if (injecting && injType === IntrType.External && (intr & 3)) return 0;
  if (injecting && injType === IntrType.Nmi && (intr & 2)) return 0;
  if (intr & 4) return 0; // blocking by SMI: not in SMM
  // Injecting an NMI under virtual-NMI blocking fails; without "virtual NMIs" it is allowed
  // (SDM 27.3.1.5 and its note).
  if (injecting && injType === IntrType.Nmi && (intr & 8) && (v.get(F.PIN_CONTROLS) & Pin.VIRTUAL_NMIS)) return 0;
  const pend = v.get(F.GUEST_PENDING_DBG);
  if ((pend & 0xfffeaff0) || v.getHi(F.GUEST_PENDING_DBG) !== 0) return 0;
  // VMCS link pointer (27.3.1.5): without VMCS shadowing it must be all ones.
  if (v.get(F.VMCS_LINK_POINTER) !== 0xffffffff || v.getHi(F.VMCS_LINK_POINTER) !== 0xffffffff) return 4;
  // 27.3.1.6: PDPTEs with EPT and PAE paging come from the VMCS and must be valid.
  const pae = (cr0 & Cr0.PG) && (cr4 & Cr4.PAE) && !ia32e;
  if (pae && (proc2 & Proc2.EPT)) {
    for (let i = 0; i < 4; i++) {
      const lo = v.get(F.GUEST_PDPTE0 + 2 * i);
      const hi = v.getHi(F.GUEST_PDPTE0 + 2 * i);
      if ((lo & 1) && ((lo & 0x1e6) || (hi >>> (MAXPHYADDR - 32)) !== 0)) return 0;
    }
  }
  return -1;
}
