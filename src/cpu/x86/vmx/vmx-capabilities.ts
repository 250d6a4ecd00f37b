/**
 * The VMX capability MSRs (SDM Vol. 3D Appendix A): they describe exactly the controls this
 * implementation acts on, no more. Each control MSR reports in its low dword the bits that
 * must be 1 (allowed-0 settings) and in its high dword the bits that may be 1 (allowed-1).
 *
 * Not implemented, hence never allowed: TPR shadow and
 * APIC virtualization, monitor trap flag, posted interrupts, descriptor-table exiting,
 * INVPCID, VM functions, VMCS shadowing, PML, XSAVES, mode-based execute control, the
 * activity states shutdown and wait-for-SIPI, SMM dual-monitor treatment.
 */
import { Cr0, Cr4 } from '../state.js';
import { ExtEdx, hasLongMode, type CpuModel } from '../cpu-model.js';
import { VMCS_MAX_INDEX } from './vmcs-fields.js';

/** The VMCS revision identifier of this implementation (IA32_VMX_BASIC[30:0]). */
export const VMCS_REVISION = 0x70637631;
/** VMCS region size in bytes (IA32_VMX_BASIC[44:32]). */
export const VMCS_SIZE = 4096;
/** The VMX-preemption timer counts down once every 2^5 TSC ticks (IA32_VMX_MISC[4:0]). */
export const PREEMPTION_TIMER_SHIFT = 5;
/** CR3-target values supported (IA32_VMX_MISC[24:16]). */
export const CR3_TARGETS = 4;
/** Recommended maximum MSR-list entries: 512 × (N + 1) with N = IA32_VMX_MISC[27:25] = 0. */
export const MAX_MSR_LIST = 512;

export const enum VmxMsr {
  BASIC = 0x480, PINBASED_CTLS = 0x481, PROCBASED_CTLS = 0x482, EXIT_CTLS = 0x483,
  ENTRY_CTLS = 0x484, MISC = 0x485, CR0_FIXED0 = 0x486, CR0_FIXED1 = 0x487, CR4_FIXED0 = 0x488,
  CR4_FIXED1 = 0x489, VMCS_ENUM = 0x48a, PROCBASED_CTLS2 = 0x48b, EPT_VPID_CAP = 0x48c,
  TRUE_PINBASED_CTLS = 0x48d, TRUE_PROCBASED_CTLS = 0x48e, TRUE_EXIT_CTLS = 0x48f,
  TRUE_ENTRY_CTLS = 0x490,
}

/** Pin-based VM-execution controls (SDM 25.6.1). */
export const enum Pin {
  EXT_INT_EXITING = 1 << 0, NMI_EXITING = 1 << 3, VIRTUAL_NMIS = 1 << 5, PREEMPTION_TIMER = 1 << 6,
}
/** Primary processor-based VM-execution controls (SDM 25.6.2). */
export const enum Proc {
  INTR_WINDOW = 1 << 2, TSC_OFFSETTING = 1 << 3, HLT = 1 << 7, INVLPG = 1 << 9, MWAIT = 1 << 10,
  RDPMC = 1 << 11, RDTSC = 1 << 12, CR3_LOAD = 1 << 15, CR3_STORE = 1 << 16, CR8_LOAD = 1 << 19,
  CR8_STORE = 1 << 20, TPR_SHADOW = 1 << 21, NMI_WINDOW = 1 << 22, MOV_DR = 1 << 23,
  UNCOND_IO = 1 << 24, IO_BITMAPS = 1 << 25, MTF = 1 << 27, MSR_BITMAPS = 1 << 28, MONITOR = 1 << 29,
  PAUSE = 1 << 30, SECONDARY = 1 << 31,
}
/** Secondary processor-based VM-execution controls. */
export const enum Proc2 {
  EPT = 1 << 1, RDTSCP = 1 << 3, VPID = 1 << 5, WBINVD = 1 << 6, UNRESTRICTED = 1 << 7,
}
/** VM-exit controls (SDM 25.7.1). */
export const enum ExitCtl {
  SAVE_DEBUG = 1 << 2, HOST_64 = 1 << 9, ACK_INTR = 1 << 15, SAVE_PAT = 1 << 18, LOAD_PAT = 1 << 19,
  SAVE_EFER = 1 << 20, LOAD_EFER = 1 << 21, SAVE_PREEMPTION = 1 << 22,
}
/** VM-entry controls (SDM 25.8.1). */
export const enum EntryCtl {
  LOAD_DEBUG = 1 << 2, IA32E_GUEST = 1 << 9, LOAD_PAT = 1 << 14, LOAD_EFER = 1 << 15,
}

/** Default1 classes (SDM Appendix A.2-A.5): must be 1 without the TRUE_ MSRs. */
const PIN_DEFAULT1 = 0x00000016;
const PROC_DEFAULT1 = 0x0401e172;
const PROC_TRUE_DEFAULT1 = 0x04006172; // CR3-load/store exiting may be 0
const EXIT_DEFAULT1 = 0x00036dff;
const EXIT_TRUE_DEFAULT1 = 0x00036dfb; // save debug controls may be 0
const ENTRY_DEFAULT1 = 0x000011ff;
const ENTRY_TRUE_DEFAULT1 = 0x000011fb; // load debug controls may be 0

/** CR0 bits that exist (control-regs.ts CR0_BITS): IA32_VMX_CR0_FIXED1. */
const CR0_FIXED1 = 0xe005003f;
export const CR0_FIXED0 = (Cr0.PE | Cr0.NE | Cr0.PG) >>> 0;
export const CR4_FIXED0 = Cr4.VMXE;

/** The allowed-0 (must be 1) and allowed-1 (may be 1) settings of each control field. */
export interface VmxControlCaps {
  pin0: number; pin1: number;
  proc0: number; proc1: number;
  proc2_1: number;
  exit0: number; exit1: number;
  entry0: number; entry1: number;
  /** CR4 bits that may be 1 (IA32_VMX_CR4_FIXED1). */
  cr4Fixed1: number;
  /** IA32_VMX_BASIC[48]: physical addresses limited to 32 bits (no Intel 64). */
  addr32: boolean;
}

/** The capabilities of `model`: the 32-bit model has no IA-32e guests, hosts, CR8 or RDTSCP. */
export function vmxCaps(model: CpuModel, cr4Supported: number): VmxControlCaps {
  const lm = hasLongMode(model);
  const pin1 = PIN_DEFAULT1 | Pin.EXT_INT_EXITING | Pin.NMI_EXITING | Pin.VIRTUAL_NMIS | Pin.PREEMPTION_TIMER;
  let proc1 = PROC_DEFAULT1 | Proc.INTR_WINDOW | Proc.NMI_WINDOW | Proc.TSC_OFFSETTING | Proc.HLT | Proc.INVLPG |
    Proc.MWAIT | Proc.RDPMC | Proc.RDTSC | Proc.CR3_LOAD | Proc.CR3_STORE | Proc.MOV_DR |
    Proc.UNCOND_IO | Proc.IO_BITMAPS | Proc.MSR_BITMAPS | Proc.MONITOR | Proc.PAUSE | Proc.SECONDARY;
  if (lm) proc1 |= Proc.CR8_LOAD | Proc.CR8_STORE;
  let proc2 = Proc2.EPT | Proc2.VPID | Proc2.WBINVD | Proc2.UNRESTRICTED;
  if (model.extEdx & ExtEdx.RDTSCP) proc2 |= Proc2.RDTSCP;
  let exit1 = EXIT_DEFAULT1 | ExitCtl.ACK_INTR | ExitCtl.SAVE_PAT | ExitCtl.LOAD_PAT | ExitCtl.SAVE_EFER |
    ExitCtl.LOAD_EFER | ExitCtl.SAVE_PREEMPTION;
  if (lm) exit1 |= ExitCtl.HOST_64;
  let entry1 = ENTRY_DEFAULT1 | EntryCtl.LOAD_PAT | EntryCtl.LOAD_EFER;
  if (lm) entry1 |= EntryCtl.IA32E_GUEST;
  return {
    pin0: PIN_DEFAULT1, pin1,
    proc0: PROC_TRUE_DEFAULT1, proc1: proc1 >>> 0,
    proc2_1: proc2,
    exit0: EXIT_TRUE_DEFAULT1, exit1,
    entry0: ENTRY_TRUE_DEFAULT1, entry1,
    cr4Fixed1: (cr4Supported | Cr4.VMXE) >>> 0,
    addr32: !lm,
  };
}

/** EPT/VPID capabilities (SDM Appendix A.10), as [low, high] dwords. */
export const EPT_CAP_LO = (1 << 6) /* 4-level walk */ | (1 << 8) /* UC */ | (1 << 14) /* WB */ |
  (1 << 16) /* 2 MiB pages */ | (1 << 17) /* 1 GiB pages */ | (1 << 20) /* INVEPT */ |
  (1 << 21) /* accessed and dirty flags */ | (1 << 25) /* single-context INVEPT */ |
  (1 << 26); /* all-context INVEPT */
export const EPT_CAP_HI = 1 /* INVVPID */ | (1 << 8) /* individual-address */ |
  (1 << 9) /* single-context */ | (1 << 10) /* all-context */ | (1 << 11); /* single-context-retaining-globals */

/** RDMSR of a VMX capability MSR: [low, high], or undefined if `index` is not one. */
export function readVmxCapMsr(caps: VmxControlCaps, index: number): [number, number] | undefined {
  switch (index) {
    case VmxMsr.BASIC:
      // Revision, VMCS size, WB memory type (6 << 50), true controls (bit 55).
      return [VMCS_REVISION, (VMCS_SIZE | (caps.addr32 ? 1 << 16 : 0) | (6 << 18) | (1 << 23)) >>> 0];
    case VmxMsr.PINBASED_CTLS: return [PIN_DEFAULT1, caps.pin1];
    case VmxMsr.TRUE_PINBASED_CTLS: return [caps.pin0, caps.pin1];
    case VmxMsr.PROCBASED_CTLS: return [PROC_DEFAULT1, caps.proc1];
    case VmxMsr.TRUE_PROCBASED_CTLS: return [caps.proc0, caps.proc1];
    case VmxMsr.EXIT_CTLS: return [EXIT_DEFAULT1, caps.exit1];
    case VmxMsr.TRUE_EXIT_CTLS: return [caps.exit0, caps.exit1];
    case VmxMsr.ENTRY_CTLS: return [ENTRY_DEFAULT1, caps.entry1];
    case VmxMsr.TRUE_ENTRY_CTLS: return [caps.entry0, caps.entry1];
    case VmxMsr.PROCBASED_CTLS2: return [0, caps.proc2_1];
    // Timer rate, EFER.LMA stored into "IA-32e mode guest" on exits (bit 5), activity state
    // HLT (bit 6), CR3-target count; MSR lists of 512 entries; no VMWRITE to exit fields.
    case VmxMsr.MISC: return [PREEMPTION_TIMER_SHIFT | (1 << 5) | (1 << 6) | (CR3_TARGETS << 16), 0];
    case VmxMsr.CR0_FIXED0: return [CR0_FIXED0, 0];
    case VmxMsr.CR0_FIXED1: return [CR0_FIXED1, 0];
    case VmxMsr.CR4_FIXED0: return [CR4_FIXED0, 0];
    case VmxMsr.CR4_FIXED1: return [caps.cr4Fixed1, 0];
    case VmxMsr.VMCS_ENUM: return [VMCS_MAX_INDEX << 1, 0];
    case VmxMsr.EPT_VPID_CAP: return [EPT_CAP_LO >>> 0, EPT_CAP_HI];
    default: return undefined;
  }
}
