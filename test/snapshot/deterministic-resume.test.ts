/**
 * Deterministic mode and snapshots, on the timer-heavy ticks kernel (PIT, RTC and LAPIC
 * timers all interrupting): the same run twice gives the same serial output and instruction
 * count; a machine loaded from a snapshot taken mid-run finishes exactly as the uninterrupted
 * run did — the output's `w=` values move if any interrupt arrives one instruction off.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadVmState, saveVmState } from '../../src/snapshot/machine-state.js';
import { runToExit, runUntil, ticksMachine, TICKS_KERNEL } from './ticks-guest.js';

interface RunResult {
  text: string;
  retired: number;
  status: number | undefined;
}

let reference: RunResult;

beforeAll(() => {
  const { m, serial } = ticksMachine();
  const status = runToExit(m);
  reference = { text: serial.text(), retired: m.cpu.retired, status };
});

describe('deterministic replay (-icount) across snapshots', () => {
  it('the ticks kernel ends through isa-debug-exit after printing its report lines', () => {
    expect(reference.status).toBe(33);
    const lines = reference.text.trim().split('\n');
    expect(lines[0]).toBe('ticks: PIT, RTC and LAPIC timers running');
    expect(lines.at(-1)).toBe('done');
    // All three timers interrupted: every report counts ticks of each.
    const last = /^p=([0-9a-f]{8}) r=([0-9a-f]{8}) l=([0-9a-f]{8}) w=([0-9a-f]{8})$/.exec(lines.at(-2)!);
    expect(last).not.toBeNull();
    expect(parseInt(last![1]!, 16)).toBe(128);
    expect(parseInt(last![2]!, 16)).toBeGreaterThan(50);
    expect(parseInt(last![3]!, 16)).toBeGreaterThan(50);
  });

  it('a second run from power-on prints the same and retires the same number of instructions', () => {
    const { m, serial } = ticksMachine();
    expect(runToExit(m)).toBe(33);
    expect(serial.text()).toBe(reference.text);
    expect(m.cpu.retired).toBe(reference.retired);
  });

  for (const fraction of [0.3, 0.71]) {
    it(`a snapshot at ${fraction * 100}% of the run resumes into the uninterrupted run, twice`, () => {
      const src = ticksMachine();
      expect(runUntil(src.m, Math.floor(reference.retired * fraction))).toBeUndefined();
      const before = src.serial.text();
      const stream = saveVmState(src.m);
      const timersAtSave = src.m.clock.armedTimers();

      for (let round = 0; round < 2; round++) {
        const dst = ticksMachine();
        loadVmState(dst.m, stream);
        // Timers come back with the deadlines they had: none lost (stall), none early (storm).
        expect(dst.m.clock.armedTimers()).toEqual(timersAtSave);
        expect(dst.m.clock.nowNs()).toBe(src.m.clock.nowNs());
        expect(runToExit(dst.m)).toBe(33);
        expect(before + dst.serial.text()).toBe(reference.text);
        expect(dst.m.cpu.retired).toBe(reference.retired);
      }

      // Saving did not disturb the source either.
      expect(runToExit(src.m)).toBe(33);
      expect(src.serial.text()).toBe(reference.text);
      expect(src.m.cpu.retired).toBe(reference.retired);
    });
  }

  it('under the JIT (-accel jit): loading over translated code of another program drops it and resumes exactly', () => {
    const ref = ticksMachine({ accel: 'jit' });
    expect(runToExit(ref.m)).toBe(33);
    const src = ticksMachine({ accel: 'jit' });
    runUntil(src.m, Math.floor(ref.m.cpu.retired * 0.3));
    const before = src.serial.text();
    const stream = saveVmState(src.m);
    // The destination runs a variant of the kernel whose main loop never halts (its HLT
    // patched to NOP) and has translated that loop before the load replaces its RAM: a stale
    // translation would keep skipping the HLT and change every later `w=`.
    const patched = new Uint8Array(readFileSync(TICKS_KERNEL));
    const at = Buffer.from(patched).indexOf(Buffer.from([0x75, 0x01, 0xf4])); // jnz +1; hlt
    expect(at).toBeGreaterThan(0);
    patched[at + 2] = 0x90;
    const dst = ticksMachine({ accel: 'jit', kernel: { fileName: 'ticks-nohlt.bin', data: patched, cmdline: '', initrd: [] } });
    expect(runUntil(dst.m, Math.floor(ref.m.cpu.retired * 0.5))).toBeUndefined();
    const printedBefore = dst.serial.text().length;
    loadVmState(dst.m, stream);
    expect(runToExit(dst.m)).toBe(33);
    expect(before + dst.serial.text().slice(printedBefore)).toBe(ref.serial.text());
    expect(dst.m.cpu.retired).toBe(ref.m.cpu.retired);
  });
});
