/**
 * The PIT, port 0x61, RTC/CMOS and keyboard controller as the PC board wires them: their
 * ports, ISA IRQs 0, 1, 8 and 12 at the PIC, the A20 gate and the reset line, the CMOS memory
 * fields for the configured RAM, and the `-rtc base=` start time.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig, type MachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { rtcBaseMs } from '../../src/cli/machine-from-options.js';
import { romWithCode } from '../helpers/rom.js';

function machine(config: Partial<MachineConfig> = {}): Machine {
  return new Machine(defaultMachineConfig({ memoryBytes: 16 * 1024 * 1024, clock: { kind: 'icount', shift: 0 }, ...config }), {
    serial: [new MemoryCharBackend()],
    log: NULL_LOGGER,
  });
}

/** Runs the machine's timers up to virtual time `ns` without executing guest code. */
function runTimersTo(m: Machine, ns: number): void {
  for (;;) {
    const next = m.clock.nextDeadlineNs();
    if (next > ns) break;
    m.clock.warpTo(next);
    m.clock.runDueTimers();
  }
  m.clock.warpTo(ns);
  m.clock.runDueTimers();
}

describe('PC board: ISA timers, RTC and keyboard controller', () => {
  it('PIT counter 0 in mode 2 drives IRQ 0 at the PIC once per period', () => {
    const m = machine();
    m.io.write(0x43, 1, 0x34);
    m.io.write(0x40, 1, 0x9c);
    m.io.write(0x40, 1, 0x2e); // 11932: 100 Hz, loaded on edge 1
    // OUT0 rises at the control word, then at edges 1 + k · 11932 (k = 1..10; edge 119321 is at 100.0024 ms).
    runTimersTo(m, 100_003_000);
    expect(m.pic.irqCounts()[0]).toBe(11);
  });

  it('port 0x61 gates PIT counter 2 and shows OUT2', () => {
    const m = machine();
    m.io.write(0x61, 1, 0x01);
    m.io.write(0x43, 1, 0xb0);
    m.io.write(0x42, 1, 100);
    m.io.write(0x42, 1, 0);
    expect(m.io.read(0x61, 1) & 0x20).toBe(0);
    runTimersTo(m, 1_000_000);
    expect(m.io.read(0x61, 1) & 0x21).toBe(0x21);
  });

  it('the RTC update interrupt reaches IRQ 8 on the slave PIC', () => {
    const m = machine();
    m.io.write(0x70, 1, 0x0b);
    m.io.write(0x71, 1, 0x12);
    runTimersTo(m, 1_000_000_001);
    expect(m.pic.irqCounts()[8]).toBe(1);
  });

  it('CMOS holds the memory sizes of the configured RAM and the start time from rtcBaseMs', () => {
    const m = machine({ rtcBaseMs: Date.UTC(2031, 6, 14, 9, 8, 7) });
    const cmos = (i: number) => {
      m.io.write(0x70, 1, i);
      return m.io.read(0x71, 1);
    };
    expect([cmos(0x17), cmos(0x18)]).toEqual([0x00, 0x3c]); // 15 MiB = 15360 KiB
    expect([cmos(0x34), cmos(0x35)]).toEqual([0x00, 0x00]); // nothing above 16 MiB
    expect([cmos(0x32), cmos(0x09), cmos(0x08), cmos(0x07), cmos(0x04), cmos(0x02), cmos(0x00)]).toEqual([
      0x20, 0x31, 0x07, 0x14, 0x09, 0x08, 0x07,
    ]);
  });

  it('keyboard bytes raise IRQ 1 and mouse bytes IRQ 12 at the PIC', () => {
    const m = machine();
    m.kbc.sendScancodes([0x1c]);
    expect(m.pic.irqCounts()[1]).toBe(1);
    m.io.read(0x60, 1);
    m.io.write(0x64, 1, 0xd4);
    m.io.write(0x60, 1, 0xf2);
    expect(m.pic.irqCounts()[12]).toBe(1);
  });

  it('the output port of the keyboard controller drives the CPU A20 gate', () => {
    const m = machine();
    expect(m.cpu.s.a20).toBe(true);
    m.io.write(0x64, 1, 0xd1);
    m.io.write(0x60, 1, 0xdd);
    expect(m.cpu.s.a20).toBe(false);
    m.io.write(0x64, 1, 0xd1);
    m.io.write(0x60, 1, 0xdf);
    expect(m.cpu.s.a20).toBe(true);
  });

  it('a guest pulsing the reset line through 0x64 (command 0xFE) resets the machine', async () => {
    // inc byte [0x500]; cmp byte [0x500],2; je exit; mov al,0xfe; out 0x64,al; hlt
    // exit: mov al,[0x500]; out 0xf4,al
    const code = [
      0x31, 0xc0, 0x8e, 0xd8,
      0xfe, 0x06, 0x00, 0x05,
      0x80, 0x3e, 0x00, 0x05, 0x02,
      0x74, 0x05,
      0xb0, 0xfe, 0xe6, 0x64, 0xf4,
      0xa0, 0x00, 0x05, 0xe6, 0xf4, 0xf4,
    ];
    const m = machine({ bios: romWithCode(code), debugExits: [{ iobase: 0xf4, iosize: 1 }], clock: { kind: 'realtime' } });
    let resets = 0;
    m.on('reset', () => resets++);
    m.start();
    expect(await m.waitForExit()).toBe((2 << 1) | 1);
    expect(resets).toBe(1);
  });

  it('every new device saves and restores through the board device list', () => {
    const a = machine();
    a.io.write(0x43, 1, 0x34);
    a.io.write(0x40, 1, 0x00);
    a.io.write(0x40, 1, 0x10);
    a.kbc.sendScancodes([0x1c, 0x32]);
    a.io.write(0x70, 1, 0x40);
    a.io.write(0x71, 1, 0x99);
    runTimersTo(a, 5_000_000);
    const b = machine();
    b.clock.warpTo(a.clock.nowNs());
    for (const id of ['pit', 'port61', 'rtc', 'i8042']) {
      const da = a.devices.find((d) => d.id === id)!;
      const db = b.devices.find((d) => d.id === id)!;
      db.loadState(JSON.parse(JSON.stringify(da.saveState())), da.stateVersion);
      expect(db.saveState(), id).toEqual(da.saveState());
    }
    expect(b.io.read(0x60, 1)).toBe(0x1c);
  });
});

describe('-rtc base=', () => {
  const host = Date.UTC(2025, 4, 6, 7, 8, 9, 500);
  it('utc is the host time; a date is taken as UTC', () => {
    expect(rtcBaseMs({ base: 'utc', clock: 'host', driftfix: 'none' }, host)).toBe(host);
    expect(rtcBaseMs({ base: 'date', date: '2006-06-17T16:01:21', clock: 'host', driftfix: 'none' }, host)).toBe(Date.UTC(2006, 5, 17, 16, 1, 21));
    expect(rtcBaseMs({ base: 'date', date: '2006-06-17', clock: 'host', driftfix: 'none' }, host)).toBe(Date.UTC(2006, 5, 17));
  });
  it('localtime shifts by the host time zone offset', () => {
    const local = rtcBaseMs({ base: 'localtime', clock: 'host', driftfix: 'none' }, host);
    expect(local).toBe(host - new Date(host).getTimezoneOffset() * 60_000);
  });
});
