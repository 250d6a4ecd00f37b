/**
 * The debugger's hook into the CPU's run loop (breakpoints, single-step; src/machine/
 * debugger.ts implements it for the gdbstub). The CPU holds it in `X86Cpu.debugHook` only
 * while a debugger needs it, so that the per-instruction check costs one load otherwise.
 *
 * Execution engines other than the interpreter (a JIT) must honour it: while
 * `debugHook` is set they run the interpreter, or call the hook before every instruction.
 */
import type { X86Cpu } from './cpu.js';

export interface CpuDebugHook {
  /**
   * Called before each instruction (after any interrupt or exception delivery, so at the
   * first instruction of a handler too). Returns true to stop before executing it: the hook
   * has then recorded why and set `cpu.exitRequested`, and `run` returns at once.
   */
  beforeInstruction(cpu: X86Cpu): boolean;
}
