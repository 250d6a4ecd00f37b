/**
 * The x87's system interface, worked out by hand from the SDM (the host fixtures cannot reach
 * these: they run in user mode):
 *  - #NM for escape opcodes when CR0.EM or CR0.TS is set, and for WAIT only when CR0.MP and
 *    CR0.TS are both set (Vol. 3A 2.5, Table 2-2);
 *  - an unmasked exception is signalled at the next waiting x87 instruction: #MF (vector 16)
 *    when CR0.NE = 1, else FERR# (Vol. 1 8.7; Vol. 3A 6.15 "Interrupt 16");
 *  - FCS, FDS and the operand's segment in the environment image (Vol. 1 8.1.8, Figure 8-9);
 *  - the real-mode environment layouts with linear instruction and data pointers
 *    (Vol. 1 Figures 8-10 and 8-12), FNSAVE/FRSTOR in real mode;
 *  - FISTTP (SSE3) and the undefined escape encodings raise #UD; CPUID.1:EDX.FPU = 1.
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, CpuHarness, DATA_ADDR } from '../helpers/cpu-harness.js';
import { cpuid } from '../../src/cpu/x86/cpuid.js';

const NM = 7;
const MF = 16;
const UD = 6;
const CR0_MP = 1 << 1;
const CR0_EM = 1 << 2;
const CR0_TS = 1 << 3;
const CR0_NE = 1 << 5;

/** fninit; fldcw [esi] (ZE unmasked); fld1; fldz; fdivp → 1/0 leaves ZE pending. */
const DIVIDE_BY_ZERO = [0xdb, 0xe3, 0xd9, 0x2e, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9];
const FCW_ZE_UNMASKED = [0x7b, 0x03];

describe('x87 availability: CR0.EM, CR0.TS and CR0.MP', () => {
  const h = CpuHarness.flat32();

  for (const [name, bits] of [['CR0.TS', CR0_TS], ['CR0.EM', CR0_EM], ['CR0.EM and CR0.MP', CR0_EM | CR0_MP]] as const) {
    it(`an escape opcode raises #NM with ${name} set`, () => {
      const r = h.run({ code: [0xd9, 0xe8], setup: (cpu) => { cpu.s.cr0 |= bits; } }); // fld1
      expect(r.exception?.vector).toBe(NM);
      expect(r.exception?.eip).toBe(CODE_ADDR);
    });
  }

  it('WAIT raises #NM only when CR0.MP and CR0.TS are both set', () => {
    expect(h.run({ code: [0x9b], setup: (cpu) => { cpu.s.cr0 |= CR0_TS; } }).exception).toBeUndefined();
    expect(h.run({ code: [0x9b], setup: (cpu) => { cpu.s.cr0 |= CR0_EM; } }).exception).toBeUndefined();
    const r = h.run({ code: [0x9b], setup: (cpu) => { cpu.s.cr0 |= CR0_MP | CR0_TS; } });
    expect(r.exception?.vector).toBe(NM);
  });
});

describe('pending unmasked exceptions', () => {
  const h = CpuHarness.flat32();
  const mem = [{ addr: DATA_ADDR, bytes: FCW_ZE_UNMASKED }];

  it('with CR0.NE = 1 the next waiting instruction raises #MF; FNSTSW (no-wait) does not', () => {
    const code = [...DIVIDE_BY_ZERO, 0xdf, 0xe0, 0x9b]; // fnstsw ax; fwait
    const r = h.run({ code, regs: { esi: DATA_ADDR }, mem, setup: (cpu) => { cpu.s.cr0 |= CR0_NE; } });
    expect(r.exception?.vector).toBe(MF);
    expect(r.exception?.eip).toBe(CODE_ADDR + 12); // the FWAIT
    // B, TOP = 6 (the unmasked fault kept both operands), ES, ZE.
    expect(r.regs.eax & 0xffff).toBe(0x8000 | (6 << 11) | 0x80 | 0x04);
  });

  it('with CR0.NE = 1 an x87 arithmetic instruction raises #MF before doing anything', () => {
    const code = [...DIVIDE_BY_ZERO, 0xd9, 0xe8]; // fld1
    const r = h.run({ code, regs: { esi: DATA_ADDR }, mem, setup: (cpu) => { cpu.s.cr0 |= CR0_NE; } });
    expect(r.exception?.vector).toBe(MF);
    expect(r.exception?.eip).toBe(CODE_ADDR + 10);
    expect(h.cpu.fpu.top).toBe(6);
  });

  it('FNCLEX clears the pending exception: nothing is raised afterwards', () => {
    const code = [...DIVIDE_BY_ZERO, 0xdb, 0xe2, 0x9b, 0xd9, 0xe8]; // fnclex; fwait; fld1
    const r = h.run({ code, regs: { esi: DATA_ADDR }, mem, setup: (cpu) => { cpu.s.cr0 |= CR0_NE; } });
    expect(r.exception).toBeUndefined();
    expect(h.cpu.fpu.top).toBe(5);
  });

  it('with CR0.NE = 0 the waiting instruction asserts FERR# and goes on; FNCLEX deasserts it', () => {
    const events: boolean[] = [];
    const code = [...DIVIDE_BY_ZERO, 0x9b, 0xdb, 0xe2]; // fwait; fnclex
    const r = h.run({ code, regs: { esi: DATA_ADDR }, mem, setup: (cpu) => { cpu.onFerr = (a) => events.push(a); } });
    h.cpu.onFerr = undefined;
    expect(r.exception).toBeUndefined();
    expect(r.exit).toBe('halt');
    expect(events).toEqual([true, false]);
  });

  it('FLDCW that unmasks a flag already set makes the exception pending', () => {
    // fninit; fld1; fldz; fdivp (masked: ZE set, result +inf); fldcw [esi] (ZE unmasked); fwait
    const code = [0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0xd9, 0x2e, 0x9b];
    const r = h.run({ code, regs: { esi: DATA_ADDR }, mem, setup: (cpu) => { cpu.s.cr0 |= CR0_NE; } });
    expect(r.exception?.vector).toBe(MF);
    expect(r.exception?.eip).toBe(CODE_ADDR + 10);
  });
});

describe('x87 instruction and operand pointers', () => {
  it('FNSTENV stores FCS, FIP, FOP, the operand offset and its segment selector (FS override)', () => {
    const h = CpuHarness.flat32();
    // fs fld dword [esi+8]; fnstenv [esi+0x20]
    const r = h.run({
      code: [0x64, 0xd9, 0x46, 0x08, 0xd9, 0x76, 0x20],
      regs: { esi: 0x100 },
      setup: (cpu) => {
        cpu.s.segSel[4] = 0x18; // FS: the harness's small data segment (base 0)
        cpu.s.segLimit[4] = 0xfff;
      },
    });
    expect(r.exception).toBeUndefined();
    expect(r.read32(0x120 + 12)).toBe(CODE_ADDR); // FIP: the prefix included
    expect(r.read32(0x120 + 16)).toBe((0x146 << 16) | 0x08); // FOP D9 46, FCS
    expect(r.read32(0x120 + 20)).toBe(0x108); // FDP
    expect(r.read32(0x120 + 24) & 0xffff).toBe(0x18); // FDS
  });
});

describe('real-mode environment and state images', () => {
  const h = CpuHarness.real16();
  // At 1000:0100 — fninit; fld dword [0x200]; fnstenv [0x300]; o32 fnstenv [0x340]
  const code = [0xdb, 0xe3, 0xd9, 0x06, 0x00, 0x02, 0xd9, 0x36, 0x00, 0x03, 0x66, 0xd9, 0x36, 0x40, 0x03];

  it('the 16-bit layout holds the 20-bit linear FIP and FDP with FOP (Figure 8-12)', () => {
    const r = h.run({ code, segs: { ds: 0x2000 } });
    expect(r.exception).toBeUndefined();
    const at = (o: number) => r.read16(0x20300 + o);
    expect(at(0)).toBe(0x037f);
    expect(at(2)).toBe(7 << 11); // TOP = 7
    expect(at(4)).toBe(0x7fff); // R7 holds +0.0 (tag 01), the rest empty
    const ip = 0x10000 + 0x102; // CS · 16 + IP of the FLD
    expect(at(6)).toBe(ip & 0xffff);
    expect(at(8)).toBe(((ip >>> 16) << 12) | 0x106); // FOP = D9 06
    const dp = 0x20000 + 0x200;
    expect(at(10)).toBe(dp & 0xffff);
    expect(at(12) & 0xf000).toBe((dp >>> 16) << 12);
  });

  it('the 32-bit layout holds the same pointers in its FIP/FOP and FDP fields (Figure 8-10)', () => {
    const r = h.run({ code, segs: { ds: 0x2000 } });
    const at = (o: number) => r.read32(0x20340 + o);
    expect(at(0) & 0xffff).toBe(0x037f);
    expect(at(12) & 0xffff).toBe(0x0102);
    expect(at(16) & 0x0ffff7ff).toBe((0x0001 << 12) | 0x106);
    expect(at(20) & 0xffff).toBe(0x0200);
    expect(at(24) & 0x0ffff000).toBe(0x0002 << 12);
  });

  it('FNSAVE then FRSTOR (16-bit) restores the stack, and FNSAVE re-initialized in between', () => {
    // fninit; fld1; fldpi; fnsave [0x400]; fnstsw ax (after FNINIT: 0); mov bx, ax; frstor [0x400]; fnstsw ax
    const r = h.run({ code: [0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xeb, 0xdd, 0x36, 0x00, 0x04, 0xdf, 0xe0, 0x89, 0xc3, 0xdd, 0x26, 0x00, 0x04, 0xdf, 0xe0] });
    expect(r.exception).toBeUndefined();
    expect(r.regs.ebx & 0xffff).toBe(0);
    expect(r.regs.eax & 0xffff).toBe(6 << 11);
    // ST(0) in the image at 14: pi (4000 C90FDAA22168C235).
    expect(r.read16(0x400 + 14 + 8)).toBe(0x4000);
    expect(r.read32(0x400 + 14 + 4)).toBe(0xc90fdaa2);
    expect(h.cpu.fpu.exp[6]).toBe(0x4000);
    expect(h.cpu.fpu.ftw).toBe(0x0fff); // R6, R7 valid
  });
});

describe('x87 encodings', () => {
  const h = CpuHarness.flat32();
  for (const [name, bytes] of [['FISTTP m32 (DB /1, SSE3)', [0xdb, 0x0e]], ['FISTTP m64 (DD /1)', [0xdd, 0x0e]], ['FISTTP m16 (DF /1)', [0xdf, 0x0e]],
    ['D9 D1', [0xd9, 0xd1]], ['D9 /1 (memory)', [0xd9, 0x0e]], ['DB E5 (FRSTPM, 287 only)', [0xdb, 0xe5]], ['DE D8', [0xde, 0xd8]], ['DF E1', [0xdf, 0xe1]]] as const) {
    it(`${name} raises #UD`, () => {
      const r = h.run({ code: bytes, regs: { esi: DATA_ADDR } });
      expect(r.exception?.vector).toBe(UD);
    });
  }

  it('FENI, FDISI and FSETPM are no-ops on a 387 and later', () => {
    const r = h.run({ code: [0xdb, 0xe3, 0xdb, 0xe0, 0xdb, 0xe1, 0xdb, 0xe4, 0xdf, 0xe0] });
    expect(r.exception).toBeUndefined();
    expect(r.regs.eax & 0xffff).toBe(0);
  });

  it('CPUID.1:EDX advertises the FPU (bit 0)', () => {
    expect(cpuid(1, 0)[3] & 1).toBe(1);
  });
});
