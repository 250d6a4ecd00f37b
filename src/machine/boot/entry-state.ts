/**
 * The CPU state a boot loader leaves behind when it jumps to a 32-bit kernel: flat 4 GiB code
 * and data segments from a GDT in low memory, protected mode without paging, interrupts off,
 * A20 on. Both direct-boot protocols want this (Linux boot.rst "32-bit boot protocol",
 * Multiboot 0.6.96 §3.2 "Machine state"); they differ in selectors and registers.
 *
 * pcvm sets the state directly instead of running a trampoline (as Firecracker does), so the
 * segment caches are filled here exactly as a far jump and segment loads from this GDT would
 * fill them (SDM Vol. 3A 3.4.5: accessed descriptors, D/B=1, G=1).
 */
import type { X86Cpu } from '../../cpu/x86/cpu.js';
import { Ar, Cr0, Fl, Reg, SegReg } from '../../cpu/x86/state.js';

/** Registers and selectors a protocol specifies at entry; everything else is zero. */
export interface EntryState {
  eip: number;
  eax: number;
  ebx: number;
  esi: number;
  esp: number;
  /** Selector of the flat code segment (its GDT slot holds a 32-bit execute/read descriptor). */
  codeSelector: number;
  /** Selector of the flat data segment, loaded into DS, ES, FS, GS and SS. */
  dataSelector: number;
  /** Guest-physical address of the GDT the loader writes. */
  gdtAddr: number;
}

/** Flat 4 GiB, present, DPL 0, G=1, D=1: execute/read code (type 0xB, accessed). */
const FLAT_CODE_DESCRIPTOR = [0xff, 0xff, 0x00, 0x00, 0x00, 0x9b, 0xcf, 0x00];
/** The same, read/write data (type 0x3, accessed). */
const FLAT_DATA_DESCRIPTOR = [0xff, 0xff, 0x00, 0x00, 0x00, 0x93, 0xcf, 0x00];
/** VMX-layout access rights of the cached segments (matching the descriptors above). */
const FLAT_CODE_AR = Ar.P | Ar.S | Ar.DB | Ar.G | 0xb;
const FLAT_DATA_AR = Ar.P | Ar.S | Ar.DB | Ar.G | 0x3;

/** The GDT bytes for `entry`: a null descriptor, then the two flat descriptors at their selectors. */
export function flatGdt(entry: Pick<EntryState, 'codeSelector' | 'dataSelector'>): Uint8Array {
  const top = Math.max(entry.codeSelector, entry.dataSelector);
  const gdt = new Uint8Array(top + 8);
  gdt.set(FLAT_CODE_DESCRIPTOR, entry.codeSelector);
  gdt.set(FLAT_DATA_DESCRIPTOR, entry.dataSelector);
  return gdt;
}

/**
 * Puts the CPU in the entry state (the GDT itself is written to memory by the caller).
 * Called after `cpu.reset()`, so the FPU, MSRs, debug registers, TR and LDTR keep their
 * power-on values, as a loader that never touched them would leave them.
 */
export function enterFlatProtectedMode(cpu: X86Cpu, entry: EntryState): void {
  const s = cpu.s;
  s.gpr.fill(0);
  s.gprHi.fill(0);
  s.gpr[Reg.EAX] = entry.eax | 0;
  s.gpr[Reg.EBX] = entry.ebx | 0;
  s.gpr[Reg.ESI] = entry.esi | 0;
  s.gpr[Reg.ESP] = entry.esp | 0;
  s.eip = entry.eip >>> 0;
  cpu.setEflags(Fl.FIXED1); // IF=0, DF=0
  for (let seg = SegReg.ES; seg <= SegReg.GS; seg++) {
    const code = seg === SegReg.CS;
    s.segSel[seg] = code ? entry.codeSelector : entry.dataSelector;
    s.segBase[seg] = 0;
    s.segLimit[seg] = 0xffffffff;
    s.segAr[seg] = code ? FLAT_CODE_AR : FLAT_DATA_AR;
  }
  s.gdtBase = entry.gdtAddr;
  s.gdtLimit = Math.max(entry.codeSelector, entry.dataSelector) + 7;
  // boot.rst asks only that interrupts be off; an empty IDT makes any stray exception a
  // triple fault (a clean reset) rather than a jump through the real-mode IVT.
  s.idtBase = 0;
  s.idtLimit = 0;
  // Protected mode, paging off. ET is hardwired to 1 since the 486 (SDM 2.5); CD/NW are
  // cleared as QEMU's option ROMs leave them (mov $1, %eax; mov %eax, %cr0).
  s.cr0 = Cr0.PE | Cr0.ET;
  s.cr3 = 0;
  s.cr4 = 0;
  s.efer = 0;
  s.halted = false;
  s.interruptShadow = 0;
  s.a20 = true;
  cpu.updateMode();
}
