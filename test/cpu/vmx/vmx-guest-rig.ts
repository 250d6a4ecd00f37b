/**
 * A CPU in VMX root operation with a current VMCS describing a flat 32-bit protected-mode
 * guest, for tests that drive VM entries directly (vmEntry) and look at the VM exits. Layout
 * (physical = linear, 4 MiB pages):
 *   0x1000 page directory, 0x3000 GDT, 0x4000 host/guest TSS (busy, TR = 0x18), 0x4100 an
 *   available TSS (0x20), 0x5000 IDT, 0x7000 the guest NMI handler, 0x10000 guest code,
 *   0x60000 host code (HLT), 0x90000 guest stack, 0x20000 VMXON region, 0x21000 VMCS.
 * GDT: 0x08 code, 0x10 data, 0x18 busy TSS, 0x20 available TSS, 0x28 task gate to 0x20,
 * 0x30 a TSS descriptor that is not present.
 * IDT: vector 2 interrupt gate to the NMI handler, 6 and 0x40 task gates to 0x20, 0x41 a
 * task gate to 0x30.
 */
import { X86Cpu } from '../../../src/cpu/x86/cpu.js';
import { PCVM_MODEL } from '../../../src/cpu/x86/cpu-model.js';
import { PhysicalMemory } from '../../../src/memory/physical-memory.js';
import { IoPortBus } from '../../../src/memory/io-bus.js';
import { NULL_LOGGER } from '../../../src/machine/log.js';
import { Ar, SegReg } from '../../../src/cpu/x86/state.js';
import { VMCS_REVISION } from '../../../src/cpu/x86/vmx/vmx-capabilities.js';
import { F, type Vmcs } from '../../../src/cpu/x86/vmx/vmcs-fields.js';
import { vmEntry } from '../../../src/cpu/x86/vmx/vm-entry.js';
import { VMEXIT_UNWIND, type VmxUnit } from '../../../src/cpu/x86/vmx/vmx-unit.js';

const MiB = 1024 * 1024;
export const GDT = 0x3000;
export const TSS = 0x4000;
export const TSS2 = 0x4100;
export const IDT = 0x5000;
export const NMI_HANDLER = 0x7000;
export const GUEST_CODE = 0x10000;
export const HOST_CODE = 0x60000;
export const GUEST_STACK = 0x90000;
export const MARK = 0x8000;
const VMXON = 0x20000;
const VMCS = 0x21000;

/** Default1 settings of the true control MSRs. */
export const PIN0 = 0x16;
export const PROC0 = 0x04006172;
const EXIT0 = 0x00036dfb;
const ENTRY0 = 0x000011fb;

export interface GuestRig {
  cpu: X86Cpu;
  mem: PhysicalMemory;
  vmx: VmxUnit;
  v: Vmcs;
  /** Puts guest code at GUEST_CODE. */
  code(bytes: number[]): void;
  /** VM entry (VMLAUNCH after its launch-state check): 0, or the VM-instruction error. */
  enter(): number;
  /** Runs until the host's HLT (or the budget). */
  run(budget?: number): void;
  /** The basic exit reason (with bit 31 for VM-entry failures). */
  reason(): number;
}

/**
 * A CPU with VMX on `mem` (8 MiB of RAM at 0 or more) in flat 32-bit protected mode with 4 MiB
 * identity paging (page directory at 0x1000): CR0.PE, NE and PG and CR4.VMXE, as VMXON needs.
 * CS is selector 0x08, the data segments 0x10; GDT, IDT and TR are the caller's.
 */
export function flatPagedVmxCpu(mem: PhysicalMemory): X86Cpu {
  const cpu = new X86Cpu({ mem, io: new IoPortBus(), interrupts: { hasInterrupt: () => false, acknowledge: () => 0 }, nowNs: () => 0, log: NULL_LOGGER }, { ...PCVM_MODEL, vmx: true });
  for (let i = 0; i < 1024; i++) mem.write(0x1000 + 4 * i, 4, ((i * 4 * MiB) | 0x83) >>> 0);
  const s = cpu.s;
  for (let i = 0; i < 6; i++) {
    s.segSel[i] = i === SegReg.CS ? 8 : 0x10;
    s.segBase[i] = 0;
    s.segLimit[i] = 0xffffffff;
    s.segAr[i] = (i === SegReg.CS ? 0xb : 0x3) | Ar.S | Ar.P | Ar.DB | Ar.G;
  }
  s.cr3 = 0x1000;
  s.cr4 = 0x10 | 0x2000; // PSE, VMXE
  s.cr0 = 0x80000031; // PG, NE, ET, PE
  cpu.updateMode();
  cpu.mmu.flushAll();
  return cpu;
}

export function guestRig(): GuestRig {
  const mem = new PhysicalMemory(8 * MiB);
  mem.mapRam(0, 8 * MiB, 0);
  const cpu = flatPagedVmxCpu(mem);
  const gdt = [
    [0, 0], [0x0000ffff, 0x00cf9b00], [0x0000ffff, 0x00cf9300],
    [(TSS << 16 | 0x67) >>> 0, 0x00008b00], [(TSS2 << 16 | 0x67) >>> 0, 0x00008900],
    [0x00200000, 0x00008500], [(0x4200 << 16 | 0x67) >>> 0, 0x00000900],
  ];
  gdt.forEach(([lo, hi], i) => { mem.write(GDT + 8 * i, 4, lo!); mem.write(GDT + 8 * i + 4, 4, hi!); });
  const gate = (vec: number, lo: number, hi: number) => { mem.write(IDT + 8 * vec, 4, lo); mem.write(IDT + 8 * vec + 4, 4, hi); };
  gate(2, (0x08 << 16) | (NMI_HANDLER & 0xffff), (NMI_HANDLER & 0xffff0000) | 0x8e00);
  gate(6, 0x00200000, 0x8500);
  gate(0x40, 0x00200000, 0x8500);
  gate(0x41, 0x00300000, 0x8500);
  mem.write(HOST_CODE, 1, 0xf4);
  const s = cpu.s;
  s.segSel[SegReg.TR] = 0x18;
  s.segBase[SegReg.TR] = TSS;
  s.segLimit[SegReg.TR] = 0x67;
  s.segAr[SegReg.TR] = 0x8b;
  s.gdtBase = GDT;
  s.gdtLimit = 8 * gdt.length - 1;
  s.idtBase = IDT;
  s.idtLimit = 0x7ff;
  // VMX operation with a current VMCS, as after VMXON and VMPTRLD.
  mem.write(VMXON, 4, VMCS_REVISION);
  mem.write(VMCS, 4, VMCS_REVISION);
  const vmx = cpu.vmx!;
  vmx.inVmx = true;
  vmx.vmxonPtr = VMXON;
  const v = vmx.loadVmcs(VMCS);
  vmx.currentPtr = VMCS;
  vmx.vmcs = v;
  v.set(F.PIN_CONTROLS, PIN0);
  v.set(F.PROC_CONTROLS, PROC0);
  v.set(F.EXIT_CONTROLS, EXIT0);
  v.set(F.ENTRY_CONTROLS, ENTRY0);
  v.set(F.VMCS_LINK_POINTER, 0xffffffff, 0xffffffff);
  // Guest: the same flat protected mode; host: resumes at its HLT.
  v.set(F.GUEST_CR0, s.cr0);
  v.set(F.GUEST_CR3, s.cr3);
  v.set(F.GUEST_CR4, s.cr4);
  v.set(F.HOST_CR0, s.cr0);
  v.set(F.HOST_CR3, s.cr3);
  v.set(F.HOST_CR4, s.cr4);
  for (let i = 0; i < 8; i++) {
    v.set(F.GUEST_ES_SEL + 2 * i, s.segSel[i]!);
    v.set(F.GUEST_ES_BASE + 2 * i, s.segBase[i]!);
    v.set(F.GUEST_ES_LIMIT + 2 * i, s.segLimit[i]!);
    v.set(F.GUEST_ES_AR + 2 * i, i === SegReg.LDTR ? Ar.UNUSABLE : s.segAr[i]!);
  }
  for (let i = 0; i < 6; i++) v.set(F.HOST_ES_SEL + 2 * i, s.segSel[i]!);
  v.set(F.HOST_TR_SEL, 0x18);
  v.set(F.HOST_TR_BASE, TSS);
  v.set(F.GUEST_GDTR_BASE, GDT);
  v.set(F.GUEST_GDTR_LIMIT, s.gdtLimit);
  v.set(F.GUEST_IDTR_BASE, IDT);
  v.set(F.GUEST_IDTR_LIMIT, s.idtLimit);
  v.set(F.HOST_GDTR_BASE, GDT);
  v.set(F.HOST_IDTR_BASE, IDT);
  v.set(F.GUEST_RFLAGS, 2);
  v.set(F.GUEST_RIP, GUEST_CODE);
  v.set(F.GUEST_RSP, GUEST_STACK);
  v.set(F.HOST_RIP, HOST_CODE);
  v.set(F.HOST_RSP, 0x70000);
  return {
    cpu, mem, vmx, v,
    code(bytes) { bytes.forEach((b, i) => mem.write(GUEST_CODE + i, 1, b)); },
    enter() {
      // As VMLAUNCH inside the run loop: a VM exit during event injection unwinds the
      // instruction (VMEXIT_UNWIND), which the run loop drops.
      try {
        return vmEntry(vmx, true);
      } catch (e) {
        if (e !== cpu.fault || cpu.fault.vector !== VMEXIT_UNWIND) throw e;
        return 0;
      }
    },
    run(budget = 1000) { cpu.run(budget); },
    reason() { return v.get(F.EXIT_REASON); },
  };
}
