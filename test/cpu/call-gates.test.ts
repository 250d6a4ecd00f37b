/**
 * Call gates in protected mode, from the SDM: the gate and target checks and their error codes
 * (Vol. 2 CALL and JMP, "CALL-GATE"; Vol. 3A 5.8.4 and its privilege-check rules), the stack
 * switch of a CALL to a more privileged level with the parameters copied (Vol. 3A 5.8.5,
 * Figure 5-13: SS, ESP, the parameters, CS, EIP on the new stack, pushed at the gate's width),
 * the #TS/#SS checks of the new stack (CALL, "MORE-PRIVILEGE"), and RETF imm16 releasing the
 * parameters from both stacks (Vol. 2 RET, "RETURN-TO-OUTER-PRIVILEGE-LEVEL"; Vol. 3A 5.8.6).
 * Expected frames and error codes are worked out by hand from those sections.
 *
 * A fault raised by a CALL at CPL 3 is delivered to the harness's ring-0 handler, which leaves
 * the interrupted SS:ESP on the ring-0 stack: that shows the caller's stack was not switched.
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, CpuHarness, descriptor, GDT_BASE, GDT_SELECTORS, STACK_TOP, type CpuRunResult } from '../helpers/cpu-harness.js';

const { CODE32, CODE16 } = GDT_SELECTORS;
const CODE3 = 0x38;
const DATA3 = 0x40;
const TSS = 0x48;
/** 32-bit call gate, DPL 3, to CODE32:PROC0 copying 3 dwords. */
const GATE32 = 0x50;
/** 16-bit call gate, DPL 3, to CODE16:PROC16 copying 2 words. */
const GATE16 = 0x58;
/** 32-bit call gate, DPL 0, to CODE32:PROC0. */
const GATE_DPL0 = 0x60;
/** Conforming code, DPL 0. */
const CONFORMING0 = 0x68;
/** 32-bit call gate, DPL 3, to CONFORMING0:PROC_CONF. */
const GATE_CONF = 0x70;
/** DPL 2 code and data, and a 32-bit gate (DPL 3) to CODE2:PROC2 copying 3 dwords. */
const CODE2 = 0x78;
const DATA2 = 0x80;
const GATE2 = 0x88;
/** Spare entries the tests fill as they need. */
const SPARE1 = 0x90;
const SPARE2 = 0x98;

const TSS_BASE = 0x7000;
const USER_STACK = 0x9000;
const STACK2 = 0x70000;
const PROC0 = 0x6000;
const PROC16 = 0x6100;
const PROC2 = 0x6200;
const PROC_CONF = 0x6300;

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const le16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];
const pushImm32 = (v: number) => [0x68, ...le32(v)];
/** CALL ptr16:32 (9A) and JMP ptr16:32 (EA); the offset is ignored for a gate. */
const callFar = (sel: number, off = 0) => [0x9a, ...le32(off), ...le16(sel)];
const jmpFar = (sel: number, off = 0) => [0xea, ...le32(off), ...le16(sel)];
const INT50 = [0xcd, 0x50];
const HLT = [0xf4];

/** A call-gate descriptor (SDM Vol. 3A Figure 5-8). */
function gate(selector: number, offset: number, options: { type?: number; dpl?: number; params?: number; present?: boolean } = {}): [number, number] {
  const { type = 0xc, dpl = 3, params = 0, present = true } = options;
  const lo = ((selector << 16) | (offset & 0xffff)) >>> 0;
  const hi = ((offset & 0xffff0000) | (present ? 0x8000 : 0) | (dpl << 13) | (type << 8) | params) >>> 0;
  return [lo, hi];
}

/**
 * A flat32 harness with ring-3 and ring-2 segments, the gates above and a 32-bit TSS whose
 * ESP0/SS0 are STACK_TOP/0x10 and ESP2/SS2 STACK2/DATA2|2.
 */
function gateHarness(options: { jit?: boolean } = {}): CpuHarness {
  const h = CpuHarness.flat32(options);
  h.setGdtEntry(CODE3, ...descriptor(0, 0xfffff, 0xfb, 0xc));
  h.setGdtEntry(DATA3, ...descriptor(0, 0xfffff, 0xf3, 0xc));
  h.setGdtEntry(TSS, ...descriptor(TSS_BASE, 0x67, 0x89, 0x0));
  h.setGdtEntry(GATE32, ...gate(CODE32, PROC0, { params: 3 }));
  h.setGdtEntry(GATE16, ...gate(CODE16, PROC16, { type: 0x4, params: 2 }));
  h.setGdtEntry(GATE_DPL0, ...gate(CODE32, PROC0, { dpl: 0 }));
  h.setGdtEntry(CONFORMING0, ...descriptor(0, 0xfffff, 0x9f, 0xc)); // present, DPL 0, conforming readable code
  h.setGdtEntry(GATE_CONF, ...gate(CONFORMING0, PROC_CONF));
  h.setGdtEntry(CODE2, ...descriptor(0, 0xfffff, 0xdb, 0xc)); // DPL 2 code
  h.setGdtEntry(DATA2, ...descriptor(0, 0xfffff, 0xd3, 0xc)); // DPL 2 data
  h.setGdtEntry(GATE2, ...gate(CODE2, PROC2, { params: 3 }));
  h.write32(TSS_BASE + 4, STACK_TOP); // ESP0
  h.write32(TSS_BASE + 8, GDT_SELECTORS.DATA32); // SS0
  h.write32(TSS_BASE + 0x14, STACK2); // ESP2
  h.write32(TSS_BASE + 0x18, DATA2 | 2); // SS2
  h.write16(TSS_BASE + 0x66, 0x68);
  return h;
}

/** The GDT holds 32 entries in these tests (the harness's table has room up to the IDT). */
const wideGdt = (cpu: { s: { gdtLimit: number } }) => {
  cpu.s.gdtLimit = 32 * 8 - 1;
};

/**
 * CPL 0 code that loads TR, points DS/ES/GS at DATA3 and IRETs to `user` at CPL 3 on
 * `ss`:`esp` (DATA3|3:USER_STACK by default).
 */
function toRing3(user: number[], options: { ss?: number; esp?: number; cs?: number; eip?: number } = {}): { code: number[]; userAddr: number } {
  const { ss = DATA3 | 3, esp = USER_STACK, cs = CODE3 | 3 } = options;
  const prologue = [
    0x66, 0xb8, ...le16(TSS), 0x0f, 0x00, 0xd8, // mov ax, TSS; ltr ax
    0x66, 0xb8, ...le16(DATA3 | 3), 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xe8, // mov ds/es/gs, DATA3|3
    0x68, ...le32(ss), // push SS
    0x68, ...le32(esp), // push ESP
    0x6a, 0x02, // push EFLAGS (IF clear)
    0x68, ...le32(cs), // push CS
  ];
  const userAddr = options.eip ?? CODE_ADDR + prologue.length + 5 + 1;
  return { code: [...prologue, 0x68, ...le32(userAddr), 0xcf, ...user], userAddr };
}

/** Three dwords pushed by the caller: 0x33333333 ends up lowest, as parameter 0. */
const PUSH3 = [...pushImm32(0x11111111), ...pushImm32(0x22222222), ...pushImm32(0x33333333)];

for (const jit of [false, true]) {
  describe(`CALL through a 32-bit call gate to ring 0 (${jit ? 'JIT' : 'interpreter'})`, () => {
    it('switches to SS0:ESP0 and pushes SS, ESP, the 3 parameters, CS, EIP (SDM 5.8.5, Figure 5-13)', () => {
      const h = gateHarness({ jit });
      h.write(PROC0, HLT);
      const { code, userAddr } = toRing3([...PUSH3, ...callFar(GATE32 | 3, 0xdeadbeef)]);
      const r = h.run({ code, setup: wideGdt });
      expect(r.exception).toBeUndefined();
      expect(r.exit).toBe('halt');
      expect(r.eip).toBe(PROC0 + 1);
      expect(h.cpu.cpl).toBe(0);
      expect(h.cpu.s.segSel[1]).toBe(CODE32);
      expect(h.cpu.s.segSel[2]).toBe(GDT_SELECTORS.DATA32);
      expect(r.regs.esp).toBe(STACK_TOP - 28);
      expect(r.read32(STACK_TOP - 4)).toBe(DATA3 | 3);
      expect(r.read32(STACK_TOP - 8)).toBe(USER_STACK - 12);
      expect(r.read32(STACK_TOP - 12)).toBe(0x11111111);
      expect(r.read32(STACK_TOP - 16)).toBe(0x22222222);
      expect(r.read32(STACK_TOP - 20)).toBe(0x33333333);
      expect(r.read32(STACK_TOP - 24)).toBe(CODE3 | 3);
      expect(r.read32(STACK_TOP - 28)).toBe(userAddr + 15 + 7);
    });

    it('RETF 12 returns to ring 3 and releases the parameters from both stacks (SDM 5.8.6)', () => {
      const h = gateHarness({ jit });
      // mov eax, [esp+8] (parameter 0); mov ebx, [esp+20] (the caller's ESP); retf 12
      h.write(PROC0, [0x8b, 0x44, 0x24, 0x08, 0x8b, 0x5c, 0x24, 0x14, 0xca, 0x0c, 0x00]);
      const { code, userAddr } = toRing3([...PUSH3, ...callFar(GATE32 | 3), ...INT50]);
      const r = h.run({ code, setup: wideGdt });
      expect(r.regs.eax).toBe(0x33333333);
      expect(r.regs.ebx).toBe(USER_STACK - 12);
      // Back at CPL 3 after the call, with the caller's ESP past its 12 bytes of parameters.
      expect(r.exception).toMatchObject({ vector: 0x50, cs: CODE3 | 3, eip: userAddr + 22 + 2 });
      expect(r.read32(STACK_TOP - 8)).toBe(USER_STACK);
      expect(r.read32(STACK_TOP - 4)).toBe(DATA3 | 3);
    });
  });
}

describe('16-bit call gates (type 4): pushes and parameters are words', () => {
  it('CALL from ring 3: SS, SP, 2 word parameters, CS, IP on the ring-0 stack; the target is CODE16:IP', () => {
    const h = gateHarness();
    h.write(PROC16, HLT);
    const { code, userAddr } = toRing3([...pushImm32(0x12345678), ...callFar(GATE16 | 3)]);
    const r = h.run({ code, setup: wideGdt });
    expect(r.exception).toBeUndefined();
    expect(h.cpu.s.segSel[1]).toBe(CODE16);
    expect(r.eip).toBe(PROC16 + 1);
    expect(h.cpu.cpl).toBe(0);
    expect(r.regs.esp).toBe(STACK_TOP - 12);
    expect(r.read16(STACK_TOP - 2)).toBe(DATA3 | 3);
    expect(r.read16(STACK_TOP - 4)).toBe((USER_STACK - 4) & 0xffff);
    expect(r.read16(STACK_TOP - 6)).toBe(0x1234); // parameter 1 (old SP + 2)
    expect(r.read16(STACK_TOP - 8)).toBe(0x5678); // parameter 0 (old SP)
    expect(r.read16(STACK_TOP - 10)).toBe(CODE3 | 3);
    // A 16-bit gate pushes IP only: the return address is truncated (SDM 5.8.3).
    expect(r.read16(STACK_TOP - 12)).toBe((userAddr + 5 + 7) & 0xffff);
  });

  it('CALL at the same privilege pushes CS and IP as words on the current stack', () => {
    const h = gateHarness();
    h.write(PROC16, HLT);
    const r = h.run({ code: callFar(GATE16), setup: wideGdt });
    expect(r.exception).toBeUndefined();
    expect(h.cpu.s.segSel[1]).toBe(CODE16);
    expect(r.eip).toBe(PROC16 + 1);
    expect(r.regs.esp).toBe(STACK_TOP - 4);
    expect(r.read16(STACK_TOP - 2)).toBe(CODE32);
    expect(r.read16(STACK_TOP - 4)).toBe((CODE_ADDR + 7) & 0xffff);
  });

  it('CALL from 16-bit ring-3 code and RETF 4 back: IP, CS, 4 bytes, SP, SS popped and SP + 4 (SDM RET)', () => {
    const h = gateHarness();
    const USER16 = 0x6400;
    h.setGdtEntry(SPARE1, ...descriptor(0, 0xffff, 0xfb, 0x0)); // DPL 3 16-bit code
    // push word 0x1234; push word 0x5678; call far GATE16|3:0; int 0x50
    h.write(USER16, [0x68, 0x34, 0x12, 0x68, 0x78, 0x56, 0x9a, 0x00, 0x00, ...le16(GATE16 | 3), ...INT50]);
    // mov ax, [esp+4] (parameter 0); retf 4
    h.write(PROC16, [0x67, 0x8b, 0x44, 0x24, 0x04, 0xca, 0x04, 0x00]);
    const { code } = toRing3([], { cs: SPARE1 | 3, eip: USER16 });
    const r = h.run({ code, setup: wideGdt });
    expect(r.regs.eax & 0xffff).toBe(0x5678);
    expect(r.exception).toMatchObject({ vector: 0x50, cs: SPARE1 | 3, eip: USER16 + 13 });
    expect(r.read32(STACK_TOP - 8)).toBe(USER_STACK);
  });
});

describe('JMP through a call gate and conforming targets', () => {
  it('JMP through a gate at the same privilege loads CS:EIP from the gate and pushes nothing', () => {
    const h = gateHarness();
    h.write(PROC0, HLT);
    h.write32(STACK_TOP - 4, 0xa5a5a5a5);
    const r = h.run({ code: jmpFar(GATE32, 0x1234), setup: wideGdt });
    expect(r.exception).toBeUndefined();
    expect(r.eip).toBe(PROC0 + 1);
    expect(h.cpu.s.segSel[1]).toBe(CODE32);
    expect(r.regs.esp).toBe(STACK_TOP);
    expect(r.read32(STACK_TOP - 4)).toBe(0xa5a5a5a5);
  });

  it('JMP through a gate from ring 3 to a non-conforming ring-0 segment is #GP(code selector)', () => {
    const h = gateHarness();
    const { code, userAddr } = toRing3(jmpFar(GATE32 | 3));
    const r = h.run({ code, setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: CODE32, cs: CODE3 | 3, eip: userAddr });
  });

  it('JMP through a gate to a conforming segment keeps CPL 3 and the ring-3 stack', () => {
    const h = gateHarness();
    h.write(PROC_CONF, INT50);
    const { code } = toRing3(jmpFar(GATE_CONF | 3));
    const r = h.run({ code, setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 0x50, cs: CONFORMING0 | 3, eip: PROC_CONF + 2 });
    expect(r.read32(STACK_TOP - 8)).toBe(USER_STACK);
  });

  it('CALL through a gate to a conforming segment stays at CPL 3 and pushes CS:EIP on the caller\'s stack', () => {
    const h = gateHarness();
    h.write(PROC_CONF, INT50);
    const { code, userAddr } = toRing3(callFar(GATE_CONF | 3));
    const r = h.run({ code, setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 0x50, cs: CONFORMING0 | 3, eip: PROC_CONF + 2 });
    expect(r.read32(STACK_TOP - 8)).toBe(USER_STACK - 8);
    expect(r.read32(USER_STACK - 4)).toBe(CODE3 | 3);
    expect(r.read32(USER_STACK - 8)).toBe(userAddr + 7);
  });
});

describe('conforming code keeps the CPL (SDM Vol. 3A 5.8.1.2)', () => {
  it('a direct far JMP from ring 3 to a DPL-0 conforming segment runs at CPL 3 (CS.RPL = 3)', () => {
    const h = gateHarness();
    h.write(PROC_CONF, [0xfa]); // cli: #GP(0) at CPL 3 with IOPL 0
    const { code } = toRing3(jmpFar(CONFORMING0 | 3, PROC_CONF));
    const r = h.run({ code, setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0, cs: CONFORMING0 | 3, eip: PROC_CONF });
  });
});

describe('a call gate in the LDT', () => {
  it('a selector with TI = 1 finds the gate in the LDT (SDM Vol. 3A 3.4.2)', () => {
    const h = gateHarness();
    const LDT_BASE = 0x7400;
    h.write32(LDT_BASE + 8, gate(CODE32, PROC0)[0]);
    h.write32(LDT_BASE + 12, gate(CODE32, PROC0)[1]);
    h.write(PROC0, HLT);
    const r = h.run({
      code: callFar(0x08 | 4),
      setup: (cpu) => {
        wideGdt(cpu);
        cpu.s.segSel[6] = 0x28; // LDTR: any selector; the cache is what counts
        cpu.s.segBase[6] = LDT_BASE;
        cpu.s.segLimit[6] = 0xf;
        cpu.s.segAr[6] = 0x82; // present LDT
      },
    });
    expect(r.exception).toBeUndefined();
    expect(r.eip).toBe(PROC0 + 1);
    expect(r.regs.esp).toBe(STACK_TOP - 8);
    expect(r.read32(STACK_TOP - 4)).toBe(CODE32);
    expect(r.read32(STACK_TOP - 8)).toBe(CODE_ADDR + 7);
  });
});

describe('CALL to ring 2 uses SS2:ESP2 from the TSS', () => {
  it('switches to DATA2|2:ESP2 with the 3 parameters, at CPL 2', () => {
    const h = gateHarness();
    h.write(PROC2, INT50);
    const { code, userAddr } = toRing3([...PUSH3, ...callFar(GATE2 | 3)]);
    const r = h.run({ code, setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 0x50, cs: CODE2 | 2, eip: PROC2 + 2 });
    // The INT from ring 2 left ring 2's SS:ESP on the ring-0 stack.
    expect(r.read32(STACK_TOP - 4)).toBe(DATA2 | 2);
    expect(r.read32(STACK_TOP - 8)).toBe(STACK2 - 28);
    expect(r.read32(STACK2 - 4)).toBe(DATA3 | 3);
    expect(r.read32(STACK2 - 8)).toBe(USER_STACK - 12);
    expect(r.read32(STACK2 - 20)).toBe(0x33333333);
    expect(r.read32(STACK2 - 24)).toBe(CODE3 | 3);
    expect(r.read32(STACK2 - 28)).toBe(userAddr + 22);
  });
});

describe('a 16-bit TSS (type 1) supplies SP2:SS2 at DPL * 4 + 2 (SDM Vol. 2 CALL, MORE-PRIVILEGE)', () => {
  it('the frame goes to SS2:SP2 read from the 16-bit TSS', () => {
    const h = gateHarness();
    const TSS16 = 0x7100;
    h.setGdtEntry(TSS, ...descriptor(TSS16, 0x2b, 0x81, 0)); // available 16-bit TSS
    h.setGdtEntry(SPARE2, ...descriptor(0x70000, 0xffff, 0x93, 0x4)); // DPL 0 data at 0x70000
    h.write16(TSS16 + 2, 0xfff0); // SP0
    h.write16(TSS16 + 4, SPARE2); // SS0
    h.write16(TSS16 + 10, 0x8000); // SP2
    h.write16(TSS16 + 12, DATA2 | 2); // SS2
    h.write(PROC2, INT50);
    const { code, userAddr } = toRing3([...PUSH3, ...callFar(GATE2 | 3)]);
    const r = h.run({ code, setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 0x50, cs: CODE2 | 2, eip: PROC2 + 2 });
    // The INT from ring 2 switched to SS0:SP0 of the same TSS and left ring 2's SS:ESP there.
    expect(r.read32(0x7fff0 - 4)).toBe(DATA2 | 2);
    expect(r.read32(0x7fff0 - 8)).toBe(0x8000 - 28);
    expect(r.read32(0x8000 - 4)).toBe(DATA3 | 3);
    expect(r.read32(0x8000 - 20)).toBe(0x33333333);
    expect(r.read32(0x8000 - 28)).toBe(userAddr + 22);
  });
});

describe('a 16-bit stack segment for the new level (B = 0)', () => {
  it('the frame goes to SS2.base + SP and only SP moves', () => {
    const h = gateHarness();
    h.setGdtEntry(SPARE2, ...descriptor(0x60000, 0xffff, 0xd3, 0x0)); // DPL 2 16-bit data at 0x60000
    h.write32(TSS_BASE + 0x18, SPARE2 | 2);
    h.write32(TSS_BASE + 0x14, 0x1000);
    h.write(PROC2, INT50);
    const { code, userAddr } = toRing3([...PUSH3, ...callFar(GATE2 | 3)]);
    const r = h.run({ code, setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 0x50, cs: CODE2 | 2, eip: PROC2 + 2 });
    expect(r.read32(STACK_TOP - 4)).toBe(SPARE2 | 2);
    expect(r.read32(STACK_TOP - 8)).toBe(0x1000 - 28);
    expect(r.read32(0x61000 - 4)).toBe(DATA3 | 3);
    expect(r.read32(0x61000 - 8)).toBe(USER_STACK - 12);
    expect(r.read32(0x61000 - 20)).toBe(0x33333333);
    expect(r.read32(0x61000 - 28)).toBe(userAddr + 22);
  });
});

describe('a direct far CALL (no gate) that faults leaves ESP as it was', () => {
  it('CALL from ring 3 straight to ring-0 non-conforming code: #GP(selector), nothing pushed', () => {
    const h = gateHarness();
    const { code, userAddr } = toRing3(callFar(CODE32, PROC0));
    const r = h.run({ code, setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: CODE32, cs: CODE3 | 3, eip: userAddr });
    expect(r.read32(STACK_TOP - 8)).toBe(USER_STACK);
  });

  it('a far JMP or CALL past the target\'s limit is #GP(0) with CS, EIP and ESP as they were', () => {
    const h = gateHarness();
    h.setGdtEntry(SPARE1, ...descriptor(0, 0xfff, 0x9b, 0x4)); // DPL 0 code, limit 0xFFF
    for (const code of [jmpFar(SPARE1, 0x2000), callFar(SPARE1, 0x2000)]) {
      const r = h.run({ code, setup: wideGdt });
      expect(r.exception).toMatchObject({ vector: 13, errorCode: 0, cs: CODE32, eip: CODE_ADDR });
      expect(r.regs.esp).toBe(STACK_TOP);
    }
  });
});

/**
 * Runs `call far GATE2|3` from ring 3 after three pushes, with `prepare` changing the harness
 * first, and checks the fault left the caller untouched: reported at the CALL, at CPL 3, on
 * the caller's stack.
 */
function callRing2Faulting(prepare: (h: CpuHarness) => void, gateSel = GATE2 | 3): CpuRunResult {
  const h = gateHarness();
  prepare(h);
  h.write(PROC2, INT50);
  const { code, userAddr } = toRing3([...PUSH3, ...callFar(gateSel)]);
  const r = h.run({ code, setup: wideGdt });
  expect(r.exception).toMatchObject({ cs: CODE3 | 3, eip: userAddr + 15 });
  expect(r.read32(STACK_TOP - 8)).toBe(USER_STACK - 12);
  expect(r.read32(STACK_TOP - 4)).toBe(DATA3 | 3);
  return r;
}

describe('faults of a far CALL through a gate, with their error codes (SDM Vol. 2 CALL)', () => {
  it('gate DPL below CPL: #GP(gate selector)', () => {
    expect(callRing2Faulting(() => {}, GATE_DPL0 | 3).exception).toMatchObject({ vector: 13, errorCode: GATE_DPL0 });
  });

  it('gate DPL below the selector\'s RPL (at CPL 0): #GP(gate selector)', () => {
    const h = gateHarness();
    const r = h.run({ code: callFar(GATE_DPL0 | 3), setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: GATE_DPL0, cs: CODE32, eip: CODE_ADDR });
    expect(r.regs.esp).toBe(STACK_TOP);
  });

  it('gate not present: #NP(gate selector)', () => {
    const e = callRing2Faulting((h) => h.setGdtEntry(SPARE1, ...gate(CODE2, PROC2, { present: false })), SPARE1 | 3);
    expect(e.exception).toMatchObject({ vector: 11, errorCode: SPARE1 });
  });

  it('a null code selector in the gate: #GP(0)', () => {
    const e = callRing2Faulting((h) => h.setGdtEntry(SPARE1, ...gate(0, PROC2)), SPARE1 | 3);
    expect(e.exception).toMatchObject({ vector: 13, errorCode: 0 });
  });

  it('the gate\'s selector names a data segment: #GP(that selector)', () => {
    const e = callRing2Faulting((h) => h.setGdtEntry(SPARE1, ...gate(DATA2, PROC2)), SPARE1 | 3);
    expect(e.exception).toMatchObject({ vector: 13, errorCode: DATA2 });
  });

  it('target code segment DPL above CPL (CALL from ring 0 to ring 3 code): #GP(code selector)', () => {
    const h = gateHarness();
    h.setGdtEntry(SPARE1, ...gate(CODE3, PROC0));
    const r = h.run({ code: callFar(SPARE1), setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: CODE3, cs: CODE32, eip: CODE_ADDR });
  });

  it('target code segment not present: #NP(code selector)', () => {
    const e = callRing2Faulting((h) => {
      h.setGdtEntry(SPARE2, ...descriptor(0, 0xfffff, 0x5b, 0xc)); // DPL 2 code, P = 0
      h.setGdtEntry(SPARE1, ...gate(SPARE2, PROC2));
    }, SPARE1 | 3);
    expect(e.exception).toMatchObject({ vector: 11, errorCode: SPARE2 });
  });

  it('an interrupt gate is not a far-transfer target: #GP(selector)', () => {
    const e = callRing2Faulting((h) => h.setGdtEntry(SPARE1, ...gate(CODE2, PROC2, { type: 0xe })), SPARE1 | 3);
    expect(e.exception).toMatchObject({ vector: 13, errorCode: SPARE1 });
  });

  it('TSS SS2 of the wrong privilege (DATA3|3): #TS(SS selector)', () => {
    const e = callRing2Faulting((h) => h.write32(TSS_BASE + 0x18, DATA3 | 3));
    expect(e.exception).toMatchObject({ vector: 10, errorCode: DATA3 });
  });

  it('TSS SS2 null: #TS(0)', () => {
    const e = callRing2Faulting((h) => h.write32(TSS_BASE + 0x18, 2));
    expect(e.exception).toMatchObject({ vector: 10, errorCode: 0 });
  });

  it('TSS SS2 a read-only data segment: #TS(SS selector)', () => {
    const e = callRing2Faulting((h) => {
      h.setGdtEntry(SPARE2, ...descriptor(0, 0xfffff, 0xd1, 0xc)); // DPL 2, read-only
      h.write32(TSS_BASE + 0x18, SPARE2 | 2);
    });
    expect(e.exception).toMatchObject({ vector: 10, errorCode: SPARE2 });
  });

  it('TSS SS2 past the GDT limit: #TS(SS selector)', () => {
    const e = callRing2Faulting((h) => h.write32(TSS_BASE + 0x18, 0x1f0 | 2));
    expect(e.exception).toMatchObject({ vector: 10, errorCode: 0x1f0 });
  });

  it('TSS SS2 not present: #SS(SS selector)', () => {
    const e = callRing2Faulting((h) => {
      h.setGdtEntry(SPARE2, ...descriptor(0, 0xfffff, 0x53, 0xc)); // DPL 2 data, P = 0
      h.write32(TSS_BASE + 0x18, SPARE2 | 2);
    });
    expect(e.exception).toMatchObject({ vector: 12, errorCode: SPARE2 });
  });

  it('no room on the new stack for parameters plus 16 bytes: #SS(SS selector), nothing written', () => {
    const e = callRing2Faulting((h) => {
      h.setGdtEntry(SPARE2, ...descriptor(0x60000, 0xfff, 0xd3, 0x4)); // DPL 2 data, limit 0xFFF
      h.write32(TSS_BASE + 0x18, SPARE2 | 2);
      h.write32(TSS_BASE + 0x14, 0x18); // 24 bytes of room, 28 needed
      h.fill(0x60000, 0x20, 0xee);
    });
    expect(e.exception).toMatchObject({ vector: 12, errorCode: SPARE2 });
    expect([...e.read(0x60000, 0x20)].every((b) => b === 0xee)).toBe(true);
  });

  it('the TSS too short for SS2:ESP2: #TS(TSS selector)', () => {
    const e = callRing2Faulting((h) => h.setGdtEntry(TSS, ...descriptor(TSS_BASE, 0x18, 0x89, 0)));
    expect(e.exception).toMatchObject({ vector: 10, errorCode: TSS });
  });

  it('parameters beyond the caller\'s stack limit: #SS(0) before anything changes', () => {
    const h = gateHarness();
    h.setGdtEntry(SPARE2, ...descriptor(0, 0x8fff, 0xf3, 0x4)); // DPL 3 data, byte limit 0x8FFF
    h.write(PROC2, INT50);
    // Three dwords to copy from 0x8FFC: the second is past the limit.
    const { code, userAddr } = toRing3(callFar(GATE2 | 3), { ss: SPARE2 | 3, esp: 0x8ffc });
    const r = h.run({ code, setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 12, errorCode: 0, cs: CODE3 | 3, eip: userAddr });
    expect(r.read32(STACK_TOP - 8)).toBe(0x8ffc);
    expect(r.read32(STACK_TOP - 4)).toBe(SPARE2 | 3);
  });

  it('a gate offset beyond the target segment\'s limit: #GP(0)', () => {
    const e = callRing2Faulting((h) => {
      h.setGdtEntry(SPARE2, ...descriptor(0, 0xfff, 0xdb, 0x4)); // DPL 2 code, limit 0xFFF
      h.setGdtEntry(SPARE1, ...gate(SPARE2, PROC2));
    }, SPARE1 | 3);
    expect(e.exception).toMatchObject({ vector: 13, errorCode: 0 });
  });
});

describe('RETF to an outer level checks the return EIP before switching (SDM Vol. 2 RET)', () => {
  it('a return EIP past the ring-3 code limit is #GP(0) at CPL 0 with nothing popped', () => {
    const h = gateHarness();
    h.setGdtEntry(SPARE1, ...descriptor(0, 0xfff, 0xfb, 0x4)); // DPL 3 code, limit 0xFFF
    const code = [
      ...pushImm32(DATA3 | 3), ...pushImm32(USER_STACK), ...pushImm32(SPARE1 | 3), ...pushImm32(0x2000),
      0xcb, // retf
    ];
    const r = h.run({ code, setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0, cs: CODE32, eip: CODE_ADDR + 20 });
    expect(r.regs.esp).toBe(STACK_TOP - 16);
    expect(h.cpu.s.segSel[2]).toBe(GDT_SELECTORS.DATA32);
  });

  it('a same-level return EIP past the limit is #GP(0) with ESP unchanged', () => {
    const h = gateHarness();
    h.setGdtEntry(SPARE1, ...descriptor(0, 0xfff, 0x9b, 0x4)); // DPL 0 code, limit 0xFFF
    const r = h.run({ code: [...pushImm32(SPARE1), ...pushImm32(0x2000), 0xca, 0x08, 0x00], setup: wideGdt }); // retf 8
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0, cs: CODE32, eip: CODE_ADDR + 10 });
    expect(r.regs.esp).toBe(STACK_TOP - 8);
  });
});

describe('IRET checks the return EIP before switching (SDM Vol. 2 IRET)', () => {
  it('a same-level return EIP past the limit is #GP(0) with ESP and CS unchanged', () => {
    const h = gateHarness();
    h.setGdtEntry(SPARE1, ...descriptor(0, 0xfff, 0x9b, 0x4)); // DPL 0 code, limit 0xFFF
    const r = h.run({ code: [0x9c, ...pushImm32(SPARE1), ...pushImm32(0x2000), 0xcf], setup: wideGdt }); // pushfd; iretd
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0, cs: CODE32, eip: CODE_ADDR + 11 });
    expect(r.regs.esp).toBe(STACK_TOP - 12);
  });

  it('a return to ring 3 with the EIP past the limit is #GP(0) at CPL 0', () => {
    const h = gateHarness();
    h.setGdtEntry(SPARE1, ...descriptor(0, 0xfff, 0xfb, 0x4)); // DPL 3 code, limit 0xFFF
    const code = [...pushImm32(DATA3 | 3), ...pushImm32(USER_STACK), 0x9c, ...pushImm32(SPARE1 | 3), ...pushImm32(0x2000), 0xcf];
    const r = h.run({ code, setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0, cs: CODE32, eip: CODE_ADDR + 21 });
    expect(r.regs.esp).toBe(STACK_TOP - 20);
  });
});

describe('descriptor accessed bits', () => {
  it('a CALL through a gate sets the accessed bit of the target code and of the new stack segment', () => {
    const h = gateHarness();
    h.setGdtEntry(SPARE1, ...descriptor(0, 0xfffff, 0xda, 0xc)); // DPL 2 code, not accessed
    h.setGdtEntry(SPARE2, ...descriptor(0, 0xfffff, 0xd2, 0xc)); // DPL 2 data, not accessed
    h.setGdtEntry(GATE2, ...gate(SPARE1, PROC2, { params: 3 }));
    h.write32(TSS_BASE + 0x18, SPARE2 | 2);
    h.write(PROC2, INT50);
    const { code } = toRing3([...PUSH3, ...callFar(GATE2 | 3)]);
    const r = h.run({ code, setup: wideGdt });
    expect(r.exception).toMatchObject({ vector: 0x50, cs: SPARE1 | 2 });
    expect(h.mem.read(GDT_BASE + SPARE1 + 5, 1)).toBe(0xdb);
    expect(h.mem.read(GDT_BASE + SPARE2 + 5, 1)).toBe(0xd3);
  });
});
