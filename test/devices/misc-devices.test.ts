import { describe, expect, it } from 'vitest';
import { IsaDebugExit } from '../../devices/misc/isa-debug-exit.js';
import { ResetControl } from '../../devices/misc/reset-control.js';
import { Port92 } from '../../devices/misc/port92.js';
import { PostPort } from '../../devices/misc/post-port.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { SnapshotError } from '../../src/errors.js';

describe('isa-debug-exit', () => {
  it('a write of v requests exit status (v << 1) | 1 at any width', () => {
    const statuses: number[] = [];
    const bus = new IoPortBus();
    bus.map('dbg', 0xf4, 4, new IsaDebugExit('dbg', (s) => statuses.push(s)), { widths: [1, 2, 4] });
    bus.write(0xf4, 1, 0x10);
    bus.write(0xf4, 1, 0);
    bus.write(0xf4, 2, 0x1234);
    expect(statuses).toEqual([33, 1, 0x2469]);
    expect(bus.read(0xf4, 1)).toBe(0xff);
  });
});

describe('reset control register (0xCF9)', () => {
  it('resets on a write with RCPU set and keeps SRST/FULL_RST readable', () => {
    let resets = 0;
    const rcr = new ResetControl('rcr', () => resets++);
    rcr.ioWrite(0, 1, 0x02);
    expect(resets).toBe(0);
    expect(rcr.ioRead()).toBe(0x02);
    rcr.ioWrite(0, 1, 0x06);
    expect(resets).toBe(1);
    rcr.ioWrite(0, 1, 0x0e);
    expect(resets).toBe(2);
    expect(rcr.ioRead()).toBe(0x0a);
  });

  it('save/load round-trips and rejects bad state', () => {
    const a = new ResetControl('rcr', () => {});
    a.ioWrite(0, 1, 0x0a);
    const b = new ResetControl('rcr', () => {});
    b.loadState(a.saveState(), 1);
    expect(b.saveState()).toEqual(a.saveState());
    expect(() => b.loadState({ rcr: 300 }, 1)).toThrow(SnapshotError);
    expect(() => b.loadState({ rcr: 1 }, 2)).toThrow(SnapshotError);
  });
});

describe('port 0x92 (system control port A)', () => {
  it('every write drives A20 from bit 1 (QEMU), bit 0 pulses reset and reads back as 0', () => {
    const a20: boolean[] = [];
    let resets = 0;
    const p = new Port92('p92', { setA20: (on) => a20.push(on), onReset: () => resets++ });
    expect(p.ioRead()).toBe(0);
    p.ioWrite(0, 1, 0x00); // reads 0 after reset, yet writing 0 still turns A20 off
    expect(a20).toEqual([false]);
    p.ioWrite(0, 1, 0x02);
    p.ioWrite(0, 1, 0x03);
    expect(a20).toEqual([false, true, true]);
    expect(resets).toBe(1);
    expect(p.ioRead()).toBe(0x02);
  });
});

describe('POST port 0x80', () => {
  it('latches the last code written', () => {
    const p = new PostPort('post');
    p.ioWrite(0, 1, 0x55);
    expect(p.ioRead()).toBe(0x55);
    expect(p.lastCode).toBe(0x55);
    const q = new PostPort('post');
    q.loadState(p.saveState(), 1);
    expect(q.lastCode).toBe(0x55);
    expect(() => q.loadState({ lastCode: 'x' }, 1)).toThrow(SnapshotError);
  });
});
