/**
 * The hardware task switch (SDM Vol. 3A 7.3 "Task Switching", 7.4 "Task Linking", 6.12.2
 * "Interrupt Tasks", Table 7-1 "Exception Conditions Checked During a Task Switch"; the TASK
 * SWITCH steps of the CALL, JMP, INT n and IRET pages of Vol. 2). The expected TSS contents,
 * busy bits, link fields, registers and faults are worked out from those sections by hand.
 *
 * Layout (on top of the flat32 harness, whose GDT gets room for 256 entries):
 *   TSS A (0x40, 32-bit, 0x7000): the current task, TR at the start of every run
 *   TSS B (0x48, 32-bit, 0x7100): the usual target; code at B_CODE, stack at B_STACK
 *   task gate 0x50 → TSS B
 *   TSS C (0x58, 16-bit, 0x7200); TSS D (0x60, 32-bit, 0x7300): the double-fault task
 *   LDT 0x68 (0x7400, 3 entries)
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, CpuHarness, descriptor, GDT_BASE, GDT_SELECTORS } from '../helpers/cpu-harness.js';
import { Cr0, SegReg } from '../../src/cpu/x86/state.js';
import type { JitEngine } from '../../src/cpu/x86/jit/jit-engine.js';

const { CODE32, DATA32, CODE16 } = GDT_SELECTORS;
const TSS_A = 0x40, TSS_B = 0x48, GATE_B = 0x50, TSS_C = 0x58, TSS_D = 0x60, LDT = 0x68;
const A_BASE = 0x7000, B_BASE = 0x7100, C_BASE = 0x7200, D_BASE = 0x7300, LDT_BASE = 0x7400;
const B_CODE = CODE_ADDR + 0x1000, D_CODE = CODE_ADDR + 0x2000;
const B_STACK = 0x60000, D_STACK = 0x50000;
/** A memory cell the tasks write results to. */
const CELL = 0x9000;
/** Sentinel in link fields that a switch must leave alone. */
const LINK_SENTINEL = 0x1234;
const NT = 1 << 14, VM = 1 << 17;
const Vec = { DE: 0, UD: 6, DF: 8, TS: 10, NP: 11, SS: 12, GP: 13 } as const;

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const jmpFar = (sel: number) => [0xea, 0, 0, 0, 0, sel & 0xff, sel >>> 8];
const callFar = (sel: number) => [0x9a, 0, 0, 0, 0, sel & 0xff, sel >>> 8];
const IRET = 0xcf;
const HLT = 0xf4;
/** pushfd; pop dword [CELL] */
const STORE_EFLAGS = [0x9c, 0x8f, 0x05, ...le32(CELL)];

interface Tss32Fields {
  eip: number;
  eflags?: number;
  /** EAX ECX EDX EBX ESP EBP ESI EDI. */
  gpr?: number[];
  /** ES CS SS DS FS GS. */
  segs?: number[];
  ldt?: number;
  cr3?: number;
  trap?: boolean;
}

/** The GPRs task B starts with (ESP is its stack). */
const B_GPR = [0xb0b0_0000, 0xb0b0_0001, 0xb0b0_0002, 0xb0b0_0003, B_STACK, 0xb0b0_0005, 0xb0b0_0006, 0xb0b0_0007];
/** The GPRs task A runs with. */
const A_REGS = { eax: 0xa0a0_0000, ecx: 0xa0a0_0001, edx: 0xa0a0_0002, ebx: 0xa0a0_0003, ebp: 0xa0a0_0005, esi: 0xa0a0_0006, edi: 0xa0a0_0007 };
const A_GPR = [A_REGS.eax, A_REGS.ecx, A_REGS.edx, A_REGS.ebx, 0x80000, A_REGS.ebp, A_REGS.esi, A_REGS.edi];
const FLAT_SEGS = [DATA32, CODE32, DATA32, DATA32, DATA32, DATA32];

/** A 32-bit TSS at `base` (SDM Figure 7-2); the link field holds LINK_SENTINEL. */
function writeTss32(h: CpuHarness, base: number, f: Tss32Fields): void {
  h.fill(base, 0x68);
  h.write16(base, LINK_SENTINEL);
  h.write32(base + 0x1c, f.cr3 ?? 0);
  h.write32(base + 0x20, f.eip);
  h.write32(base + 0x24, f.eflags ?? 0x2);
  (f.gpr ?? B_GPR).forEach((v, i) => h.write32(base + 0x28 + 4 * i, v));
  (f.segs ?? FLAT_SEGS).forEach((v, i) => h.write16(base + 0x48 + 4 * i, v));
  h.write16(base + 0x60, f.ldt ?? 0);
  h.write16(base + 0x64, f.trap ? 1 : 0);
  h.write16(base + 0x66, 0x68);
}

/** Type byte (bits 47:40) of GDT entry `sel`. */
function typeByte(h: CpuHarness, sel: number): number {
  return h.mem.read(GDT_BASE + (sel & ~7) + 5, 1);
}

/** Task gate descriptor (SDM Figure 7-6) for TSS selector `tss`. */
function taskGate(tss: number, dpl = 0): [number, number] {
  return [(tss << 16) >>> 0, (0x8500 | (dpl << 13)) >>> 0];
}

/**
 * The harness with tasks A (busy, in TR) and B (available), the gate to B, and the LDT
 * descriptor. `b` overrides task B's TSS fields.
 */
function taskHarness(b: Partial<Tss32Fields> = {}, options: { jit?: boolean } = {}): CpuHarness {
  const h = CpuHarness.flat32(options);
  h.setGdtEntry(TSS_A, ...descriptor(A_BASE, 0x67, 0x8b, 0)); // busy 32-bit TSS
  h.setGdtEntry(TSS_B, ...descriptor(B_BASE, 0x67, 0x89, 0)); // available 32-bit TSS
  h.setGdtEntry(GATE_B, ...taskGate(TSS_B));
  h.setGdtEntry(LDT, ...descriptor(LDT_BASE, 0x17, 0x82, 0)); // LDT
  h.fill(A_BASE, 0x68);
  h.write16(A_BASE, LINK_SENTINEL);
  writeTss32(h, B_BASE, { eip: B_CODE, ...b });
  return h;
}

/** Harness setup: a larger GDT limit and TR = TSS A (as LTR leaves it: busy). */
function enterTaskA(cpu: CpuHarness['cpu']): void {
  const s = cpu.s;
  s.gdtLimit = 0x7ff;
  s.segSel[SegReg.TR] = TSS_A;
  s.segBase[SegReg.TR] = A_BASE;
  s.segLimit[SegReg.TR] = 0x67;
  s.segAr[SegReg.TR] = 0x8b;
}

function tr(h: CpuHarness): number {
  return h.cpu.s.segSel[SegReg.TR]!;
}

describe('JMP to a TSS (SDM 7.3, Vol. 2 JMP TASK-STATE-SEGMENT)', () => {
  it('saves the old task, loads the new one, moves the busy bit, sets CR0.TS and leaves NT and the link alone', () => {
    const h = taskHarness({ eflags: 0x2 | (1 << 0) | (1 << 11) }); // CF, OF
    h.write(B_CODE, [HLT]);
    const r = h.run({ code: [0x31, 0xc0, 0x48, ...jmpFar(TSS_B)], regs: A_REGS, setup: enterTaskA }); // xor eax,eax; dec eax; jmp far
    expect(r.exception).toBeUndefined();
    // New task: registers, EIP, EFLAGS from TSS B; TR and its cache; CR0.TS set (7.3 step 11).
    expect(r.eip).toBe(B_CODE + 1);
    expect(Object.values(r.regs)).toEqual(B_GPR);
    expect(r.eflags).toBe(0x803);
    expect(tr(h)).toBe(TSS_B);
    expect(h.cpu.s.segBase[SegReg.TR]).toBe(B_BASE);
    expect(h.cpu.s.segAr[SegReg.TR]! & 0xf).toBe(0xb);
    expect(h.cpu.s.cr0 & Cr0.TS).toBe(Cr0.TS);
    // Old task's TSS: EIP after the JMP, EFLAGS (SF PF AF... of DEC -1: SF|PF|AF), the GPRs, the selectors.
    expect(r.read32(A_BASE + 0x20)).toBe(CODE_ADDR + 10);
    expect(r.read32(A_BASE + 0x24)).toBe(0x2 | 0x80 | 0x4 | 0x10);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => r.read32(A_BASE + 0x28 + 4 * i))).toEqual([0xffffffff, ...A_GPR.slice(1)]);
    expect([0, 1, 2, 3, 4, 5].map((i) => r.read16(A_BASE + 0x48 + 4 * i))).toEqual(FLAT_SEGS);
    // JMP: old busy bit cleared, new one set; no link written (7.4, Table 7-2).
    expect(typeByte(h, TSS_A)).toBe(0x89);
    expect(typeByte(h, TSS_B)).toBe(0x8b);
    expect(r.read16(B_BASE)).toBe(LINK_SENTINEL);
    expect(r.read16(A_BASE)).toBe(LINK_SENTINEL);
  });

  it('JMP takes the new NT from the TSS image and leaves the old task\'s saved NT alone (Table 7-2)', () => {
    for (const newNt of [0, NT]) {
      const h = taskHarness({ eflags: 0x2 | newNt });
      h.write(B_CODE, [...STORE_EFLAGS, HLT]);
      const r = h.run({ code: jmpFar(TSS_B), eflags: NT, setup: enterTaskA });
      expect(r.read32(CELL)).toBe(0x2 | newNt);
      expect(r.read32(A_BASE + 0x24) & NT).toBe(NT);
    }
  });

  it('loads LDTR and segments from the new TSS, and an LDT selector of the new task resolves in the new LDT', () => {
    const h = taskHarness({ ldt: LDT, segs: [0x0c, CODE32, DATA32, DATA32, 0, 0x0c] }); // ES, GS = LDT entry 1
    h.write32(LDT_BASE + 8, descriptor(0x12340, 0xfff, 0x93, 0x4)[0]);
    h.write32(LDT_BASE + 12, descriptor(0x12340, 0xfff, 0x93, 0x4)[1]);
    h.write(B_CODE, [HLT]);
    h.run({ code: jmpFar(TSS_B), setup: enterTaskA });
    const s = h.cpu.s;
    expect(s.segSel[SegReg.LDTR]).toBe(LDT);
    expect(s.segBase[SegReg.LDTR]).toBe(LDT_BASE);
    expect(s.segLimit[SegReg.LDTR]).toBe(0x17);
    expect(s.segBase[SegReg.ES]).toBe(0x12340);
    expect(s.segLimit[SegReg.ES]).toBe(0xfff);
    expect(s.segBase[SegReg.GS]).toBe(0x12340);
    expect(s.segSel[SegReg.FS]).toBe(0);
    // The accessed bit of the LDT data descriptor was set by the load.
    expect(h.mem.read(LDT_BASE + 13, 1)).toBe(0x93);
  });
});

describe('privilege and paging around the switch', () => {
  it('a ring-3 task runs at CPL 3 and its interrupts use the new TSS\'s ring-0 stack', () => {
    const CODE3 = 0x70, DATA3 = 0x78, RING0_STACK = 0x40000;
    const h = taskHarness({ segs: [DATA3 | 3, CODE3 | 3, DATA3 | 3, DATA3 | 3, DATA3 | 3, DATA3 | 3] });
    h.setGdtEntry(CODE3, ...descriptor(0, 0xfffff, 0xfb, 0xc));
    h.setGdtEntry(DATA3, ...descriptor(0, 0xfffff, 0xf3, 0xc));
    h.write32(B_BASE + 4, RING0_STACK); // ESP0
    h.write32(B_BASE + 8, DATA32); // SS0
    h.write(B_CODE, [0xcd, 0x50]); // int 0x50 (the harness's gate: DPL 3, ring 0)
    const r = h.run({ code: jmpFar(TSS_B), setup: enterTaskA });
    expect(r.exception).toMatchObject({ vector: 0x50, cs: CODE3 | 3, eip: B_CODE + 2 });
    // The handler popped EIP, CS, EFLAGS off the ring-0 stack; the outer SS:ESP are left.
    expect(r.regs.esp).toBe(RING0_STACK - 8);
    expect(r.read32(RING0_STACK - 4)).toBe(DATA3 | 3);
    expect(r.read32(RING0_STACK - 8)).toBe(B_STACK);
  });

  it('a #PF on the new TSS comes before the commit point: nothing is written, A stays current', () => {
    const PD = 0x20000, PT = 0x21000, FAR_TSS = 0x8100;
    const h = taskHarness();
    h.setGdtEntry(TSS_B, ...descriptor(FAR_TSS, 0x67, 0x89, 0));
    writeTss32(h, FAR_TSS, { eip: B_CODE });
    for (let i = 0; i < 512; i++) h.write32(PT + 4 * i, (i << 12) | 3);
    h.write32(PT + 4 * 8, 0); // page 0x8000 not present
    h.write32(PD, PT | 3);
    const r = h.run({
      code: callFar(TSS_B),
      regs: A_REGS,
      setup: (c) => {
        enterTaskA(c);
        c.s.cr3 = PD;
        c.s.cr0 |= Cr0.PG;
        c.updateMode();
        c.mmu.flushAll();
      },
    });
    expect(r.exception).toMatchObject({ vector: 14, errorCode: 0, eip: CODE_ADDR });
    expect(h.cpu.s.cr2).toBe(FAR_TSS);
    expect(tr(h)).toBe(TSS_A);
    expect(r.read32(A_BASE + 0x20)).toBe(0);
    expect(typeByte(h, TSS_B)).toBe(0x89);
    expect(h.cpu.s.cr0 & Cr0.TS).toBe(0);
  });
});

describe('CALL to a task gate and IRET back (SDM 7.4 task linking)', () => {
  it('links the new task to the old, sets NT in it, and IRET returns with the old state', () => {
    const h = taskHarness();
    // Task B records its EFLAGS and returns to A.
    h.write(B_CODE, [...STORE_EFLAGS, IRET]);
    const r = h.run({ code: [...callFar(GATE_B)], regs: A_REGS, setup: enterTaskA });
    expect(r.exception).toBeUndefined();
    // Task B ran with NT set (CALL nests) and its link naming TSS A.
    expect(r.read32(CELL)).toBe(0x2 | NT);
    expect(r.read16(B_BASE)).toBe(TSS_A);
    // IRET went back to A, after the CALL (the HLT the harness appended), with A's registers.
    expect(r.eip).toBe(CODE_ADDR + 8);
    expect(tr(h)).toBe(TSS_A);
    expect(Object.values(r.regs)).toEqual(A_GPR);
    expect(r.eflags & NT).toBe(0);
    // IRET: B's saved EIP is after its IRET, its saved NT is cleared, its busy bit is cleared;
    // A stayed busy throughout (CALL keeps it, IRET requires it).
    expect(r.read32(B_BASE + 0x20)).toBe(B_CODE + STORE_EFLAGS.length + 1);
    expect(r.read32(B_BASE + 0x24) & NT).toBe(0);
    expect(typeByte(h, TSS_B)).toBe(0x89);
    expect(typeByte(h, TSS_A)).toBe(0x8b);
    // A's saved EIP is after the CALL (it pushed nothing on A's stack).
    expect(r.read32(A_BASE + 0x20)).toBe(CODE_ADDR + 7);
    expect(r.regs.esp).toBe(0x80000);
  });

  it('CALL to a busy TSS is #GP(selector) and changes nothing', () => {
    const h = taskHarness();
    const r = h.run({ code: callFar(TSS_A), setup: enterTaskA });
    expect(r.exception).toMatchObject({ vector: Vec.GP, errorCode: TSS_A, eip: CODE_ADDR });
    expect(tr(h)).toBe(TSS_A);
    expect(r.read32(A_BASE + 0x20)).toBe(0);
    expect(h.cpu.s.cr0 & Cr0.TS).toBe(0);
  });

  it('IRET with NT to a link that is not a busy TSS is #TS(link)', () => {
    const h = taskHarness();
    h.write16(A_BASE, TSS_B); // B is available, not busy
    const r = h.run({ code: [IRET], eflags: NT, setup: enterTaskA });
    expect(r.exception).toMatchObject({ vector: Vec.TS, errorCode: TSS_B, eip: CODE_ADDR });
    expect(tr(h)).toBe(TSS_A);
  });
});

describe('interrupt tasks (SDM 6.12.2)', () => {
  it('INT n through a task gate nests like CALL; IRET returns after the INT', () => {
    const h = taskHarness();
    h.setIdtGate(0x40, 0, { type: 5, selector: TSS_B, dpl: 3 });
    h.write(B_CODE, [...STORE_EFLAGS, IRET]);
    const r = h.run({ code: [0xcd, 0x40], regs: A_REGS, setup: enterTaskA });
    expect(r.exception).toBeUndefined();
    expect(r.read32(CELL)).toBe(0x2 | NT);
    expect(r.read16(B_BASE)).toBe(TSS_A);
    expect(r.read32(A_BASE + 0x20)).toBe(CODE_ADDR + 2);
    expect(r.eip).toBe(CODE_ADDR + 3);
    expect(Object.values(r.regs)).toEqual(A_GPR);
    // No interrupt frame: the interrupt task's stack is its own, untouched (ESP saved = initial).
    expect(r.read32(B_BASE + 0x38)).toBe(B_STACK);
  });

  it('an external interrupt through a task gate switches at the instruction boundary; a busy TSS is #GP with EXT', () => {
    for (const busy of [false, true]) {
      const h = taskHarness();
      if (busy) h.setGdtEntry(TSS_B, ...descriptor(B_BASE, 0x67, 0x8b, 0));
      h.setIdtGate(0x30, 0, { type: 5, selector: TSS_B, dpl: 0 });
      h.write(B_CODE, [IRET]);
      let pending = true;
      const irq = h.cpu.bus.interrupts;
      irq.hasInterrupt = () => pending;
      irq.acknowledge = () => {
        pending = false;
        return 0x30;
      };
      const r = h.run({ code: [0x90, 0x90], eflags: 1 << 9, setup: enterTaskA }); // nop; nop (IF = 1)
      if (busy) {
        // SDM 6.13: the error code's EXT bit (bit 0) is set for an external event.
        expect(r.exception).toMatchObject({ vector: Vec.GP, errorCode: TSS_B | 1, eip: CODE_ADDR });
        expect(tr(h)).toBe(TSS_A);
      } else {
        // Taken before the first NOP: that is where task A resumes after B's IRET.
        expect(r.exception).toBeUndefined();
        expect(r.read32(A_BASE + 0x20)).toBe(CODE_ADDR);
        expect(r.read16(B_BASE)).toBe(TSS_A);
        expect(r.eip).toBe(CODE_ADDR + 3);
        expect(tr(h)).toBe(TSS_A);
      }
    }
  });

  it('an exception with an error code through a task gate pushes it on the new task\'s stack', () => {
    const h = taskHarness();
    h.setIdtGate(Vec.GP, 0, { type: 5, selector: TSS_B });
    h.write(B_CODE, [0x58, HLT]); // pop eax
    const r = h.run({ code: [0x66, 0xb8, 0x83, 0x00, 0x8e, 0xd8], setup: enterTaskA }); // mov ax, 0x83; mov ds, ax
    // #GP(0x80): GDT entry 16 is all zeros, not a data segment (SDM Vol. 2 MOV Sreg).
    expect(r.regs.eax).toBe(0x80);
    expect(r.regs.esp).toBe(B_STACK);
    // The old task was saved at the faulting instruction (a fault restarts it).
    expect(r.read32(A_BASE + 0x20)).toBe(CODE_ADDR + 4);
    expect(r.read16(B_BASE)).toBe(TSS_A);
  });

  it('a double fault through a task gate (i386 Linux\'s #DF handling) runs the #DF task with error code 0', () => {
    const h = taskHarness();
    h.setGdtEntry(TSS_D, ...descriptor(D_BASE, 0x67, 0x89, 0));
    writeTss32(h, D_BASE, { eip: D_CODE, gpr: [0, 0, 0, 0, D_STACK, 0, 0, 0] });
    h.setIdtGate(Vec.DF, 0, { type: 5, selector: TSS_D });
    // #GP whose gate is not present: #NP while delivering it, contributory twice → #DF (Table 6-5).
    h.setIdtGate(Vec.GP, 0, { present: false });
    h.write(D_CODE, [0x58, ...STORE_EFLAGS, HLT]); // pop eax (the error code)
    const r = h.run({ code: [0x66, 0xb8, 0x83, 0x00, 0x8e, 0xd8], setup: enterTaskA });
    expect(r.exit).toBe('halt');
    expect(r.eip).toBe(D_CODE + 1 + STORE_EFLAGS.length + 1);
    expect(r.regs.eax).toBe(0);
    expect(r.regs.esp).toBe(D_STACK);
    expect(r.read32(CELL) & NT).toBe(NT);
    expect(tr(h)).toBe(TSS_D);
    expect(r.read16(D_BASE)).toBe(TSS_A);
    expect(typeByte(h, TSS_D)).toBe(0x8b);
    expect(typeByte(h, TSS_A)).toBe(0x8b);
    // The faulting task's state: EIP of the MOV DS that faulted.
    expect(r.read32(A_BASE + 0x20)).toBe(CODE_ADDR + 4);
  });
});

describe('16-bit TSS (SDM 7.6, Figure 7-10)', () => {
  it('loads the 16-bit fields, nulls FS/GS, and saves 16-bit state on the way back', () => {
    const h = taskHarness();
    h.setGdtEntry(TSS_C, ...descriptor(C_BASE, 0x2b, 0x81, 0)); // available 16-bit TSS
    const C_IP = 0x9100;
    h.fill(C_BASE, 0x2c);
    h.write16(C_BASE + 0x0e, C_IP);
    h.write16(C_BASE + 0x10, 0x0002 | 0x40); // ZF
    [0x1100, 0x1101, 0x1102, 0x1103, 0x8000, 0x1105, 0x1106, 0x1107].forEach((v, i) => h.write16(C_BASE + 0x12 + 2 * i, v));
    [DATA32, CODE16, DATA32, DATA32].forEach((v, i) => h.write16(C_BASE + 0x22 + 2 * i, v));
    // The 16-bit task: mov ax, 0x4321; jmp far TSS_A:0 (ptr16:16) back to A.
    h.write(C_IP, [0xb8, 0x21, 0x43, 0xea, 0, 0, TSS_A, 0]);
    const r = h.run({ code: [...jmpFar(TSS_C), ...jmpFar(0)], regs: A_REGS, setup: (c) => {
      enterTaskA(c);
      // Stop in task C right after the switch to look at its state.
    }, budget: 1 });
    const s = h.cpu.s;
    expect(r.eip).toBe(C_IP);
    expect(tr(h)).toBe(TSS_C);
    expect(h.cpu.cs32).toBe(false);
    expect(s.segSel[SegReg.CS]).toBe(CODE16);
    expect(r.regs.eax & 0xffff).toBe(0x1100);
    expect(r.regs.edi & 0xffff).toBe(0x1107);
    expect(r.regs.esp & 0xffff).toBe(0x8000);
    expect(r.eflags & 0xffff).toBe(0x42);
    expect(s.segSel[SegReg.FS]).toBe(0);
    expect(s.segSel[SegReg.GS]).toBe(0);
    expect(typeByte(h, TSS_C)).toBe(0x83);

    // Run on: task C jumps back to A, which resumes after its first JMP at the null-selector JMP.
    h.cpu.run(2);
    expect(tr(h)).toBe(TSS_A);
    expect(s.eip).toBe(CODE_ADDR + 7);
    expect(s.gpr[0]).toBe(A_REGS.eax | 0);
    // C's TSS got the 16-bit state: IP after its JMP, AX as changed, FLAGS, selectors.
    expect(h.mem.read(C_BASE + 0x0e, 2)).toBe(C_IP + 8);
    expect(h.mem.read(C_BASE + 0x12, 2)).toBe(0x4321);
    expect(h.mem.read(C_BASE + 0x10, 2)).toBe(0x42);
    expect(h.mem.read(C_BASE + 0x24, 2)).toBe(CODE16);
    expect(typeByte(h, TSS_C)).toBe(0x81);
    expect(typeByte(h, TSS_A)).toBe(0x8b);
  });
});

describe('16-bit interrupt task (SDM 6.12.2, 7.6)', () => {
  it('an exception through a task gate to a 16-bit TSS pushes a 16-bit error code and links the task', () => {
    const DATA16 = 0x70;
    const h = taskHarness();
    h.setGdtEntry(DATA16, ...descriptor(0, 0xffff, 0x93, 0x0)); // 16-bit stack segment (B = 0)
    h.setGdtEntry(TSS_C, ...descriptor(C_BASE, 0x2b, 0x81, 0));
    const C_IP = 0x9100;
    h.fill(C_BASE, 0x2c);
    h.write16(C_BASE + 0x0e, C_IP);
    h.write16(C_BASE + 0x10, 0x0002);
    h.write16(C_BASE + 0x12 + 2 * 4, 0x8000); // SP
    [DATA32, CODE16, DATA16, DATA32].forEach((v, i) => h.write16(C_BASE + 0x22 + 2 * i, v));
    h.write(C_IP, [0x58, HLT]); // pop ax
    h.setIdtGate(Vec.GP, 0, { type: 5, selector: TSS_C });
    const r = h.run({ code: [0x66, 0xb8, 0x83, 0x00, 0x8e, 0xd8], setup: enterTaskA }); // mov ds, 0x83 → #GP(0x80)
    expect(r.exit).toBe('halt');
    expect(r.regs.eax & 0xffff).toBe(0x80);
    expect(r.regs.esp & 0xffff).toBe(0x8000);
    // Two bytes, not four: the word below SP is the error code and the one below it untouched.
    expect(r.read16(0x7ffe)).toBe(0x80);
    expect(r.read16(0x7ffc)).toBe(0);
    expect(r.eflags & NT).toBe(NT);
    expect(r.read16(C_BASE)).toBe(TSS_A);
    expect(typeByte(h, TSS_C)).toBe(0x83);
    expect(r.read32(A_BASE + 0x20)).toBe(CODE_ADDR + 4);
  });
});

describe('faults before the commit point change nothing (SDM 7.3 steps 1-6, Table 7-1)', () => {
  const cases: [string, (h: CpuHarness) => void, number, number][] = [
    ['a TSS that is not present is #NP(selector)', (h) => h.setGdtEntry(TSS_B, ...descriptor(B_BASE, 0x67, 0x09, 0)), Vec.NP, TSS_B],
    ['a 32-bit TSS with a limit below 0x67 is #TS(selector)', (h) => h.setGdtEntry(TSS_B, ...descriptor(B_BASE, 0x66, 0x89, 0)), Vec.TS, TSS_B],
    ['a busy TSS is #GP(selector)', (h) => h.setGdtEntry(TSS_B, ...descriptor(B_BASE, 0x67, 0x8b, 0)), Vec.GP, TSS_B],
    ['a task gate that is not present is #NP(gate)', (h) => h.setGdtEntry(GATE_B, taskGate(TSS_B)[0], taskGate(TSS_B)[1] & ~0x8000), Vec.NP, GATE_B],
  ];
  for (const [what, corrupt, vector, errorCode] of cases) {
    it(what, () => {
      const h = taskHarness();
      corrupt(h);
      const sel = what.includes('gate') ? GATE_B : TSS_B;
      const r = h.run({ code: jmpFar(sel), setup: enterTaskA });
      expect(r.exception).toMatchObject({ vector, errorCode, eip: CODE_ADDR, cs: CODE32 });
      expect(tr(h)).toBe(TSS_A);
      expect(typeByte(h, TSS_A)).toBe(0x8b);
      expect(r.read32(A_BASE + 0x20)).toBe(0);
      expect(h.cpu.s.cr0 & Cr0.TS).toBe(0);
    });
  }
});

describe('faults after the commit point are taken in the new task (SDM 7.3 step 12, Table 7-1)', () => {
  // The handlers are tasks (as SDM 7.3 recommends for #TS): each vector its own TSS, whose code
  // pops the error code into EAX; the faulting task's state lands in TSS B.
  const HANDLER_TSS: Record<number, number> = { [Vec.TS]: TSS_D, [Vec.NP]: 0x70, [Vec.SS]: 0x78 };
  const cases: [string, Partial<Tss32Fields>, number, number][] = [
    ['an LDT selector with TI = 1 is #TS(LDT)', { ldt: LDT | 4 }, Vec.TS, LDT | 4],
    ['an LDT selector naming a data segment is #TS(LDT)', { ldt: DATA32 }, Vec.TS, DATA32],
    ['a CS naming a data segment is #TS(CS)', { segs: [DATA32, DATA32, DATA32, DATA32, DATA32, DATA32] }, Vec.TS, DATA32],
    ['a null CS is #TS(0)', { segs: [DATA32, 0, DATA32, DATA32, DATA32, DATA32] }, Vec.TS, 0],
    ['an SS naming a code segment is #TS(SS)', { segs: [DATA32, CODE32, CODE32, DATA32, DATA32, DATA32] }, Vec.TS, CODE32],
    ['an SS whose RPL is not CS.RPL is #TS(SS)', { segs: [DATA32, CODE32, DATA32 | 3, DATA32, DATA32, DATA32] }, Vec.TS, DATA32],
    ['a DS naming an execute-only code segment is #TS(DS)', { segs: [DATA32, CODE32, DATA32, 0x30, DATA32, DATA32] }, Vec.TS, 0x30],
    ['a DS that is not present is #NP(DS)', { segs: [DATA32, CODE32, DATA32, 0x38, DATA32, DATA32] }, Vec.NP, 0x38],
    ['an SS that is not present is #SS(SS)', { segs: [DATA32, CODE32, 0x38, DATA32, DATA32, DATA32] }, Vec.SS, 0x38],
  ];
  for (const [what, fields, vector, errorCode] of cases) {
    it(what, () => {
      const h = taskHarness(fields);
      h.setGdtEntry(0x30, ...descriptor(0, 0xfffff, 0x98, 0xc)); // execute-only code
      h.setGdtEntry(0x38, ...descriptor(0, 0xfffff, 0x13, 0xc)); // data, not present
      for (const [v, sel] of Object.entries(HANDLER_TSS)) {
        const base = 0x7500 + 0x80 * Number(v);
        h.setGdtEntry(sel, ...descriptor(base, 0x67, 0x89, 0));
        writeTss32(h, base, { eip: D_CODE, gpr: [0, 0, 0, 0, D_STACK, 0, 0, 0] });
        h.setIdtGate(Number(v), 0, { type: 5, selector: sel });
      }
      h.write(D_CODE, [0x58, HLT]); // pop eax
      const r = h.run({ code: jmpFar(TSS_B), setup: enterTaskA });
      expect(r.exit).toBe('halt');
      expect(tr(h)).toBe(HANDLER_TSS[vector]);
      expect(r.regs.eax).toBe(errorCode);
      // The switch to B committed: A not busy, B busy, A saved after its JMP; the fault was
      // taken at B's first instruction, in B (B's state saved there, B linked from the handler).
      expect(typeByte(h, TSS_A)).toBe(0x89);
      expect(typeByte(h, TSS_B)).toBe(0x8b);
      expect(r.read32(A_BASE + 0x20)).toBe(CODE_ADDR + 7);
      expect(r.read32(B_BASE + 0x20)).toBe(B_CODE);
      expect(r.read32(B_BASE + 0x38)).toBe(B_STACK);
      expect(r.read16(0x7500 + 0x80 * vector)).toBe(TSS_B);
      // B's selectors as its TSS gave them (loaded before their descriptors were checked).
      const segs = fields.segs ?? FLAT_SEGS;
      expect([0, 1, 2, 3, 4, 5].map((i) => r.read16(B_BASE + 0x48 + 4 * i))).toEqual(segs);
    });
  }
});

describe('the EXT bit in faults of an interrupt task\'s switch (SDM 6.13, Vol. 2 INT n TASK-GATE)', () => {
  // EXT = 1 while delivering an exception (or any event but INT n/INT3/INTO), here #UD.
  for (const [what, code, ext] of [['#UD', [0x0f, 0x0b], 1], ['INT 6', [0xcd, 0x06], 0]] as const) {
    it(`${what} through a task gate to a task whose DS is not present: #NP(DS + ${ext}) in the new task`, () => {
      const h = taskHarness({ segs: [DATA32, CODE32, DATA32, 0x38, DATA32, DATA32] });
      h.setGdtEntry(0x38, ...descriptor(0, 0xfffff, 0x13, 0xc)); // data, not present
      h.setGdtEntry(0x70, ...descriptor(0x7500, 0x67, 0x89, 0));
      writeTss32(h, 0x7500, { eip: D_CODE, gpr: [0, 0, 0, 0, D_STACK, 0, 0, 0] });
      h.setIdtGate(Vec.NP, 0, { type: 5, selector: 0x70 });
      h.setIdtGate(Vec.UD, 0, { type: 5, selector: TSS_B });
      h.write(D_CODE, [0x58, HLT]); // pop eax
      const r = h.run({ code: [...code], setup: enterTaskA });
      expect(tr(h)).toBe(0x70);
      expect(r.regs.eax).toBe(0x38 | ext);
      expect(r.read32(B_BASE + 0x20)).toBe(B_CODE);
    });

    it(`${what} through a task gate whose TSS selector is past the GDT limit: #GP(selector + ${ext}), no switch`, () => {
      const h = taskHarness();
      h.setIdtGate(Vec.UD, 0, { type: 5, selector: 0x800 });
      const r = h.run({ code: [...code], setup: enterTaskA });
      expect(r.exception).toMatchObject({ vector: Vec.GP, errorCode: 0x800 | ext, eip: CODE_ADDR });
      expect(tr(h)).toBe(TSS_A);
    });
  }
});

describe('CR3 from the new TSS (SDM 7.3 step 11, 4.10.4.1)', () => {
  it('loads the new task\'s page directory and flushes the old translations', () => {
    const h = taskHarness();
    const PD1 = 0x20000, PD2 = 0x21000, PT_LOW = 0x22000, PT_HI1 = 0x23000, PT_HI2 = 0x24000;
    for (let i = 0; i < 512; i++) h.write32(PT_LOW + 4 * i, (i << 12) | 3); // identity 0-2 MiB
    h.write32(PD1, PT_LOW | 3);
    h.write32(PD2, PT_LOW | 3);
    // Linear 0x400000: physical 0x30000 under PD1, 0x31000 under PD2.
    h.write32(PD1 + 4, PT_HI1 | 3);
    h.write32(PD2 + 4, PT_HI2 | 3);
    h.write32(PT_HI1, 0x30000 | 3);
    h.write32(PT_HI2, 0x31000 | 3);
    h.write32(0x30000, 0x11111111);
    h.write32(0x31000, 0x22222222);
    writeTss32(h, B_BASE, { eip: B_CODE, cr3: PD2 });
    h.write32(A_BASE + 0x1c, PD1);
    h.write(B_CODE, [0xa1, ...le32(0x400000), HLT]); // mov eax, [0x400000]
    const code = [0x8b, 0x1d, ...le32(0x400000), ...jmpFar(TSS_B)]; // mov ebx, [0x400000] (fills the TLB)
    const r = h.run({
      code,
      setup: (c) => {
        enterTaskA(c);
        c.s.cr3 = PD1;
        c.s.cr0 |= Cr0.PG;
        c.updateMode();
        c.mmu.flushAll();
      },
    });
    expect(r.exception).toBeUndefined();
    expect(h.cpu.s.cr3).toBe(PD2);
    expect(h.cpu.s.cr0).toBe((0x80000011 | Cr0.TS) >>> 0); // PG PE ET, and TS set by the switch
    expect(r.regs.eax).toBe(0x22222222);
    // The old TSS's CR3 field is static: not written by the switch.
    expect(r.read32(A_BASE + 0x1c)).toBe(PD1);
    expect(r.read32(A_BASE + 0x34)).toBe(0x11111111); // EBX as saved
  });
});

describe('a new task with EFLAGS.VM = 1 (SDM 7.3 step 11, 20.2.1)', () => {
  it('loads the segment registers virtual-8086 style and runs at CPL 3', () => {
    const h = taskHarness({ eflags: VM | 0x2, eip: 0x100, segs: [0x4000, 0x1000, 0x2000, 0x3000, 0x5000, 0x6000], ldt: LDT });
    const r = h.run({ code: jmpFar(TSS_B), setup: enterTaskA, budget: 1 });
    const s = h.cpu.s;
    expect(r.eip).toBe(0x100);
    expect(r.eflags & VM).toBe(VM);
    expect(h.cpu.cpl).toBe(3);
    expect(h.cpu.protectedMode).toBe(false);
    const sels = [0x4000, 0x1000, 0x2000, 0x3000, 0x5000, 0x6000];
    for (let seg = 0; seg < 6; seg++) {
      expect(s.segSel[seg]).toBe(sels[seg]);
      expect(s.segBase[seg]).toBe(sels[seg]! << 4);
      expect(s.segLimit[seg]).toBe(0xffff);
      expect((s.segAr[seg]! >> 5) & 3).toBe(3);
    }
    expect(s.segSel[SegReg.LDTR]).toBe(LDT);
    expect(s.segBase[SegReg.LDTR]).toBe(LDT_BASE);
  });
});

describe('the TSS T bit (SDM 7.2.1, 18.3.1.5)', () => {
  it('raises #DB with DR6.BT in the new task, before its first instruction', () => {
    const h = taskHarness({ trap: true });
    const r = h.run({ code: jmpFar(TSS_B), setup: enterTaskA });
    expect(r.exception).toMatchObject({ vector: 1, eip: B_CODE });
    expect(tr(h)).toBe(TSS_B);
    expect(h.cpu.s.dr[6]! >>> 0).toBe((0xffff0ff0 | 0x8000) >>> 0);
  });
});

describe('task switches and the JIT', () => {
  it('a fault inside a translated block switches tasks at the faulting instruction, with the instructions before it done', () => {
    for (const jit of [false, true]) {
      const h = taskHarness({}, { jit });
      h.setIdtGate(Vec.DE, 0, { type: 5, selector: TSS_B });
      h.write(B_CODE, [HLT]);
      // mov ecx, 5; add ecx, ecx; xor ebx, ebx; div ebx
      const code = [0xb9, ...le32(5), 0x01, 0xc9, 0x31, 0xdb, 0xf7, 0xf3];
      const r = h.run({ code, setup: enterTaskA });
      expect(r.exit).toBe('halt');
      expect(tr(h)).toBe(TSS_B);
      expect(r.read32(A_BASE + 0x20)).toBe(CODE_ADDR + 9);
      expect(r.read32(A_BASE + 0x2c)).toBe(10); // ECX
      expect(r.read32(A_BASE + 0x34)).toBe(0); // EBX
      expect(r.read16(B_BASE)).toBe(TSS_A);
      if (jit) expect((h.cpu.blockEngine as JitEngine).stats.blocksRun).toBeGreaterThan(0);
    }
  });

  it('CALL and IRET through tasks from translated code give the interpreter\'s results', () => {
    const results = [false, true].map((jit) => {
      const h = taskHarness({}, { jit });
      h.write(B_CODE, [0x41, 0x41, IRET, 0xeb, 0xfb]); // inc ecx; inc ecx; iret; jmp back to the first inc
      // A: call B three times through the gate (B resumes after its IRET each time).
      const code = [...callFar(GATE_B), ...callFar(GATE_B), ...callFar(GATE_B)];
      const r = h.run({ code, setup: enterTaskA });
      if (jit) expect((h.cpu.blockEngine as JitEngine).stats.blocksRun).toBeGreaterThan(0);
      return { eip: r.eip, ecx: h.mem.read(B_BASE + 0x2c, 4), link: r.read16(B_BASE), tr: tr(h), saved: r.read32(A_BASE + 0x20) };
    });
    expect(results[0]).toEqual({ eip: CODE_ADDR + 22, ecx: B_GPR[1]! + 6, link: TSS_A, tr: TSS_A, saved: CODE_ADDR + 21 });
    expect(results[1]).toEqual(results[0]);
  });
});
