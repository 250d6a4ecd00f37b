/**
 * The debug exception (#DB) from each of its sources, as SDM Vol. 3B 18.2-18.3 and Vol. 3A
 * 6.8.3 / 6.9 describe them; the expected EIPs, DR6 values and EFLAGS images are worked out by
 * hand from those sections (and Table 6-2's priorities).
 *
 * The rig: a #DB handler that logs, for every #DB, the EIP and EFLAGS the CPU pushed and DR6
 * and DR7 as it finds them, clears DR6, ORs the dword at SET_RF into the pushed EFLAGS (RF for
 * instruction breakpoints, as a debugger does) and IRETs. Every test runs on the interpreter
 * and with the JIT attached (threshold 0: code is translated at first sight), with the same
 * results.
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, CpuHarness, DATA_ADDR, type CpuRunResult } from '../helpers/cpu-harness.js';
import type { JitEngine } from '../../src/cpu/x86/jit/jit-engine.js';
import { X86Cpu } from '../../src/cpu/x86/cpu.js';
import { handledVector, readFrame, runVm86, V86_IP, vm86Harness } from './vm86-rig.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { SnapshotError } from '../../src/errors.js';
import { HIGH_ALIAS, le64, LongModeHarness } from '../helpers/cpu-harness64.js';

const TF = 1 << 8, OF = 1 << 11, RF = 1 << 16;
const DR6_FIXED = 0xffff0ff0;
const BS = 1 << 14, BD = 1 << 13, BT = 1 << 15;

const DB_HANDLER = 0x60000;
const IRET_HANDLER = 0x60100;
/** A #UD handler that skips a 2-byte UD2 and keeps the EFLAGS image it got in UD_FLAGS. */
const SKIP_UD_HANDLER = 0x60200;
const COUNT = 0x70000;
const SET_RF = 0x70004;
const UD_FLAGS = 0x70008;
const LOG = 0x70100;
const LOG_BYTES = 0x1000;

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const gs = 0x65;

/** The logging #DB handler (see the file comment). */
const DB_HANDLER_CODE = [
  0x50, 0x53, //                                   push eax; push ebx
  gs, 0x8b, 0x1d, ...le32(COUNT), //               mov ebx, gs:[COUNT]
  0xc1, 0xe3, 0x04, //                             shl ebx, 4
  0x8b, 0x44, 0x24, 0x08, //                       mov eax, [esp+8]   (EIP)
  gs, 0x89, 0x83, ...le32(LOG), //                 mov gs:[ebx+LOG], eax
  0x8b, 0x44, 0x24, 0x10, //                       mov eax, [esp+16]  (EFLAGS)
  gs, 0x89, 0x83, ...le32(LOG + 4), //             mov gs:[ebx+LOG+4], eax
  0x0f, 0x21, 0xf0, //                             mov eax, dr6
  gs, 0x89, 0x83, ...le32(LOG + 8), //             mov gs:[ebx+LOG+8], eax
  0x0f, 0x21, 0xf8, //                             mov eax, dr7
  gs, 0x89, 0x83, ...le32(LOG + 12), //            mov gs:[ebx+LOG+12], eax
  0x31, 0xc0, 0x0f, 0x23, 0xf0, //                 xor eax, eax; mov dr6, eax
  gs, 0xff, 0x05, ...le32(COUNT), //               inc dword gs:[COUNT]
  gs, 0xa1, ...le32(SET_RF), //                    mov eax, gs:[SET_RF]
  0x09, 0x44, 0x24, 0x10, //                       or [esp+16], eax
  0x5b, 0x58, 0xcf, //                             pop ebx; pop eax; iret
];
const SKIP_UD_HANDLER_CODE = [
  0x50, //                                         push eax
  0x8b, 0x44, 0x24, 0x0c, //                       mov eax, [esp+12]  (EFLAGS)
  gs, 0xa3, ...le32(UD_FLAGS), //                  mov gs:[UD_FLAGS], eax
  0x83, 0x44, 0x24, 0x04, 0x02, //                 add dword [esp+4], 2
  0x58, 0xcf, //                                   pop eax; iret
];

/** pushfd; and dword [esp], ~TF; popfd: leaves single-step mode (the POPFD itself is stepped). */
const CLEAR_TF = [0x9c, 0x81, 0x24, 0x24, ...le32(~TF >>> 0), 0x9d];
const NOP = 0x90;
const movEax = (v: number) => [0xb8, ...le32(v)];
const movEcx = (v: number) => [0xb9, ...le32(v)];
const movEbx = (v: number) => [0xbb, ...le32(v)];
/** mov drN, eax */
const movDrEax = (n: number) => [0x0f, 0x23, 0xc0 | (n << 3)];
/** mov eax, imm; mov drN, eax */
const setDr = (n: number, v: number) => [...movEax(v), ...movDrEax(n)];

interface DbRecord {
  eip: number;
  eflags: number;
  dr6: number;
  dr7: number;
}

interface DbRun {
  r: CpuRunResult;
  h: CpuHarness;
  log: DbRecord[];
}

function rig(jit: boolean): CpuHarness {
  const h = CpuHarness.flat32({ jit });
  h.write(DB_HANDLER, DB_HANDLER_CODE);
  h.write(IRET_HANDLER, [0xcf]);
  h.write(SKIP_UD_HANDLER, SKIP_UD_HANDLER_CODE);
  h.setIdtGate(1, DB_HANDLER);
  return h;
}

function runDb(h: CpuHarness, code: number[], options: { eflags?: number; setRf?: boolean; budget?: number; mem?: { addr: number; bytes: number[] }[]; setup?: (cpu: X86Cpu) => void } = {}): DbRun {
  const r = h.run({
    code,
    eflags: options.eflags,
    budget: options.budget ?? 20000,
    clear: [{ addr: COUNT, length: 0x100 }, { addr: LOG, length: LOG_BYTES }],
    mem: [{ addr: SET_RF, bytes: le32(options.setRf ? RF : 0) }, ...(options.mem ?? [])],
    setup: options.setup,
  });
  const n = Math.min(r.read32(COUNT), LOG_BYTES / 16);
  const log: DbRecord[] = [];
  for (let i = 0; i < n; i++) {
    const a = LOG + 16 * i;
    log.push({ eip: r.read32(a), eflags: r.read32(a + 4), dr6: r.read32(a + 8), dr7: r.read32(a + 12) });
  }
  return { r, h, log };
}

const at = (off: number) => CODE_ADDR + off;
const dr6 = (bits: number) => (DR6_FIXED | bits) >>> 0;

describe.each([false, true])('debug exceptions (jit: %s)', (jit) => {
  describe('single step (EFLAGS.TF, SDM 18.3.1.4)', () => {
    it('traps after every instruction with DR6.BS and the next EIP; the POPFD that clears TF is stepped too', () => {
      // mov eax, 1 @0; mov ebx, 2 @5; nop @10; CLEAR_TF @11 (pushfd, and @12, popfd @19); hlt @20
      const { r, log } = runDb(rig(jit), [...movEax(1), ...movEbx(2), NOP, ...CLEAR_TF], { eflags: TF });
      expect(r.exit).toBe('halt');
      expect(r.exception).toBeUndefined();
      expect(log.map((e) => e.eip - CODE_ADDR)).toEqual([5, 10, 11, 12, 19, 20]);
      for (const e of log) expect(e.dr6 >>> 0).toBe(dr6(BS));
      // The image pushed for each trap has TF (the handler ran without it) and no RF; the
      // last one was pushed after POPFD cleared TF.
      expect(log.slice(0, 5).every((e) => (e.eflags & (TF | RF)) === TF)).toBe(true);
      expect(log[5]!.eflags & TF).toBe(0);
      expect(r.regs.eax).toBe(1);
      expect(r.regs.ebx).toBe(2);
    });

    it('does not trap after the POPFD that sets TF, but after the instruction that follows it', () => {
      // pushfd @0; or dword [esp], TF @1 (81 0c 24 imm32: 7 bytes); popfd @8; nop @9; nop @10; CLEAR_TF @11
      const code = [0x9c, 0x81, 0x0c, 0x24, ...le32(TF), 0x9d, NOP, NOP, ...CLEAR_TF];
      const { log } = runDb(rig(jit), code);
      expect(log.map((e) => e.eip - CODE_ADDR)).toEqual([10, 11, 12, 19, 20]);
    });

    it('MOV SS and POP SS hold the trap until after the next instruction; STI does not', () => {
      // mov eax, ss @0 (8c d0); mov ss, ax @2 (8e d0); nop @4; push ss @5 (16); pop ss @6 (17);
      // nop @7; sti @8 (fb); nop @9; CLEAR_TF @10
      const code = [0x8c, 0xd0, 0x8e, 0xd0, NOP, 0x16, 0x17, NOP, 0xfb, NOP, ...CLEAR_TF];
      const { r, log } = runDb(rig(jit), code, { eflags: TF });
      expect(r.exit).toBe('halt');
      // No trap at 4 (after MOV SS) nor at 7 (after POP SS): one #DB each for the pair.
      expect(log.map((e) => e.eip - CODE_ADDR)).toEqual([2, 5, 6, 8, 9, 10, 11, 18, 19]);
      expect(log.every((e) => e.dr6 >>> 0 === dr6(BS))).toBe(true);
    });

    it('LSS opens no shadow: the trap comes right after it', () => {
      // mov [DATA], esp @0 (89 25 d32); mov [DATA+4], ss @6 (8c 15 d32); lss esp, [DATA] @12
      // (0f b2 25 d32); nop @19; CLEAR_TF @20
      const code = [0x89, 0x25, ...le32(DATA_ADDR), 0x8c, 0x15, ...le32(DATA_ADDR + 4), 0x0f, 0xb2, 0x25, ...le32(DATA_ADDR), NOP, ...CLEAR_TF];
      const { r, log } = runDb(rig(jit), code, { eflags: TF });
      expect(r.exit).toBe('halt');
      expect(log.map((e) => e.eip - CODE_ADDR)).toEqual([6, 12, 19, 20, 21, 28, 29]);
    });

    it('INT n and INT3 clear TF: no trap for them, their handler runs unstepped, the trap comes after the next instruction', () => {
      for (const [vector, int] of [[0x40, [0xcd, 0x40]], [3, [0xcc]]] as const) {
        const h = rig(jit);
        h.setIdtGate(vector, IRET_HANDLER);
        // int @0; nop; nop; CLEAR_TF
        const n = int.length;
        const { log } = runDb(h, [...int, NOP, NOP, ...CLEAR_TF], { eflags: TF });
        expect(log.map((e) => e.eip - CODE_ADDR)).toEqual([n + 1, n + 2, n + 3, n + 10, n + 11]);
      }
    });

    it('INTO with OF clear is an ordinary stepped instruction; with OF set it behaves like INT n', () => {
      const h = rig(jit);
      h.setIdtGate(4, IRET_HANDLER);
      // into @0 (ce); nop @1; CLEAR_TF @2
      expect(runDb(h, [0xce, NOP, ...CLEAR_TF], { eflags: TF }).log.map((e) => e.eip - CODE_ADDR)).toEqual([1, 2, 3, 10, 11]);
      expect(runDb(h, [0xce, NOP, ...CLEAR_TF], { eflags: TF | OF }).log.map((e) => e.eip - CODE_ADDR)).toEqual([2, 3, 10, 11]);
    });

    it('a faulting instruction is not trapped: the fault pushes RF = 1 and TF, and stepping resumes after the handler', () => {
      const h = rig(jit);
      h.setIdtGate(6, SKIP_UD_HANDLER);
      // nop @0; ud2 @1; nop @3; CLEAR_TF @4
      const { r, log } = runDb(h, [NOP, 0x0f, 0x0b, NOP, ...CLEAR_TF], { eflags: TF });
      expect(log.map((e) => e.eip - CODE_ADDR)).toEqual([1, 4, 5, 12, 13]);
      expect(r.read32(UD_FLAGS) & (TF | RF)).toBe(TF | RF);
    });

    it('steps a REP string instruction one iteration at a time, with RF = 1 pushed for all but the last', () => {
      // mov ecx, 3 @0; mov edi, DATA @5 (bf imm32); rep stosb @10 (f3 aa); CLEAR_TF @12
      const code = [...movEcx(3), 0xbf, ...le32(DATA_ADDR), 0xf3, 0xaa, ...CLEAR_TF];
      const { r, log } = runDb(rig(jit), code, { eflags: TF, setup: (cpu) => { cpu.s.gpr[0] = 0x5a; } });
      expect(log.map((e) => e.eip - CODE_ADDR)).toEqual([5, 10, 10, 10, 12, 13, 20, 21]);
      expect(log.map((e) => (e.eflags & RF) !== 0)).toEqual([false, false, true, true, false, false, false, false]);
      expect(Array.from(r.read(DATA_ADDR, 4))).toEqual([0x5a, 0x5a, 0x5a, 0]);
    });
  });

  describe('instruction breakpoints (DR7 R/W = 00, SDM 18.3.1.1)', () => {
    /**
     * DR0 = DR1 = the INC of a 3-pass loop; DR7 = `dr7`:
     * DR writes @0..23; xor eax, eax @24; mov ecx, 3 @26; inc eax @31; loop @32 (to @31); hlt @34
     */
    const loopCode = (dr7: number) => [...setDr(0, at(31)), ...setDr(1, at(31)), ...setDr(7, dr7), 0x31, 0xc0, ...movEcx(3), 0x40, 0xe2, 0xfd];

    it('fault before the instruction (EIP at it, RF = 0 pushed); RF = 1 from the handler lets it run once', () => {
      const run = runDb(rig(jit), loopCode(0x1), { setRf: true });
      expect(run.r.exit).toBe('halt');
      expect(run.r.regs.eax).toBe(3);
      expect(run.log.map((e) => e.eip - CODE_ADDR)).toEqual([31, 31, 31]);
      // B0 (enabled) and B1 (same address, not enabled: the SDM allows either) are reported.
      expect(run.log.every((e) => e.dr6 >>> 0 === dr6(0b11))).toBe(true);
      expect(run.log.every((e) => (e.eflags & RF) === 0)).toBe(true);
    });

    it('without RF the instruction faults again and again (until the budget)', () => {
      const run = runDb(rig(jit), loopCode(0x1), { budget: 3000 });
      expect(run.r.exit).toBe('budget');
      expect(run.r.read32(COUNT)).toBeGreaterThan(100);
      expect(run.log.every((e) => e.eip === at(31))).toBe(true);
    });

    it('a disabled breakpoint (L0 = G0 = 0) does nothing', () => {
      const run = runDb(rig(jit), loopCode(0x0));
      expect(run.log).toEqual([]);
      expect(run.r.regs.eax).toBe(3);
    });

    it('stops code that was translated before the breakpoint was set', () => {
      const code = [
        ...movEcx(200), //                        @0
        0x40, 0xe2, 0xfd, //                      @5: inc eax; loop @5
        0x85, 0xdb, 0x75, 24, //                  @8: test ebx, ebx; jnz @36 (the HLT)
        ...setDr(0, at(5)), ...setDr(7, 0x2), //  @12..27: DR0 = @5, G0
        0x43, //                                  @28: inc ebx
        ...movEcx(2), //                          @29
        0xeb, (5 - 36) & 0xff, //                 @34: jmp @5
      ];
      const run = runDb(rig(jit), code, { setRf: true });
      expect(run.r.exit).toBe('halt');
      expect(run.r.regs.eax).toBe(2 + 2); // EAX = 2 from the DR7 write, then two passes
      // Two passes over the breakpoint after it was set (ECX = 2), each a fault at @5 with B0.
      expect(run.log.map((e) => [e.eip - CODE_ADDR, e.dr6 >>> 0])).toEqual([[5, dr6(0b1)], [5, dr6(0b1)]]);
      if (jit) expect((run.h.cpu.blockEngine as JitEngine).stats.blocksRun).toBeGreaterThan(0);
    });
  });

  describe('data breakpoints (DR7 R/W = 01 and 11, SDM 18.3.1.2)', () => {
    it('traps after a write that touches the aligned range (LEN 4 masks DR0 to a dword); reads do not trip a write breakpoint', () => {
      // DR0 = DATA + 2, LEN0 = 11 (4 bytes) → DATA..DATA+3; R/W0 = 01; L0
      const dr7 = 0x1 | (0b01 << 16) | (0b11 << 18);
      const code = [
        ...setDr(0, DATA_ADDR + 2), ...setDr(7, dr7), //   @0..15
        0xc6, 0x05, ...le32(DATA_ADDR + 4), 0x11, //      @16: mov byte [DATA+4], 0x11 (outside)
        0xa1, ...le32(DATA_ADDR), //                       @23: mov eax, [DATA] (a read)
        0xc6, 0x05, ...le32(DATA_ADDR + 1), 0x22, //      @28: mov byte [DATA+1], 0x22 (inside)
        NOP, //                                            @35
      ];
      const { r, log } = runDb(rig(jit), code);
      expect(r.exit).toBe('halt');
      expect(log.map((e) => [e.eip - CODE_ADDR, e.dr6 >>> 0])).toEqual([[35, dr6(0b1)]]);
      expect(r.read(DATA_ADDR, 5)[1]).toBe(0x22);
    });

    it('R/W = 11 trips on reads and writes; LEN 2 and LEN 8 mask the address to their alignment', () => {
      // DR1 = DATA + 9, LEN 01 (2) → DATA+8..9; DR2 = DATA + 0x13, LEN 10 (8) → DATA+0x10..0x17; both R/W 11, G1 G2
      const dr7 = (0x2 << 2) | (0x2 << 4) | (0b11 << 20) | (0b01 << 22) | (0b11 << 24) | (0b10 << 26);
      const code = [
        ...setDr(1, DATA_ADDR + 9), ...setDr(2, DATA_ADDR + 0x13), ...setDr(7, dr7), // @0..23
        0xa1, ...le32(DATA_ADDR + 6), //      @24: mov eax, [DATA+6]   (6..9: DR1)
        0xa1, ...le32(DATA_ADDR + 10), //     @29: mov eax, [DATA+10]  (10..13: none)
        0xa3, ...le32(DATA_ADDR + 0xc), //    @34: mov [DATA+0xC], eax (0xC..0xF: none)
        0xa3, ...le32(DATA_ADDR + 0x17), //   @39: mov [DATA+0x17], eax (0x17..0x1A: DR2)
        0xa1, ...le32(DATA_ADDR + 0x0e), //   @44: mov eax, [DATA+0xE] (0xE..0x11: DR2)
        NOP, //                               @49
      ];
      const { log } = runDb(rig(jit), code);
      expect(log.map((e) => [e.eip - CODE_ADDR, e.dr6 >>> 0])).toEqual([[29, dr6(0b10)], [44, dr6(0b100)], [49, dr6(0b100)]]);
    });

    it('a REP STOSD stops after the iteration that hit, with RF = 1 pushed, and resumes', () => {
      // DR3 = DATA + 8 (LEN 4, R/W 01, L3); rep stosd over DATA..DATA+15 (ecx = 4)
      const dr7 = (0x1 << 6) | (0b01 << 28) | (0b11 << 30);
      const code = [...setDr(3, DATA_ADDR + 8), ...setDr(7, dr7 >>> 0), ...movEax(0x11223344), ...movEcx(4), 0xbf, ...le32(DATA_ADDR), 0xf3, 0xab, NOP];
      // @0..15 DR writes; mov eax @16; mov ecx @21; mov edi @26; rep stosd @31; nop @33
      const { r, log } = runDb(rig(jit), code);
      expect(log.map((e) => [e.eip - CODE_ADDR, e.dr6 >>> 0, (e.eflags & RF) !== 0])).toEqual([[31, dr6(0b1000), true]]);
      expect(r.read32(DATA_ADDR + 12)).toBe(0x11223344);
      expect(r.regs.ecx).toBe(0);
    });

    it('the stack pushes of event delivery are data accesses too: a breakpoint on the handler stack traps before the handler runs', () => {
      const h = rig(jit);
      h.setIdtGate(0x40, IRET_HANDLER);
      // DR0 = the dword INT 0x40 pushes EIP into (ESP - 4 at 0x80000 - 12 … the top three dwords).
      const dr7 = 0x1 | (0b01 << 16) | (0b11 << 18);
      const code = [...setDr(0, 0x80000 - 12), ...setDr(7, dr7), 0xcd, 0x40, NOP];
      // @0..15; int 0x40 @16; nop @18
      const { log } = runDb(h, code);
      // The #DB comes at the handler's first instruction (the IRET), then the IRET's pops do not trip a write breakpoint.
      expect(log.map((e) => [e.eip, e.dr6 >>> 0])).toEqual([[IRET_HANDLER, dr6(0b1)]]);
    });
  });

  describe('general detect (DR7.GD, SDM 18.2.4)', () => {
    it('MOV DR faults with DR6.BD and RF = 1 pushed; GD is clear in the handler, so the MOV then runs', () => {
      // mov eax, DR7 value with GD | L0; mov dr7, eax @5; mov ebx, dr0 @8 (0f 21 c3); nop @11
      const code = [...movEax((1 << 13) | 1), ...movDrEax(7), 0x0f, 0x21, 0xc3, NOP];
      const { r, log } = runDb(rig(jit), code, { setup: (cpu) => { cpu.s.dr[0] = 0x1234; } });
      expect(log.map((e) => [e.eip - CODE_ADDR, e.dr6 >>> 0, e.dr7 >>> 0, (e.eflags & RF) !== 0])).toEqual([[8, dr6(BD), 0x401, true]]);
      expect(r.regs.ebx).toBe(0x1234);
    });
  });

  describe('I/O breakpoints (DR7 R/W = 10 with CR4.DE, SDM 18.2.5)', () => {
    it('OUT to the port traps after the instruction; without CR4.DE R/W = 10 does nothing', () => {
      const dr7 = 0x1 | (0b10 << 16) | (0b01 << 18); // LEN 2: ports 0x80-0x81
      // mov dr0 (eax = 0x81); mov dr7; out 0x80, al @16 (e6 80); nop @18; out 0x82, al @19; nop @21
      const code = [...setDr(0, 0x81), ...setDr(7, dr7), 0xe6, 0x80, NOP, 0xe6, 0x82, NOP];
      const withDe = runDb(rig(jit), code, { setup: (cpu) => { cpu.s.cr4 |= 0x8; } });
      expect(withDe.log.map((e) => [e.eip - CODE_ADDR, e.dr6 >>> 0])).toEqual([[18, dr6(0b1)]]);
      expect(runDb(rig(jit), code).log).toEqual([]);
    });
  });

  describe('INT1 (ICEBP) and the TSS T bit', () => {
    it('F1 raises #DB as a trap without touching DR6; INT3 stays #BP', () => {
      const h = rig(jit);
      h.setIdtGate(3, IRET_HANDLER);
      // int3 @0; icebp @1; nop @2
      const { log } = runDb(h, [0xcc, 0xf1, NOP]);
      expect(log.map((e) => [e.eip - CODE_ADDR, e.dr6 >>> 0])).toEqual([[2, DR6_FIXED]]);
    });
  });
});

describe('INT1 in virtual-8086 mode (CPL 3)', () => {
  it('is delivered through a DPL-0 gate (no DPL check), where INT3 raises #GP(vector * 8 + 2)', () => {
    const h = vm86Harness();
    const gateDpl0 = (v: number) => {
      const hi = h.mem.read(0x1000 + v * 8 + 4, 4);
      h.write32(0x1000 + v * 8 + 4, hi & ~0x6000);
    };
    gateDpl0(1);
    gateDpl0(3);
    const r1 = runVm86(h, { code: [0xf1] });
    expect(handledVector(h, r1)).toBe(1);
    expect(readFrame(r1, false).eip).toBe(V86_IP + 1);
    const r3 = runVm86(h, { code: [0xcc] });
    expect(handledVector(h, r3)).toBe(13);
    expect(readFrame(r3, true).errorCode).toBe(3 * 8 + 2);
  });
});

describe('debug registers', () => {
  it('DR4/DR5 alias DR6/DR7 with CR4.DE = 0 and are #UD with CR4.DE = 1; DR6/DR7 keep their fixed bits', () => {
    const h = rig(false);
    // xor eax, eax; mov dr6, eax; mov dr7, eax; mov ebx, dr4 (0f 21 e3); mov ecx, dr5 (0f 21 e9)
    const code = [0x31, 0xc0, ...movDrEax(6), ...movDrEax(7), 0x0f, 0x21, 0xe3, 0x0f, 0x21, 0xe9];
    const r = h.run({ code });
    expect(r.regs.ebx).toBe(DR6_FIXED);
    expect(r.regs.ecx).toBe(0x400);
    const r2 = h.run({ code, setup: (cpu) => { cpu.s.cr4 |= 0x8; } });
    expect(r2.exception).toMatchObject({ vector: 6, eip: CODE_ADDR + 8 });
  });

  it('a pending #DB trap and the MOV SS shadow survive a snapshot; bad values are refused', () => {
    const make = () => {
      const mem = new PhysicalMemory(1 << 20);
      mem.mapRam(0, 1 << 20, 0);
      return new X86Cpu({ mem, io: new IoPortBus(), interrupts: { hasInterrupt: () => false, acknowledge: () => 0 }, nowNs: () => 0, log: NULL_LOGGER });
    };
    const a = make();
    a.s.pendingDebug = BS | 0b101;
    a.s.interruptShadow = 2;
    const data = a.saveState();
    const b = make();
    b.loadState(JSON.parse(JSON.stringify(data)), a.stateVersion);
    expect(b.s.pendingDebug).toBe(BS | 0b101);
    expect(b.s.interruptShadow).toBe(2);
    expect(b.debugHook).toBe(b.debug);
    expect(() => b.loadState({ ...data, pendingDebug: 1 << 4 }, a.stateVersion)).toThrow(SnapshotError);
    expect(() => b.loadState({ ...data, pendingDebug: BT << 1 }, a.stateVersion)).toThrow(SnapshotError);
    expect(() => b.loadState({ ...data, interruptShadow: 2 }, 7)).toThrow(SnapshotError);
    const old = { ...data, interruptShadow: 1 } as Record<string, unknown>;
    delete old.pendingDebug;
    b.loadState(old, 7);
    expect(b.s.pendingDebug).toBe(0);
    expect(b.debugHook).toBeUndefined();
  });

  it('a CPU that uses none of it has no debug hook', () => {
    const h = rig(false);
    h.run({ code: [NOP] });
    expect(h.cpu.debugHook).toBeUndefined();
  });
});

describe.each([false, true])('debug exceptions in 64-bit mode (jit: %s)', (jit) => {
  const movRax = (v: bigint) => [0x48, 0xb8, ...le64(v)];
  const movRbx = (v: bigint) => [0x48, 0xbb, ...le64(v)];
  /** mov dr0, rax; mov eax, dr7; mov dr7, rax */
  const arm = (dr0: bigint, dr7: number) => [...movRax(dr0), 0x0f, 0x23, 0xc0, 0xb8, ...le32(dr7), 0x0f, 0x23, 0xf8];

  it('single step traps after the first instruction with DR6.BS', () => {
    const h = LongModeHarness.flat64({ jit });
    const r = h.run({ code: [NOP, NOP], rflags: TF });
    expect(r.exception).toMatchObject({ vector: 1, rip: BigInt(CODE_ADDR + 1) });
    expect(Number(r.exception!.rflags) & (TF | RF)).toBe(TF);
    expect(r.cpu.s.dr[6]! >>> 0).toBe(dr6(BS));
  });

  it('an instruction breakpoint faults at its RIP with RF = 0 pushed', () => {
    const h = LongModeHarness.flat64({ jit });
    // arm @0..20; nop @21, @22, @23 (DR0), @24
    const r = h.run({ code: [...arm(BigInt(CODE_ADDR + 23), 0x1), NOP, NOP, NOP, NOP] });
    expect(r.exception).toMatchObject({ vector: 1, rip: BigInt(CODE_ADDR + 23) });
    expect(Number(r.exception!.rflags) & RF).toBe(0);
    expect(r.cpu.s.dr[6]! >>> 0).toBe(dr6(0b1));
  });

  it('a data breakpoint on an upper-half address traps after the store through that address only', () => {
    const h = LongModeHarness.flat64({ jit });
    const target = HIGH_ALIAS + BigInt(DATA_ADDR);
    const code = [
      ...arm(target, 0x1 | (0b01 << 16) | (0b11 << 18)), // @0..20: DR0 = target, 4 bytes, writes
      ...movRbx(target + 4n), //                             @21: mov rbx, target + 4
      0x89, 0x03, //                                         @31: mov [rbx], eax (outside)
      0x48, 0x83, 0xeb, 0x04, //                             @33: sub rbx, 4
      0x89, 0x03, //                                         @37: mov [rbx], eax (inside)
      NOP, //                                                @39
    ];
    const r = h.run({ code });
    expect(r.exception).toMatchObject({ vector: 1, rip: BigInt(CODE_ADDR + 39) });
    expect(r.cpu.s.dr[6]! >>> 0).toBe(dr6(0b1));
  });
});
