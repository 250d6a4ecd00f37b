/**
 * Hand-written SSE/MMX tests for what the host-CPU fixtures cannot show (they run in user
 * mode): the CR0.EM/TS and CR4.OSFXSR/OSXMMEXCPT checks (SDM Vol. 3A 13.1.3, 13.1.5, Table
 * 12-1), 16-byte alignment #GP (Vol. 1 11.6.?), unmasked SIMD exceptions (#XM / #UD, the
 * destination left alone, Vol. 1 11.5.1), LDMXCSR reserved bits, the x87 → MMX transition
 * and EMMS (Vol. 1 9.5.1), CPUID, and the SSE state in CPU snapshots.
 * Each expected value is worked out from the cited section.
 */
import { describe, expect, it } from 'vitest';
import type { X86Cpu } from '../../src/cpu/x86/cpu.js';
import { cpuid } from '../../src/cpu/x86/cpuid.js';
import { Cr0, Cr4 } from '../../src/cpu/x86/state.js';
import { SnapshotError } from '../../src/errors.js';
import { CpuHarness, DATA_ADDR } from '../helpers/cpu-harness.js';
import { enableSse } from './sse-setup.js';

const UD = 6, NM = 7, GP = 13, XM = 19;

const ADDPS_X0_X1 = [0x0f, 0x58, 0xc1];
const ADDPS_X0_M = [0x0f, 0x58, 0x06]; // addps xmm0, [esi]
const ADDSS_X0_M = [0xf3, 0x0f, 0x58, 0x06];
const MOVAPS_LOAD = [0x0f, 0x28, 0x06];
const MOVUPS_LOAD = [0x0f, 0x10, 0x06];
const MOVDQA_LOAD = [0x66, 0x0f, 0x6f, 0x06];
const MOVDQA_STORE = [0x66, 0x0f, 0x7f, 0x06];
const PADDB_MM0_MM1 = [0x0f, 0xfc, 0xc1];
const EMMS = [0x0f, 0x77];
const LDMXCSR = [0x0f, 0xae, 0x16];
const STMXCSR = [0x0f, 0xae, 0x1e];
const FXSAVE = [0x0f, 0xae, 0x06];
const FXRSTOR = [0x0f, 0xae, 0x0e];
const DIVSS_X0_X1 = [0xf3, 0x0f, 0x5e, 0xc1];

function run(code: number[], setup: (cpu: X86Cpu) => void = enableSse, esi = DATA_ADDR, h = CpuHarness.flat32()) {
  const r = h.run({ code, regs: { esi }, clear: [{ addr: DATA_ADDR, length: 0x1000 }], setup });
  return { r, h, cpu: h.cpu };
}

function withCr(cr0Set: number, cr4Clear = 0) {
  return (cpu: X86Cpu) => {
    enableSse(cpu);
    cpu.s.cr0 |= cr0Set;
    cpu.s.cr4 &= ~cr4Clear;
  };
}

describe('SSE and MMX device-not-available and #UD checks (CR0.EM, CR0.TS, CR4.OSFXSR)', () => {
  it('with everything enabled the instructions run', () => {
    for (const code of [ADDPS_X0_X1, PADDB_MM0_MM1, LDMXCSR, EMMS]) {
      const { r } = run(code, (cpu) => {
        enableSse(cpu);
        cpu.bus.mem.write(DATA_ADDR, 4, 0x1f80);
      });
      expect(r.exception, code.join(' ')).toBeUndefined();
    }
  });

  it('CR0.TS=1: SSE, MMX and FXSAVE raise #NM', () => {
    for (const code of [ADDPS_X0_X1, PADDB_MM0_MM1, FXSAVE, LDMXCSR, EMMS]) {
      expect(run(code, withCr(Cr0.TS)).r.exception?.vector, code.join(' ')).toBe(NM);
    }
  });

  it('CR0.EM=1: SSE and MMX raise #UD, FXSAVE/FXRSTOR #NM', () => {
    expect(run(ADDPS_X0_X1, withCr(Cr0.EM)).r.exception?.vector).toBe(UD);
    expect(run(PADDB_MM0_MM1, withCr(Cr0.EM)).r.exception?.vector).toBe(UD);
    expect(run(FXSAVE, withCr(Cr0.EM)).r.exception?.vector).toBe(NM);
    expect(run(FXRSTOR, withCr(Cr0.EM)).r.exception?.vector).toBe(NM);
  });

  it('CR4.OSFXSR=0: SSE instructions are #UD, MMX instructions still run', () => {
    expect(run(ADDPS_X0_X1, withCr(0, Cr4.OSFXSR)).r.exception?.vector).toBe(UD);
    expect(run(LDMXCSR, withCr(0, Cr4.OSFXSR)).r.exception?.vector).toBe(UD);
    expect(run(PADDB_MM0_MM1, withCr(0, Cr4.OSFXSR)).r.exception).toBeUndefined();
  });

  it('EM is checked before TS (#UD wins over #NM for SSE)', () => {
    expect(run(ADDPS_X0_X1, withCr(Cr0.EM | Cr0.TS)).r.exception?.vector).toBe(UD);
  });

  it('MOV to CR4 accepts OSFXSR and OSXMMEXCPT', () => {
    // mov eax, 0x600; mov cr4, eax
    const { r, cpu } = run([0xb8, 0x00, 0x06, 0x00, 0x00, 0x0f, 0x22, 0xe0], () => {});
    expect(r.exception).toBeUndefined();
    expect(cpu.s.cr4).toBe(Cr4.OSFXSR | Cr4.OSXMMEXCPT);
  });
});

describe('16-byte alignment of legacy SSE memory operands', () => {
  const mis = DATA_ADDR + 8;
  it('MOVAPS, MOVDQA (load and store) and a packed arithmetic m128 raise #GP(0) when misaligned', () => {
    for (const code of [MOVAPS_LOAD, MOVDQA_LOAD, MOVDQA_STORE, ADDPS_X0_M]) {
      const { r } = run(code, enableSse, mis);
      expect(r.exception, code.join(' ')).toMatchObject({ vector: GP, errorCode: 0 });
    }
  });

  it('MOVUPS and scalar forms take any address', () => {
    for (const code of [MOVUPS_LOAD, ADDSS_X0_M]) expect(run(code, enableSse, DATA_ADDR + 3).r.exception).toBeUndefined();
  });

  it('aligned operands are fine', () => {
    for (const code of [MOVAPS_LOAD, MOVDQA_LOAD, ADDPS_X0_M]) expect(run(code).r.exception).toBeUndefined();
  });

  it('a misaligned MOVDQA store writes nothing', () => {
    const { h } = run(MOVDQA_STORE, (cpu) => {
      enableSse(cpu);
      cpu.sse.u32.fill(0x55555555, 0, 4);
    }, mis);
    expect([...h.cpu.bus.mem.ram.subarray(mis, mis + 16)].every((b) => b === 0)).toBe(true);
  });
});

describe('unmasked SIMD floating-point exceptions', () => {
  const setupDiv = (mxcsr: number, cr4Clear = 0) => (cpu: X86Cpu) => {
    withCr(0, cr4Clear)(cpu);
    cpu.sse.mxcsr = mxcsr;
    cpu.sse.f32[0] = 1; // xmm0 = 1, 2, 3, 4
    cpu.sse.f32[1] = 2;
    cpu.sse.f32[2] = 3;
    cpu.sse.f32[3] = 4;
    cpu.sse.f32[4] = 0; // xmm1 = 0, 3, ...
    cpu.sse.f32[5] = 3;
  };

  it('a division by zero with ZM clear raises #XM, sets ZE and leaves the destination alone', () => {
    const { r, cpu } = run(DIVSS_X0_X1, setupDiv(0x1f80 & ~0x200));
    expect(r.exception?.vector).toBe(XM);
    expect(cpu.sse.mxcsr & 0x3f).toBe(0x4);
    expect(cpu.sse.f32[0]).toBe(1);
  });

  it('with CR4.OSXMMEXCPT=0 the same exception is #UD', () => {
    const { r } = run(DIVSS_X0_X1, setupDiv(0x1f80 & ~0x200, Cr4.OSXMMEXCPT));
    expect(r.exception?.vector).toBe(UD);
  });

  it('an unmasked precision exception is raised after the computation (PE set, destination kept)', () => {
    // divps: 1/0 (ZE, masked), 2/3 (PE, unmasked)
    const { r, cpu } = run([0x0f, 0x5e, 0xc1], setupDiv(0x1f80 & ~0x1000));
    expect(r.exception?.vector).toBe(XM);
    expect(cpu.sse.mxcsr & 0x3f).toBe(0x4 | 0x20);
    expect(cpu.sse.f32[1]).toBe(2);
  });

  it('an unmasked pre-computation exception suppresses the post-computation flags', () => {
    // divps with ZM and PM unmasked: lane 0 raises ZE; lane 1's PE is not reported.
    const { r, cpu } = run([0x0f, 0x5e, 0xc1], setupDiv(0x1f80 & ~0x1200));
    expect(r.exception?.vector).toBe(XM);
    expect(cpu.sse.mxcsr & 0x3f).toBe(0x4);
  });

  it('masked exceptions only set flags', () => {
    const { r, cpu } = run([0x0f, 0x5e, 0xc1], setupDiv(0x1f80));
    expect(r.exception).toBeUndefined();
    expect(cpu.sse.mxcsr & 0x3f).toBe(0x24);
    expect(cpu.sse.f32[0]).toBe(Infinity);
  });
});

describe('LDMXCSR / STMXCSR', () => {
  it('a reserved bit (16-31) in the LDMXCSR operand is #GP(0) and MXCSR keeps its value', () => {
    const { r, cpu } = run(LDMXCSR, (cpu) => {
      enableSse(cpu);
      cpu.bus.mem.write(DATA_ADDR, 4, 0x11f80);
    });
    expect(r.exception).toMatchObject({ vector: GP, errorCode: 0 });
    expect(cpu.sse.mxcsr).toBe(0x1f80);
  });

  it('STMXCSR stores the power-on value 0x1F80', () => {
    const { r, h } = run(STMXCSR);
    expect(r.exception).toBeUndefined();
    expect(h.cpu.bus.mem.read(DATA_ADDR, 4)).toBe(0x1f80);
  });
});

describe('MMX state: the x87 → MMX transition and EMMS', () => {
  it('an MMX instruction sets TOP=0, all tags valid, and the written register\'s exponent to all ones', () => {
    const { cpu } = run(PADDB_MM0_MM1, (cpu) => {
      enableSse(cpu);
      cpu.fpu.top = 5;
      cpu.fpu.ftw = 0xffff;
      cpu.fpu.mant[0] = 0x04030201; // MM0 = R0's significand
      cpu.fpu.mant[2] = 0x01010101; // MM1 = R1's significand
    });
    expect(cpu.fpu.top).toBe(0);
    expect(cpu.fpu.ftw).toBe(0);
    expect(cpu.fpu.mant[0]).toBe(0x05040302);
    expect(cpu.fpu.exp[0]).toBe(0xffff);
    expect(cpu.fpu.exp[1]).toBe(0); // read, not written
  });

  it('EMMS marks every register empty', () => {
    const { cpu } = run([...PADDB_MM0_MM1, ...EMMS]);
    expect(cpu.fpu.ftw).toBe(0xffff);
  });
});

describe('CPUID and snapshots', () => {
  it('CPUID.1:EDX advertises CLFSH, MMX, FXSR, SSE and SSE2, EBX[15:8] the 64-byte CLFLUSH line', () => {
    const [, ebx, ecx, edx] = cpuid(1, 0);
    for (const bit of [19, 23, 24, 25, 26]) expect((edx >>> bit) & 1, `bit ${bit}`).toBe(1);
    expect((ebx >> 8) & 0xff).toBe(8);
    // Nothing beyond SSE2: SSE3 (0), SSSE3 (9), SSE4.1 (19), SSE4.2 (20), POPCNT (23), AVX (28) clear.
    for (const bit of [0, 9, 19, 20, 23, 28]) expect((ecx >>> bit) & 1, `ecx bit ${bit}`).toBe(0);
  });

  it('the XMM registers and MXCSR survive a save/load round trip', () => {
    const h = CpuHarness.flat32();
    const cpu = h.cpu;
    for (let i = 0; i < 64; i++) cpu.sse.u32[i] = (i * 0x9e3779b9) >>> 0;
    cpu.sse.mxcsr = 0x9fc0 | 0x21;
    const saved = JSON.parse(JSON.stringify(cpu.saveState()));
    const h2 = CpuHarness.flat32();
    h2.cpu.loadState(saved, cpu.stateVersion);
    expect(Array.from(h2.cpu.sse.u32)).toEqual(Array.from(cpu.sse.u32));
    expect(h2.cpu.sse.mxcsr).toBe(0x9fe1);
  });

  it('reserved MXCSR bits or a short register file in a snapshot are rejected before anything changes', () => {
    const h = CpuHarness.flat32();
    const good = h.cpu.saveState();
    const eip = h.cpu.s.eip;
    const bad1 = { ...good, eip: 0x1234, sse: { ...good.sse, mxcsr: 0x10000 } };
    const bad2 = { ...good, eip: 0x1234, sse: { ...good.sse, xmm: good.sse.xmm.slice(0, 32) } };
    expect(() => h.cpu.loadState(bad1, h.cpu.stateVersion)).toThrow(SnapshotError);
    expect(() => h.cpu.loadState(bad2, h.cpu.stateVersion)).toThrow(SnapshotError);
    expect(h.cpu.s.eip).toBe(eip);
  });
});
