/**
 * Test helpers: machines running firmware/snapshot-test/ticks.bin (PIT, RTC and LAPIC timers
 * all busy) under -icount, driven slice by slice so that a test can stop at any point.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig, type MachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../src/machine/log.js';

export const TICKS_KERNEL = fileURLToPath(new URL('../../firmware/snapshot-test/ticks.bin', import.meta.url));

export interface TicksMachine {
  m: Machine;
  serial: MemoryCharBackend;
}

/** A machine booting the ticks kernel with isa-debug-exit at 0xF4, under -icount shift=`shift`. */
export function ticksMachine(overrides: Partial<MachineConfig> = {}, shift = 2): TicksMachine {
  const serial = new MemoryCharBackend();
  const m = new Machine(defaultMachineConfig({
    memoryBytes: 16 * 1024 * 1024,
    clock: { kind: 'icount', shift },
    debugExits: [{ iobase: 0xf4, iosize: 4 }],
    kernel: { fileName: 'ticks.bin', data: new Uint8Array(readFileSync(TICKS_KERNEL)), cmdline: '', initrd: [] },
    ...overrides,
  }), { serial: [serial], log: NULL_LOGGER });
  return { m, serial };
}

/**
 * Runs `m` by hand (no event loop) until it has retired at least `instructions` instructions
 * or exited. Returns the exit status, if it exited.
 */
export function runUntil(m: Machine, instructions: number): number | undefined {
  let status: number | undefined;
  const onExit = (s: number) => (status = s);
  m.on('exit', onExit);
  m.cont();
  let stuck = 0;
  while (!m.exited && m.cpu.retired < instructions && stuck < 100) {
    const before = m.cpu.retired;
    m.runSlice();
    stuck = m.cpu.retired === before ? stuck + 1 : 0;
  }
  m.stop();
  m.off('exit', onExit);
  return status;
}

/** Runs `m` to its end; returns the exit status. */
export function runToExit(m: Machine, limit = 200_000_000): number | undefined {
  return runUntil(m, limit);
}
