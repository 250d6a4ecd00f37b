/**
 * The hardware task switch (SDM Vol. 3A 7.3 "Task Switching", the TASK SWITCH steps of the
 * CALL, JMP and IRET pages of Vol. 2, and 6.12.2 "Interrupt Tasks"): the current state goes
 * into the old TSS, the new task's state comes from the new TSS.
 *
 * Callers (vmx/task-switch-exit.ts) have made the checks on the gate and the target TSS that
 * come before any VM exit; VMX non-root operation never gets here (a task switch is a VM exit
 * there). What this file does, in the order of SDM 7.3:
 *
 *  - before the commit point, every fault leaves the processor state and memory untouched:
 *    the IRET link checks, the limits of both TSSs, and the translation of every TSS and GDT
 *    byte the switch writes (a #PF happens before any of them is written);
 *  - the old task's busy bit is cleared (JMP, IRET), its dynamic state saved (EIP of the next
 *    instruction, or of the faulting one for a fault: whatever EIP holds now), with NT cleared
 *    in the saved EFLAGS for IRET; CALL and events write the old TR selector into the new TSS's
 *    previous-task link; the new task's busy bit is set (all but IRET);
 *  - then (commit) TR, CR0.TS, the DR7 local enables, EFLAGS (NT set for CALL and events),
 *    the general registers and EIP are loaded, and CR3 (32-bit TSS, paging on) as MOV to CR3
 *    would; the segment selectors are loaded first and their descriptors checked afterwards, so
 *    a fault there (Table 7-1's #TS, #NP, #SS with the selector) is delivered in the new task:
 *    `cpu.startEip` becomes the new EIP, which is where a fault restarts.
 *
 * Busy, NT and link per source (SDM 7.4, Table 7-2):
 *
 *   field            JMP        CALL / event     IRET
 *   new busy bit     set        set              stays set (checked)
 *   old busy bit     cleared    stays set        cleared
 *   new NT           from TSS   set              from TSS
 *   old saved NT     unchanged  unchanged        cleared
 *   new link         unchanged  old TR selector  unchanged
 *
 * A new EFLAGS with VM = 1 (32-bit TSS) enters virtual-8086 mode: the segment registers are
 * loaded as in that mode (segmentation.ts: base selector << 4, limit 0xFFFF, DPL 3), CPL 3.
 *
 * The JIT never translates far CALL/JMP, INT n or IRET (jit/translate.ts ends its blocks before
 * them), so translated code reaches a task switch only through an exception: the block stops at
 * the faulting instruction (startEip) and the run loop delivers the fault, as for any other.
 *
 * A new 32-bit TSS with T = 1 raises #DB with DR6.BT after the switch (SDM 18.3.1.5,
 * debug-exceptions.ts); a fault after the commit point takes precedence and drops it.
 */
import { Ar, Cr0, Fl, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import { copyDescriptor, loadSegment, loadSegmentUnchecked, readDescriptor, type Descriptor } from './segmentation.js';
import { Access } from './paging.js';
import { writeCr3 } from './control-regs.js';
import type { X86Cpu } from './cpu.js';
import { stackHasRoom } from './stack-room.js';

/** What started the switch; the values are bits 31:30 of the VMX exit qualification (SDM Table 28-2). */
export const enum TaskSource { Call = 0, Iret = 1, Jmp = 2, IdtTaskGate = 3 }

/** Offsets of the dynamic fields in a 32-bit TSS (SDM Figure 7-2). */
const enum Tss32 {
  Cr3 = 0x1c, Eip = 0x20, Eflags = 0x24, Gpr = 0x28, Seg = 0x48, Ldt = 0x60, Trap = 0x64,
  /** Last byte of the state a switch saves (GS). */
  SavedEnd = 0x5f,
  /** Minimum limit (SDM 7.2.2). */
  MinLimit = 0x67,
}

/** Offsets in a 16-bit TSS (SDM Figure 7-10). */
const enum Tss16 {
  Ip = 0x0e, Flags = 0x10, Gpr = 0x12, Seg = 0x22, Ldt = 0x2a,
  SavedEnd = 0x29,
  MinLimit = 0x2b,
}

/** Segment registers in TSS order (ES CS SS DS FS GS: the SegReg numbering). */
const SEGS = [SegReg.ES, SegReg.CS, SegReg.SS, SegReg.DS, SegReg.FS, SegReg.GS] as const;
/** DR7 L0-L3 and LE: cleared on every task switch (SDM 17.2.4). */
const DR7_LOCAL_ENABLES = 0x155;

const tssScratch: Descriptor = { base: 0, limit: 0, ar: 0, hi: 0, lo: 0 };

/**
 * Switches to the task whose TSS selector is `tss` (a GDT selector; for CALL, JMP and task
 * gates an available TSS already checked present and large enough). `ext` is the EXT bit of
 * the event for IDT task gates; `errorCode`, when given, is pushed on the new task's stack
 * (an exception with an error code delivered through a task gate, SDM 6.12.2).
 */
export function switchTask(cpu: X86Cpu, source: TaskSource, tss: number, ext: number, errorCode: number | undefined): void {
  const s = cpu.s;
  const sel = tss & 0xffff;
  if (source === TaskSource.Iret) checkIretLink(cpu, sel);
  const nd = copyDescriptor(readDescriptor(cpu, sel, Vec.TS), tssScratch);
  const new32 = (nd.ar & 0x8) !== 0;
  if (nd.limit < (new32 ? Tss32.MinLimit : Tss16.MinLimit)) cpu.raise(Vec.TS, (sel & 0xfffc) + ext);
  const nested = source === TaskSource.Call || source === TaskSource.IdtTaskGate;

  // The old TSS as TR caches it: its limit must cover the state saved in it.
  const oldSel = s.segSel[SegReg.TR]!;
  const oldBase = s.segBase[SegReg.TR]!;
  const old32 = (s.segAr[SegReg.TR]! & 0x8) !== 0;
  if (s.segLimit[SegReg.TR]! < (old32 ? Tss32.SavedEnd : Tss16.SavedEnd)) cpu.raise(Vec.TS, (oldSel & 0xfffc) + ext);

  // Everything the switch writes or reads is translated now, so that a #PF comes before the
  // commit point with nothing changed (SDM 7.3: "checks ... that the old and new TSSs and all
  // descriptors used in the task switch are paged into system memory").
  const newBase = nd.base;
  const newEnd = new32 ? Tss32.MinLimit : Tss16.MinLimit;
  probe(cpu, oldBase + (old32 ? Tss32.Eip : Tss16.Ip), oldBase + (old32 ? Tss32.SavedEnd : Tss16.SavedEnd), Access.Write);
  probe(cpu, newBase, newBase + newEnd, Access.Read);
  if (nested) probe(cpu, newBase, newBase + 1, Access.Write);
  if (source === TaskSource.Jmp || source === TaskSource.Iret) probe(cpu, busyByte(cpu, oldSel), busyByte(cpu, oldSel), Access.Write);
  if (source !== TaskSource.Iret) probe(cpu, busyByte(cpu, sel), busyByte(cpu, sel), Access.Write);

  // The old task: not busy after JMP and IRET; its state saved, NT cleared by IRET.
  if (source === TaskSource.Jmp || source === TaskSource.Iret) setBusy(cpu, oldSel, false);
  let oldFlags = cpu.getEflags();
  if (source === TaskSource.Iret) oldFlags &= ~Fl.NT;
  if (old32) saveState32(cpu, oldBase, oldFlags);
  else saveState16(cpu, oldBase, oldFlags);
  if (nested) cpu.writeLinear(newBase, 2, oldSel);

  // The new task's state, read before the commit point.
  const gpr: number[] = [];
  const segSel: number[] = [];
  let eip: number, eflags: number, ldt: number, cr3 = 0, trap = 0;
  if (new32) {
    cr3 = cpu.readLinear(newBase + Tss32.Cr3, 4);
    eip = cpu.readLinear(newBase + Tss32.Eip, 4);
    eflags = cpu.readLinear(newBase + Tss32.Eflags, 4);
    for (let r = 0; r < 8; r++) gpr.push(cpu.readLinear(newBase + Tss32.Gpr + 4 * r, 4));
    for (let i = 0; i < 6; i++) segSel.push(cpu.readLinear(newBase + Tss32.Seg + 4 * i, 2));
    ldt = cpu.readLinear(newBase + Tss32.Ldt, 2);
    trap = cpu.readLinear(newBase + Tss32.Trap, 2) & 1;
  } else {
    // A 16-bit TSS has no EIP/EFLAGS high halves, no FS, GS or CR3; the high halves of the
    // general registers are "modified and not maintained" (SDM 7.6): all ones, as QEMU and
    // Bochs load them.
    eip = cpu.readLinear(newBase + Tss16.Ip, 2);
    eflags = cpu.readLinear(newBase + Tss16.Flags, 2);
    for (let r = 0; r < 8; r++) gpr.push((0xffff0000 | cpu.readLinear(newBase + Tss16.Gpr + 2 * r, 2)) >>> 0);
    for (let i = 0; i < 4; i++) segSel.push(cpu.readLinear(newBase + Tss16.Seg + 2 * i, 2));
    segSel.push(0, 0);
    ldt = cpu.readLinear(newBase + Tss16.Ldt, 2);
  }
  if (source !== TaskSource.Iret) setBusy(cpu, sel, true);

  // ---- Commit point: from here on faults are taken in the new task. ----
  s.segSel[SegReg.TR] = sel;
  s.segBase[SegReg.TR] = nd.base;
  s.segLimit[SegReg.TR] = nd.limit;
  s.segAr[SegReg.TR] = nd.ar | 0x2; // busy
  s.cr0 = (s.cr0 | Cr0.TS) >>> 0;
  s.dr[7] = (s.dr[7]! & ~DR7_LOCAL_ENABLES) >>> 0;
  cpu.debug.update();
  if (nested) eflags |= Fl.NT;
  s.eip = eip;
  cpu.startEip = eip;
  cpu.startRipHi = 0;
  for (let r = 0; r < 8; r++) s.gpr[r] = gpr[r]!;
  cpu.setEflags(eflags);
  // The selectors are in place before their descriptors are checked (a fault below shows
  // them); the data registers and LDTR are unusable until loaded.
  for (let i = 0; i < 6; i++) {
    s.segSel[SEGS[i]!] = segSel[i]!;
    if (SEGS[i] !== SegReg.CS && SEGS[i] !== SegReg.SS) s.segAr[SEGS[i]!] = Ar.UNUSABLE;
  }
  s.segSel[SegReg.LDTR] = ldt;
  s.segAr[SegReg.LDTR] = Ar.UNUSABLE;
  // CR3 from a 32-bit TSS when paging is on, as MOV to CR3 loads it (TLB, PAE PDPTEs) when
  // the value changes (SDM 4.10.4.1, 4.4.1).
  if (new32 && (s.cr0 & Cr0.PG) && cr3 !== (s.cr3 >>> 0)) writeCr3(cpu, cr3);
  loadLdt(cpu, ldt, ext);
  if (eflags & Fl.VM) {
    // setEflags left protected mode: loadSegment loads virtual-8086 segments.
    for (const seg of SEGS) loadSegment(cpu, seg, segSel[seg]!);
  } else {
    const cs = segSel[SegReg.CS]!;
    const cpl = cs & 3;
    loadTaskSegment(cpu, SegReg.CS, cs, cpl, ext);
    cpu.updateMode();
    for (const seg of [SegReg.SS, SegReg.ES, SegReg.DS, SegReg.FS, SegReg.GS]) loadTaskSegment(cpu, seg, segSel[seg]!, cpl, ext);
  }
  cpu.updateMode();
  // The T bit: #DB (DR6.BT) after the switch, before the new task's first instruction.
  if (new32 && trap) cpu.debug.taskSwitchTrap();
  // An exception's error code goes on the new task's stack, in the new TSS's width (SDM 6.12.2;
  // Vol. 2 INT n TASK-GATE: "IF stack limit does not allow push of error code THEN #SS(EXT)").
  if (errorCode !== undefined) {
    if (!stackHasRoom(s.segAr[SegReg.SS]!, s.segLimit[SegReg.SS]!, cpu.sp, 1, new32 ? 4 : 2)) cpu.raise(Vec.SS, ext);
    cpu.push(new32 ? 32 : 16, errorCode);
  }
  if ((s.eip >>> 0) > s.segLimit[SegReg.CS]!) cpu.gp(ext);
}

/**
 * IRET's task return (SDM Vol. 2 IRET, TASK-RETURN): the link must select a busy TSS in the
 * GDT (#TS(link) otherwise) that is present (#NP(link)).
 */
function checkIretLink(cpu: X86Cpu, link: number): void {
  if (link & 4) cpu.raise(Vec.TS, link & 0xfffc);
  const d = readDescriptor(cpu, link, Vec.TS);
  const type = d.ar & (Ar.S | 0xf);
  if (type !== 0x3 && type !== 0xb) cpu.raise(Vec.TS, link & 0xfffc);
  if (!(d.ar & Ar.P)) cpu.raise(Vec.NP, link & 0xfffc);
}

/** Translates the pages of [first, last] for `access` as a supervisor access (may #PF). */
function probe(cpu: X86Cpu, first: number, last: number, access: Access): void {
  cpu.mmu.physical(first >>> 0, access, 0);
  if (((first >>> 12) ^ (last >>> 12)) !== 0) cpu.mmu.physical(last >>> 0, access, 0);
}

/** Linear address of the type byte of GDT descriptor `sel`. */
function busyByte(cpu: X86Cpu, sel: number): number {
  return cpu.s.gdtBase + (sel & 0xfff8) + 5;
}

/** Sets or clears the busy bit (type bit 1) of TSS descriptor `sel` in the GDT. */
function setBusy(cpu: X86Cpu, sel: number, busy: boolean): void {
  const addr = busyByte(cpu, sel);
  const b = cpu.readLinear(addr, 1);
  cpu.writeLinear(addr, 1, busy ? b | 0x2 : b & ~0x2);
}

function saveState32(cpu: X86Cpu, base: number, eflags: number): void {
  const s = cpu.s;
  cpu.writeLinear(base + Tss32.Eip, 4, s.eip >>> 0);
  cpu.writeLinear(base + Tss32.Eflags, 4, eflags);
  for (let r = 0; r < 8; r++) cpu.writeLinear(base + Tss32.Gpr + 4 * r, 4, s.gpr[r]! >>> 0);
  for (let i = 0; i < 6; i++) cpu.writeLinear(base + Tss32.Seg + 4 * i, 2, s.segSel[SEGS[i]!]!);
}

function saveState16(cpu: X86Cpu, base: number, eflags: number): void {
  const s = cpu.s;
  cpu.writeLinear(base + Tss16.Ip, 2, s.eip & 0xffff);
  cpu.writeLinear(base + Tss16.Flags, 2, eflags & 0xffff);
  for (let r = 0; r < 8; r++) cpu.writeLinear(base + Tss16.Gpr + 2 * r, 2, s.gpr[r]! & 0xffff);
  for (let i = 0; i < 4; i++) cpu.writeLinear(base + Tss16.Seg + 2 * i, 2, s.segSel[SEGS[i]!]!);
}

/** LDTR from the new TSS: null, or an LDT descriptor in the GDT that is present, else #TS(LDT + EXT). */
function loadLdt(cpu: X86Cpu, ldt: number, ext: number): void {
  const s = cpu.s;
  const err = (ldt & 0xfffc) + ext;
  if (ldt & 4) cpu.raise(Vec.TS, err);
  if ((ldt & 0xfffc) === 0) return; // a null LDT selector: LDTR stays unusable
  const d = readDescriptor(cpu, ldt, Vec.TS, ext);
  if ((d.ar & (Ar.S | 0xf)) !== 0x2 || !(d.ar & Ar.P)) cpu.raise(Vec.TS, err);
  s.segSel[SegReg.LDTR] = ldt;
  s.segBase[SegReg.LDTR] = d.base;
  s.segLimit[SegReg.LDTR] = d.limit;
  s.segAr[SegReg.LDTR] = d.ar;
}

/**
 * A segment register from the new TSS with the checks of SDM Table 7-1: #TS(selector) for a
 * selector outside its table, a wrong type or privilege (CPL is the new CS's RPL), #SS for a
 * stack segment that is not present, #NP for the others. CS and SS may not be null. `ext` is
 * the EXT bit of an interrupt task's switch: these faults happen during the delivery of the
 * event (SDM 6.13), and Bochs sets EXT on them too.
 */
function loadTaskSegment(cpu: X86Cpu, seg: number, sel: number, cpl: number, ext: number): void {
  const err = (sel & 0xfffc) + ext;
  if ((sel & 0xfffc) === 0) {
    if (seg === SegReg.CS || seg === SegReg.SS) cpu.raise(Vec.TS, ext);
    return; // a null data selector: the register stays unusable
  }
  const d = readDescriptor(cpu, sel, Vec.TS, ext);
  const ar = d.ar;
  const dpl = (ar >> Ar.DPL_SHIFT) & 3;
  const rpl = sel & 3;
  const code = (ar & 0x8) !== 0;
  if (!(ar & Ar.S)) cpu.raise(Vec.TS, err);
  if (seg === SegReg.CS) {
    if (!code) cpu.raise(Vec.TS, err);
    // Non-conforming: DPL = RPL; conforming: DPL <= RPL.
    if (ar & 0x4 ? dpl > rpl : dpl !== rpl) cpu.raise(Vec.TS, err);
    if (!(ar & Ar.P)) cpu.raise(Vec.NP, err);
  } else if (seg === SegReg.SS) {
    if (code || !(ar & 0x2)) cpu.raise(Vec.TS, err);
    if (!(ar & Ar.P)) cpu.raise(Vec.SS, err);
    if (dpl !== cpl || rpl !== cpl) cpu.raise(Vec.TS, err);
  } else {
    if (code && !(ar & 0x2)) cpu.raise(Vec.TS, err);
    const conforming = code && (ar & 0x4) !== 0;
    if (!conforming && (dpl < cpl || dpl < rpl)) cpu.raise(Vec.TS, err);
    if (!(ar & Ar.P)) cpu.raise(Vec.NP, err);
  }
  loadSegmentUnchecked(cpu, seg, sel, d);
}
