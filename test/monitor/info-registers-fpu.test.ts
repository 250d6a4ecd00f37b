/**
 * `info registers` as qemu-system-x86_64's HMP prints it (cpu_dump_state with CPU_DUMP_FPU,
 * target/i386/cpu-dump.c): 16-digit debug registers in the 32-bit form too, then FCW, FSW with
 * TOP, the abridged tag byte, MXCSR, the physical x87 registers R0-R7 and XMM0-7 (XMM0-15 in
 * 64-bit mode). Expected values are the SDM's: FNINIT leaves FCW 037FH and every register
 * empty; FLD1 pushes +1.0 (significand 8000000000000000H, exponent 3FFFH) into R7.
 */
import { describe, expect, it } from 'vitest';
import { formatRegisters } from '../../src/monitor/info-registers.js';
import { CpuHarness } from '../helpers/cpu-harness.js';
import { LongModeHarness } from '../helpers/cpu-harness64.js';

describe('info registers: the FPU and SSE part', () => {
  it('shows FCW, FSW with TOP, the tag byte, MXCSR, R0-R7 and XMM0-7 after FNINIT; FLD1', () => {
    const h = CpuHarness.flat32();
    h.run({
      code: [0xdb, 0xe3, 0xd9, 0xe8], // fninit ; fld1
      setup: (cpu) => {
        cpu.sse.u32.set([0x33333333, 0x44444444, 0x11111111, 0x22222222], 4 * 3); // XMM3
        cpu.s.dr[7] = 0x400;
      },
    });
    const lines = formatRegisters(h.cpu).split('\n');
    expect(lines).toContain('DR6=00000000ffff0ff0 DR7=0000000000000400');
    const fpu = lines.slice(lines.findIndex((l) => l.startsWith('FCW=')));
    expect(fpu).toEqual([
      'FCW=037f FSW=3800 [ST=7] FTW=80 MXCSR=00001f80',
      'FPR0=0000000000000000 0000 FPR1=0000000000000000 0000',
      'FPR2=0000000000000000 0000 FPR3=0000000000000000 0000',
      'FPR4=0000000000000000 0000 FPR5=0000000000000000 0000',
      'FPR6=0000000000000000 0000 FPR7=8000000000000000 3fff',
      'XMM00=0000000000000000 0000000000000000 XMM01=0000000000000000 0000000000000000',
      'XMM02=0000000000000000 0000000000000000 XMM03=2222222211111111 4444444433333333',
      'XMM04=0000000000000000 0000000000000000 XMM05=0000000000000000 0000000000000000',
      'XMM06=0000000000000000 0000000000000000 XMM07=0000000000000000 0000000000000000',
    ]);
  });

  it('shows XMM0-15 in 64-bit mode', () => {
    const h = LongModeHarness.flat64();
    const r = h.run({ code: [0x90], setup: (cpu) => cpu.sse.u32.set([1, 2, 3, 4], 4 * 15) });
    const lines = formatRegisters(r.cpu).split('\n');
    expect(lines[lines.length - 1]).toBe('XMM14=0000000000000000 0000000000000000 XMM15=0000000400000003 0000000200000001');
    expect(lines.filter((l) => l.startsWith('XMM'))).toHaveLength(8);
  });
});
