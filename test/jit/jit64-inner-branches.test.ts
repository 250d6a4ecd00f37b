/**
 * 64-bit mode: a conditional branch to an instruction of its own block goes there inside
 * the block's function (block-compiler.ts emitSwitchBody). Registers, RFLAGS, RIP (its high
 * half too) and the instruction count must match the interpreter's, a budget must stop at
 * the same instruction, and a fault after branches inside the block must count exactly the
 * instructions before it. Bytes assembled with nasm (`bits 64`).
 */
import { describe, expect, it } from 'vitest';
import { HIGH_ALIAS, le32, runOnBothEngines64, type Run64Input } from '../helpers/cpu-harness64.js';

const hex = (s: string) => (s.match(/../g) ?? []).map((b) => parseInt(b, 16));

/**
 * mov ecx, n ; xor eax, eax ; L: add eax, ecx ; test cl, 1 ; jz S ; inc ebx ; S: dec ecx ; jnz L
 * — the back edge goes to the block's third instruction, with a forward branch inside.
 */
const innerLoop = (n: number) => [0xb9, ...le32(n), ...hex('31c001c8f6c1017402ffc3ffc975f3')];


describe('JIT branches inside a block, 64-bit mode', () => {
  it('a loop back to a middle instruction, with a skip inside, gives the interpreter\'s state and count', () => {
    const { a, b, retiredA, retiredB, engine } = runOnBothEngines64({ code: innerLoop(5000), budget: 1_000_000 });
    expect(a.exit).toBe('halt');
    expect(b.regs).toEqual(a.regs);
    expect(b.regs.rbx).toBe(2500n);
    expect(b.rflags).toBe(a.rflags);
    expect(b.rip).toBe(a.rip);
    expect(retiredB).toBe(retiredA);
    expect(engine.stats.blocksRun).toBeLessThan(100);
  });

  it('a budget ending anywhere in the loop stops at the interpreter\'s instruction, in the upper half too', () => {
    const setup: Run64Input['setup'] = (cpu) => {
      cpu.s.eip = Number(HIGH_ALIAS & 0xffffffffn);
      cpu.s.ripHi = Number(BigInt.asIntN(32, HIGH_ALIAS >> 32n));
    };
    for (const start of [undefined, setup]) {
      for (const budget of [1, 2, 3, 5, 6, 7, 8, 13, 100, 1001, 4096]) {
        const { a, b, retiredA, retiredB } = runOnBothEngines64({ code: innerLoop(5000), budget, setup: start });
        expect(b.exit, `budget ${budget}`).toBe(a.exit);
        expect(retiredB, `budget ${budget}`).toBe(retiredA);
        expect(b.rip, `budget ${budget}`).toBe(a.rip);
        expect(b.regs, `budget ${budget}`).toEqual(a.regs);
      }
    }
  });

  it('a fault after branches inside the block counts the instructions before it and restarts the store', () => {
    // L: test al, 1 ; jnz S ; mov [rdi], rax ; S: add rdi, 8 ; inc rax ; jmp L — from RDI =
    // 2 MiB - 0x200 the store to 2 MiB (not mapped: #PF) faults after 64 passes.
    const code = hex('a8017503488907' + '4883c70848ffc0ebf0');
    const { a, b, retiredA, retiredB } = runOnBothEngines64({ code, regs: { rdi: 0x200000n - 0x200n } });
    expect(a.exception?.vector).toBe(14);
    expect(b.exception).toEqual(a.exception);
    expect(b.regs.rdi).toBe(0x200000n);
    expect(b.regs).toEqual(a.regs);
    expect(b.cpu.s.cr2).toBe(a.cpu.s.cr2);
    expect(retiredB).toBe(retiredA);
  });
});
