/**
 * The debugger's hook into the CPU's run loop (breakpoints, single-step; src/machine/
 * debugger.ts implements it for the gdbstub and installs it with `X86Cpu.setDebugger`). The
 * guest's own debug registers and single step use the same route (debug-exceptions.ts
 * DebugUnit). The CPU holds the hook in `X86Cpu.debugHook` only while either needs it (both
 * combined when both do), so that the per-instruction check costs one load otherwise.
 *
 * Execution engines other than the interpreter (a JIT) must honour it: while `debugHook` is
 * set, the CPU calls the hook before each run of translated blocks, and the engine runs a
 * block only when `mayRunBlock` allows it (no breakpoint among its bytes, no single step,
 * no watchpoint); otherwise the interpreter executes the instruction, hook first. So code
 * translated before a breakpoint was set stops there all the same, and the rest of the guest
 * keeps its translated speed while breakpoints wait (QEMU's TCG instead retranslates the
 * blocks that hold one).
 */
import type { X86Cpu } from './cpu.js';

export interface CpuDebugHook {
  /**
   * Called before each instruction (after any interrupt or exception delivery, so at the
   * first instruction of a handler too). Returns true to stop before executing it: the hook
   * has then recorded why and set `cpu.exitRequested`, and `run` returns at once.
   */
  beforeInstruction(cpu: X86Cpu): boolean;
  /**
   * While true the CPU delivers no external interrupt or NMI (they stay pending): a
   * debugger's single step executes the instruction at PC rather than entering a handler, as
   * QEMU's default SSTEP_NOIRQ does — otherwise `stepi` in a kernel with its timer pending
   * lands in the timer interrupt, never on the next instruction.
   */
  readonly holdsInterrupts: boolean;
  /**
   * Whether translated code may run the `bytes` bytes of code at the current PC (CS base +
   * EIP/RIP) as one block: false when a breakpoint lies among them, and always while a single
   * step or a watchpoint is active (translated memory accesses bypass the watch).
   */
  mayRunBlock(cpu: X86Cpu, bytes: number): boolean;
}
