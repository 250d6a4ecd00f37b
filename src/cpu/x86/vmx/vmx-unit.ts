/**
 * The VMX state of one CPU (SDM Vol. 3C ch. 24-31): whether it is in VMX operation, root or
 * non-root, the VMXON region, the current VMCS and the processor's cache of active VMCSs, and
 * the glue by which non-root operation changes what the CPU does: the intercept hook
 * (vmx-intercepts.ts), events at instruction boundaries (below), event delivery (exception
 * bitmap, IDT-vectoring information), EPT (ept.ts) and the VMX-preemption timer.
 *
 * VMCSs are cached as real processors cache them (SDM 25.11.1): VMPTRLD reads a region into
 * the cache unless it is already there, VMCLEAR writes it back and evicts it; the cache holds
 * at most MAX_CACHED regions, the least recently loaded one being written back first. While
 * a VMCS is cached, software writes to its region are not seen, as on hardware.
 */
import type { X86Cpu } from '../cpu.js';
import { Fl } from '../state.js';
import { Vec } from '../exceptions.js';
import { deliverEventDirect, EventKind } from '../interrupts.js';
import { CR4_SUPPORTED } from '../control-regs.js';
import { MAXPHYADDR } from '../cpu-model.js';
import {
  F, LAUNCH_STATE_LAUNCHED, VMCS_DATA_OFFSET, VMCS_FIELDS, VMCS_LAUNCH_OFFSET, Vmcs,
} from './vmcs-fields.js';
import { Pin, Proc, PREEMPTION_TIMER_SHIFT, VMCS_REVISION, vmxCaps, type VmxControlCaps } from './vmx-capabilities.js';
import { physRead32, physWrite32 } from './vmx-memory.js';
import { Ept, EptExit, type EptFault } from './ept.js';
import { ExitReason, vmExit } from './vm-exit.js';
import { vmxIntercept } from './vmx-intercepts.js';

/** The fault vector that unwinds an instruction after it caused a VM exit (never delivered). */
export const VMEXIT_UNWIND = 0x100;
/** "No current VMCS" (SDM 25.1: the current-VMCS pointer holds all ones). */
export const NO_VMCS = -1;
const MAX_CACHED = 16;
/** Bit 12 of the exit interruption information / EPT-violation qualification. */
export const NMI_UNBLOCKED_BY_IRET = 0x1000;

/** Interruption-information types (SDM Table 25-17). */
export const enum IntrType { External = 0, Nmi = 2, HwException = 3, SoftwareInt = 4, PrivSwException = 5, SwException = 6 }

export class VmxUnit {
  readonly caps: VmxControlCaps;
  /** In VMX operation (after VMXON). */
  inVmx = false;
  /** In VMX non-root operation (cpu.vmxNonRoot mirrors it for the run loop). */
  nonRoot = false;
  vmxonPtr = 0;
  /** Physical address of the current VMCS, or NO_VMCS. */
  currentPtr = NO_VMCS;
  /** The current VMCS (cached), while currentPtr is valid. */
  vmcs: Vmcs | undefined;
  /** Active VMCSs by region address, least recently loaded first. */
  readonly cache = new Map<number, Vmcs>();
  /** Host NMI blocking at VM entry, restored at VM exit. */
  hostNmiBlocked = false;
  /** Raw TSC (cpu.tscNow(0)) at which the VMX-preemption timer expires. */
  preemptionDeadline = 0;
  /** IDT-vectoring information of the event being delivered in non-root operation (0 = none). */
  vectoringInfo = 0;
  vectoringError = 0;
  /** Linear address of a #PF raised in non-root operation (CR2 is written only if it is delivered). */
  pfLinear = 0;
  /**
   * An INIT signal is pending: latched while in VMX root operation, where INIT is blocked
   * (SDM 24.8); in non-root operation it causes a VM exit at the next boundary (SDM 26.2).
   */
  initPending = false;
  /**
   * The current instruction is an IRET that removed (virtual-)NMI blocking: a fault or EPT
   * violation it causes reports "NMI unblocking due to IRET" (bit 12, SDM 28.2.2-28.2.3).
   * Cleared at every instruction boundary.
   */
  iretUnblockedNmi = false;
  readonly ept: Ept;
  /** The CPU's intercept hook outside non-root operation (restored at VM exit). */
  private savedIntercept: X86Cpu['intercept'];

  constructor(readonly cpu: X86Cpu) {
    this.caps = vmxCaps(cpu.model, CR4_SUPPORTED);
    this.ept = new Ept(cpu.bus.mem, (f) => this.eptExit(f));
  }

  /** RESET leaves VMX operation (INIT never reaches here inside VMX operation: initSignal). */
  reset(): void {
    if (this.nonRoot) this.leaveNonRoot();
    this.inVmx = false;
    this.nonRoot = false;
    this.cpu.vmxNonRoot = false;
    this.vmxonPtr = 0;
    this.currentPtr = NO_VMCS;
    this.vmcs = undefined;
    this.cache.clear();
    this.hostNmiBlocked = false;
    this.preemptionDeadline = 0;
    this.vectoringInfo = this.vectoringError = 0;
    this.initPending = false;
    this.iretUnblockedNmi = false;
  }

  /**
   * An INIT signal arrives (LAPIC INIT IPI or INIT message). Returns true if VMX consumed it:
   * in non-root operation it causes a VM exit at the next instruction boundary (SDM 26.2,
   * exit reason 3); in root operation it is blocked and stays latched (SDM 24.8), to cause
   * that exit right after the next VM entry. Outside VMX operation returns false: the
   * caller's ordinary INIT handling applies.
   */
  initSignal(): boolean {
    if (!this.inVmx) return false;
    this.initPending = true;
    return true;
  }

  // ============================================================================================
  // Addresses and the VMCS cache
  // ============================================================================================

  /** The physical-address width VMX instructions check against (SDM 25.1, A.1: 32 without Intel 64). */
  get addrWidth(): number {
    return this.caps.addr32 ? 32 : MAXPHYADDR;
  }

  /** A 4 KiB-aligned address within the physical-address width (VMXON, VMCLEAR, VMPTRLD operands). */
  validRegion(lo: number, hi: number): boolean {
    if (lo & 0xfff) return false;
    const w = this.addrWidth;
    return w >= 64 || (w <= 32 ? hi === 0 : (hi >>> (w - 32)) === 0);
  }

  /** Whether `addr` (a full 64-bit value as lo/hi) is below 2^width, for bitmaps and MSR areas. */
  inWidth(lo: number, hi: number, alignMask: number): boolean {
    return (lo & alignMask) === 0 && this.validRegion(lo & ~0xfff, hi);
  }

  /** Reads the revision identifier (bits 30:0) and shadow-VMCS indicator (bit 31) of a region. */
  regionRevision(addr: number): number {
    return physRead32(this.cpu.bus.mem, addr);
  }

  /** The VMCS at `addr`, from the cache or read from memory into it (VMPTRLD). */
  loadVmcs(addr: number): Vmcs {
    const cached = this.cache.get(addr);
    if (cached) return cached;
    const mem = this.cpu.bus.mem;
    const v = new Vmcs();
    for (let i = 0; i < VMCS_FIELDS.length; i++) {
      v.lo[i] = physRead32(mem, addr + VMCS_DATA_OFFSET + 8 * i);
      v.hi[i] = physRead32(mem, addr + VMCS_DATA_OFFSET + 8 * i + 4);
    }
    v.launched = physRead32(mem, addr + VMCS_LAUNCH_OFFSET) === LAUNCH_STATE_LAUNCHED;
    if (this.cache.size >= MAX_CACHED) {
      for (const [a] of this.cache) {
        if (a !== this.currentPtr) {
          this.flushVmcs(a);
          break;
        }
      }
    }
    this.cache.set(addr, v);
    return v;
  }

  /** Writes a cached VMCS back to its region and evicts it (VMCLEAR, cache pressure, VMXOFF). */
  flushVmcs(addr: number): void {
    const v = this.cache.get(addr);
    if (!v) return;
    this.writeRegion(addr, v);
    this.cache.delete(addr);
  }

  private writeRegion(addr: number, v: Vmcs): void {
    const mem = this.cpu.bus.mem;
    physWrite32(mem, addr + VMCS_LAUNCH_OFFSET, v.launched ? LAUNCH_STATE_LAUNCHED : 0);
    for (let i = 0; i < VMCS_FIELDS.length; i++) {
      physWrite32(mem, addr + VMCS_DATA_OFFSET + 8 * i, v.lo[i]!);
      physWrite32(mem, addr + VMCS_DATA_OFFSET + 8 * i + 4, v.hi[i]!);
    }
  }

  /** Writes the VMX-abort indicator (SDM 28.7) and shuts the processor down. */
  abort(code: number): void {
    if (this.currentPtr !== NO_VMCS) physWrite32(this.cpu.bus.mem, this.currentPtr + 4, code);
    if (this.cpu.bus.log.enabled('guest_errors')) this.cpu.bus.log.log('guest_errors', `pcvm: VMX abort ${code}: shutdown`);
    this.cpu.tripleFault = true;
  }

  // ============================================================================================
  // Entering and leaving non-root operation
  // ============================================================================================

  enterNonRoot(): void {
    const cpu = this.cpu;
    const v = this.vmcs!;
    this.nonRoot = true;
    cpu.vmxNonRoot = true;
    this.vectoringInfo = this.vectoringError = 0;
    this.savedIntercept = cpu.intercept;
    cpu.intercept = vmxIntercept;
    if (v.get(F.PROC_CONTROLS) & Proc.SECONDARY && v.get(F.PROC_CONTROLS2) & 2 /* EPT */) {
      this.ept.configure(v.get(F.EPT_POINTER), v.getHi(F.EPT_POINTER));
      cpu.mmu.ept = this.ept;
    }
    if (v.get(F.PIN_CONTROLS) & Pin.PREEMPTION_TIMER) {
      this.preemptionDeadline = cpu.tscNow(0) + v.get(F.PREEMPTION_TIMER) * 2 ** PREEMPTION_TIMER_SHIFT;
    }
    cpu.mmu.flushAll();
  }

  leaveNonRoot(): void {
    const cpu = this.cpu;
    this.nonRoot = false;
    cpu.vmxNonRoot = false;
    cpu.intercept = this.savedIntercept;
    this.savedIntercept = undefined;
    cpu.mmu.ept = undefined;
    cpu.mmu.flushAll();
  }

  /** The VMX-preemption timer's current value (for "save VMX-preemption timer value"). */
  preemptionTimerValue(): number {
    const left = this.preemptionDeadline - this.cpu.tscNow(0);
    return left <= 0 ? 0 : Math.min(0xffffffff, Math.ceil(left / 2 ** PREEMPTION_TIMER_SHIFT));
  }

  // ============================================================================================
  // Non-root operation: events at instruction boundaries
  // ============================================================================================

  /**
   * Called by the run loop before each instruction in non-root operation: takes the VM exits
   * that happen between instructions, in the priority of SDM 26.7 / 7.9 (INIT, preemption
   * timer, NMI window, NMI, external interrupt, interrupt window). Returns true if a VM exit
   * happened.
   */
  boundaryExit(): boolean {
    const cpu = this.cpu;
    const s = cpu.s;
    const v = this.vmcs!;
    const pin = v.get(F.PIN_CONTROLS);
    cpu.startEip = s.eip;
    cpu.startRipHi = s.ripHi;
    this.iretUnblockedNmi = false;
    // INIT is not blocked by anything in non-root operation (SDM 26.2); the guest's activity
    // state is saved as it is.
    if (this.initPending) {
      this.initPending = false;
      vmExit(this, ExitReason.Init, {});
      return true;
    }
    if ((pin & Pin.PREEMPTION_TIMER) && cpu.tscNow(0) >= this.preemptionDeadline) {
      vmExit(this, ExitReason.PreemptionTimer, {});
      return true;
    }
    // NMI window (SDM 26.3 / 26.7.6): no virtual-NMI blocking (s.nmiBlocked is virtual-NMI
    // blocking under "virtual NMIs", which VM-entry checks require for this control) and no
    // MOV-SS blocking; like many processors, blocking by STI also holds it off. It wakes HLT.
    if ((v.get(F.PROC_CONTROLS) & Proc.NMI_WINDOW) && !s.nmiBlocked && !s.interruptShadow) {
      vmExit(this, ExitReason.NmiWindow, {});
      return true;
    }
    // With "NMI exiting" and without "virtual NMIs", blocking by NMI from the guest state
    // holds physical NMIs off for the whole of non-root operation; with virtual NMIs, NMIs
    // are not blocked by it (SDM 26.6.1).
    if ((pin & Pin.NMI_EXITING) && s.nmiPending && !s.interruptShadow && ((pin & Pin.VIRTUAL_NMIS) || !s.nmiBlocked)) {
      s.nmiPending = false;
      // The NMI itself is the exit; its vector and type are reported (SDM 28.2.2).
      vmExit(this, ExitReason.ExceptionOrNmi, { intrInfo: (0x80000000 | (IntrType.Nmi << 8) | Vec.NMI) >>> 0 });
      return true;
    }
    if ((pin & Pin.EXT_INT_EXITING) && !s.interruptShadow && cpu.bus.interrupts.hasInterrupt()) {
      let info = 0;
      if (v.get(F.EXIT_CONTROLS) & (1 << 15) /* acknowledge interrupt on exit */) {
        const vector = cpu.bus.interrupts.acknowledge();
        info = (0x80000000 | (IntrType.External << 8) | (vector & 0xff)) >>> 0;
      }
      vmExit(this, ExitReason.ExternalInterrupt, { intrInfo: info });
      return true;
    }
    if ((v.get(F.PROC_CONTROLS) & Proc.INTR_WINDOW) && (s.eflags & Fl.IF) && !s.interruptShadow) {
      vmExit(this, ExitReason.InterruptWindow, {});
      return true;
    }
    return false;
  }

  /** A triple fault in non-root operation is a VM exit (SDM 26.2), not a shutdown. */
  tripleFaultExit(): void {
    const cpu = this.cpu;
    cpu.startEip = cpu.s.eip;
    cpu.startRipHi = cpu.s.ripHi;
    this.vectoringInfo = 0;
    vmExit(this, ExitReason.TripleFault, {});
  }

  /** Ends the current instruction after a VM exit (the run loop drops the fault). */
  unwind(): never {
    return this.cpu.raise(VMEXIT_UNWIND);
  }

  private eptExit(f: EptFault): never {
    let qual = f.qualification;
    // An EPT violation during an IRET that unblocked (virtual) NMIs reports it (SDM 28.2.1,
    // Table 28-7 bit 12), unless it happened delivering an event.
    if (f.reason === EptExit.Violation && this.iretUnblockedNmi && this.vectoringInfo === 0) qual |= NMI_UNBLOCKED_BY_IRET;
    vmExit(this, f.reason, { qual, gpa: f.gpa, linear: f.linear });
    return this.unwind();
  }

  // ============================================================================================
  // Non-root operation: event delivery
  // ============================================================================================

  /**
   * deliverEvent in non-root operation: an exception whose exception-bitmap bit is set causes a
   * VM exit instead (SDM 26.2, with the #PF error-code mask/match rule); any other event is
   * delivered through the guest's IDT with its IDT-vectoring information recorded, so that a
   * VM exit during delivery reports it (SDM 28.2.4).
   */
  deliver(vector: number, kind: EventKind, hasCode: boolean, code: number): void {
    const cpu = this.cpu;
    const exception = kind === EventKind.Exception || kind === EventKind.SoftwareException || kind === EventKind.PrivSoftwareException;
    if (exception && this.exceptionExits(vector, code)) {
      const sw = kind !== EventKind.Exception;
      const type = kind === EventKind.SoftwareException ? IntrType.SwException : kind === EventKind.PrivSoftwareException ? IntrType.PrivSwException : IntrType.HwException;
      let info = (0x80000000 | (type << 8) | vector | (hasCode ? 0x800 : 0)) >>> 0;
      // A fault of an IRET that unblocked (virtual) NMIs says so, unless it is a #DF or
      // happened delivering another event (SDM 28.2.2, bit 12).
      if (this.iretUnblockedNmi && this.vectoringInfo === 0 && vector !== Vec.DF) info = (info | NMI_UNBLOCKED_BY_IRET) >>> 0;
      vmExit(this, ExitReason.ExceptionOrNmi, {
        intrInfo: info,
        intrError: hasCode ? code : 0,
        // A #DB's conditions go in the qualification instead of DR6 (SDM 27.1, Table 28-1).
        qual: vector === Vec.PF ? this.pfLinear : vector === Vec.DB && kind === EventKind.Exception ? cpu.debug.takeStatus() : 0,
        instrLen: sw ? (cpu.s.eip - cpu.startEip) & 0xf : 0,
      });
      this.unwind();
    }
    if (vector === Vec.PF && kind === EventKind.Exception) cpu.s.cr2 = this.pfLinear;
    const type = kind === EventKind.External ? IntrType.External : kind === EventKind.Nmi ? IntrType.Nmi
      : kind === EventKind.SoftwareInt ? IntrType.SoftwareInt : kind === EventKind.SoftwareException ? IntrType.SwException
        : kind === EventKind.PrivSoftwareException ? IntrType.PrivSwException : IntrType.HwException;
    this.vectoringInfo = (0x80000000 | (type << 8) | (vector & 0xff) | (hasCode ? 0x800 : 0)) >>> 0;
    this.vectoringError = hasCode ? code : 0;
    deliverEventDirect(cpu, vector, kind, hasCode, code);
    this.vectoringInfo = 0;
  }

  private exceptionExits(vector: number, code: number): boolean {
    const v = this.vmcs!;
    const bit = (v.get(F.EXCEPTION_BITMAP) >>> (vector & 31)) & 1;
    if (vector !== Vec.PF) return bit !== 0;
    // SDM 26.2: with PFEC & mask == match, #PF exits iff bit 14 is set; otherwise iff it is clear.
    const matches = ((code & v.get(F.PF_ERROR_MASK)) >>> 0) === v.get(F.PF_ERROR_MATCH);
    return matches ? bit !== 0 : bit === 0;
  }
}
