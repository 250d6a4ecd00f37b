/**
 * X86Cpu.budgetSlack: in real-time mode a translated block longer than what is left of the
 * batch runs whole (the interpreter engine sets the slack there); with no slack (-icount,
 * where the budget is exact) the run stops at the budget, the rest of the block interpreted.
 */
import { describe, expect, it } from 'vitest';
import { CpuHarness } from '../helpers/cpu-harness.js';

/** Ten INC EAX: one block of ten instructions (the HLT after them ends it). */
const code = new Array<number>(10).fill(0x40);

describe('JIT: the budget slack', () => {
  it('with no slack a run of 3 instructions stops after 3, inside the block', () => {
    const h = CpuHarness.flat32({ jit: true });
    const r = h.run({ code, budget: 3, setup: (cpu) => { cpu.budgetSlack = 0; } });
    expect(r.regs.eax).toBe(3);
    expect(h.cpu.retired).toBe(3);
  });

  it('with a slack the whole block runs although the budget is smaller', () => {
    const h = CpuHarness.flat32({ jit: true });
    const r = h.run({ code, budget: 3, setup: (cpu) => { cpu.budgetSlack = 1024; } });
    expect(r.regs.eax).toBe(10);
    expect(h.cpu.retired).toBe(10);
    expect(h.cpu.lastRunCount).toBe(10);
  });
});
