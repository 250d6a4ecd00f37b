/**
 * The JIT in 64-bit mode where translated code is most likely to go wrong: RIP-relative
 * operands (the end of the instruction, past any immediate; RIP's high half), blocks keyed by
 * the whole RIP, faults in the middle of a block (state, RIP and instruction count equal the
 * interpreter's), and code that rewrites itself. Bytes assembled with nasm (`bits 64`).
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, DATA_ADDR, HALF_ALIAS, HIGH_ALIAS, LongModeHarness, le32, type Run64Input } from '../helpers/cpu-harness64.js';
import type { JitEngine } from '../../src/cpu/x86/jit/jit-engine.js';
import { countRunBlock } from '../helpers/run-block-counts.js';

/** A JIT harness that counts the instructions its blocks retire. */
function jitHarness(): { h: LongModeHarness; translated: () => number } {
  const h = LongModeHarness.flat64({ jit: true });
  const counts = countRunBlock(h.cpu.blockEngine!);
  return { h, translated: () => counts.translated };
}

/** Starts the code at the canonical address `rip` (an alias of CODE_ADDR). */
function startAt(rip: bigint): Run64Input['setup'] {
  return (cpu) => {
    cpu.s.eip = Number(rip & 0xffffffffn);
    cpu.s.ripHi = Number(BigInt.asIntN(32, rip >> 32n));
  };
}

/**
 * Runs `input` on the interpreter and through the JIT; both outcomes and instruction counts.
 * Vectors in `ist` are delivered on IST1 (a fault of the stack itself needs a good stack).
 */
function both(input: Run64Input, ist: readonly number[] = []) {
  const interp = LongModeHarness.flat64();
  const { h, translated } = jitHarness();
  for (const harness of [interp, h]) for (const v of ist) harness.setIdtGate(v, BigInt(harness.handler(v)), { ist: 1 });
  const i0 = interp.cpu.retired;
  const a = interp.run(input);
  const j0 = h.cpu.retired;
  const b = h.run(input);
  return { a, b, retiredA: interp.cpu.retired - i0, retiredB: h.cpu.retired - j0, translated: translated() };
}

describe('JIT, 64-bit mode', () => {
  it('RIP-relative operands are relative to the end of the instruction, past its immediate', () => {
    // mov dword [C+0x1000], 0x11223344 ; cmp byte [C+0x1000], 0x44 ; lea rbx, [rel $] ; mov rax, [C+0x1000]
    // (C = CODE_ADDR, all three RIP-relative: disp32 0xff6, 0xfef, 0xfe1)
    const code = [0xc7, 0x05, 0xf6, 0x0f, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11, 0x80, 0x3d, 0xef, 0x0f, 0x00, 0x00, 0x44,
      0x48, 0x8d, 0x1d, 0xf9, 0xff, 0xff, 0xff, 0x48, 0x8b, 0x05, 0xe1, 0x0f, 0x00, 0x00];
    const { h, translated } = jitHarness();
    const r = h.run({ code });
    // The store lands at CODE_ADDR + 0x1000 (disp 0xff6 from the end at CODE_ADDR + 10, past
    // the imm32), and cmp (disp 0xfef from CODE_ADDR + 17, past the imm8) reads the same byte.
    expect(h.mem.read(CODE_ADDR + 0x1000, 4)).toBe(0x11223344);
    expect(r.rflags & 0x40).toBe(0x40);
    expect(r.regs.rbx).toBe(BigInt(CODE_ADDR + 17)); // the LEA's own address
    expect(r.regs.rax).toBe(0x11223344n);
    expect(translated()).toBe(4);
  });

  it('RIP-relative addresses in the upper half carry RIP\'s high half', () => {
    // lea rax, [rel $] ; mov rbx, [rel $+0x10000] (reads DATA_ADDR through the alias)
    const code = [0x48, 0x8d, 0x05, 0xf9, 0xff, 0xff, 0xff, 0x48, 0x8b, 0x1d, 0xf9, 0xff, 0x00, 0x00];
    const { h, translated } = jitHarness();
    const r = h.run({ code, setup: startAt(HIGH_ALIAS + BigInt(CODE_ADDR)), mem: [{ addr: DATA_ADDR + 7, bytes: [0xef, 0xbe, 0xad, 0xde, 1, 2, 3, 4] }] });
    expect(r.exception).toBeUndefined();
    expect(r.regs.rax).toBe(HIGH_ALIAS + BigInt(CODE_ADDR));
    expect(r.regs.rbx).toBe(0x04030201deadbeefn);
    expect(translated()).toBe(2);
  });

  it('a block is keyed by the whole RIP: the same page at another high half gets its own translation', () => {
    // lea rax, [rel $]: a translation-time constant. 0x00000000_00100000 and 0xFFFF8000_00100000
    // share the RAM index and the low half of RIP.
    const code = [0x48, 0x8d, 0x05, 0xf9, 0xff, 0xff, 0xff];
    const { h, translated } = jitHarness();
    expect(h.run({ code }).regs.rax).toBe(BigInt(CODE_ADDR));
    // Run again without rewriting the code: the block from the low alias stays cached.
    const cpu = h.cpu;
    cpu.s.eip = CODE_ADDR;
    cpu.s.ripHi = Number(BigInt.asIntN(32, HALF_ALIAS >> 32n));
    cpu.s.halted = false;
    cpu.run(2);
    expect((BigInt(cpu.s.gprHi[0]! >>> 0) << 32n) | BigInt(cpu.s.gpr[0]! >>> 0)).toBe(HALF_ALIAS + BigInt(CODE_ADDR));
    expect(translated()).toBe(2);
  });

  it.each([
    // xor edx, edx ; mov eax, 5 ; inc rbx ; div rcx (rcx = 0: #DE) ; inc rsi
    ['#DE from div', [0x31, 0xd2, 0xb8, 0x05, 0x00, 0x00, 0x00, 0x48, 0xff, 0xc3, 0x48, 0xf7, 0xf1, 0x48, 0xff, 0xc6], { rcx: 0n }, 0],
    // mov r8d, 1 ; add [rsi], r8 (rsi unmapped: #PF) ; inc rsi
    ['#PF from a store', [0x41, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x4c, 0x01, 0x06, 0x48, 0xff, 0xc6], { rsi: 0x40000000n }, 14],
    // inc rbx ; mov rax, [rsi] (non-canonical: #GP(0)) ; inc rsi
    ['#GP from a non-canonical load', [0x48, 0xff, 0xc3, 0x48, 0x8b, 0x06, 0x48, 0xff, 0xc6], { rsi: 0x0000800000000000n }, 13],
    // mov rsp, rsi ; inc rbx ; push rax (non-canonical stack: #SS(0))
    ['#SS from a push', [0x48, 0x89, 0xf4, 0x48, 0xff, 0xc3, 0x50], { rsi: 0x8000000000000008n }, 12],
    // inc rbx ; jmp rax (non-canonical target: #GP(0) at the jmp)
    ['#GP from a jump to a non-canonical address', [0x48, 0xff, 0xc3, 0xff, 0xe0], { rax: 0x0000800000000000n }, 13],
  ] as const)('a fault in the middle of a block (%s) leaves the interpreter\'s state, RIP and instruction count', (_, code, regs, vector) => {
    const { a, b, retiredA, retiredB, translated } = both({ code, regs }, [12]);
    expect(a.exception?.vector).toBe(vector);
    expect(b.exception).toEqual(a.exception);
    expect(b.regs).toEqual(a.regs);
    expect(b.rflags).toBe(a.rflags);
    expect(retiredB).toBe(retiredA);
    expect(a.cpu.s.cr2).toBe(b.cpu.s.cr2);
    // The instructions before the faulting one ran as translated code.
    expect(translated).toBeGreaterThan(0);
  });

  it('an instruction rewritten by an earlier store in the same block runs its new bytes', () => {
    // mov byte [rel C+8], 0x22 (the low byte of the next instruction's immediate) ; mov eax, 0x11
    const code = [0xc6, 0x05, 0x01, 0x00, 0x00, 0x00, 0x22, 0xb8, 0x11, 0x00, 0x00, 0x00];
    const { a, b, translated } = both({ code });
    expect(a.regs.rax).toBe(0x22n);
    expect(b.regs.rax).toBe(0x22n);
    expect(translated).toBeGreaterThan(0);
  });

  it('a translated loop body rewritten between iterations runs the new code', () => {
    // mov ecx, 2 ; L: mov eax, 1 ; add rbx, rax ; mov dword [rel L+1], 5 ; dec ecx ; jnz L
    const code = [0xb9, 0x02, 0x00, 0x00, 0x00, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x48, 0x01, 0xc3,
      0xc7, 0x05, 0xef, 0xff, 0xff, 0xff, 0x05, 0x00, 0x00, 0x00, 0xff, 0xc9, 0x75, 0xea];
    const { a, b, retiredA, retiredB } = both({ code });
    expect(a.regs.rbx).toBe(6n);
    expect(b.regs.rbx).toBe(6n);
    expect(retiredB).toBe(retiredA);
  });

  it('a store to a device that asks the run loop to look ends the block there, where the interpreter stops', () => {
    // mov [rsi], eax (rsi: an MMIO page whose write requests an exit) ; inc rbx ; inc rbx
    const code = [0x89, 0x06, 0x48, 0xff, 0xc3, 0x48, 0xff, 0xc3];
    const outcomes = [LongModeHarness.flat64(), jitHarness().h].map((h) => {
      let writes = 0;
      h.mem.mapMmio('exit-on-write', 0xfec00000, 0x1000, {
        mmioRead: () => 0,
        mmioWrite: () => {
          writes++;
          h.cpu.exitRequested = true;
        },
      });
      // PD[1]: virtual 0x200000-0x3FFFFF -> physical 0xFEC00000 (a 2 MiB page, P | RW | PS).
      h.write(0xb008, [0x83, 0x00, 0xc0, 0xfe, 0, 0, 0, 0]);
      h.run({ code, regs: { rsi: 0x200000n }, budget: 0 }); // state only
      const exit = h.cpu.run(100);
      return { exit, writes, rip: h.cpu.s.eip, rbx: h.cpu.s.gpr[3], count: h.cpu.lastRunCount };
    });
    expect(outcomes[0]).toEqual({ exit: 2, writes: 1, rip: CODE_ADDR + 2, rbx: 0, count: 1 });
    expect(outcomes[1]).toEqual(outcomes[0]);
  });

  it('a DMA write into a translated 64-bit page drops its blocks', () => {
    const { h } = jitHarness();
    const engine = h.cpu.blockEngine as JitEngine;
    const code = [0xb8, ...le32(7)]; // mov eax, 7
    expect(h.run({ code }).regs.rax).toBe(7n);
    const before = engine.stats.invalidated;
    h.mem.writeBytes(CODE_ADDR + 1, new Uint8Array([9]));
    expect(engine.stats.invalidated).toBeGreaterThan(before);
    // Run the page again as it is now.
    const cpu = h.cpu;
    cpu.s.eip = CODE_ADDR;
    cpu.s.ripHi = 0;
    cpu.s.halted = false;
    cpu.run(1);
    expect(cpu.s.gpr[0]).toBe(9);
  });
});
