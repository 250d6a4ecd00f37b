/**
 * i8042 keyboard controller, PS/2 keyboard and mouse tests. Expected values come from the IBM
 * PS/2 Hardware Interface Technical Reference (status bits, command byte, controller commands
 * and replies, keyboard and mouse command replies) and the published scancode sets 1 and 2
 * (e.g. A = 1C in set 2 and 1E in set 1), spelled out here rather than imported.
 */
import { describe, expect, it } from 'vitest';
import { I8042, defaultI8042State, type I8042State } from '../../devices/input/i8042.js';
import { RecordingIrqLine } from '../../src/machine/irq.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { SnapshotError } from '../../src/errors.js';

const OBF = 0x01;
const SYS = 0x04;
const A2 = 0x08;
const AUXB = 0x20;

function rig(state?: I8042State) {
  const kbdIrq = new RecordingIrqLine();
  const auxIrq = new RecordingIrqLine();
  const a20: boolean[] = [];
  let resets = 0;
  const kbc = new I8042({ kbdIrq, auxIrq, setA20: (on) => a20.push(on), onReset: () => resets++ }, state);
  const bus = new IoPortBus();
  bus.map('i8042-data', 0x60, 1, kbc.dataPort);
  bus.map('i8042-cmd', 0x64, 1, kbc.commandPort);
  const status = () => bus.read(0x64, 1);
  const cmd = (v: number) => bus.write(0x64, 1, v);
  const data = (v: number) => bus.write(0x60, 1, v);
  /** Reads every byte the controller has for us (Linux's i8042_flush). */
  const drain = () => {
    const out: number[] = [];
    for (let i = 0; i < 64 && status() & OBF; i++) out.push(bus.read(0x60, 1));
    return out;
  };
  return { kbc, bus, kbdIrq, auxIrq, a20, resets: () => resets, status, cmd, data, drain };
}

describe('i8042: controller commands', () => {
  it('power-on status and command byte; self test 0xAA → 0x55 sets SYS; interface tests → 0x00', () => {
    const r = rig();
    expect(r.status()).toBe(A2 | 0x10);
    r.cmd(0x20);
    expect(r.drain()).toEqual([0x03]);
    r.cmd(0xaa);
    expect(r.status() & (OBF | SYS)).toBe(OBF | SYS);
    expect(r.drain()).toEqual([0x55]);
    r.cmd(0xab);
    expect(r.drain()).toEqual([0x00]);
    r.cmd(0xa9);
    expect(r.drain()).toEqual([0x00]);
  });

  it('writes the command byte through 0x60; A2 tells command from data writes', () => {
    const r = rig();
    r.cmd(0x60);
    expect(r.status() & A2).toBe(A2);
    r.data(0x47);
    expect(r.status() & A2).toBe(0);
    expect(r.status() & SYS).toBe(SYS); // command byte bit 2 is the system flag
    r.cmd(0x20);
    expect(r.drain()).toEqual([0x47]);
    expect(r.kbc.commandByte).toBe(0x47);
    // 0xAD / 0xAE and 0xA7 / 0xA8 set and clear the disable bits.
    r.cmd(0xad);
    r.cmd(0xa7);
    r.cmd(0x20);
    expect(r.drain()).toEqual([0x47 | 0x30]);
    r.cmd(0xae);
    r.cmd(0xa8);
    expect(r.kbc.commandByte).toBe(0x47);
  });

  it('output port: 0xD1 drives A20 from bit 1 and resets when bit 0 is 0; 0xD0 reads it back', () => {
    const r = rig();
    r.cmd(0xd0);
    expect(r.drain()).toEqual([0xcf]);
    r.cmd(0xd1);
    r.data(0xcd); // A20 off, no reset
    expect(r.a20).toEqual([false]);
    expect(r.resets()).toBe(0);
    r.cmd(0xd1);
    r.data(0xdf); // A20 on (the usual "enable A20" byte)
    expect(r.a20).toEqual([false, true]);
    r.cmd(0xd0);
    expect(r.drain()).toEqual([0xcf]);
    r.cmd(0xd1);
    r.data(0xce); // bit 0 low: reset
    expect(r.resets()).toBe(1);
    r.cmd(0xdd);
    r.cmd(0xdf);
    expect(r.a20.slice(-2)).toEqual([false, true]);
  });

  it('pulse commands: 0xFE resets the machine, 0xFF does nothing', () => {
    const r = rig();
    r.cmd(0xff);
    expect(r.resets()).toBe(0);
    r.cmd(0xfe);
    expect(r.resets()).toBe(1);
    r.cmd(0xf0);
    expect(r.resets()).toBe(2);
  });
});

describe('i8042: keyboard', () => {
  it('reset → FA AA, identify → FA AB 83 (AB 41 translated), echo, LEDs, typematic', () => {
    const r = rig();
    r.data(0xff);
    expect(r.drain()).toEqual([0xfa, 0xaa]);
    r.data(0xf2);
    expect(r.drain()).toEqual([0xfa, 0xab, 0x83]);
    r.cmd(0x60);
    r.data(0x43); // translation on
    r.data(0xf2);
    expect(r.drain()).toEqual([0xfa, 0xab, 0x41]);
    r.data(0xee);
    expect(r.drain()).toEqual([0xee]);
    r.data(0xed);
    r.data(0x05);
    expect(r.drain()).toEqual([0xfa, 0xfa]);
    expect(r.kbc.keyboardLeds).toBe(5);
    r.data(0xf3);
    r.data(0x20);
    expect(r.drain()).toEqual([0xfa, 0xfa]);
    r.data(0xf7); // set-3 command: not implemented → resend
    expect(r.drain()).toEqual([0xfe]);
    r.data(0x12); // not a command
    expect(r.drain()).toEqual([0xfe]);
  });

  it('scancode set get/set; the set number is translated like any byte', () => {
    const r = rig();
    // Each byte is acknowledged, then the set number follows.
    r.data(0xf0);
    r.data(0x00);
    expect(r.drain()).toEqual([0xfa, 0xfa, 0x02]);
    r.data(0xf0);
    r.data(0x03);
    r.data(0xf0);
    r.data(0x00);
    expect(r.drain()).toEqual([0xfa, 0xfa, 0xfa, 0xfa, 0x03]);
    r.cmd(0x60);
    r.data(0x43);
    r.data(0xf0);
    r.data(0x00);
    expect(r.drain()).toEqual([0xfa, 0xfa, 0x3f]); // 3 → 3F, as Linux's atkbd expects
    r.data(0xf0);
    r.data(0x07);
    expect(r.drain()).toEqual([0xfa, 0xfe]);
  });

  it('F5 disables scanning: injected keys are dropped until F4', () => {
    const r = rig();
    r.data(0xf5);
    r.drain();
    expect(r.kbc.sendScancodes([0x1c])).toBe(0);
    expect(r.drain()).toEqual([]);
    r.data(0xf4);
    r.drain();
    expect(r.kbc.sendScancodes([0x1c])).toBe(1);
    expect(r.drain()).toEqual([0x1c]);
  });

  it('translation to set 1: make codes map, the F0 break prefix becomes bit 7', () => {
    const r = rig();
    r.cmd(0x60);
    r.data(0x43);
    // A (1C → 1E), Esc (76 → 01), Enter (5A → 1C), F7 (83 → 41), right Ctrl (E0 14 → E0 1D).
    r.kbc.sendScancodes([0x1c, 0xf0, 0x1c, 0x76, 0x5a, 0x83, 0xe0, 0x14, 0xe0, 0xf0, 0x14]);
    expect(r.drain()).toEqual([0x1e, 0x9e, 0x01, 0x1c, 0x41, 0xe0, 0x1d, 0xe0, 0x9d]);
    r.cmd(0x60);
    r.data(0x03);
    r.kbc.sendScancodes([0x1c, 0xf0, 0x1c]);
    expect(r.drain()).toEqual([0x1c, 0xf0, 0x1c]);
  });

  it('IRQ 1 follows OBF only while the command byte enables it', () => {
    const r = rig();
    r.cmd(0x60);
    r.data(0x00);
    r.kbc.sendScancodes([0x1c, 0x32]);
    expect(r.status() & OBF).toBe(OBF);
    expect(r.kbdIrq.level).toBe(false);
    r.cmd(0x60);
    r.data(0x01); // IRQ 1 enabled: the byte already waiting raises it
    expect(r.kbdIrq.level).toBe(true);
    expect(r.bus.read(0x60, 1)).toBe(0x1c);
    // The next byte raises the line again: one edge per byte.
    expect(r.kbdIrq.rises).toBe(2);
    expect(r.bus.read(0x60, 1)).toBe(0x32);
    expect(r.kbdIrq.level).toBe(false);
    expect(r.auxIrq.rises).toBe(0);
    // Reading with nothing new returns the last byte again.
    expect(r.bus.read(0x60, 1)).toBe(0x32);
  });

  it('a disabled keyboard interface holds its bytes until enabled', () => {
    const r = rig();
    r.cmd(0xad);
    r.kbc.sendScancodes([0x1c]);
    expect(r.status() & OBF).toBe(0);
    r.cmd(0xae);
    expect(r.drain()).toEqual([0x1c]);
  });

  it('the keyboard buffer is bounded: 16 bytes, the last becomes the overrun code', () => {
    const r = rig();
    r.cmd(0xad);
    expect(r.kbc.sendScancodes(new Array(40).fill(0x1c))).toBe(16);
    r.cmd(0xae);
    const got = r.drain();
    expect(got.length).toBe(16);
    expect(got[15]).toBe(0x00);
  });
});

describe('i8042: auxiliary port (PS/2 mouse)', () => {
  it("answers Linux's psmouse probe: reset FA AA 00, get ID FA 00, status, rate, resolution", () => {
    const r = rig();
    const aux = (v: number) => {
      r.cmd(0xd4);
      r.data(v);
    };
    aux(0xff);
    expect(r.status() & AUXB).toBe(AUXB);
    expect(r.drain()).toEqual([0xfa, 0xaa, 0x00]);
    aux(0xf2);
    expect(r.drain()).toEqual([0xfa, 0x00]);
    aux(0xf3);
    aux(200);
    aux(0xe8);
    aux(3);
    aux(0xe7);
    aux(0xf4);
    aux(0xe9);
    expect(r.drain()).toEqual([0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0x30, 3, 200]);
    aux(0xee); // wrap mode echoes
    aux(0x12);
    aux(0xec);
    expect(r.drain()).toEqual([0xfa, 0x12, 0xfa]);
    aux(0xd0); // unknown
    expect(r.drain()).toEqual([0xfe]);
    expect(r.auxIrq.rises).toBeGreaterThan(0);
    expect(r.kbdIrq.rises).toBe(0);
  });

  it('0xD3 loops a byte back as mouse data (Linux i8042_check_aux); IRQ 12 needs bit 1', () => {
    const r = rig();
    r.cmd(0xd3);
    r.data(0x5a);
    expect(r.status() & (OBF | AUXB)).toBe(OBF | AUXB);
    expect(r.auxIrq.level).toBe(true);
    expect(r.bus.read(0x60, 1)).toBe(0x5a);
    expect(r.auxIrq.level).toBe(false);
    r.cmd(0x60);
    r.data(0x01); // aux interrupt off
    r.cmd(0xd3);
    r.data(0xa5);
    expect(r.auxIrq.level).toBe(false);
    expect(r.drain()).toEqual([0xa5]);
    r.cmd(0xd2); // and 0xD2 as keyboard data
    r.data(0x77);
    expect(r.status() & AUXB).toBe(0);
    expect(r.kbdIrq.level).toBe(true);
    expect(r.drain()).toEqual([0x77]);
  });
});

describe('i8042: robustness and state', () => {
  it('hostile port traffic never throws', () => {
    const r = rig();
    let seed = 3;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 16;
    };
    for (let i = 0; i < 20000; i++) {
      const port = rnd() & 1 ? 0x60 : 0x64;
      if (rnd() & 1) r.bus.write(port, 1, rnd() & 0xff);
      else r.bus.read(port, 1);
      if ((rnd() & 15) === 0) r.kbc.sendScancodes([rnd() & 0xff, rnd() & 0xff]);
    }
  });

  it('save/load with bytes queued on both devices resumes the same output', () => {
    const a = rig();
    a.cmd(0x60);
    a.data(0x43);
    a.kbc.sendScancodes([0x1c, 0xf0]); // a break prefix half-way through translation
    a.cmd(0xd4);
    a.data(0xf2);
    a.data(0xed); // keyboard waits for the LED argument
    const saved = JSON.parse(JSON.stringify(a.kbc.saveState())) as I8042State;
    const b = rig(saved);
    expect(b.kbc.saveState()).toEqual(a.kbc.saveState());
    for (const r of [a, b]) {
      r.kbc.sendScancodes([0x1c]);
      r.data(0x02);
    }
    expect(b.drain()).toEqual(a.drain());
    expect(b.kbc.keyboardLeds).toBe(2);
  });

  it('rejects malformed state', () => {
    const r = rig();
    const good = defaultI8042State();
    expect(() => r.kbc.loadState(good, 2)).toThrow(SnapshotError);
    expect(() => r.kbc.loadState({ ...good, ram: [1] }, 1)).toThrow(SnapshotError);
    expect(() => r.kbc.loadState({ ...good, pendingWrite: 0xaa }, 1)).toThrow(SnapshotError);
    expect(() => r.kbc.loadState({ ...good, kbd: { ...good.kbd, queue: new Array(100).fill(0) } }, 1)).toThrow(SnapshotError);
    expect(() => r.kbc.loadState({ ...good, aux: { ...good.aux, pendingCommand: 0xff } }, 1)).toThrow(SnapshotError);
  });
});
