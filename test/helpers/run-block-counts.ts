/**
 * Counts what a block engine's runBlock does, for tests that must see code run as translated
 * code (or not asked for at all): wraps `engine.runBlock` in place.
 */
import type { BlockEngine } from '../../src/cpu/x86/cpu.js';

export interface RunBlockCounts {
  /** runBlock calls: the run loop's lookups. */
  calls: number;
  /** Instructions retired by translated code. */
  translated: number;
}

export function countRunBlock(engine: BlockEngine): RunBlockCounts {
  const counts: RunBlockCounts = { calls: 0, translated: 0 };
  const runBlock = engine.runBlock.bind(engine);
  engine.runBlock = (cpu, budget) => {
    const n = runBlock(cpu, budget);
    counts.calls++;
    counts.translated += n;
    return n;
  };
  return counts;
}
