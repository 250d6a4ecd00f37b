/**
 * LAR and LSL (SDM Vol. 2A "LAR—Load Access Rights Byte" with Table 3-52, "LSL—Load Segment
 * Limit" with Table 3-60): which system descriptors each accepts in protected mode and in
 * IA-32e mode (call gates: LAR yes, LSL no), the 00FxFF00H mask of LAR, the byte-granular
 * limit of LSL, the DPL/RPL visibility rule, and ZF = 0 without a fault for a selector the
 * instruction cannot see. Expected values are worked out from those pages by hand.
 */
import { describe, expect, it } from 'vitest';
import { CpuHarness, descriptor, EFLAGS, GDT_SELECTORS } from '../helpers/cpu-harness.js';
import { GDT64_BASE, LongModeHarness, SEL64 } from '../helpers/cpu-harness64.js';

const { ZF } = EFLAGS;
const LAR_EAX_ECX = [0x0f, 0x02, 0xc1];
const LSL_EAX_ECX = [0x0f, 0x03, 0xc1];

const GATE32 = 0x50;
const GATE16 = 0x58;
const INT_GATE = 0x60;
const TSS32 = 0x68;
const GATE32_DPL0 = 0x70;
const CONFORMING0 = 0x78;

/** Second dwords of the system descriptors (SDM Vol. 3A Figures 5-8, 7-3). */
const GATE32_HI = 0x0045ec03; // offset 31:16 = 0x0045, P, DPL 3, type C, 3 parameters
const TSS32_LIMIT = 0x67;

function legacyHarness(): CpuHarness {
  const h = CpuHarness.flat32();
  h.setGdtEntry(GATE32, 0x00086000, GATE32_HI);
  h.setGdtEntry(GATE16, 0x00086000, 0x0000e402);
  h.setGdtEntry(INT_GATE, 0x00086000, 0x0000ee00);
  h.setGdtEntry(TSS32, ...descriptor(0x7000, TSS32_LIMIT, 0x89, 0));
  h.setGdtEntry(GATE32_DPL0, 0x00086000, 0x00008c00);
  h.setGdtEntry(CONFORMING0, ...descriptor(0, 0xfffff, 0x9f, 0xc));
  return h;
}

describe('LAR and LSL in protected mode', () => {
  const h = legacyHarness();
  const run = (code: number[], selector: number, eax = 0x12345678) => h.run({ code, regs: { ecx: selector, eax } });

  it('LAR accepts a 32-bit call gate: EAX = second dword AND 00F0FF00H, ZF = 1', () => {
    const r = run(LAR_EAX_ECX, GATE32);
    expect(r.eflags & ZF).toBe(ZF);
    expect(r.regs.eax).toBe(GATE32_HI & 0x00f0ff00);
  });

  it('LAR accepts a 16-bit call gate', () => {
    const r = run(LAR_EAX_ECX, GATE16);
    expect(r.eflags & ZF).toBe(ZF);
    expect(r.regs.eax).toBe(0xe400);
  });

  it('LSL rejects call gates: ZF = 0 and EAX unchanged', () => {
    for (const sel of [GATE32, GATE16]) {
      const r = h.run({ code: LSL_EAX_ECX, regs: { ecx: sel, eax: 0x12345678 }, eflags: ZF });
      expect(r.eflags & ZF).toBe(0);
      expect(r.regs.eax).toBe(0x12345678);
    }
  });

  it('LAR rejects an interrupt gate (type E)', () => {
    const r = h.run({ code: LAR_EAX_ECX, regs: { ecx: INT_GATE, eax: 1 }, eflags: ZF });
    expect(r.eflags & ZF).toBe(0);
    expect(r.regs.eax).toBe(1);
  });

  it('LSL of a TSS is its limit, of a 4 KiB-granular segment the scaled limit, of a byte-granular one its limit', () => {
    expect(run(LSL_EAX_ECX, TSS32).regs.eax).toBe(TSS32_LIMIT);
    expect(run(LSL_EAX_ECX, GDT_SELECTORS.CODE32).regs.eax).toBe(0xffffffff);
    const r = run(LSL_EAX_ECX, GDT_SELECTORS.DATA_SMALL);
    expect(r.regs.eax).toBe(0xfff);
    expect(r.eflags & ZF).toBe(ZF);
  });

  it('LAR of a TSS and of a code segment; the 16-bit form keeps FF00H and the upper half of EAX', () => {
    expect(run(LAR_EAX_ECX, TSS32).regs.eax).toBe(0x8900);
    expect(run(LAR_EAX_ECX, GDT_SELECTORS.CODE32).regs.eax).toBe(0x00c09b00);
    expect(run([0x66, ...LAR_EAX_ECX], GDT_SELECTORS.CODE32).regs.eax).toBe(0x12349b00);
  });

  it('a selector with RPL above the DPL sees nothing, except a conforming code segment', () => {
    const r = h.run({ code: LAR_EAX_ECX, regs: { ecx: GATE32_DPL0 | 3 }, eflags: ZF });
    expect(r.eflags & ZF).toBe(0);
    const c = run(LAR_EAX_ECX, CONFORMING0 | 3);
    expect(c.eflags & ZF).toBe(ZF);
    expect(c.regs.eax).toBe(0x00c09f00);
  });

  it('a null selector or one past the GDT limit clears ZF without a fault', () => {
    for (const sel of [0, 3, 0x400]) {
      const r = h.run({ code: LAR_EAX_ECX, regs: { ecx: sel }, eflags: ZF });
      expect(r.exception).toBeUndefined();
      expect(r.eflags & ZF).toBe(0);
    }
  });
});

describe('LAR and LSL in IA-32e mode', () => {
  const h = LongModeHarness.flat64();
  const GATE64 = 0x50;
  const GATE_TYPE4 = 0x60;
  const LDT = 0x70;
  // A 64-bit call gate (offset 0x120000, DPL 3), a type-4 gate, and a 16-byte LDT descriptor.
  const words: [number, number[]][] = [
    [GATE64, [0x00080000, 0x0012ec00, 0, 0]],
    [GATE_TYPE4, [0x00080000, 0x0012e400, 0, 0]],
    [LDT, [0x0000ffff, 0x00008200, 0, 0]],
  ];
  for (const [sel, ws] of words) ws.forEach((w, i) => h.write32(GDT64_BASE + sel + 4 * i, w));
  const run = (code: number[], selector: number) => h.run({ code, regs: { rcx: BigInt(selector), rax: 0xffffffffffffffffn }, rflags: ZF });

  it('LAR accepts the 64-bit call gate; with REX.W the result is zero-extended', () => {
    const r = run([0x48, ...LAR_EAX_ECX], GATE64);
    expect(r.rflags & ZF).toBe(ZF);
    expect(r.regs.rax).toBe(0x0010ec00n); // 0x0012EC00 AND 00F0FF00H
  });

  it('LSL rejects the 64-bit call gate; LAR rejects the type-4 gate and (Table 3-52) the LDT', () => {
    for (const [code, sel] of [[LSL_EAX_ECX, GATE64], [LAR_EAX_ECX, GATE_TYPE4], [LAR_EAX_ECX, LDT]] as const) {
      const r = run([...code], sel);
      expect(r.rflags & ZF).toBe(0);
      expect(r.regs.rax).toBe(0xffffffffffffffffn);
    }
  });

  it('LSL accepts the 64-bit TSS and the LDT; a 32-bit result clears the upper half', () => {
    const t = run(LSL_EAX_ECX, SEL64.TSS);
    expect(t.rflags & ZF).toBe(ZF);
    expect(t.regs.rax).toBe(0x67n);
    expect(run(LSL_EAX_ECX, LDT).regs.rax).toBe(0xffffn);
    expect(run(LAR_EAX_ECX, SEL64.TSS).regs.rax).toBe(0x8b00n);
  });
});
