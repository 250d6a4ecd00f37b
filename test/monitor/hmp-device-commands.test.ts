/**
 * HMP sendkey, cpu, commit, info qtree and help print what QEMU 7.2 prints (wording captured
 * from qemu-system-x86_64 -monitor stdio), and sendkey types what a PS/2 keyboard sends for
 * the keys (IBM scan-code tables: Ctrl 1D, Alt 38, Delete E0 53; breaks with bit 7 set).
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { hmpCompletions, runHmpCommand } from '../../src/monitor/hmp.js';
import { parseSendkeyKeys } from '../../src/monitor/hmp-device-commands.js';
import { ps2KeyBytes } from '../../devices/input/key-names.js';

function machine(): Machine {
  return new Machine(defaultMachineConfig({ memoryBytes: 16 * 1024 * 1024 }), { serial: [], log: NULL_LOGGER });
}

/** Sets or clears the i8042's set-2 → set-1 translation (command byte bit 6), as a BIOS does. */
function setTranslation(m: Machine, on: boolean): void {
  m.portWrite(0x64, 1, 0x20);
  const cmd = m.portRead(0x60, 1);
  m.portWrite(0x64, 1, 0x60);
  m.portWrite(0x60, 1, on ? cmd | 0x40 : cmd & ~0x40);
}

/** A machine whose keyboard controller translates to set 1, as after the BIOS. */
function translatingMachine(): Machine {
  const m = machine();
  setTranslation(m, true);
  return m;
}

/** What the guest reads from port 0x60 while the status register says a byte is there. */
function drainKeyboard(m: Machine): number[] {
  const out: number[] = [];
  while (m.portRead(0x64, 1) & 1) out.push(m.portRead(0x60, 1));
  return out;
}

/** Advances the stopped machine's virtual clock by `ms` and fires what fell due. */
function advanceMs(m: Machine, ms: number): void {
  m.clock.warpTo(m.clock.nowNs() + ms * 1e6);
  m.clock.runDueTimers();
}

const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');

describe('HMP sendkey', () => {
  it('ctrl-alt-delete: presses in order, releases in reverse order, 10 ms apart by default', () => {
    const m = translatingMachine();
    expect(runHmpCommand(m, 'sendkey ctrl-alt-delete')).toBe('');
    expect(hex(drainKeyboard(m))).toBe('1d');
    advanceMs(m, 9.9);
    expect(drainKeyboard(m)).toEqual([]);
    advanceMs(m, 0.1);
    expect(hex(drainKeyboard(m))).toBe('38');
    advanceMs(m, 10);
    expect(hex(drainKeyboard(m))).toBe('e0 53');
    advanceMs(m, 10);
    expect(hex(drainKeyboard(m))).toBe('e0 d3');
    advanceMs(m, 10);
    expect(hex(drainKeyboard(m))).toBe('b8');
    advanceMs(m, 10);
    expect(hex(drainKeyboard(m))).toBe('9d');
    advanceMs(m, 100);
    expect(drainKeyboard(m)).toEqual([]);
    expect(m.keys.pending).toBe(0);
  });

  it('a hold time spaces the events by that many virtual ms; a number is a qnum', () => {
    const m = translatingMachine();
    expect(runHmpCommand(m, 'sendkey 0x1e 50')).toBe('');
    expect(hex(drainKeyboard(m))).toBe('1e');
    advanceMs(m, 49);
    expect(drainKeyboard(m)).toEqual([]);
    advanceMs(m, 1);
    expect(hex(drainKeyboard(m))).toBe('9e');
  });

  it('a second sendkey queues behind the first', () => {
    const m = translatingMachine();
    runHmpCommand(m, 'sendkey a');
    runHmpCommand(m, 'sendkey b');
    const got: number[] = [];
    for (let i = 0; i < 6; i++) {
      got.push(...drainKeyboard(m));
      advanceMs(m, 10);
    }
    expect(hex(got)).toBe('1e 9e 30 b0');
  });

  it('rejects unknown keys with QEMU\'s wording and accepts < for less', () => {
    const m = machine();
    expect(runHmpCommand(m, 'sendkey foo')).toBe('invalid parameter: foo');
    expect(runHmpCommand(m, 'sendkey ctrl-')).toBe('invalid parameter: ');
    expect(runHmpCommand(m, 'sendkey 0x1g')).toBe('invalid parameter: 0x1g');
    expect(runHmpCommand(m, 'sendkey')).toBe('sendkey: string expected\nTry "help sendkey" for more information');
    expect(parseSendkeyKeys('shift-<')).toEqual([0x2a, 0x56]);
    expect(drainKeyboard(m)).toEqual([]);
  });

  it('types set-2 codes when translation is off (E0 F0 breaks), and set 1 when the guest chose it', () => {
    // Set 2 from the IBM table: Right Ctrl E0 14, break E0 F0 14; A 1C; Pause E1 14 77 E1 F0 14 F0 77.
    expect(ps2KeyBytes(0x9d, true, 2)).toEqual([0xe0, 0x14]);
    expect(ps2KeyBytes(0x9d, false, 2)).toEqual([0xe0, 0xf0, 0x14]);
    expect(ps2KeyBytes(0x1e, true, 2)).toEqual([0x1c]);
    expect(ps2KeyBytes(0x41, true, 2)).toEqual([0x83]); // F7
    expect(ps2KeyBytes(0xc6, true, 2)).toEqual([0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77]);
    expect(ps2KeyBytes(0xc6, false, 2)).toEqual([]);
    expect(ps2KeyBytes(0xb7, true, 1)).toEqual([0xe0, 0x2a, 0xe0, 0x37]);
    expect(ps2KeyBytes(0x1e, true, 3)).toBeUndefined();
    const m = machine();
    setTranslation(m, false);
    runHmpCommand(m, 'sendkey ctrl_r 5');
    expect(hex(drainKeyboard(m))).toBe('e0 14');
    advanceMs(m, 5);
    expect(hex(drainKeyboard(m))).toBe('e0 f0 14');
  });
});

describe('HMP cpu and commit', () => {
  it('cpu 0 is the only CPU', () => {
    const m = machine();
    expect(runHmpCommand(m, 'cpu 0')).toBe('');
    expect(runHmpCommand(m, 'cpu 1')).toBe('invalid CPU index');
    expect(runHmpCommand(m, 'cpu')).toBe('unexpected end of expression\nTry "help cpu" for more information');
    expect(runHmpCommand(m, 'info cpus')).toBe(`* CPU #0: thread_id=${process.pid}`);
  });

  it('commit knows no drives', () => {
    const m = machine();
    expect(runHmpCommand(m, 'commit all')).toBe('');
    expect(runHmpCommand(m, 'commit foo')).toBe("Device 'foo' not found");
    expect(runHmpCommand(m, 'commit')).toBe('commit: block device name expected\nTry "help commit" for more information');
  });
});

describe('HMP info qtree', () => {
  it('shows the buses and devices as wired, in QEMU\'s layout', () => {
    const m = machine();
    const out = runHmpCommand(m, 'info qtree').split('\n');
    expect(out.slice(0, 2)).toEqual(['bus: main-system-bus', '  type System']);
    expect(out).toContain('  dev: ioapic, id ""');
    expect(out).toContain('    mmio 00000000fec00000/0000000000001000');
    expect(out).toContain('      dev: PIIX3, id ""');
    expect(out).toContain('        class ISA bridge, addr 00:01.0, pci id 8086:7000 (sub 1af4:1100)');
    expect(out).toContain('        class Host bridge, addr 00:00.0, pci id 8086:1237 (sub 1af4:1100)');
    const serial = out.indexOf('          dev: isa-serial, id ""');
    expect(out.slice(serial + 1, serial + 4)).toEqual(['            index = 0 (0x0)', '            iobase = 1016 (0x3f8)', '            irq = 4 (0x4)']);
    // Both 8259s, slave first as QEMU lists them (newest first).
    expect(out.filter((l) => l.includes('dev: isa-i8259')).length).toBe(2);
    expect(out.indexOf('            iobase = 160 (0xa0)')).toBeLessThan(out.indexOf('            iobase = 32 (0x20)'));
  });

  it('follows the configuration: two serial ports and a debug-exit device', () => {
    const cfg = defaultMachineConfig({ memoryBytes: 16 * 1024 * 1024 });
    cfg.serialPorts = 2;
    cfg.debugExits = [{ iobase: 0xf4, iosize: 4 }];
    const m = new Machine(cfg, { serial: [], log: NULL_LOGGER });
    const out = runHmpCommand(m, 'info qtree');
    expect(out).toContain('            index = 1 (0x1)\n            iobase = 760 (0x2f8)\n            irq = 3 (0x3)');
    expect(out).toContain('          dev: isa-debug-exit, id ""\n            iobase = 244 (0xf4)\n            iosize = 4 (0x4)');
  });
});

describe('HMP help and completion', () => {
  it('help lists every command sorted, then the info topics sorted, as QEMU', () => {
    const lines = runHmpCommand(machine(), 'help').split('\n');
    const isTopic = (l: string) => l.startsWith('info ') && !l.startsWith('info [');
    const cmds = lines.filter((l) => !isTopic(l));
    const names = cmds.map((l) => l.split(/[ |]/)[0]!);
    expect(names).toEqual([...names].sort());
    for (const n of ['commit', 'cpu', 'sendkey', 'nmi', 'x', 'xp', 'log', 'logfile', 'memsave', 'quit']) expect(names).toContain(n);
    expect(cmds).toContain('nmi  -- inject an NMI');
    expect(cmds).toContain('stop|s  -- stop emulation');
    expect(cmds).toContain("sendkey keys [hold_ms] -- send keys to the VM (e.g. 'sendkey ctrl-alt-f1', default hold time=100 ms)");
    expect(cmds).toContain('commit device|all -- commit changes to the disk images (if -snapshot is used) or backing files');
    const topics = lines.filter(isTopic);
    expect(topics).toContain('info qtree  -- show device tree');
    expect(topics).toEqual([...topics].sort());
    expect(lines.indexOf(topics[0]!)).toBe(cmds.length);
  });

  it('completes command names after help and key names after sendkey', () => {
    expect(hmpCompletions('help sen')).toEqual(['sendkey']);
    expect(hmpCompletions('sendkey ctrl-al')).toEqual(['ctrl-alt', 'ctrl-alt_r']);
    expect(hmpCompletions('sendkey f1')).toEqual(['f1', 'f10', 'f11', 'f12', 'f13', 'f14', 'f15', 'f16', 'f17', 'f18', 'f19']);
    expect(hmpCompletions('info qt')).toEqual(['qtree']);
    expect(hmpCompletions('cp')).toEqual(['cpu']);
  });
});
