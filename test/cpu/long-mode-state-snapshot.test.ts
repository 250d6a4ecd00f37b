/**
 * CPU state of a 64-bit kernel survives save/load: the values LGDT/LIDT, a page fault and
 * MOV to CR3 leave in a Linux x86-64 guest. The Debian amd64 guest's `loadvm` failed with
 * "cpu.gdtBase: expected an integer in [0, 9007199254740991], got -2199023251456": LGDT in
 * 64-bit mode keeps the base as a signed canonical number (exec-0f.ts), and Linux's GDT is at
 * 0xfffffe00_00001000 (the CPU entry area); CR2 and CR3 were also cut to 32 bits on save.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { SnapshotError } from '../../src/errors.js';

const machine = () => new Machine(defaultMachineConfig({ memoryBytes: 2 << 20 }), { serial: [new MemoryCharBackend()], log: NULL_LOGGER });
/** A 64-bit canonical address as the CPU keeps it: the signed value of the 64-bit pattern. */
const signed64 = (hi: number, lo: number) => (hi | 0) * 2 ** 32 + (lo >>> 0);

describe('CPU state of a 64-bit kernel', () => {
  it('GDT/IDT bases in the upper half, a 48-bit CR2 and a CR3 above 4 GiB round-trip through save/load', () => {
    const a = machine();
    const s = a.cpu.s;
    s.gdtBase = signed64(0xfffffe00, 0x00001000); // -2199023251456, as in the Debian guest
    s.idtBase = signed64(0xfffffe00, 0x00000000);
    s.cr2 = 0x7f12_3456_7000; // a user-space fault address (linear48 keeps the low 48 bits)
    s.cr3 = 0x1_2345_6000;
    s.segBase[4] = signed64(0xffff8880, 0x0fc00000); // GS base: a per-CPU area
    const saved = JSON.parse(JSON.stringify(a.cpu.saveState())) as ReturnType<Machine['cpu']['saveState']>;
    expect(saved.gdtBase).toBe(-2199023251456);
    expect(saved.cr2).toBe(0x7f12_3456_7000);
    expect(saved.cr3).toBe(0x1_2345_6000);

    const b = machine();
    b.cpu.loadState(saved, a.cpu.stateVersion);
    expect(b.cpu.s.gdtBase).toBe(s.gdtBase);
    expect(b.cpu.s.idtBase).toBe(s.idtBase);
    expect(b.cpu.s.cr2).toBe(s.cr2);
    expect(b.cpu.s.cr3).toBe(s.cr3);
    expect(b.cpu.s.segBase[4]).toBe(s.segBase[4]);
    expect(b.cpu.saveState()).toEqual(a.cpu.saveState());
  });

  it('still refuses a base below the canonical range', () => {
    const m = machine();
    const st = m.cpu.saveState();
    expect(() => m.cpu.loadState({ ...st, gdtBase: -0x800000000001 }, m.cpu.stateVersion)).toThrow(SnapshotError);
    expect(() => m.cpu.loadState({ ...st, idtBase: -0x800000000001 }, m.cpu.stateVersion)).toThrow(SnapshotError);
  });
});
