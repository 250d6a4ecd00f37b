/**
 * 64-bit call gates in IA-32e mode (SDM Vol. 3A 5.8.3.1 "IA-32e Mode Call Gates", 5.8.5
 * "Stack Switching" in IA-32e mode; Vol. 2 CALL/JMP "CALL-GATE" and RET): the 16-byte gate,
 * the checks on its upper half and on the 64-bit target segment, the stack switch to RSPn of
 * the 64-bit TSS with a null SS, the quadword frame (SS, RSP, CS, RIP; no parameters), the
 * return with REX.W RETF, and a gate used from compatibility mode. Expected values are worked
 * out by hand from those sections.
 */
import { describe, expect, it } from 'vitest';
import { descriptor } from '../../helpers/cpu-harness.js';
import {
  CODE_ADDR, DATA_ADDR, GDT64_BASE, LongModeHarness, RSP0_TOP, SEL64, STACK_TOP, TSS64_BASE, le32,
} from '../../helpers/cpu-harness64.js';

/** 16-byte gates go at these selectors (two GDT slots each). */
const GATE = 0x50;
const GATE_B = 0x60;
/** The last 8 bytes of the GDT (its limit is 0x7F): a gate here has no upper half. */
const GATE_LAST = 0x78;
/** A second 64-bit DPL-0 code segment. */
const KCODE64_B = 0x38;
const PROC = 0x120000;
const USER_RSP = 0x60000;

/** A 64-bit call gate (SDM Vol. 3A Figure 5-9); `upperType` goes to bits 12:8 of the fourth dword. */
function setGate64(h: LongModeHarness, sel: number, cs: number, offset: bigint, options: { dpl?: number; type?: number; present?: boolean; upperType?: number } = {}): void {
  const { dpl = 3, type = 0xc, present = true, upperType = 0 } = options;
  const off = BigInt.asUintN(64, offset);
  const lo = Number(off & 0xffffffffn);
  h.write32(GDT64_BASE + sel, ((cs << 16) | (lo & 0xffff)) >>> 0);
  h.write32(GDT64_BASE + sel + 4, ((lo & 0xffff0000) | (present ? 0x8000 : 0) | (dpl << 13) | (type << 8)) >>> 0);
  h.write32(GDT64_BASE + sel + 8, Number(off >> 32n));
  h.write32(GDT64_BASE + sel + 12, upperType << 8);
}

/** The far pointer m16:32 at DATA_ADDR that `callFarMem`/`jmpFarMem` use. */
const farPointer = (sel: number) => ({ addr: DATA_ADDR, bytes: [0, 0, 0, 0, sel & 0xff, sel >>> 8] });
/** call far [DATA_ADDR] (FF /3, m16:32) and jmp far [DATA_ADDR] (FF /5). */
const callFarMem = [0xff, 0x1c, 0x25, ...le32(DATA_ADDR)];
const jmpFarMem = [0xff, 0x2c, 0x25, ...le32(DATA_ADDR)];
const INT80 = [0xcd, 0x80];

/** 64-bit CPL 0 code that IRETQs to `user` at CPL 3 (UCODE64, UDATA:USER_RSP). */
function toUser64(user: number[]): { code: number[]; userAddr: number } {
  const userAddr = CODE_ADDR + 17;
  // push 0x2b; push USER_RSP; pushfq; push 0x33; push userAddr; iretq
  return { code: [0x6a, 0x2b, 0x68, ...le32(USER_RSP), 0x9c, 0x6a, 0x33, 0x68, ...le32(userAddr), 0x48, 0xcf, ...user], userAddr };
}

for (const jit of [false, true]) {
  describe(`CALL through a 64-bit call gate from CPL 3 (${jit ? 'JIT' : 'interpreter'})`, () => {
    it('switches to RSP0 with a null SS (RPL 0) and pushes SS, RSP, CS, RIP as quadwords', () => {
      const h = LongModeHarness.flat64({ jit });
      setGate64(h, GATE, SEL64.KCODE64, BigInt(PROC));
      h.write(PROC, [0xf4]);
      const { code, userAddr } = toUser64(callFarMem);
      const r = h.run({ code, mem: [farPointer(GATE | 3)] });
      expect(r.exception).toBeUndefined();
      expect(r.rip).toBe(BigInt(PROC + 1));
      expect(r.cpu.cpl).toBe(0);
      expect(r.cpu.mode64).toBe(true);
      expect(r.cpu.s.segSel[1]).toBe(SEL64.KCODE64);
      expect(r.cpu.s.segSel[2]).toBe(0);
      expect(r.regs.rsp).toBe(BigInt(RSP0_TOP - 32));
      expect(r.read64(RSP0_TOP - 8)).toBe(BigInt(SEL64.UDATA));
      expect(r.read64(RSP0_TOP - 16)).toBe(BigInt(USER_RSP));
      expect(r.read64(RSP0_TOP - 24)).toBe(BigInt(SEL64.UCODE64));
      expect(r.read64(RSP0_TOP - 32)).toBe(BigInt(userAddr + 7));
    });

    it('REX.W RETF returns to CPL 3 with the caller\'s RSP and SS', () => {
      const h = LongModeHarness.flat64({ jit });
      setGate64(h, GATE, SEL64.KCODE64, BigInt(PROC));
      // mov rax, [rsp+16] (the caller's RSP); retfq
      h.write(PROC, [0x48, 0x8b, 0x44, 0x24, 0x10, 0x48, 0xcb]);
      // push 1; push 2; call far [DATA_ADDR]; int 0x80
      const { code, userAddr } = toUser64([0x6a, 0x01, 0x6a, 0x02, ...callFarMem, ...INT80]);
      const r = h.run({ code, mem: [farPointer(GATE | 3)] });
      expect(r.regs.rax).toBe(BigInt(USER_RSP - 16));
      expect(r.exception).toMatchObject({ vector: 0x80, cs: SEL64.UCODE64, ss: SEL64.UDATA, rip: BigInt(userAddr + 4 + 7 + 2) });
      expect(r.exception?.rsp).toBe(BigInt(USER_RSP - 16));
      expect(r.cpu.s.segSel[2]).toBe(0); // the handler of int 0x80 runs on RSP0 with a null SS again
    });
  });
}

describe('64-bit call gates at the same privilege', () => {
  it('JMP through a gate at CPL 0 loads CS:RIP from the gate and pushes nothing', () => {
    const h = LongModeHarness.flat64();
    setGate64(h, GATE, SEL64.KCODE64, BigInt(PROC));
    h.write(PROC, [0xf4]);
    const r = h.run({ code: jmpFarMem, mem: [farPointer(GATE)] });
    expect(r.exception).toBeUndefined();
    expect(r.rip).toBe(BigInt(PROC + 1));
    expect(r.regs.rsp).toBe(BigInt(STACK_TOP));
  });

  it('CALL from compatibility mode enters 64-bit mode and pushes CS and RIP as quadwords', () => {
    const h = LongModeHarness.flat64();
    setGate64(h, GATE, SEL64.KCODE64, BigInt(PROC));
    h.write(PROC, [0xf4]);
    const c32 = CODE_ADDR + 9;
    // push 0x18; push c32; retfq; c32: call far GATE:0 (9A, valid in compatibility mode)
    const code = [0x6a, 0x18, 0x68, ...le32(c32), 0x48, 0xcb, 0x9a, 0, 0, 0, 0, GATE, 0];
    const r = h.run({ code });
    expect(r.exception).toBeUndefined();
    expect(r.cpu.mode64).toBe(true);
    expect(r.cpu.s.segSel[1]).toBe(SEL64.KCODE64);
    expect(r.rip).toBe(BigInt(PROC + 1));
    expect(r.regs.rsp).toBe(BigInt(STACK_TOP - 16));
    expect(r.read64(STACK_TOP - 8)).toBe(BigInt(SEL64.KCODE32));
    expect(r.read64(STACK_TOP - 16)).toBe(BigInt(c32 + 7));
  });
});

describe('faults of a far transfer through a 64-bit call gate', () => {
  /** call far [DATA_ADDR] at CPL 0 to `sel` after `prepare`; returns the exception. */
  function callAtCpl0(prepare: (h: LongModeHarness) => void, sel = GATE) {
    const h = LongModeHarness.flat64();
    prepare(h);
    h.write(PROC, [0xf4]);
    const r = h.run({ code: callFarMem, mem: [farPointer(sel)] });
    expect(r.exception).toMatchObject({ rip: BigInt(CODE_ADDR), cs: SEL64.KCODE64, rsp: BigInt(STACK_TOP) });
    return r.exception!;
  }

  it('a non-zero type in the upper half: #GP(gate selector)', () => {
    const e = callAtCpl0((h) => setGate64(h, GATE, SEL64.KCODE64, BigInt(PROC), { upperType: 0xc }));
    expect(e).toMatchObject({ vector: 13, errorCode: BigInt(GATE) });
  });

  it('a gate whose upper half is past the GDT limit: #GP(gate selector)', () => {
    const e = callAtCpl0((h) => {
      h.write32(GDT64_BASE + GATE_LAST, ((SEL64.KCODE64 << 16) | (PROC & 0xffff)) >>> 0);
      h.write32(GDT64_BASE + GATE_LAST + 4, ((PROC & 0xffff0000) | 0xec00) >>> 0);
    }, GATE_LAST);
    expect(e).toMatchObject({ vector: 13, errorCode: BigInt(GATE_LAST) });
  });

  it('a target that is not 64-bit code (a 32-bit segment): #GP(code selector)', () => {
    const e = callAtCpl0((h) => setGate64(h, GATE, SEL64.KCODE32, BigInt(PROC)));
    expect(e).toMatchObject({ vector: 13, errorCode: BigInt(SEL64.KCODE32) });
  });

  it('a target with both L and D set: #GP(code selector)', () => {
    const e = callAtCpl0((h) => {
      const [lo, hi] = descriptor(0, 0xfffff, 0x9b, 0xe); // G, D, L
      h.write32(GDT64_BASE + KCODE64_B, lo);
      h.write32(GDT64_BASE + KCODE64_B + 4, hi);
      setGate64(h, GATE, KCODE64_B, BigInt(PROC));
    });
    expect(e).toMatchObject({ vector: 13, errorCode: BigInt(KCODE64_B) });
  });

  it('a 16-bit call gate (type 4) does not exist in IA-32e mode: #GP(gate selector)', () => {
    const e = callAtCpl0((h) => setGate64(h, GATE, SEL64.KCODE64, BigInt(PROC), { type: 0x4 }));
    expect(e).toMatchObject({ vector: 13, errorCode: BigInt(GATE) });
  });

  it('a gate that is not present: #NP(gate selector)', () => {
    const e = callAtCpl0((h) => setGate64(h, GATE, SEL64.KCODE64, BigInt(PROC), { present: false }));
    expect(e).toMatchObject({ vector: 11, errorCode: BigInt(GATE) });
  });

  it('a non-canonical target RIP in the gate: #GP(0)', () => {
    const e = callAtCpl0((h) => setGate64(h, GATE, SEL64.KCODE64, 0x0000800000000000n));
    expect(e).toMatchObject({ vector: 13, errorCode: 0n });
  });

  it('a gate DPL below CPL (from CPL 3): #GP(gate selector) with the caller untouched', () => {
    const h = LongModeHarness.flat64();
    setGate64(h, GATE, SEL64.KCODE64, BigInt(PROC), { dpl: 0 });
    const { code, userAddr } = toUser64(callFarMem);
    const r = h.run({ code, mem: [farPointer(GATE | 3)] });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: BigInt(GATE), cs: SEL64.UCODE64, rip: BigInt(userAddr) });
    expect(r.exception?.rsp).toBe(BigInt(USER_RSP));
  });

  it('a non-canonical RSP0: #SS(0) at the CALL, still at CPL 3', () => {
    const h = LongModeHarness.flat64();
    setGate64(h, GATE, SEL64.KCODE64, BigInt(PROC));
    const { code, userAddr } = toUser64(callFarMem);
    const r = h.run({
      code,
      mem: [farPointer(GATE | 3)],
      // RSP0 non-canonical from the CALL on; the #SS itself is delivered through IST1.
      setup: () => {
        h.write32(TSS64_BASE + 4, 0);
        h.write32(TSS64_BASE + 8, 0x00008000);
        h.setIdtGate(12, BigInt(h.handler(12)), { ist: 1 });
      },
    });
    expect(r.exception).toMatchObject({ vector: 12, errorCode: 0n, cs: SEL64.UCODE64, rip: BigInt(userAddr) });
    expect(r.exception?.rsp).toBe(BigInt(USER_RSP));
  });
});

describe('RETF imm16 in 64-bit mode (SDM Vol. 2 RET, "RETURN-TO-OUTER-PRIVILEGE-LEVEL")', () => {
  it('REX.W RETF 16 to CPL 3 skips 16 bytes before the outer RSP and adds 16 to it', () => {
    const h = LongModeHarness.flat64();
    // push 0x2b; push USER_RSP; push 0x11; push 0x22; push 0x33; push user; retfq 16; user: int 0x80
    const userAddr = CODE_ADDR + 2 + 5 + 2 + 2 + 2 + 5 + 4;
    const code = [0x6a, 0x2b, 0x68, ...le32(USER_RSP), 0x6a, 0x11, 0x6a, 0x22, 0x6a, 0x33, 0x68, ...le32(userAddr), 0x48, 0xca, 0x10, 0x00, ...INT80];
    const r = h.run({ code });
    expect(r.exception).toMatchObject({ vector: 0x80, cs: SEL64.UCODE64, ss: SEL64.UDATA, rip: BigInt(userAddr + 2) });
    expect(r.exception?.rsp).toBe(BigInt(USER_RSP + 16));
  });
});

describe('far returns in 64-bit mode check the target before changing anything (SDM Vol. 2 RET, IRET)', () => {
  it('RETFQ to a non-canonical RIP is #GP(0) with CS and RSP as they were', () => {
    const h = LongModeHarness.flat64();
    const [lo, hi] = descriptor(0, 0xfffff, 0x9b, 0xa);
    h.write32(GDT64_BASE + KCODE64_B, lo);
    h.write32(GDT64_BASE + KCODE64_B + 4, hi);
    // mov rax, 0x0000800000000000; push KCODE64_B; push rax; retfq
    const code = [0x48, 0xb8, 0, 0, 0, 0, 0, 0x80, 0, 0, 0x6a, KCODE64_B, 0x50, 0x48, 0xcb];
    const r = h.run({ code });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0n, cs: SEL64.KCODE64, rip: BigInt(CODE_ADDR + 13) });
    expect(r.exception?.rsp).toBe(BigInt(STACK_TOP - 16));
  });

  it('IRETQ to a non-canonical RIP is #GP(0) with CS and RSP as they were', () => {
    const h = LongModeHarness.flat64();
    const [lo, hi] = descriptor(0, 0xfffff, 0x9b, 0xa);
    h.write32(GDT64_BASE + KCODE64_B, lo);
    h.write32(GDT64_BASE + KCODE64_B + 4, hi);
    // mov rax, 0x0000800000000000; push 0x10; push rsp; pushfq; push KCODE64_B; push rax; iretq
    const code = [0x48, 0xb8, 0, 0, 0, 0, 0, 0x80, 0, 0, 0x6a, 0x10, 0x54, 0x9c, 0x6a, KCODE64_B, 0x50, 0x48, 0xcf];
    const r = h.run({ code });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0n, cs: SEL64.KCODE64, rip: BigInt(CODE_ADDR + 17) });
    expect(r.exception?.rsp).toBe(BigInt(STACK_TOP - 40));
  });
});
