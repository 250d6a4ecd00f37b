/**
 * Protected-mode faults and interrupt delivery, from the SDM (Vol. 3A 5.3 limit checking,
 * 5.5-5.6 type checking on segment loads, 6.12 interrupt/trap gates, 6.13 error codes,
 * Table 6-5 double faults; Vol. 2 IRET and MOV Sreg): expected vectors, error codes and
 * return addresses worked out by hand from those sections.
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, CpuHarness, descriptor, EFLAGS, GDT_SELECTORS, IDT_BASE, STACK_TOP } from '../helpers/cpu-harness.js';

const { CF, ZF, SF, OF, DF, IF, TF } = EFLAGS;

/** mov ax, imm16 (with the 0x66 prefix in 32-bit code). */
const movAx = (v: number) => [0x66, 0xb8, v & 0xff, v >>> 8];
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

describe('segment limit and type checks raise #GP/#SS with the SDM error code', () => {
  const h = CpuHarness.flat32();

  it('allows the last dword inside a 0xFFF limit', () => {
    const r = h.run({
      code: [...movAx(GDT_SELECTORS.DATA_SMALL), 0x8e, 0xd8, 0xa1, ...le32(0xffc)], // mov ds, ax; mov eax, [0xffc]
      mem: [{ addr: 0xffc, bytes: le32(0xcafef00d) }],
    });
    expect(r.exception).toBeUndefined();
    expect(r.regs.eax).toBe(0xcafef00d);
  });

  it('raises #GP(0) for a dword that crosses the limit, pointing at the faulting instruction', () => {
    const code = [...movAx(GDT_SELECTORS.DATA_SMALL), 0x8e, 0xd8, 0xa1, ...le32(0xffe)]; // mov eax, [0xffe]
    const r = h.run({ code });
    expect(r.exception).toEqual({ vector: 13, errorCode: 0, cs: GDT_SELECTORS.CODE32, eip: CODE_ADDR + 6, eflags: expect.any(Number) });
    expect(r.regs.esp).toBe(STACK_TOP);
  });

  it('raises #SS(0), not #GP, when the violating access is SS-relative', () => {
    const r = h.run({
      code: [...movAx(GDT_SELECTORS.DATA_SMALL), 0x8e, 0xd0, 0x8b, 0x45, 0x00], // mov ss, ax; mov eax, [ebp]
      regs: { esp: 0xf00, ebp: 0x1000 },
    });
    expect(r.exception).toMatchObject({ vector: 12, errorCode: 0, eip: CODE_ADDR + 6 });
  });

  it('raises #GP(0) for a write through a read-only data segment', () => {
    const r = h.run({
      code: [...movAx(GDT_SELECTORS.DATA_RO), 0x8e, 0xc0, 0x26, 0x89, 0x00], // mov es, ax; mov es:[eax], eax
    });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0, eip: CODE_ADDR + 6 });
  });

  it('raises #GP(selector) for a selector past the GDT limit, with RPL cleared', () => {
    const r = h.run({ code: [...movAx(0x83), 0x8e, 0xd8] }); // mov ds, 0x83 (index 16, RPL 3)
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0x80, eip: CODE_ADDR + 4 });
  });

  it('raises #GP(selector) loading an execute-only code segment into DS', () => {
    const h2 = CpuHarness.flat32();
    const [lo, hi] = descriptor(0, 0xfffff, 0x98, 0xc); // present, DPL 0, execute-only code
    h2.setGdtEntry(0x30, lo, hi);
    const r = h2.run({ code: [...movAx(0x30), 0x8e, 0xd8] });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0x30 });
  });

  it('raises #NP(selector) loading a data segment that is not present', () => {
    const h2 = CpuHarness.flat32();
    h2.setGdtEntry(0x30, ...descriptor(0, 0xfffff, 0x13, 0xc)); // P=0 read/write data, DPL 0
    const r = h2.run({ code: [...movAx(0x30), 0x8e, 0xc0] }); // mov es, 0x30
    expect(r.exception).toMatchObject({ vector: 11, errorCode: 0x30, eip: CODE_ADDR + 4 });
  });

  it('allows a null selector in DS but raises #GP(0) when it is used', () => {
    const r = h.run({ code: [0x31, 0xc0, 0x8e, 0xd8, 0x90, 0x8b, 0x00] }); // xor eax,eax; mov ds,ax; nop; mov eax,[eax]
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0, eip: CODE_ADDR + 5 });
  });

  it('raises #GP(0) for a write through CS', () => {
    const r = h.run({ code: [0x2e, 0x8b, 0x00, 0x2e, 0x89, 0x00], regs: { eax: 0x4000 } }); // mov eax, cs:[eax]; mov cs:[eax], eax
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0, eip: CODE_ADDR + 3 });
  });

  it('checks expand-down segments against (limit, 4 GiB): offset 0x1000 is valid, 0xFFF is not', () => {
    const h2 = CpuHarness.flat32();
    h2.setGdtEntry(0x30, ...descriptor(0, 0xfff, 0x97, 0x4)); // expand-down read/write, B=1, byte granular
    const load = [...movAx(0x30), 0x8e, 0xd8];
    // mov eax, [ebx]
    const ok = h2.run({ code: [...load, 0x8b, 0x03], regs: { ebx: 0x1000 }, mem: [{ addr: 0x1000, bytes: [1, 2, 3, 4] }] });
    expect(ok.exception).toBeUndefined();
    expect(ok.regs.eax).toBe(0x04030201);
    const bad = h2.run({ code: [...load, 0x8b, 0x03], regs: { ebx: 0xffe } });
    expect(bad.exception).toMatchObject({ vector: 13, errorCode: 0, eip: CODE_ADDR + 6 });
  });

  it('checks privilege before presence: RPL 3 on a DPL 0 segment is #GP(selector), not #NP', () => {
    const h2 = CpuHarness.flat32();
    h2.setGdtEntry(0x30, ...descriptor(0, 0xfffff, 0x13, 0xc));
    const r = h2.run({ code: [...movAx(0x33), 0x8e, 0xc0] }); // mov es, 0x33
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0x30 });
  });

  it('raises #GP(0) loading the null selector into SS', () => {
    const r = h.run({ code: [0x31, 0xc0, 0x8e, 0xd0] }); // xor eax, eax; mov ss, ax
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0, eip: CODE_ADDR + 2 });
  });

  it('raises #GP(selector) for a far JMP to a data segment', () => {
    const r = h.run({ code: [0xea, ...le32(CODE_ADDR), GDT_SELECTORS.DATA32, 0x00] });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: GDT_SELECTORS.DATA32, eip: CODE_ADDR });
  });
});

describe('#UD is raised for undefined opcodes at the opcode address', () => {
  const h = CpuHarness.flat32();

  it('UD2', () => {
    const r = h.run({ code: [0x90, 0x0f, 0x0b] });
    expect(r.exception).toEqual({ vector: 6, errorCode: undefined, cs: GDT_SELECTORS.CODE32, eip: CODE_ADDR + 1, eflags: expect.any(Number) });
  });

  it('an opcode no x86 defines (0F 04)', () => {
    const r = h.run({ code: [0x0f, 0x04] });
    expect(r.exception).toMatchObject({ vector: 6, errorCode: undefined, eip: CODE_ADDR });
  });
});

describe('faults point at the instruction, traps after it (SDM Vol. 3A 6.5)', () => {
  const h = CpuHarness.flat32();

  it('INT3 (CC) is a trap: the pushed EIP is the next instruction', () => {
    const r = h.run({ code: [0x90, 0xcc] });
    expect(r.exception).toMatchObject({ vector: 3, errorCode: undefined, eip: CODE_ADDR + 2 });
  });

  it('INTO traps with vector 4 only when OF is set', () => {
    expect(h.run({ code: [0xce], eflags: 0 }).exception).toBeUndefined();
    expect(h.run({ code: [0x90, 0xce], eflags: OF }).exception).toMatchObject({ vector: 4, eip: CODE_ADDR + 2 });
  });

  it('BOUND faults with vector 5 at the BOUND instruction when the index is outside [lower, upper]', () => {
    const bounds = [{ addr: 0x4000, bytes: [...le32(-5 >>> 0), ...le32(10)] }];
    const code = [0x62, 0x06]; // bound eax, [esi]
    expect(h.run({ code, regs: { eax: -5 >>> 0, esi: 0x4000 }, mem: bounds }).exception).toBeUndefined();
    expect(h.run({ code, regs: { eax: 10, esi: 0x4000 }, mem: bounds }).exception).toBeUndefined();
    expect(h.run({ code, regs: { eax: 11, esi: 0x4000 }, mem: bounds }).exception).toMatchObject({ vector: 5, eip: CODE_ADDR });
    expect(h.run({ code, regs: { eax: -6 >>> 0, esi: 0x4000 }, mem: bounds }).exception).toMatchObject({ vector: 5, eip: CODE_ADDR });
  });
});

describe('far transfers between code segments', () => {
  it('CALL FAR pushes CS and EIP and RETF returns', () => {
    const h = CpuHarness.flat32();
    h.write(0x6000, [0x41, 0xcb]); // inc ecx; retf
    const r = h.run({ code: [0x9a, ...le32(0x6000), GDT_SELECTORS.CODE32, 0x00, 0x41], regs: { ecx: 0 } }); // call far; inc ecx
    expect(r.exception).toBeUndefined();
    expect(r.regs.ecx).toBe(2);
    expect(r.regs.esp).toBe(STACK_TOP);
    expect(r.read32(STACK_TOP - 8)).toBe(CODE_ADDR + 7); // return EIP
    expect(r.read32(STACK_TOP - 4) & 0xffff).toBe(GDT_SELECTORS.CODE32);
  });

  it('a JMP FAR to a 16-bit code segment runs 16-bit code (default operand size 16)', () => {
    const h = CpuHarness.flat32();
    h.write(0x6000, [0xb8, 0x34, 0x12, 0x66, 0xbb, 0x78, 0x56, 0x34, 0x12, 0xf4]); // mov ax, 0x1234; mov ebx, 0x12345678; hlt
    const r = h.run({ code: [0xea, ...le32(0x6000), GDT_SELECTORS.CODE16, 0x00], regs: { eax: 0xffffffff } });
    expect(r.exception).toBeUndefined();
    expect(h.cpu.cs32).toBe(false);
    expect(r.regs.eax).toBe(0xffff1234);
    expect(r.regs.ebx).toBe(0x12345678);
    expect(r.eip).toBe(0x600a);
  });
});

describe('interrupt delivery through IDT gates and IRET', () => {
  it('INT n through an interrupt gate pushes EFLAGS, CS, EIP and clears IF and TF', () => {
    const h = CpuHarness.flat32();
    const flagsIn = IF | TF | CF | SF | 0x2;
    // INT n is the first instruction: with TF set, any other would single-step into #DB first.
    const r = h.run({ code: [0xcd, 0x40], eflags: flagsIn });
    // The harness's handler for 0x40 recorded the frame the CPU pushed; no #DB for the INT n.
    expect(r.exception).toEqual({ vector: 0x40, errorCode: undefined, cs: GDT_SELECTORS.CODE32, eip: CODE_ADDR + 2, eflags: flagsIn });
    // The handler ran (and halted) with IF and TF clear; the arithmetic flags are untouched.
    expect(r.eflags & (IF | TF)).toBe(0);
    expect(r.eflags & (CF | SF)).toBe(CF | SF);
  });

  it('a trap gate leaves IF set', () => {
    const h = CpuHarness.flat32();
    const handler = 0x2000 + 0x41 * 48; // the harness's recording handler for 0x41
    h.setIdtGate(0x41, handler, { type: 0xf });
    const r = h.run({ code: [0xcd, 0x41], eflags: IF });
    expect(r.exception).toMatchObject({ vector: 0x41, eip: CODE_ADDR + 2 });
    expect(r.eflags & IF).toBe(IF);
  });

  it('IRETD from a handler resumes after INT n with the old EFLAGS', () => {
    const h = CpuHarness.flat32();
    h.write(0x6000, [0x41, 0x9c, 0x5a, 0xcf]); // inc ecx; pushfd; pop edx; iretd
    h.setIdtGate(0x42, 0x6000);
    const r = h.run({ code: [0xcd, 0x42, 0xcd, 0x42, 0x9c, 0x5b], eflags: IF | ZF, regs: { ecx: 0 } }); // ...; pushfd; pop ebx
    expect(r.exception).toBeUndefined();
    expect(r.regs.ecx).toBe(2);
    expect(r.regs.edx & IF).toBe(0); // inside the handler (interrupt gate)
    expect(r.regs.ebx & (IF | ZF)).toBe(IF | ZF); // after IRETD; INC ECX in the handler cleared ZF, IRETD restored it
    expect(r.regs.esp).toBe(STACK_TOP);
    expect(r.eip).toBe(CODE_ADDR + 6 + 1);
  });

  it('IRETD pops EIP, CS and EFLAGS', () => {
    const h = CpuHarness.flat32();
    const flags = OF | DF | SF | ZF | CF | 0x2;
    // push flags; push CS; push target; iretd; then four INC ECX that the IRETD jumps over
    // to the HLT the harness appends.
    const target = CODE_ADDR + 17;
    const code = [0x68, ...le32(flags), 0x6a, GDT_SELECTORS.CODE32, 0x68, ...le32(target), 0xcf, 0x41, 0x41, 0x41, 0x41];
    const r = h.run({ code, regs: { ecx: 0 } });
    expect(r.exception).toBeUndefined();
    expect(r.regs.ecx).toBe(0);
    expect(r.eip).toBe(target + 1);
    expect(r.eflags & 0xfff).toBe(flags);
    expect(r.regs.esp).toBe(STACK_TOP);
  });

  it('a fault while delivering a contributory fault becomes #DF with error code 0', () => {
    const h = CpuHarness.flat32();
    h.setIdtGate(13, 0x2000 + 13 * 48, { present: false }); // #GP's gate is not present → #NP
    const r = h.run({ code: [...movAx(0x83), 0x8e, 0xd8] }); // #GP(0x80)
    expect(r.exception).toMatchObject({ vector: 8, errorCode: 0, eip: CODE_ADDR + 4 });
  });

  it('a fault while delivering #DF shuts the processor down (triple fault)', () => {
    const h = CpuHarness.flat32();
    const r = h.run({
      code: [0x0f, 0x0b],
      setup: (cpu) => {
        cpu.s.idtLimit = 0; // no gate is reachable: #UD → #GP → #DF → shutdown
      },
    });
    expect(r.exit).toBe('triple-fault');
  });

  it('the IDT the harness installs is where IDTR points', () => {
    const h = CpuHarness.flat32();
    h.run({ code: [] });
    expect(h.cpu.s.idtBase).toBe(IDT_BASE);
  });
});
