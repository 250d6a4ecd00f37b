/**
 * A conditional branch to an instruction of its own block goes there inside the block's
 * function (block-compiler.ts emitSwitchBody) instead of leaving it. The interpreter's
 * registers, flags, EIP and instruction count must come out the same, a budget must stop at
 * the same instruction, and a fault after branches inside the block must count exactly the
 * instructions before it.
 */
import { describe, expect, it } from 'vitest';
import { CpuHarness, GDT_SELECTORS, runOnBothEngines } from '../helpers/cpu-harness.js';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

/**
 * mov ecx, n; xor eax, eax; L: add eax, ecx; test cl, 1; jz skip; inc ebx; skip: dec ecx; jnz L
 * — a loop whose back edge goes to the block's third instruction, with a forward branch
 * inside it.
 */
const innerLoop = (n: number) => [0xb9, ...le32(n), 0x31, 0xc0, 0x01, 0xc8, 0xf6, 0xc1, 0x01, 0x74, 0x01, 0x43, 0x49, 0x75, 0x100 - 11];


describe('JIT branches inside a block', () => {
  it('a loop back to a middle instruction, with a skip inside, gives the interpreter\'s state and count', () => {
    const { a, b, interpCpu, jitCpu, engine } = runOnBothEngines(innerLoop(5000), 1_000_000);
    expect(a.exit).toBe('halt');
    expect(b.regs).toEqual(a.regs);
    expect(b.regs.ebx).toBe(2500);
    expect(b.eflags).toBe(a.eflags);
    expect(b.eip).toBe(a.eip);
    expect(jitCpu.retired).toBe(interpCpu.retired);
    // 5000 passes go round inside a few block runs, not one run per pass.
    expect(engine.stats.blocksRun).toBeLessThan(100);
  });

  it('a budget ending anywhere in the loop stops at the interpreter\'s instruction', () => {
    for (const budget of [1, 2, 3, 4, 5, 6, 7, 8, 13, 100, 1001, 4096, 9999]) {
      const { a, b, interpCpu, jitCpu } = runOnBothEngines(innerLoop(5000), budget);
      expect(b.exit, `budget ${budget}`).toBe('budget');
      expect(jitCpu.retired, `budget ${budget}`).toBe(interpCpu.retired);
      expect(b.eip, `budget ${budget}`).toBe(a.eip);
      expect(b.regs, `budget ${budget}`).toEqual(a.regs);
      expect(b.eflags, `budget ${budget}`).toBe(a.eflags);
    }
  });

  it('a fault after branches inside the block counts the instructions before it and restarts the store', () => {
    // DS limit 0xFFF; L: test al, 1; jnz skip; mov [edi], eax; skip: add edi, 2; inc eax; jmp L.
    // Even EAX stores at EDI; from EDI = 0xF00 the store at EDI = 0x1000 faults (#GP(0)).
    const code = [0xa8, 0x01, 0x75, 0x02, 0x89, 0x07, 0x83, 0xc7, 0x02, 0x40, 0xeb, 0x100 - 12];
    const setup = (cpu: CpuHarness['cpu']) => {
      cpu.loadSeg(3, GDT_SELECTORS.DATA_SMALL);
      cpu.s.gpr[7] = 0xf00;
    };
    const { a, b, interpCpu, jitCpu } = runOnBothEngines(code, 1_000_000, setup);
    expect(a.exception?.vector).toBe(13);
    expect(b.exception).toEqual(a.exception);
    expect(b.regs.edi).toBe(0x1000);
    expect(b.regs).toEqual(a.regs);
    expect(b.eip).toBe(a.eip);
    expect(jitCpu.retired).toBe(interpCpu.retired);
  });

  it('the flags a branch target reads come from whichever path reached it', () => {
    // L: cmp eax, 5; jb low; add ebx, 1 (CF from ADD); low: adc edx, 0; inc eax; cmp eax, 10; jne L
    // — ADC at `low` reads CF from CMP on one path and from ADD on the other.
    const code = [0x83, 0xf8, 0x05, 0x72, 0x03, 0x83, 0xc3, 0x01, 0x83, 0xd2, 0x00, 0x40, 0x83, 0xf8, 0x0a, 0x75, 0x100 - 17];
    for (const ebx of [0, 0xffffffff, 0xfffffffe]) {
      const { a, b, interpCpu, jitCpu } = runOnBothEngines(code, 1000, (cpu) => {
        cpu.s.gpr[3] = ebx | 0;
      });
      expect(b.regs, `ebx ${ebx}`).toEqual(a.regs);
      expect(b.eflags).toBe(a.eflags);
      expect(jitCpu.retired).toBe(interpCpu.retired);
    }
  });
});
