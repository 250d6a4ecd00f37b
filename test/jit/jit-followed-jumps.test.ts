/**
 * A block goes on through a direct JMP to its own page (block-compiler.ts translateBlock):
 * the state, the instruction count and a fault's EIP stay the interpreter's, and a write to a
 * piece of code the block reached by a jump backwards drops the block.
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, CpuHarness } from '../helpers/cpu-harness.js';
import { JitEngine } from '../../src/cpu/x86/jit/jit-engine.js';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

function both(code: number[], regs: Record<string, number> = {}) {
  const run = (jit: boolean) => {
    const h = CpuHarness.flat32({ jit });
    const r = h.run({ code, regs });
    return { r, h, retired: h.cpu.retired };
  };
  return { interp: run(false), jit: run(true) };
}

describe('JIT: blocks that follow jumps', () => {
  it('forward and backward jumps inside the page run as one block with the interpreter’s results', () => {
    // 0: jmp L (interpreted: the first instruction after a reset)
    // 2: P: add eax, 3 ; jmp M
    // 7: L: mov ecx, 10 ; jmp P
    // 14: M: imul eax, eax, 5 ; dec ecx ; jnz P2 ; (hlt)
    // P2 at 2 again: a Jcc back into the followed piece is a side exit
    const code = [
      0xeb, 0x05, // jmp L (7)
      0x83, 0xc0, 0x03, // P: add eax, 3
      0xeb, 0x07, // jmp M (14)
      0xb9, ...le32(10), // L: mov ecx, 10  — at 7..12
      0xeb, 0xf4, // jmp P (2): next = 14, 2 - 14 = -12
      0x6b, 0xc0, 0x05, // M: imul eax, eax, 5
      0x49, // dec ecx
      0x75, 0x100 - 18, // jnz P (2): next = 20, 2 - 20 = -18
    ];
    const { interp, jit } = both(code);
    expect(jit.r.exit).toBe('halt');
    expect(jit.r.regs).toEqual(interp.r.regs);
    expect(jit.r.eflags).toBe(interp.r.eflags);
    expect(jit.retired).toBe(interp.retired);
    const engine = jit.h.cpu.blockEngine as JitEngine;
    expect(engine.stats.translated).toBeGreaterThan(0);
  });

  it('a fault after a followed jump reports the faulting instruction’s EIP and count', () => {
    // jmp +0 (interpreted) ; mov eax, 9 ; jmp +3 ; (3 bytes of ud2/nop skipped) ; inc ebx ; div ecx (ecx = 0: #DE) ; inc esi
    const code = [0xeb, 0x00, 0xb8, ...le32(9), 0xeb, 0x03, 0x0f, 0x0b, 0x90, 0x43, 0xf7, 0xf1, 0x46];
    const { interp, jit } = both(code, { ecx: 0 });
    expect(interp.r.exception?.vector).toBe(0);
    expect(interp.r.exception?.eip).toBe(CODE_ADDR + 13);
    expect(jit.r.exception).toEqual(interp.r.exception);
    expect(jit.r.regs).toEqual(interp.r.regs);
    expect(jit.retired).toBe(interp.retired);
  });

  it('a write to code reached by a jump backwards, below the block’s first byte, drops the block', () => {
    // The entry is in the page before, so that no other block of the code page starts at or
    // below P. At CODE_ADDR + 0x1000 (B):
    // B+0: P: mov eax, 1                 (immediate at B+1)
    // B+5: jmp M
    // B+7: L: jmp P                      (the block starts here and goes on at P, below it)
    // B+9: M: add ebx, eax ; mov dword [B+1], 5 ; dec edx ; jnz L ; hlt
    const B = 0x1000;
    const entry = [0xe9, ...le32(B + 7 - 5)]; // jmp L (rel32 from CODE+5)
    const body = [
      0xb8, ...le32(1),
      0xeb, 0x02,
      0xeb, 0x100 - 9,
      0x01, 0xc3,
      0xc7, 0x05, ...le32(CODE_ADDR + B + 1), ...le32(5),
      0x4a,
      0x75, 0x100 - 17,
    ];
    const code = [...entry, ...new Array<number>(B - entry.length).fill(0x90), ...body];
    const { interp, jit } = both(code, { edx: 2 });
    expect(interp.r.regs.ebx).toBe(6);
    expect(jit.r.regs.ebx).toBe(6);
    expect(jit.retired).toBe(interp.retired);
  });
});
