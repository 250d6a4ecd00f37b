/**
 * The interpreter engine: runs the reference x86 interpreter in batches, advancing the
 * virtual clock between them.
 *
 * Real-time mode: the clock follows the host, so we only need to look at it every batch.
 * Deterministic mode (-icount): each instruction is 2^shift ns of virtual time, and a batch
 * is cut exactly at the next deadline so that timers fire at the same instruction every run.
 */
import { CpuExit, type X86Cpu } from '../../cpu/x86/cpu.js';
import type { VirtualClock } from '../../machine/clock.js';
import { RunExit, type Accelerator } from '../accelerator.js';

/** Instructions per batch between clock checks in real-time mode (≈ tens of µs). */
const BATCH = 4096;
/** Instructions a translated block may run past a real-time batch: more than any block's length. */
const BLOCK_SLACK = 1024;

export class InterpreterAccel implements Accelerator {
  constructor(
    private readonly cpu: X86Cpu,
    private readonly clock: VirtualClock,
    /** 'interp', or 'jit' when the CPU has a block engine attached (src/cpu/x86/jit/). */
    readonly name: 'interp' | 'jit' = 'interp',
  ) {}

  get instructionsRetired(): number {
    return this.cpu.retired;
  }

  requestExit(): void {
    this.cpu.exitRequested = true;
  }

  run(untilNs: number): RunExit {
    const cpu = this.cpu;
    const clock = this.clock;
    const nsPerInsn = clock.nsPerInstruction;
    // Real-time mode: a translated block may end past the batch (see X86Cpu.budgetSlack).
    cpu.budgetSlack = nsPerInsn > 0 ? 0 : BLOCK_SLACK;
    for (;;) {
      let budget = BATCH;
      if (nsPerInsn > 0) {
        const left = Math.ceil((untilNs - clock.nowNs()) / nsPerInsn);
        if (left <= 0) return RunExit.Deadline;
        budget = Math.min(BATCH, left);
      }
      const exit = cpu.run(budget);
      clock.retire(cpu.lastRunCount);
      switch (exit) {
        case CpuExit.Halted: return RunExit.Halted;
        case CpuExit.Requested: return RunExit.Requested;
        case CpuExit.TripleFault: return RunExit.TripleFault;
      }
      if (clock.nowNs() >= untilNs) return RunExit.Deadline;
    }
  }
}
