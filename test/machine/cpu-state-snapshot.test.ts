import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { LineLogger, NULL_LOGGER } from '../../src/machine/log.js';
import { SnapshotError } from '../../src/errors.js';
import { romWithCode } from '../helpers/rom.js';

// Sums 1..50000 into EBX with the carry count in ESI, storing progress in RAM at 0:0x600, then
// writes (EBX xor ESI) & 0xff to isa-debug-exit. Long enough to be stopped half way.
const SUM = [
  0x31, 0xc0, 0x8e, 0xd8, // xor ax,ax; mov ds,ax
  0x66, 0x31, 0xdb, // xor ebx,ebx
  0x66, 0x31, 0xf6, // xor esi,esi
  0x66, 0xb9, 0x50, 0xc3, 0x00, 0x00, // mov ecx,50000
  // loop:
  0x66, 0x01, 0xcb, // add ebx,ecx
  0x66, 0x83, 0xd6, 0x00, // adc esi,0
  0x66, 0x89, 0x1e, 0x00, 0x06, // mov [0x600],ebx
  0x66, 0x49, // dec ecx
  0x75, 0xf0, // jnz loop (-16)
  0x66, 0x31, 0xf3, // xor ebx,esi
  0x88, 0xd8, // mov al,bl
  0xe6, 0xf4, 0xf4, // out 0xf4,al; hlt
];
const expected = (((50000 * 50001) / 2) & 0xff) ^ 0; // no carries: the sum fits in 32 bits

function machine(): Machine {
  return new Machine(defaultMachineConfig({ memoryBytes: 2 << 20, bios: romWithCode(SUM), debugExits: [{ iobase: 0xf4, iosize: 1 }] }), {
    serial: [new MemoryCharBackend()],
    log: NULL_LOGGER,
  });
}

describe('CPU state save/load', () => {
  it('a machine stopped mid-computation continues identically in a fresh machine after save/load', async () => {
    const a = machine();
    a.cpu.run(30_000); // part way through the loop
    expect(a.exited).toBe(false);
    const cpuState = JSON.parse(JSON.stringify(a.cpu.saveState())) as unknown;
    const ram = a.memory.ram.slice();

    const b = machine();
    b.cpu.loadState(cpuState, a.cpu.stateVersion);
    b.memory.ram.set(ram);
    expect(b.cpu.saveState()).toEqual(a.cpu.saveState());
    a.start();
    b.start();
    const [sa, sb] = await Promise.all([a.waitForExit(), b.waitForExit()]);
    expect(sb).toBe(sa);
    expect(sa).toBe((expected << 1) | 1);
  });

  it('rejects malformed state with a SnapshotError and leaves the CPU unchanged', () => {
    const m = machine();
    m.cpu.run(100);
    const before = m.cpu.saveState();
    const bad = { ...before, gpr: before.gpr.slice(0, 5) };
    expect(() => m.cpu.loadState(bad, m.cpu.stateVersion)).toThrow(SnapshotError);
    expect(() => m.cpu.loadState({ ...before, eip: -1 }, m.cpu.stateVersion)).toThrow(SnapshotError);
    expect(() => m.cpu.loadState({ ...before, segSel: [0, 0, 0, 0, 0, 0, 0, 0x10000] }, m.cpu.stateVersion)).toThrow(SnapshotError);
    expect(() => m.cpu.loadState('garbage', m.cpu.stateVersion)).toThrow(SnapshotError);
    expect(() => m.cpu.loadState(before, 99)).toThrow(SnapshotError);
    expect(m.cpu.saveState()).toEqual(before);
  });
});

describe('unimplemented instructions', () => {
  it('raise #UD in the guest and, with -d unimp, log the address and bytes once', () => {
    const lines: string[] = [];
    // Real-mode IVT entry 6 (#UD) → a handler at F000:0100 that counts in [0x700] and skips
    // the 2-byte opcode by bumping the return IP.
    const code = [
      0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xd0, 0xbc, 0x00, 0x7c, // xor ax,ax; mov ds,ax; mov ss,ax; mov sp,0x7c00
      0xc7, 0x06, 0x18, 0x00, 0x00, 0x01, // mov word [0x18],0x0100
      0xc7, 0x06, 0x1a, 0x00, 0x00, 0xf0, // mov word [0x1a],0xf000
      0x0f, 0x0a, // an opcode pcvm does not implement (0F 0A)
      0x0f, 0x0a, // again: logged only once
      0xf4,
    ];
    const rom = romWithCode(code);
    // #UD handler: inc byte [0x700]; push bp; mov bp,sp; add word [bp+2],2; pop bp; iret
    rom.set([0xfe, 0x06, 0x00, 0x07, 0x55, 0x89, 0xe5, 0x83, 0x46, 0x02, 0x02, 0x5d, 0xcf], 0x100);
    const m = new Machine(defaultMachineConfig({ memoryBytes: 2 << 20, bios: rom }), {
      serial: [],
      log: new LineLogger(['unimp'], (l) => lines.push(l)),
    });
    m.cpu.run(200);
    expect(m.cpu.s.halted).toBe(true);
    expect(m.memory.read(0x700, 1)).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/unimplemented instruction opcode 0f 0a at f000:00000015 bytes 0f 0a 0f 0a f4/);
  });
});
