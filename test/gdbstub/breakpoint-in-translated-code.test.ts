/**
 * A debugger breakpoint stops the CPU at its address even when the code there already runs as
 * JIT-translated blocks (the case of a breakpoint on a kernel function the guest has been
 * running for minutes), in the middle of a block as at its start, while blocks that hold no
 * breakpoint keep running translated. The code runs at the kernel-style upper-half alias
 * 0xFFFFFFFF_80100000, so the breakpoint is given as gdb gives a kernel address.
 *
 *   mov ecx, 3000         ; +0
 *   l: inc rax            ; +5   (loop head)
 *   add rbx, 2            ; +8   (mid-block)
 *   dec ecx               ; +12
 *   jnz l                 ; +14
 *   hlt                   ; +16  (appended by the harness)
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, HIGH_ALIAS, LongModeHarness } from '../helpers/cpu-harness64.js';
import { CpuExit } from '../../src/cpu/x86/cpu.js';
import type { JitEngine } from '../../src/cpu/x86/jit/jit-engine.js';
import { MachineDebugger } from '../../src/machine/debugger.js';
import { countRunBlock } from '../helpers/run-block-counts.js';

const LOOP = [0xb9, 0xb8, 0x0b, 0x00, 0x00, 0x48, 0xff, 0xc0, 0x48, 0x83, 0xc3, 0x02, 0xff, 0xc9, 0x75, 0xf5];
const BASE = HIGH_ALIAS + BigInt(CODE_ADDR);

/** The loop run for `budget` instructions through the JIT (translated at first sight). */
function loopPartlyRun(budget: number) {
  const h = LongModeHarness.flat64({ jit: true });
  const engine = h.cpu.blockEngine as JitEngine;
  const counts = countRunBlock(engine);
  const r = h.run({
    code: LOOP, budget,
    setup: (cpu) => {
      cpu.s.eip = Number(BASE & 0xffffffffn);
      cpu.s.ripHi = -1;
    },
  });
  expect(r.exit).toBe('budget');
  return { h, cpu: h.cpu, engine, counts, dbg: new MachineDebugger(h.cpu) };
}

const rax = (cpu: LongModeHarness['cpu']) => cpu.s.gpr[0]!;
const rbx = (cpu: LongModeHarness['cpu']) => cpu.s.gpr[3]!;

describe('breakpoints in JIT-translated code', () => {
  for (const [where, offset, hardware] of [['mid-block', 8, false], ['at the loop head', 5, true]] as const) {
    it(`a ${hardware ? 'hardware' : 'software'} breakpoint ${where} stops there although the loop already runs translated`, () => {
      const { cpu, engine, counts, dbg } = loopPartlyRun(1000);
      expect(engine.stats.translated).toBeGreaterThan(0);
      const translatedBefore = counts.translated;
      expect(translatedBefore).toBeGreaterThan(900);
      const passes = rax(cpu);
      expect(passes).toBeGreaterThan(100);
      expect(passes).toBeLessThan(3000);

      const address = dbg.linearOf(BASE + BigInt(offset));
      expect(dbg.insertBreakpoint(address, hardware)).toBe(true);
      dbg.prepareResume();
      let exit = cpu.run(100_000);
      expect(exit).toBe(CpuExit.Requested);
      expect(dbg.takeStop()).toEqual({ kind: 'breakpoint', address, hardware });
      expect(cpu.s.eip >>> 0).toBe(Number((BASE + BigInt(offset)) & 0xffffffffn));
      expect(cpu.s.ripHi).toBe(-1);
      // Stopped before the instruction at the breakpoint: at +8 INC has run and ADD not yet.
      if (offset === 8) expect(rbx(cpu)).toBe(2 * (rax(cpu) - 1));
      else expect(rbx(cpu)).toBe(2 * rax(cpu));
      expect(rax(cpu) - passes).toBeLessThanOrEqual(1);

      // Resumed, the breakpoint is stepped over once and hit on the next pass.
      dbg.prepareResume();
      exit = cpu.run(100_000);
      expect(dbg.takeStop()).toEqual({ kind: 'breakpoint', address, hardware });
      expect(rax(cpu) - passes).toBeLessThanOrEqual(2);

      // Without breakpoints the translated code takes over again and the loop ends.
      dbg.removeBreakpoint(address, hardware);
      expect(cpu.debugHook).toBeUndefined();
      dbg.prepareResume();
      for (let i = 0; i < 100 && exit !== CpuExit.Halted; i++) exit = cpu.run(100_000);
      expect(exit).toBe(CpuExit.Halted);
      expect(rax(cpu)).toBe(3000);
      expect(rbx(cpu)).toBe(6000);
      expect(counts.translated).toBeGreaterThan(translatedBefore + 5000);
    });
  }

  it('a breakpoint outside a block leaves it to translated code: a breakpoint on the HLT stops after the loop ran translated', () => {
    const { cpu, counts, dbg } = loopPartlyRun(1000);
    const before = counts.translated;
    const retiredBefore = cpu.retired;
    const address = dbg.linearOf(BASE + 16n);
    dbg.insertBreakpoint(address, false);
    dbg.prepareResume();
    let stop;
    for (let i = 0; i < 100 && stop === undefined; i++) {
      cpu.run(100_000);
      stop = dbg.takeStop();
    }
    expect(stop).toEqual({ kind: 'breakpoint', address, hardware: false });
    expect(cpu.s.halted).toBe(false);
    expect(rax(cpu)).toBe(3000);
    // Nearly all of the ~8,000 instructions left ran as translated blocks.
    const retired = cpu.retired - retiredBefore;
    expect(retired).toBeGreaterThan(7000);
    expect(counts.translated - before).toBeGreaterThan(retired - 10);
  });
});
