/**
 * FXSAVE/FXRSTOR (0F AE /0, /1): the 512-byte legacy layout of SDM Vol. 1 10.5.1 (Table 10-2),
 * the abridged tag byte and its expansion on FXRSTOR (10.5.1.1), MXCSR_MASK, the stack-order
 * ST0-ST7 slots, the round trip, and the #GP(0) cases (misaligned operand, reserved MXCSR
 * bits on FXRSTOR). Expected values are worked out from the table.
 */
import { describe, expect, it } from 'vitest';
import type { X86Cpu } from '../../src/cpu/x86/cpu.js';
import { CpuHarness, DATA_ADDR } from '../helpers/cpu-harness.js';
import { enableSse } from './sse-setup.js';

const FXSAVE = [0x0f, 0xae, 0x06]; // fxsave [esi]
const FXRSTOR = [0x0f, 0xae, 0x0e]; // fxrstor [esi]

/** A recognisable x87 + SSE state: TOP=3, R0..R7 with different classes. */
function fillState(cpu: X86Cpu): void {
  enableSse(cpu);
  const f = cpu.fpu;
  f.fcw = 0x037f;
  f.fsw = 0x0021; // PE | IE (TOP is separate)
  f.top = 3;
  f.fop = 0x5ab;
  f.fip = 0x12345678;
  f.fcs = 0x0008;
  f.fdp = 0x9abcdef0;
  f.fds = 0x0010;
  for (let i = 0; i < 8; i++) {
    f.mant[2 * i] = 0x11111111 * (i + 1);
    f.mant[2 * i + 1] = 0x80000000 | (i << 8);
    f.exp[i] = 0x3fff + i;
  }
  // R2 empty, R5 empty; the rest valid.
  f.ftw = (3 << 4) | (3 << 10);
  for (let i = 0; i < 64; i++) cpu.sse.u32[i] = (0x01020304 * (i + 1)) >>> 0;
  cpu.sse.mxcsr = 0x1f80 | 0x8000 | 0x21;
}

function run(code: number[], setup: (cpu: X86Cpu) => void, esi = DATA_ADDR) {
  const h = CpuHarness.flat32();
  const r = h.run({ code, regs: { esi }, clear: [{ addr: DATA_ADDR, length: 0x1000 }], setup });
  const rd = (off: number, size: 1 | 2 | 4) => h.cpu.bus.mem.read(DATA_ADDR + off, size);
  return { r, h, cpu: h.cpu, rd };
}

describe('FXSAVE', () => {
  it('writes the x87 environment, MXCSR, MXCSR_MASK, ST0-7 in stack order and XMM0-7 where Table 10-2 says', () => {
    const { r, rd } = run(FXSAVE, fillState);
    expect(r.exception).toBeUndefined();
    expect(rd(0, 2)).toBe(0x037f);
    expect(rd(2, 2)).toBe(0x0021 | (3 << 11)); // FSW with TOP
    expect(rd(4, 1)).toBe(0xff & ~((1 << 2) | (1 << 5))); // abridged: bit per physical register, 1 = not empty
    expect(rd(6, 2)).toBe(0x5ab);
    expect(rd(8, 4)).toBe(0x12345678);
    expect(rd(12, 2)).toBe(0x0008);
    expect(rd(16, 4)).toBe(0x9abcdef0);
    expect(rd(20, 2)).toBe(0x0010);
    expect(rd(24, 4)).toBe(0x9fa1);
    expect(rd(28, 4)).toBe(0xffff); // MXCSR_MASK: DAZ supported
    // ST(0) is R3 (TOP=3), ST(1) R4, ..., ST(5) R0.
    for (let i = 0; i < 8; i++) {
      const p = (3 + i) & 7;
      expect(rd(32 + 16 * i, 4), `ST(${i}) low`).toBe((0x11111111 * (p + 1)) >>> 0);
      expect(rd(36 + 16 * i, 4), `ST(${i}) high`).toBe((0x80000000 | (p << 8)) >>> 0);
      expect(rd(40 + 16 * i, 2), `ST(${i}) exponent`).toBe(0x3fff + p);
    }
    for (let i = 0; i < 32; i++) expect(rd(160 + 4 * i, 4)).toBe((0x01020304 * (i + 1)) >>> 0);
    // XMM8-15 are not saved outside 64-bit mode: the area stays as it was (cleared).
    for (let off = 288; off < 512; off += 4) expect(rd(off, 4)).toBe(0);
  });

  it('a misaligned operand is #GP(0) and nothing is written', () => {
    const { r, h } = run(FXSAVE, fillState, DATA_ADDR + 8);
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0 });
    expect(h.cpu.bus.mem.ram.subarray(DATA_ADDR, DATA_ADDR + 600).every((b) => b === 0)).toBe(true);
  });
});

describe('FXRSTOR', () => {
  it('restores what FXSAVE stored (round trip through a reset)', () => {
    const { h } = run(FXSAVE, fillState);
    const image = h.cpu.bus.mem.ram.slice(DATA_ADDR, DATA_ADDR + 512);
    const h2 = CpuHarness.flat32();
    h2.run({ code: FXRSTOR, regs: { esi: DATA_ADDR }, mem: [{ addr: DATA_ADDR, bytes: image }], setup: enableSse });
    const want = CpuHarness.flat32();
    want.run({ code: [], setup: fillState });
    const a = h2.cpu.fpu, b = want.cpu.fpu;
    expect([a.fcw, a.fsw, a.top, a.fop, a.fip, a.fcs, a.fdp, a.fds]).toEqual([b.fcw, b.fsw, b.top, b.fop, b.fip, b.fcs, b.fdp, b.fds]);
    expect(Array.from(a.mant)).toEqual(Array.from(b.mant));
    expect(Array.from(a.exp)).toEqual(Array.from(b.exp));
    expect(a.ftw).toBe(b.ftw); // valid registers stay valid, empty ones empty
    expect(Array.from(h2.cpu.sse.u32.subarray(0, 32))).toEqual(Array.from(want.cpu.sse.u32.subarray(0, 32)));
    expect(h2.cpu.sse.mxcsr).toBe(0x9fa1);
  });

  it('rebuilds the full tag word from the contents: zero, special (NaN/inf, denormal, unnormal), valid', () => {
    const img = new Uint8Array(512);
    const dv = new DataView(img.buffer);
    dv.setUint16(2, 0, true); // TOP = 0, so ST(i) = R(i)
    dv.setUint8(4, 0x7f); // R7 empty
    dv.setUint32(24, 0x1f80, true);
    const reg = (i: number, lo: number, hi: number, exp: number) => {
      dv.setUint32(32 + 16 * i, lo, true);
      dv.setUint32(36 + 16 * i, hi, true);
      dv.setUint16(40 + 16 * i, exp, true);
    };
    reg(0, 0, 0x80000000, 0x3fff); // 1.0: valid (0)
    reg(1, 0, 0, 0); // +0: zero (1)
    reg(2, 0, 0, 0x8000); // -0: zero (1)
    reg(3, 0, 0x80000000, 0x7fff); // infinity: special (2)
    reg(4, 1, 0, 0); // denormal: special (2)
    reg(5, 0, 0x40000000, 0x3fff); // unnormal (integer bit clear): special (2)
    reg(6, 0, 0xc0000000, 0xffff); // NaN (an MMX-written register looks like this): special (2)
    reg(7, 0, 0x80000000, 0x3fff); // would be valid, but tagged empty (3)
    const h = CpuHarness.flat32();
    const r = h.run({ code: FXRSTOR, regs: { esi: DATA_ADDR }, mem: [{ addr: DATA_ADDR, bytes: img }], setup: enableSse });
    expect(r.exception).toBeUndefined();
    const tags = [0, 1, 1, 2, 2, 2, 2, 3];
    expect(h.cpu.fpu.ftw).toBe(tags.reduce((t, v, i) => t | (v << (2 * i)), 0));
  });

  it('reserved MXCSR bits in the image are #GP(0) and nothing is restored', () => {
    const img = new Uint8Array(512);
    new DataView(img.buffer).setUint32(24, 0x10000 | 0x1f80, true);
    img[0] = 0x7f; // FCW would become 0x007f
    const h = CpuHarness.flat32();
    const r = h.run({ code: FXRSTOR, regs: { esi: DATA_ADDR }, mem: [{ addr: DATA_ADDR, bytes: img }], setup: enableSse });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0 });
    expect(h.cpu.fpu.fcw).toBe(0x0040);
    expect(h.cpu.sse.mxcsr).toBe(0x1f80);
  });

  it('a misaligned operand is #GP(0)', () => {
    const h = CpuHarness.flat32();
    const r = h.run({ code: FXRSTOR, regs: { esi: DATA_ADDR + 4 }, setup: enableSse });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0 });
  });
});
