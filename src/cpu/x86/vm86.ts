/**
 * Virtual-8086 mode (SDM Vol. 3B chapter 20, "8086 Emulation": 20.2 Virtual-8086 Mode, 20.3
 * Interrupt and Exception Handling in Virtual-8086 Mode; Vol. 2 IRET, INT n).
 *
 * How the CPU represents it: EFLAGS.VM = 1 with CR0.PE = 1. `X86Cpu.updateMode` then gives
 * `protectedMode = false` (so segment loads and far transfers take the real-mode paths, which
 * load segments 8086-style through `loadVm86Segment`) and `cpl = 3` (so paging checks every
 * access as a user access and the CPL-0 instructions raise #GP(0)). What differs from real
 * mode is in the places that test EFLAGS.VM:
 *  - segments are always base = selector << 4, limit 0xFFFF, access rights 0xF3 (below);
 *  - CLI, STI, PUSHF, POPF, INT n and IRET are IOPL-sensitive: #GP(0) when IOPL < 3
 *    (exec-primary.ts; CR4.VME is not advertised, so its virtual interrupt flags do not exist);
 *    with IOPL = 3, POPF and IRET change neither IOPL nor VM;
 *  - IN/OUT/INS/OUTS always consult the TSS I/O permission bitmap (X86Cpu.checkIo, 20.2.8.1);
 *  - interrupts and exceptions go through the protected-mode IDT to a ring-0 handler, with the
 *    data segment registers saved on the ring-0 stack (`deliverFromVm86`, 20.3.1.1), as dwords
 *    through a 32-bit gate and as words through a 16-bit one;
 *  - a ring-0 IRET whose EFLAGS image has VM = 1 returns to virtual-8086 mode (`iretToVm86`).
 *
 * Entry by a task switch (a TSS whose EFLAGS image has VM = 1) belongs to the hardware task
 * switch; it loads the segment registers with `loadVm86Segment` too.
 *
 * Not implemented: CR4.VME/PVI (virtual interrupt flags, the software interrupt redirection
 * bitmap) — the bits are reserved because CPUID does not advertise VME.
 */
import { Ar, Fl, Reg, SegReg } from './state.js';
import { loadSegmentUnchecked, type Descriptor } from './segmentation.js';
import type { X86Cpu } from './cpu.js';
import { innerStack, type IdtGate } from './interrupts.js';
import { espWithSp, writeStackFrame } from './stack-room.js';

/**
 * Access rights of every segment register in virtual-8086 mode: present, DPL 3, read/write
 * data, accessed (0xF3 — the value VMX requires of each guest segment when RFLAGS.VM = 1,
 * SDM Vol. 3C 27.3.1.2; writes through CS are not checked in this mode anyway).
 */
export const VM86_SEGMENT_AR = Ar.P | Ar.S | (3 << Ar.DPL_SHIFT) | 0x3;

/** Loads a segment register 8086-style (SDM 20.1.1): base = selector << 4, limit 64 KiB. */
export function loadVm86Segment(cpu: X86Cpu, seg: number, selector: number): void {
  const s = cpu.s;
  selector &= 0xffff;
  s.segSel[seg] = selector;
  s.segBase[seg] = selector << 4;
  s.segLimit[seg] = 0xffff;
  s.segAr[seg] = VM86_SEGMENT_AR;
}

/** IOPL < 3 in virtual-8086 mode: the IOPL-sensitive instructions trap to the monitor (20.2.7). */
function vm86IoplTrap(cpu: X86Cpu): void {
  if (((cpu.s.eflags & Fl.IOPL) >> 12) < 3) cpu.gp(0);
}

/**
 * IRET(D) at CPL 0 whose EFLAGS image has VM = 1 (Vol. 2 IRET, RETURN-TO-VIRTUAL-8086-MODE;
 * only the 32-bit operand size carries VM). The ring-0 stack holds EIP, CS, EFLAGS, ESP, SS,
 * ES, DS, FS, GS, a dword each (selectors in the low word). Everything is read before
 * anything changes, so a #SS or #PF leaves the handler's state intact.
 */
export function iretToVm86(cpu: X86Cpu): void {
  const s = cpu.s;
  const v = vm86Frame;
  // "IF top 36 bytes of stack are not within stack segment limits THEN #SS(0)": each read
  // checks the SS limit.
  for (let i = 0; i < 9; i++) v[i] = cpu.peekStack(32, 4 * i);
  // EFLAGS ← tempEFLAGS: at CPL 0 every flag comes from the image, VM and IOPL included.
  cpu.setEflags(v[2]!);
  loadVm86Segment(cpu, SegReg.CS, v[1]!);
  loadVm86Segment(cpu, SegReg.SS, v[4]!);
  loadVm86Segment(cpu, SegReg.ES, v[5]!);
  loadVm86Segment(cpu, SegReg.DS, v[6]!);
  loadVm86Segment(cpu, SegReg.FS, v[7]!);
  loadVm86Segment(cpu, SegReg.GS, v[8]!);
  // EIP ← tempEIP AND FFFFH; SS:ESP ← tempSS:tempESP (all 32 bits of ESP).
  s.eip = v[0]! & 0xffff;
  s.gpr[Reg.ESP] = v[3]!;
  cpu.updateMode(); // CPL 3
}

const vm86Frame = new Array<number>(9).fill(0);

/**
 * IRET inside virtual-8086 mode (Vol. 2 IRET, the VM = 1 branch): #GP(0) with IOPL < 3;
 * otherwise an 8086-style far return that changes neither VM nor IOPL (nor VIF/VIP).
 */
export function iretInVm86(cpu: X86Cpu, size: number): void {
  const s = cpu.s;
  vm86IoplTrap(cpu);
  const old = cpu.getEflags();
  const bytes = size / 8;
  const eip = cpu.peekStack(size, 0);
  const cs = cpu.peekStack(size, bytes) & 0xffff;
  const flags = cpu.peekStack(size, 2 * bytes);
  // "IF EIP not within CS limit THEN #GP(0)": the new CS's limit is 0xFFFF.
  if (eip > 0xffff) cpu.gp(0);
  // 32-bit: all of EFLAGS but VM, IOPL, VIP, VIF (and the reserved bits); 16-bit: FLAGS but IOPL.
  const writable = (size === 32 ? 0x257fd5 : 0x7fd5) & ~Fl.IOPL;
  cpu.setSp(cpu.sp + 3 * bytes);
  loadVm86Segment(cpu, SegReg.CS, cs);
  s.eip = eip;
  cpu.setEflags((flags & writable) | (old & ~writable));
  cpu.updateMode();
}

const ssScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };

/**
 * An interrupt or exception in virtual-8086 mode through an interrupt or trap gate whose code
 * segment is non-conforming with DPL < 3 (SDM 20.3.1.1 and Vol. 2 INT n,
 * INTERRUPT-FROM-VIRTUAL-8086-MODE): the handler must be a CPL-0 code segment, else
 * #GP(selector + EXT). The processor switches to the ring-0 stack from the TSS, pushes GS,
 * FS, DS, ES, SS, ESP, EFLAGS, CS, EIP (and the error code), loads DS, ES, FS and GS with null
 * selectors and clears VM, TF, RF, NT (and IF through an interrupt gate).
 *
 * The pushes are dwords through a 32-bit gate (Figure 20-4) and words through a 16-bit gate:
 * the INT n pseudocode has "room for 20 bytes (error code pushed) or 18 bytes" and "pushes are
 * 16 bits for 16-bit IDT gates" there, and QEMU pushes the same nine or ten words. (20.3.1.1
 * mentions only 32-bit gates; a 16-bit handler cannot IRET back to virtual-8086 mode, as only
 * IRETD's EFLAGS image holds VM, but the entry itself is defined.)
 */
export function deliverFromVm86(
  cpu: X86Cpu,
  gate: IdtGate,
  ext: number,
  hasCode: boolean,
  code: number,
): void {
  const s = cpu.s;
  const csDpl = (gate.cs.ar >> Ar.DPL_SHIFT) & 3;
  if (csDpl !== 0) cpu.gp((gate.selector & 0xfffc) + ext);

  // The ring-0 stack (checks in the order of the INT n pseudocode).
  const width = gate.gate32 ? 4 : 2;
  const n = hasCode ? 10 : 9;
  // "IF new stack does not have room for 40 bytes (error code pushed) or 36 bytes" (20 or 18
  // through a 16-bit gate): #SS(NewSS + EXT), checked by innerStack.
  const { ss, esp } = innerStack(cpu, 0, ext, ssScratch, n, width);
  const ssd = ssScratch;
  // "IF instruction pointer from IDT gate not within new code-segment limits THEN #GP(EXT)".
  if (gate.offset > gate.cs.limit) cpu.gp(ext);

  const flags = cpu.getEflags();
  const frame = pushFrame;
  frame[0] = s.segSel[SegReg.GS]!;
  frame[1] = s.segSel[SegReg.FS]!;
  frame[2] = s.segSel[SegReg.DS]!;
  frame[3] = s.segSel[SegReg.ES]!;
  frame[4] = s.segSel[SegReg.SS]!;
  frame[5] = s.gpr[Reg.ESP]! >>> 0;
  frame[6] = flags;
  frame[7] = s.segSel[SegReg.CS]!;
  frame[8] = s.eip >>> 0;
  frame[9] = code;
  // The stores may #PF; nothing has changed yet, so delivery of the #PF sees the VM86 state.
  const sp = writeStackFrame(cpu, ssd.base, ssd.ar, esp, frame, n, width);

  loadSegmentUnchecked(cpu, SegReg.SS, ss & 0xfffc, ssd);
  s.gpr[Reg.ESP] = espWithSp(ssd.ar, s.gpr[Reg.ESP]!, sp);
  for (const seg of NULLED) {
    s.segSel[seg] = 0;
    s.segBase[seg] = 0;
    s.segLimit[seg] = 0;
    s.segAr[seg] = Ar.UNUSABLE;
  }
  loadSegmentUnchecked(cpu, SegReg.CS, gate.selector & 0xfffc, gate.cs);
  s.eip = gate.offset;
  let nf = flags & ~(Fl.VM | Fl.TF | Fl.RF | Fl.NT);
  if (!gate.trapGate) nf &= ~Fl.IF;
  cpu.setEflags(nf);
  cpu.updateMode(); // CPL 0
}

const pushFrame = new Array<number>(10).fill(0);
const NULLED = [SegReg.GS, SegReg.FS, SegReg.DS, SegReg.ES] as const;
