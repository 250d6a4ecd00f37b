/**
 * Faults raised while an interrupt or exception is being delivered in protected mode, from the
 * INT n pseudocode (SDM Vol. 2 INT n/INTO/INT3/INT1 "Operation") and Vol. 3A 6.12-6.13:
 *  - error codes: EXT (bit 0) is 0 while delivering INT n, INT3 or INTO and 1 for everything
 *    else — exceptions, external interrupts, NMIs and INT1; IDT-related faults carry
 *    vector * 8 + 2 (the IDT bit), selector-related ones the selector's index and TI bit;
 *  - the room for the whole frame on the new stack (#SS(NewSS + EXT)) or on the current one
 *    (#SS(EXT)), expand-up and expand-down, 16- and 32-bit gates;
 *  - the handler's EIP against its code segment's limit (#GP(EXT));
 * all before anything is pushed. Expected error codes and frames are worked out by hand from
 * those pages.
 *
 * Events that fault on a level-2 stack are delivered to handlers at level 2, so that the
 * nested #SS/#GP/#NP still reaches the harness's ring-0 recording handler through SS0:ESP0,
 * which then holds the interrupted SS:ESP (proof that the faulting delivery changed nothing).
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, CpuHarness, descriptor, GDT_SELECTORS, STACK_TOP, type CpuRunResult } from '../helpers/cpu-harness.js';
import type { X86Cpu } from '../../src/cpu/x86/cpu.js';
import type { InterruptSource } from '../../src/machine/irq.js';

const { CODE32, DATA32, CODE16 } = GDT_SELECTORS;
const CODE3 = 0x30;
const DATA3 = 0x38;
const TSS = 0x40;
const CODE2 = 0x48;
/** DPL 2 stack at STACK_BASE, B = 1, expand-up, limit 0xFFF. */
const STACK2 = 0x50;
/** DPL 2 stack at STACK_BASE, B = 1, expand-down, limit 0xFFF: offsets 0x1000-0xFFFFFFFF. */
const STACK2_DOWN = 0x58;
/** DPL 2 16-bit code, limit 0xFFFF. */
const CODE2_16 = 0x60;
/** DPL 0 code that is not present. */
const CODE_NP = 0x68;
/** Past the GDT limit (the harness's GDT has 16 entries). */
const BEYOND_GDT = 0x80;

const TSS_BASE = 0x7000;
/** Base of the level-2 stack segments: offset `o` is at STACK_BASE + o. */
const STACK_BASE = 0x40000;
const USER_STACK = 0x9000;
/** The level-2 handler: INT 0x41, recorded by the harness's ring-0 handler (its CS:EIP show where it ran). */
const HANDLER2 = 0x6000;
const HARNESS_HANDLER = (v: number) => 0x2000 + v * 48;

const Vec = { DB: 1, NMI: 2, BP: 3, OF: 4, UD: 6, DF: 8, NP: 11, SS: 12, GP: 13 } as const;
const IF = 1 << 9;
const OF = 1 << 11;
const UD2 = [0x0f, 0x0b];
const int = (n: number) => [0xcd, n];

/** The GDT entries the rig adds, kept for loading segment registers directly. */
const RIG_GDT: Record<number, [number, number]> = {
  [CODE3]: descriptor(0, 0xfffff, 0xfb, 0xc),
  [DATA3]: descriptor(0, 0xfffff, 0xf3, 0xc),
  [TSS]: descriptor(TSS_BASE, 0x67, 0x8b, 0x0), // busy 32-bit TSS
  [CODE2]: descriptor(0, 0xfffff, 0xdb, 0xc),
  [STACK2]: descriptor(STACK_BASE, 0xfff, 0xd3, 0x4),
  [STACK2_DOWN]: descriptor(STACK_BASE, 0xfff, 0xd7, 0x4),
  [CODE2_16]: descriptor(0, 0xffff, 0xdb, 0x0),
  [CODE_NP]: descriptor(0, 0xfffff, 0x1b, 0xc),
};

function rig(options: { jit?: boolean; interrupts?: InterruptSource } = {}): CpuHarness {
  const h = CpuHarness.flat32(options);
  for (const [sel, [lo, hi]] of Object.entries(RIG_GDT)) h.setGdtEntry(Number(sel), lo, hi);
  h.fill(TSS_BASE, 0x68);
  h.write32(TSS_BASE + 4, STACK_TOP); // ESP0
  h.write32(TSS_BASE + 8, DATA32); // SS0
  h.write(HANDLER2, int(0x41));
  return h;
}

/** Segment register `seg` loaded from rig GDT entry `sel`, as a far transfer leaves it. */
function useSegment(cpu: X86Cpu, seg: number, sel: number): void {
  const [lo, hi] = RIG_GDT[sel & ~7]!;
  const s = cpu.s;
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if (hi & 0x800000) limit = (limit * 4096 + 0xfff) >>> 0;
  s.segSel[seg] = sel;
  s.segBase[seg] = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  s.segLimit[seg] = limit;
  s.segAr[seg] = (hi >>> 8) & 0xf0ff; // type, S, DPL, P, AVL, L, D/B, G
}

/** Setup: running at CPL 3 (CODE3/DATA3) or CPL 2 (CODE2 and `ss`) with ESP = `esp`, TR = the rig's TSS. */
function atCpl(cpl: 2 | 3, esp: number, ss = cpl === 3 ? DATA3 | 3 : STACK2 | 2) {
  return (cpu: X86Cpu) => {
    useSegment(cpu, 1, cpl === 3 ? CODE3 | 3 : CODE2 | 2);
    useSegment(cpu, 2, ss);
    useSegment(cpu, 7, TSS);
    cpu.s.gpr[4] = esp;
    cpu.updateMode();
  };
}

/** The level-2 stack the TSS gives (SS2:ESP2). */
function setStack2(h: CpuHarness, ss: number, esp: number): void {
  h.write32(TSS_BASE + 0x14, esp);
  h.write32(TSS_BASE + 0x18, ss);
}

/** The SS:ESP the ring-0 handler found interrupted (left on its stack below the popped frame). */
function interruptedStack(r: CpuRunResult): { ss: number; esp: number } {
  expect(r.regs.esp).toBe(STACK_TOP - 8);
  return { ss: r.read32(STACK_TOP - 4) & 0xffff, esp: r.read32(STACK_TOP - 8) };
}

/** Bytes that must still be there if nothing was pushed. */
const SENTINEL = new Array<number>(0x20).fill(0xa5);

for (const jit of [false, true]) {
  const engine = jit ? 'JIT' : 'interpreter';

  describe(`EXT and IDT bits in the error codes of faults during delivery (${engine})`, () => {
    const cases: [string, number[], (h: CpuHarness) => void, number, number][] = [
      ['an exception through a gate that is not present: #NP(6 * 8 + 2 + EXT)', UD2,
        (h) => h.setIdtGate(Vec.UD, HARNESS_HANDLER(Vec.UD), { present: false }), Vec.NP, 0x33],
      ['INT 6 through the same gate: #NP(6 * 8 + 2), EXT = 0 for INT n', int(6),
        (h) => h.setIdtGate(Vec.UD, HARNESS_HANDLER(Vec.UD), { present: false }), Vec.NP, 0x32],
      ['INT3 through a gate that is not present: EXT = 0', [0xcc],
        (h) => h.setIdtGate(Vec.BP, HARNESS_HANDLER(Vec.BP), { present: false }), Vec.NP, 0x1a],
      ['INTO through a gate that is not present: EXT = 0', [0xce],
        (h) => h.setIdtGate(Vec.OF, HARNESS_HANDLER(Vec.OF), { present: false }), Vec.NP, 0x22],
      ['INT1 through a gate that is not present: EXT = 1 (INT1 is not a software interrupt here)', [0xf1],
        (h) => h.setIdtGate(Vec.DB, HARNESS_HANDLER(Vec.DB), { present: false }), Vec.NP, 0x0b],
      ['an exception through a gate of a wrong type (call gate): #GP(6 * 8 + 2 + EXT)', UD2,
        (h) => h.setIdtGate(Vec.UD, HARNESS_HANDLER(Vec.UD), { type: 0xc }), Vec.GP, 0x33],
      ['INT 6 through that gate: #GP(6 * 8 + 2)', int(6),
        (h) => h.setIdtGate(Vec.UD, HARNESS_HANDLER(Vec.UD), { type: 0xc }), Vec.GP, 0x32],
      ['an exception through a gate with a null code selector: #GP(EXT)', UD2,
        (h) => h.setIdtGate(Vec.UD, HARNESS_HANDLER(Vec.UD), { selector: 0 }), Vec.GP, 1],
      ['INT 6 through that gate: #GP(0)', int(6),
        (h) => h.setIdtGate(Vec.UD, HARNESS_HANDLER(Vec.UD), { selector: 0 }), Vec.GP, 0],
      ['an exception whose code selector is past the GDT limit: #GP(selector + EXT)', UD2,
        (h) => h.setIdtGate(Vec.UD, HARNESS_HANDLER(Vec.UD), { selector: BEYOND_GDT }), Vec.GP, BEYOND_GDT | 1],
      ['INT 6 through that gate: #GP(selector)', int(6),
        (h) => h.setIdtGate(Vec.UD, HARNESS_HANDLER(Vec.UD), { selector: BEYOND_GDT }), Vec.GP, BEYOND_GDT],
      ['an exception whose code selector names the LDT (null LDTR): #GP(selector with TI + EXT)', UD2,
        (h) => h.setIdtGate(Vec.UD, HARNESS_HANDLER(Vec.UD), { selector: 0x0c }), Vec.GP, 0x0d],
      ['an exception whose code selector names a data segment: #GP(selector + EXT)', UD2,
        (h) => h.setIdtGate(Vec.UD, HARNESS_HANDLER(Vec.UD), { selector: DATA32 }), Vec.GP, DATA32 | 1],
      ['an exception whose code segment is not present: #NP(selector + EXT)', UD2,
        (h) => h.setIdtGate(Vec.UD, HARNESS_HANDLER(Vec.UD), { selector: CODE_NP }), Vec.NP, CODE_NP | 1],
      ['INT 6 to that code segment: #NP(selector)', int(6),
        (h) => h.setIdtGate(Vec.UD, HARNESS_HANDLER(Vec.UD), { selector: CODE_NP }), Vec.NP, CODE_NP],
      ['an exception whose handler EIP is past the code segment limit: #GP(EXT), the handler never entered', UD2,
        (h) => h.setIdtGate(Vec.UD, 0x10000, { selector: CODE16 }), Vec.GP, 1],
      ['INT 6 to that handler: #GP(0)', int(6),
        (h) => h.setIdtGate(Vec.UD, 0x10000, { selector: CODE16 }), Vec.GP, 0],
    ];
    for (const [what, code, gate, vector, errorCode] of cases) {
      it(what, () => {
        const h = rig({ jit });
        gate(h);
        const r = h.run({ code, eflags: code[0] === 0xce ? OF : 0 });
        // Faults restart the instruction: the pushed CS:EIP is the one whose event faulted.
        expect(r.exception).toMatchObject({ vector, errorCode, cs: CODE32, eip: CODE_ADDR });
        expect(r.regs.esp).toBe(STACK_TOP);
      });
    }

    it('an NMI through a gate that is not present: #NP(2 * 8 + 2 + EXT)', () => {
      const h = rig({ jit });
      h.setIdtGate(Vec.NMI, HARNESS_HANDLER(Vec.NMI), { present: false });
      const r = h.run({ code: [0x90], setup: (cpu) => cpu.injectNmi() });
      expect(r.exception).toMatchObject({ vector: Vec.NP, errorCode: 0x13, cs: CODE32, eip: CODE_ADDR });
    });

    for (const beyondLimit of [false, true]) {
      it(`an external interrupt ${beyondLimit ? 'past the IDT limit: #GP' : 'through a gate that is not present: #NP'}(0x30 * 8 + 2 + EXT)`, () => {
        let pending = true;
        const h = rig({ jit, interrupts: { hasInterrupt: () => pending, acknowledge: () => { pending = false; return 0x30; } } });
        if (!beyondLimit) h.setIdtGate(0x30, HARNESS_HANDLER(0x30), { present: false });
        // An IDT limit that covers vectors 0-15 only.
        const r = h.run({ code: [0x90], eflags: IF, setup: (cpu) => { if (beyondLimit) cpu.s.idtLimit = 16 * 8 - 1; } });
        expect(r.exception).toMatchObject({ vector: beyondLimit ? Vec.GP : Vec.NP, errorCode: 0x183, eip: CODE_ADDR });
      });
    }

    it('INT 0x30 past the IDT limit: #GP(0x30 * 8 + 2)', () => {
      const h = rig({ jit });
      const r = h.run({ code: int(0x30), setup: (cpu) => { cpu.s.idtLimit = 16 * 8 - 1; } });
      expect(r.exception).toMatchObject({ vector: Vec.GP, errorCode: 0x182, eip: CODE_ADDR });
    });
  });

  describe(`room for the frame on the new stack: #SS(NewSS + EXT) before anything changes (${engine})`, () => {
    /** Gates 6 and 0x40 (DPL 3) to the level-2 handler. */
    function level2Rig(ss: number, esp: number, gate: { type?: number; selector?: number; offset?: number } = {}): CpuHarness {
      const h = rig({ jit });
      for (const v of [Vec.UD, 0x40]) h.setIdtGate(v, gate.offset ?? HANDLER2, { selector: gate.selector ?? CODE2, type: gate.type ?? 0xe });
      setStack2(h, ss, esp);
      return h;
    }

    /** Runs `code` at CPL 3 with the sentinel written at stack offsets [off, off + 0x20). */
    function runAt3(h: CpuHarness, code: number[], off = 0) {
      return h.run({ code, setup: atCpl(3, USER_STACK), mem: [{ addr: STACK_BASE + off, bytes: SENTINEL }] });
    }

    it('ESP2 = 0x14 holds the five dwords of an exception exactly: EIP, CS, EFLAGS, ESP, SS', () => {
      const h = level2Rig(STACK2 | 2, 0x14);
      const r = runAt3(h, UD2);
      // The level-2 handler ran (its INT 0x41 was recorded) on SS2:ESP2 - 20.
      expect(r.exception).toMatchObject({ vector: 0x41, cs: CODE2 | 2, eip: HANDLER2 + 2 });
      expect(interruptedStack(r)).toEqual({ ss: STACK2 | 2, esp: 0 });
      expect([0, 4, 12, 16].map((a) => r.read32(STACK_BASE + a))).toEqual([CODE_ADDR, CODE3 | 3, USER_STACK, DATA3 | 3]);
      expect(r.read32(STACK_BASE + 8) & 0xffff).toBe(0x2);
    });

    for (const [name, code, err] of [['an exception', UD2, STACK2 | 1], ['INT 0x40', int(0x40), STACK2]] as const) {
      it(`${name} with ESP2 = 0x10 (room for four dwords): #SS(${err.toString(16)}h), nothing pushed or switched`, () => {
        const h = level2Rig(STACK2 | 2, 0x10);
        const r = runAt3(h, [...code]);
        expect(r.exception).toMatchObject({ vector: Vec.SS, errorCode: err, cs: CODE3 | 3, eip: CODE_ADDR });
        expect(interruptedStack(r)).toEqual({ ss: DATA3 | 3, esp: USER_STACK });
        expect(Array.from(r.read(STACK_BASE, 0x20))).toEqual(SENTINEL);
      });
    }

    it('a frame whose top dword crosses the limit (ESP2 = 0x1002, limit 0xFFF) is #SS; ESP2 = 0x1000 fits', () => {
      const bad = runAt3(level2Rig(STACK2 | 2, 0x1002), UD2, 0xfe0);
      expect(bad.exception).toMatchObject({ vector: Vec.SS, errorCode: STACK2 | 1, eip: CODE_ADDR });
      expect(Array.from(bad.read(STACK_BASE + 0xfe0, 0x20))).toEqual(SENTINEL);
      const ok = runAt3(level2Rig(STACK2 | 2, 0x1000), UD2, 0xfe0);
      expect(ok.exception).toMatchObject({ vector: 0x41, cs: CODE2 | 2 });
      expect(interruptedStack(ok)).toEqual({ ss: STACK2 | 2, esp: 0xfec });
    });

    it('an expand-down stack (valid offsets above its limit 0xFFF): ESP2 = 0x1014 fits, 0x1010 is #SS', () => {
      const ok = runAt3(level2Rig(STACK2_DOWN | 2, 0x1014), UD2, 0x1000);
      expect(ok.exception).toMatchObject({ vector: 0x41, cs: CODE2 | 2 });
      expect(interruptedStack(ok)).toEqual({ ss: STACK2_DOWN | 2, esp: 0x1000 });
      expect(ok.read32(STACK_BASE + 0x1000)).toBe(CODE_ADDR);
      const bad = runAt3(level2Rig(STACK2_DOWN | 2, 0x1010), UD2, 0xff0);
      expect(bad.exception).toMatchObject({ vector: Vec.SS, errorCode: STACK2_DOWN | 1, eip: CODE_ADDR });
      expect(Array.from(bad.read(STACK_BASE + 0xff0, 0x20))).toEqual(SENTINEL);
    });

    it('a 16-bit gate pushes five words: ESP2 = 0x0A fits (IP, CS, FLAGS, SP, SS), 0x08 is #SS', () => {
      const ok = runAt3(level2Rig(STACK2 | 2, 0x0a, { type: 0x6, selector: CODE2_16 }), UD2);
      expect(ok.exception).toMatchObject({ vector: 0x41, cs: CODE2_16 | 2, eip: HANDLER2 + 2 });
      expect(interruptedStack(ok)).toEqual({ ss: STACK2 | 2, esp: 0 });
      expect([0, 2, 6, 8].map((a) => ok.read16(STACK_BASE + a))).toEqual([CODE_ADDR & 0xffff, CODE3 | 3, USER_STACK & 0xffff, DATA3 | 3]);
      const bad = runAt3(level2Rig(STACK2 | 2, 0x08, { type: 0x6, selector: CODE2_16 }), UD2);
      expect(bad.exception).toMatchObject({ vector: Vec.SS, errorCode: STACK2 | 1, eip: CODE_ADDR });
      expect(Array.from(bad.read(STACK_BASE, 0x20))).toEqual(SENTINEL);
    });

    it('the error code is a sixth dword: a #GP at ESP2 = 0x14 does not fit (the #SS makes it #DF, Table 6-5); 0x18 does', () => {
      const gp = (esp: number) => {
        const h = level2Rig(STACK2 | 2, esp);
        h.setIdtGate(Vec.GP, HANDLER2, { selector: CODE2 });
        return runAt3(h, [0xfa]); // CLI at CPL 3, IOPL 0: #GP(0)
      };
      const bad = gp(0x14);
      expect(bad.exception).toMatchObject({ vector: Vec.DF, errorCode: 0, cs: CODE3 | 3, eip: CODE_ADDR });
      expect(Array.from(bad.read(STACK_BASE, 0x20))).toEqual(SENTINEL);
      const ok = gp(0x18);
      expect(ok.exception).toMatchObject({ vector: 0x41, cs: CODE2 | 2 });
      expect(interruptedStack(ok)).toEqual({ ss: STACK2 | 2, esp: 0 });
      expect(ok.read32(STACK_BASE)).toBe(0); // the error code
      expect(ok.read32(STACK_BASE + 4)).toBe(CODE_ADDR);
    });

    it('a handler EIP past its code segment limit is #GP(EXT) before the stack switch', () => {
      const r = runAt3(level2Rig(STACK2 | 2, 0x1000, { selector: CODE2_16, offset: 0x10000 }), UD2, 0xfe0);
      expect(r.exception).toMatchObject({ vector: Vec.GP, errorCode: 1, cs: CODE3 | 3, eip: CODE_ADDR });
      expect(interruptedStack(r)).toEqual({ ss: DATA3 | 3, esp: USER_STACK });
      expect(Array.from(r.read(STACK_BASE + 0xfe0, 0x20))).toEqual(SENTINEL);
    });
  });

  describe(`room on the current stack at the same privilege: #SS(EXT), no selector in the error code (${engine})`, () => {
    /** At CPL 2 on STACK2, gates 6 and 0x40 to the level-2 handler (no stack switch). */
    function sameLevel(esp: number, gate: { selector?: number; offset?: number } = {}) {
      const h = rig({ jit });
      for (const v of [Vec.UD, 0x40]) h.setIdtGate(v, gate.offset ?? HANDLER2, { selector: gate.selector ?? CODE2 });
      return (code: number[]) => h.run({ code, setup: atCpl(2, esp), mem: [{ addr: STACK_BASE, bytes: SENTINEL }] });
    }

    it('ESP = 0x0C holds EIP, CS, EFLAGS', () => {
      const r = sameLevel(0x0c)(UD2);
      expect(r.exception).toMatchObject({ vector: 0x41, cs: CODE2 | 2, eip: HANDLER2 + 2 });
      expect(interruptedStack(r)).toEqual({ ss: STACK2 | 2, esp: 0 });
      expect([r.read32(STACK_BASE), r.read32(STACK_BASE + 4)]).toEqual([CODE_ADDR, CODE2 | 2]);
    });

    for (const [name, code, err] of [['an exception', UD2, 1], ['INT 0x40', int(0x40), 0]] as const) {
      it(`${name} with ESP = 0x08: #SS(${err}), ESP unchanged and nothing written`, () => {
        const r = sameLevel(0x08)([...code]);
        expect(r.exception).toMatchObject({ vector: Vec.SS, errorCode: err, cs: CODE2 | 2, eip: CODE_ADDR });
        expect(interruptedStack(r)).toEqual({ ss: STACK2 | 2, esp: 0x08 });
        expect(Array.from(r.read(STACK_BASE, 0x20))).toEqual(SENTINEL);
      });
    }

    it('a handler EIP past its code segment limit is #GP(EXT), nothing pushed', () => {
      const r = sameLevel(0x1000, { selector: CODE2_16, offset: 0x10000 })(UD2);
      expect(r.exception).toMatchObject({ vector: Vec.GP, errorCode: 1, cs: CODE2 | 2, eip: CODE_ADDR });
      expect(interruptedStack(r)).toEqual({ ss: STACK2 | 2, esp: 0x1000 });
    });
  });
}
