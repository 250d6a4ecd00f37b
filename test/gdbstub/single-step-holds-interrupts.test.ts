/**
 * A debugger's single step executes the instruction at PC even when an external interrupt is
 * pending and IF = 1 (QEMU's default SSTEP_NOIRQ): gdb's `stepi` in a kernel whose timer is
 * always about to fire must land on the next instruction, not in the timer handler. The
 * interrupt stays pending and is taken as soon as the VM continues. A stepped HLT ends the
 * step (PC after it), and a step from a halted CPU lets the interrupt wake it.
 */
import { describe, expect, it } from 'vitest';
import { CELLS64, CODE_ADDR, LongModeHarness } from '../helpers/cpu-harness64.js';
import { CpuExit, type X86Cpu } from '../../src/cpu/x86/cpu.js';
import { MachineDebugger } from '../../src/machine/debugger.js';

const VECTOR = 0x40;
const IF = 0x200;

/** A harness whose interrupt controller holds one pending interrupt (VECTOR) until acknowledged. */
function withPendingInterrupt() {
  const h = LongModeHarness.flat64();
  const irq = { pending: true, acknowledged: 0 };
  (h.cpu.bus as { interrupts: X86Cpu['bus']['interrupts'] }).interrupts = {
    hasInterrupt: () => irq.pending,
    acknowledge: () => {
      irq.pending = false;
      irq.acknowledged++;
      return VECTOR;
    },
  };
  return { h, irq };
}

/** Runs until the debugger reports a stop or the CPU halts (at most `rounds` run calls). */
function runUntilStop(cpu: X86Cpu, dbg: MachineDebugger, rounds = 10) {
  for (let i = 0; i < rounds; i++) {
    const exit = cpu.run(1000);
    const stop = dbg.takeStop();
    if (stop) return { stop, exit };
    if (exit === CpuExit.Halted) return { stop, exit };
  }
  return { stop: undefined, exit: undefined };
}

const rip = (cpu: X86Cpu) => cpu.s.eip >>> 0;

describe('single step and pending interrupts', () => {
  it('steps the instruction at PC with an interrupt pending and IF set; continuing takes the interrupt', () => {
    const { h, irq } = withPendingInterrupt();
    // nop; inc rax; nop — prepared with the interrupt held off (budget 0: nothing runs).
    const code = [0x90, 0x48, 0xff, 0xc0, 0x90];
    irq.pending = false;
    h.run({ code, rflags: IF, budget: 0 });
    const cpu = h.cpu;
    expect(rip(cpu)).toBe(CODE_ADDR);
    irq.pending = true;
    const dbg = new MachineDebugger(cpu);

    dbg.armStep();
    dbg.prepareResume();
    expect(runUntilStop(cpu, dbg).stop).toEqual({ kind: 'step' });
    expect(rip(cpu)).toBe(CODE_ADDR + 1);
    dbg.armStep();
    dbg.prepareResume();
    expect(runUntilStop(cpu, dbg).stop).toEqual({ kind: 'step' });
    expect(rip(cpu)).toBe(CODE_ADDR + 4);
    expect(cpu.s.gpr[0]).toBe(1);
    expect(irq.acknowledged).toBe(0);
    expect(irq.pending).toBe(true);
    expect(cpu.debugHook).toBeUndefined();

    // Continuing (no debugger hook left): the interrupt is taken before the next instruction;
    // the recording handler saw RIP = the NOP after INC.
    const r = runUntilStop(cpu, dbg);
    expect(r.exit).toBe(CpuExit.Halted);
    expect(irq.acknowledged).toBe(1);
    expect(h.read64(CELLS64)).toBe(BigInt(VECTOR)); // the vector cell
    expect(h.read64(CELLS64 + 16)).toBe(BigInt(CODE_ADDR + 4)); // the RIP cell
  });

  it('a stepped HLT ends the step at the next instruction; a step from a halted CPU wakes it through the interrupt', () => {
    const { h, irq } = withPendingInterrupt();
    irq.pending = false;
    h.run({ code: [], rflags: IF, budget: 0 }); // the harness's HLT alone
    const cpu = h.cpu;
    const dbg = new MachineDebugger(cpu);
    dbg.armStep();
    dbg.prepareResume();
    const r = runUntilStop(cpu, dbg);
    expect(r.stop).toEqual({ kind: 'step' });
    expect(cpu.s.halted).toBe(true);
    expect(rip(cpu)).toBe(CODE_ADDR + 1);

    // Halted: only an interrupt makes progress, so the next step lets it in and ends at the
    // handler's first instruction.
    irq.pending = true;
    dbg.armStep();
    dbg.prepareResume();
    expect(runUntilStop(cpu, dbg).stop).toEqual({ kind: 'step' });
    expect(irq.acknowledged).toBe(1);
    expect(cpu.s.halted).toBe(false);
    expect(rip(cpu)).toBe(h.handler(VECTOR));
  });
});
