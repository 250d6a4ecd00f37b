/**
 * MMX/SSE/x87 in 64-bit mode: the REX.W forms that take a 64-bit general register (SDM Vol. 2
 * MOVD/MOVQ "REX.W + 66 0F 6E/7E", MOVNTI "REX.W 0F C3", CVTSI2SD/SS and CVT(T)SD2SI with
 * REX.W), FXSAVE/FXRSTOR of XMM8-15 and the FXSAVE64 format (Vol. 1 10.5.1), 64-bit
 * addresses of x87 memory operands, and operand accesses checked with the CPL (Vol. 3A 4.6).
 * Bytes assembled with nasm.
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR } from '../../helpers/cpu-harness.js';
import { LongModeHarness, le32, le64, u64 } from '../../helpers/cpu-harness64.js';
import type { X86Cpu } from '../../../src/cpu/x86/cpu.js';

const h = LongModeHarness.flat64();
/** CR4.OSFXSR | CR4.PAE: SSE instructions enabled. */
const sseOn = (cpu: X86Cpu) => {
  cpu.s.cr4 |= 0x200;
};
const xmmQ = (cpu: X86Cpu, i: number, q: number) => u64(cpu.sse.u32[4 * i + 2 * q]!, cpu.sse.u32[4 * i + 2 * q + 1]!);
const mmQ = (cpu: X86Cpu, i: number) => u64(cpu.fpu.mant[2 * i]!, cpu.fpu.mant[2 * i + 1]!);

describe('REX.W forms with a 64-bit general register', () => {
  it('MOVQ xmm9, rax / MOVQ rbx, xmm9 / MOVQ mm3, rcx / MOVQ rdx, mm3 move all 64 bits', () => {
    const r = h.run({
      code: [0x66, 0x4c, 0x0f, 0x6e, 0xc8, 0x66, 0x4c, 0x0f, 0x7e, 0xcb, 0x48, 0x0f, 0x6e, 0xd9, 0x48, 0x0f, 0x7e, 0xda],
      regs: { rax: 0x8877665544332211n, rcx: 0xfedcba9876543210n },
      setup: (cpu) => {
        sseOn(cpu);
        cpu.sse.u32.fill(0xffffffff, 36, 40); // XMM9: the upper quadword must be zeroed
      },
    });
    expect(r.exception).toBeUndefined();
    expect(xmmQ(r.cpu, 9, 0)).toBe(0x8877665544332211n);
    expect(xmmQ(r.cpu, 9, 1)).toBe(0n);
    expect(r.regs.rbx).toBe(0x8877665544332211n);
    expect(mmQ(r.cpu, 3)).toBe(0xfedcba9876543210n);
    expect(r.regs.rdx).toBe(0xfedcba9876543210n);
  });

  it('MOVQ m64, xmm9 (REX.W 66 0F 7E) stores 8 bytes; MOVNTI m64, rax (REX.W 0F C3) stores 8 bytes', () => {
    // movq [0x5000], xmm9 ; movnti [0x5008], rax
    const r = h.run({
      code: [0x66, 0x4c, 0x0f, 0x7e, 0x0c, 0x25, ...le32(0x5000), 0x48, 0x0f, 0xc3, 0x04, 0x25, ...le32(0x5008)],
      regs: { rax: 0x0102030405060708n },
      mem: [{ addr: 0x5000, bytes: new Array(16).fill(0xee) }],
      setup: (cpu) => {
        sseOn(cpu);
        cpu.sse.u32.set([0xaabbccdd, 0x11223344, 5, 6], 36);
      },
    });
    expect(r.exception).toBeUndefined();
    expect(r.read64(0x5000)).toBe(0x11223344aabbccddn);
    expect(r.read64(0x5008)).toBe(0x0102030405060708n);
  });

  it('CVTSI2SD/CVTSI2SS xmm, r64 round the exact 64-bit integer under MXCSR.RC and set PE', () => {
    // cvtsi2sd xmm1, rax ; cvtsi2ss xmm2, rax ; movq rbx, xmm1 ; movd ecx, xmm2
    const code = [0xf2, 0x48, 0x0f, 0x2a, 0xc8, 0xf3, 0x48, 0x0f, 0x2a, 0xd0, 0x66, 0x48, 0x0f, 0x7e, 0xcb, 0x66, 0x0f, 0x7e, 0xd1];
    // 2^63 - 1 rounds to 2^63 to nearest: 0x43E0000000000000 / 0x5F000000.
    let r = h.run({ code, regs: { rax: 0x7fffffffffffffffn }, setup: sseOn });
    expect(r.exception).toBeUndefined();
    expect(r.regs.rbx).toBe(0x43e0000000000000n);
    expect(r.regs.rcx).toBe(0x5f000000n);
    expect(r.cpu.sse.mxcsr & 0x20).toBe(0x20);
    // Toward zero (RC = 11b): the largest double below 2^63.
    r = h.run({ code, regs: { rax: 0x7fffffffffffffffn }, setup: (cpu) => { sseOn(cpu); cpu.sse.mxcsr = 0x7f80; } });
    expect(r.regs.rbx).toBe(0x43dfffffffffffffn);
    // -2^40 - 1 is exact as a double (no PE), and a 64-bit value, not its low half.
    r = h.run({ code, regs: { rax: BigInt.asUintN(64, -(2n ** 40n) - 1n) }, setup: sseOn });
    expect(r.regs.rbx).toBe(0xc270000000001000n);
    expect(r.cpu.sse.mxcsr & 0x20).toBe(0x20); // the single conversion is inexact
  });

  it('CVTSI2SD xmm1, m64 reads a quadword', () => {
    const r = h.run({
      code: [0xf2, 0x48, 0x0f, 0x2a, 0x0c, 0x25, ...le32(0x5000), 0x66, 0x48, 0x0f, 0x7e, 0xcb],
      mem: [{ addr: 0x5000, bytes: le64(0x100000000n) }],
      setup: sseOn,
    });
    expect(r.regs.rbx).toBe(0x41f0000000000000n); // 2^32
  });

  it('CVTTSD2SI/CVTSD2SI r64 give 64-bit integers, and the 64-bit indefinite when out of range', () => {
    // cvttsd2si rdx, xmm3 ; cvtsd2si rsi, xmm3
    const code = [0xf2, 0x48, 0x0f, 0x2c, 0xd3, 0xf2, 0x48, 0x0f, 0x2d, 0xf3];
    const withXmm3 = (lo: number, hi: number) => (cpu: X86Cpu) => {
      sseOn(cpu);
      cpu.sse.u32.set([lo, hi, 0, 0], 12);
    };
    // -1e12 - 0.5 = 0xC26D1A94A2001000
    let r = h.run({ code, setup: withXmm3(0xa2001000, 0xc26d1a94) });
    expect(r.exception).toBeUndefined();
    expect(r.regs.rdx).toBe(BigInt.asUintN(64, -1000000000000n));
    expect(r.regs.rsi).toBe(BigInt.asUintN(64, -1000000000000n)); // ties to even
    // 2^63 does not fit: 0x8000000000000000 with IE.
    r = h.run({ code, setup: withXmm3(0, 0x43e00000) });
    expect(r.regs.rdx).toBe(0x8000000000000000n);
    expect(r.regs.rsi).toBe(0x8000000000000000n);
    expect(r.cpu.sse.mxcsr & 1).toBe(1);
  });
});

describe('FXSAVE/FXRSTOR in 64-bit mode (SDM Vol. 1 10.5.1)', () => {
  it('FXSAVE stores XMM8-15 at bytes 288-415 and FXRSTOR loads them back', () => {
    // fxsave [0x4000] ; fxsave64 [0x4200]
    const r = h.run({
      code: [0x0f, 0xae, 0x04, 0x25, ...le32(0x4000), 0x48, 0x0f, 0xae, 0x04, 0x25, ...le32(0x4200)],
      setup: (cpu) => {
        sseOn(cpu);
        for (let i = 0; i < 64; i++) cpu.sse.u32[i] = 0x01010101 * (i & 0xff);
        cpu.fpu.fcs = 0x1234;
      },
    });
    expect(r.exception).toBeUndefined();
    expect(r.read64(0x4000 + 160)).toBe(u64(0, 0x01010101)); // XMM0
    expect(r.read64(0x4000 + 288)).toBe(u64(0x20202020, 0x21212121)); // XMM8
    expect(r.read64(0x4000 + 408)).toBe(u64(0x3e3e3e3e, 0x3f3f3f3f)); // XMM15, upper quadword
    expect(r.read64(0x4000 + 8) >> 32n & 0xffffn).toBe(0x1234n); // FCS in the 32-bit format
    expect(r.read64(0x4200 + 8) >> 32n).toBe(0n); // FXSAVE64: upper half of a 64-bit FIP
    expect(r.read64(0x4200 + 408)).toBe(u64(0x3e3e3e3e, 0x3f3f3f3f));

    const image = Array.from({ length: 512 }, (_, i) => (i >= 288 && i < 416 ? 0x5a : 0));
    image[24] = 0x80; // MXCSR = 0x1F80
    image[25] = 0x1f;
    const back = h.run({ code: [0x0f, 0xae, 0x0c, 0x25, ...le32(0x4000)], mem: [{ addr: 0x4000, bytes: image }], setup: sseOn });
    expect(back.exception).toBeUndefined();
    expect(xmmQ(back.cpu, 15, 1)).toBe(0x5a5a5a5a5a5a5a5an);
    expect(xmmQ(back.cpu, 8, 0)).toBe(0x5a5a5a5a5a5a5a5an);
  });
});

describe('x87 memory operands in 64-bit mode', () => {
  it('FILD/FISTP m64 use the whole 64-bit effective address (not a 16-bit offset)', () => {
    // fninit ; fild qword [rbx] ; fistp qword [rbx+8], rbx = 0x15000 (0x5000 if truncated to 16 bits)
    const r = h.run({
      code: [0xdb, 0xe3, 0xdf, 0x2b, 0xdf, 0x7b, 0x08],
      regs: { rbx: 0x15000n },
      mem: [{ addr: 0x15000, bytes: [...le64(0x123456789abcn), ...le64(0n)] }, { addr: 0x5000, bytes: [...le64(7n), ...le64(0n)] }],
    });
    expect(r.exception).toBeUndefined();
    expect(r.read64(0x15008)).toBe(0x123456789abcn);
    expect(r.read64(0x5008)).toBe(0n);
  });
});

describe('operand accesses use the CPL (SDM Vol. 3A 4.6)', () => {
  it('an SSE load at CPL 3 from a supervisor page is #PF with U/S set in the error code', () => {
    const hs = LongModeHarness.flat64();
    // Linear 0x200000 -> PD[1] -> a page table whose entry 0 maps physical 0x100000, supervisor only.
    hs.write64(0xb000 + 8, 0xc007n);
    hs.write64(0xc000, 0x100003n);
    // push 0x2b; push 0x60000; pushfq; push 0x33; push user; iretq; user: movdqu xmm0, [0x200000]
    const r = hs.run({
      code: [0x6a, 0x2b, 0x68, ...le32(0x60000), 0x9c, 0x6a, 0x33, 0x68, ...le32(CODE_ADDR + 0x11), 0x48, 0xcf,
        0xf3, 0x0f, 0x6f, 0x04, 0x25, ...le32(0x200000)],
      setup: sseOn,
    });
    expect(r.exception?.vector).toBe(14);
    expect(r.exception?.errorCode).toBe(5n); // present, read, user
    expect(r.exception?.rip).toBe(BigInt(CODE_ADDR + 0x11));
  });
});
