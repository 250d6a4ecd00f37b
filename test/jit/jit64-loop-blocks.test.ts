/**
 * 64-bit mode: blocks that branch back to their own start run as a loop inside one JavaScript
 * function, and conditional branches leave a block from its middle (side exits). Both must
 * keep the interpreter's instruction counts exactly — a budget that ends in the middle of a
 * loop stops at the same instruction with the same registers and RFLAGS — a fault in a later
 * pass must count the passes before it, and a loop in the upper half leaves RIP's high half
 * right. Bytes assembled with nasm (`bits 64`).
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, DATA_ADDR, HIGH_ALIAS, LongModeHarness, le32, runOnBothEngines64, type Run64Input } from '../helpers/cpu-harness64.js';

const hex = (s: string) => (s.match(/../g) ?? []).map((b) => parseInt(b, 16));

/** mov ecx, n ; L: add rax, rcx ; xor rbx, rax ; dec ecx ; jnz L (a loop closed by Jcc). */
const jccLoop = (n: number) => [0xb9, ...le32(n), ...hex('4801c84831c3ffc975f6')];
/** mov ecx, n ; L: dec ecx ; jz O ; add rax, rcx ; jmp L ; O: (a loop closed by JMP, left by a side exit). */
const jmpLoop = (n: number) => [0xb9, ...le32(n), ...hex('ffc974054801c8ebf7')];
/** L: add rax, 8 ; cmp rax, rbx ; jb L (64-bit flags read at the loop's branch). */
const cmpLoop = hex('4883c0084839d872f7');
/**
 * L: mov rsi, rcx ; and esi, 63 ; add rax, [rdi+rsi*8] ; adc rdx, 0 ; mov [rdi+rsi*8+512], rax ;
 * sub rcx, 1 ; jnz L (memory through the inlined TLB hit, a carry chain).
 */
const memLoop = hex('4889ce83e63f480304f74883d200488984f7000200004883e90175e4');


/** Starts the code at the canonical address `rip` (an alias of CODE_ADDR). */
function startAt(rip: bigint): Run64Input['setup'] {
  return (cpu) => {
    cpu.s.eip = Number(rip & 0xffffffffn);
    cpu.s.ripHi = Number(BigInt.asIntN(32, rip >> 32n));
  };
}

const LOOPS: [string, number[], Run64Input['regs']][] = [
  ['Jcc', jccLoop(5000), {}],
  ['JMP', jmpLoop(5000), {}],
  ['CMP/JB at 64 bits', cmpLoop, { rax: 0xfffffffffff00000n, rbx: 0xfffffffffff9c400n }],
  ['memory and ADC', memLoop, { rcx: 3000n, rdi: BigInt(DATA_ADDR) }],
];

describe('JIT loop blocks and side exits, 64-bit mode', () => {
  for (const [name, code, regs] of LOOPS) {
    it(`a loop (${name}) gives the interpreter's registers, RFLAGS, memory and instruction count`, () => {
      const { a, b, retiredA, retiredB } = runOnBothEngines64({ code, regs, budget: 1_000_000 });
      expect(a.exit).toBe('halt');
      expect(b.regs).toEqual(a.regs);
      expect(b.rflags).toBe(a.rflags);
      expect(b.rip).toBe(a.rip);
      expect(retiredB).toBe(retiredA);
      for (let off = 0; off < 1024; off += 8) expect(b.read64(DATA_ADDR + off)).toBe(a.read64(DATA_ADDR + off));
    });

    it(`a budget ending inside a loop (${name}) stops at the same instruction, registers and RFLAGS as the interpreter`, () => {
      for (const budget of [1, 2, 3, 7, 100, 1001, 4096, 9999]) {
        const { a, b, retiredA, retiredB } = runOnBothEngines64({ code, regs, budget });
        expect(b.exit, `budget ${budget}`).toBe('budget');
        expect(retiredB, `budget ${budget}`).toBe(retiredA);
        expect(b.rip, `budget ${budget}`).toBe(a.rip);
        expect(b.regs, `budget ${budget}`).toEqual(a.regs);
        expect(b.rflags, `budget ${budget}`).toBe(a.rflags);
      }
    });
  }

  it('the loop goes round inside one block run (the engine runs it once per budget)', () => {
    const { engine, retiredB } = runOnBothEngines64({ code: jccLoop(5000), budget: 1_000_000 });
    // 5000 passes of 4 instructions: far fewer block runs than passes.
    expect(retiredB).toBe(1 + 5000 * 4 + 1);
    expect(engine.stats.blocksRun).toBeLessThan(100);
  });

  it('a loop in the upper half leaves RIP with its high half, at its end and when the budget runs out', () => {
    for (const budget of [5, 1000, 1_000_000]) {
      const { a, b, retiredA, retiredB } = runOnBothEngines64({ code: jccLoop(300), budget, setup: startAt(HIGH_ALIAS + BigInt(CODE_ADDR)) });
      expect(b.rip, `budget ${budget}`).toBe(a.rip);
      expect(b.regs).toEqual(a.regs);
      expect(retiredB).toBe(retiredA);
    }
  });

  it('a fault in a later pass of a loop counts the passes before it and restarts the faulting store', () => {
    // L: mov [rdi], rax ; add rdi, 8 ; inc rax ; jmp L — from RDI = 2 MiB - 0x200 the store to
    // 2 MiB (not mapped: #PF) faults after 64 passes.
    const code = hex('4889074883c70848ffc0ebf4');
    const { a, b, retiredA, retiredB } = runOnBothEngines64({ code, regs: { rdi: 0x200000n - 0x200n } });
    expect(a.exception?.vector).toBe(14);
    expect(b.exception).toEqual(a.exception);
    expect(b.regs.rdi).toBe(0x200000n);
    expect(b.regs).toEqual(a.regs);
    expect(b.cpu.s.cr2).toBe(a.cpu.s.cr2);
    expect(retiredB).toBe(retiredA);
  });

  it('a loop that rewrites its own code each pass (through the inlined store once the page is dirty) runs the new code', () => {
    // mov ecx, 5 ; nop ; nop ; L: mov eax, 1 ; add rbx, rax ; inc dword [rel L+1] ; dec ecx ; jnz L
    // (the immediate dword aligned, as the inlined store needs)
    const code = hex('b9050000009090b8010000004801c3ff05f3ffffffffc975ee');
    const { a, b, retiredA, retiredB } = runOnBothEngines64({ code });
    expect(a.regs.rbx).toBe(15n); // 1 + 2 + 3 + 4 + 5
    expect(b.regs).toEqual(a.regs);
    expect(retiredB).toBe(retiredA);
  });

  it('a side exit in the middle of a block leaves with the flags and RIP of the branch', () => {
    // cmp rax, 3 ; jb O ; mov ebx, 1 ; O: mov edx, 2 — taken (rax 1), not taken (rax 9), and
    // the upper-half alias.
    const code = hex('4883f8037205bb01000000ba02000000');
    for (const rax of [1n, 9n, 0x8000000000000000n]) {
      for (const setup of [undefined, startAt(HIGH_ALIAS + BigInt(CODE_ADDR))]) {
        const { a, b, retiredA, retiredB } = runOnBothEngines64({ code, regs: { rax }, setup });
        expect(b.regs).toEqual(a.regs);
        expect(b.rflags).toBe(a.rflags);
        expect(b.rip).toBe(a.rip);
        expect(retiredB).toBe(retiredA);
      }
    }
  });
});
