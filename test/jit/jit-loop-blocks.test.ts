/**
 * Blocks that branch back to their own start run as a loop inside one JavaScript function,
 * and conditional branches leave a block from its middle (side exits). Both must keep the
 * interpreter's instruction counts exactly — a budget that ends in the middle of a loop stops
 * at the same instruction (-icount runs depend on it) — and a fault in a later pass of a loop
 * must count the passes before it.
 */
import { describe, expect, it } from 'vitest';
import { CpuHarness, DATA_ADDR, GDT_SELECTORS, runOnBothEngines } from '../helpers/cpu-harness.js';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

/** mov ecx, n; L: add eax, ecx; xor ebx, eax; dec ecx; jnz L (a loop closed by Jcc). */
const jccLoop = (n: number) => [0xb9, ...le32(n), 0x01, 0xc8, 0x31, 0xc3, 0x49, 0x75, 0x100 - 7];

/** mov ecx, n; L: dec ecx; jz out; add eax, ecx; jmp L; out: (a loop closed by JMP, left by a side exit). */
const jmpLoop = (n: number) => [0xb9, ...le32(n), 0x49, 0x74, 0x04, 0x01, 0xc8, 0xeb, 0x100 - 7];


describe('JIT loop blocks and side exits', () => {
  for (const [name, code] of [['Jcc', jccLoop(5000)], ['JMP', jmpLoop(5000)]] as const) {
    it(`a loop closed by ${name} gives the interpreter's registers, flags and instruction count`, () => {
      const { a, b, interpCpu, jitCpu } = runOnBothEngines([...code], 1_000_000);
      expect(a.exit).toBe('halt');
      expect(b.regs).toEqual(a.regs);
      expect(b.eflags).toBe(a.eflags);
      expect(b.eip).toBe(a.eip);
      expect(jitCpu.retired).toBe(interpCpu.retired);
    });

    it(`a budget ending inside a ${name} loop stops at the same instruction as the interpreter`, () => {
      for (const budget of [1, 2, 7, 100, 1001, 4096, 9999]) {
        const { a, b, interpCpu, jitCpu } = runOnBothEngines([...code], budget);
        expect(b.exit, `budget ${budget}`).toBe('budget');
        expect(jitCpu.retired, `budget ${budget}`).toBe(interpCpu.retired);
        expect(b.eip, `budget ${budget}`).toBe(a.eip);
        expect(b.regs, `budget ${budget}`).toEqual(a.regs);
      }
    });
  }

  it('the loop goes round inside one block run (the engine runs it once per budget)', () => {
    const { engine, jitCpu } = runOnBothEngines(jccLoop(5000), 1_000_000);
    // 5000 passes of 4 instructions: far fewer block runs than passes.
    expect(jitCpu.retired).toBe(1 + 5000 * 4 + 1);
    expect(engine.stats.blocksRun).toBeLessThan(100);
  });

  it('a fault in a later pass of a loop counts the passes before it and restarts the faulting store', () => {
    // DS = a data segment with limit 0xFFF; L: mov [edi], eax; add edi, 4; inc eax; jmp L.
    // From EDI = 0xF00 (above the harness's GDT), the store at EDI = 0x1000 faults (#GP(0))
    // after 0x40 passes.
    const code = [0x89, 0x07, 0x83, 0xc7, 0x04, 0x40, 0xeb, 0x100 - 8];
    const setup = (cpu: CpuHarness['cpu']) => {
      cpu.loadSeg(3, GDT_SELECTORS.DATA_SMALL);
      cpu.s.gpr[7] = 0xf00;
    };
    const { a, b, interpCpu, jitCpu } = runOnBothEngines(code, 1_000_000, setup);
    expect(a.exception?.vector).toBe(13);
    expect(b.exception).toEqual(a.exception);
    expect(b.regs.edi).toBe(0x1000);
    expect(b.regs).toEqual(a.regs);
    expect(jitCpu.retired).toBe(interpCpu.retired);
  });

  it('a side exit in the middle of a block leaves with the flags and EIP of the branch', () => {
    // cmp eax, 3; jb out; mov ebx, 1; out: mov edx, 2 — once taken (eax 1), once not (eax 9).
    const code = [0x83, 0xf8, 0x03, 0x72, 0x05, 0xbb, ...le32(1), 0xba, ...le32(2)];
    for (const eax of [1, 9]) {
      const { a, b, interpCpu, jitCpu } = runOnBothEngines(code, 1000, (cpu) => {
        cpu.s.gpr[0] = eax;
      });
      expect(b.regs).toEqual(a.regs);
      expect(b.eflags).toBe(a.eflags);
      expect(jitCpu.retired).toBe(interpCpu.retired);
    }
  });

  it('data written by a loop lands where the interpreter puts it', () => {
    // edi = DATA_ADDR; ecx = 64; L: mov [edi], ecx; add edi, 4; dec ecx; jnz L
    const code = [0xbf, ...le32(DATA_ADDR), 0xb9, ...le32(64), 0x89, 0x0f, 0x83, 0xc7, 0x04, 0x49, 0x75, 0x100 - 8];
    const { a, b } = runOnBothEngines(code, 100_000);
    expect(Array.from(b.read(DATA_ADDR, 256))).toEqual(Array.from(a.read(DATA_ADDR, 256)));
  });
});
