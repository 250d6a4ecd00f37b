/**
 * 8254 PIT and port 0x61 tests. Expected waveforms and count sequences come from the Intel
 * 8254 datasheet's mode definitions (Figures 11-16: a count written at CLK edge k is loaded
 * on edge k + 1, then decrements once per edge), with edge times computed here in BigInt from
 * the 1.193182 MHz input clock, independently of the device's arithmetic.
 */
import { describe, expect, it } from 'vitest';
import { Pit8254, defaultPitState, type PitState } from '../../devices/timer/pit8254.js';
import { Port61 } from '../../devices/timer/port61.js';
import { VirtualClock } from '../../src/machine/clock.js';
import type { IrqLine } from '../../src/machine/irq.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { SnapshotError } from '../../src/errors.js';

const HZ = 1_193_182n;
/** Virtual ns of input-clock edge `n` (the first ns at which n edges have happened). */
function edgeNs(n: number): number {
  return Number((BigInt(n) * 1_000_000_000n + HZ - 1n) / HZ);
}

/** An IRQ line that records the virtual time of every level change. */
class TimedIrq implements IrqLine {
  level = false;
  changes: [number, boolean][] = [];
  constructor(private readonly clock: () => number) {}
  set(level: boolean): void {
    if (level === this.level) return;
    this.level = level;
    this.changes.push([this.clock(), level]);
  }
  get rises(): number {
    return this.changes.filter(([, l]) => l).length;
  }
}

function rig(state?: PitState) {
  const host = { ns: 0 };
  const clock = new VirtualClock({ kind: 'realtime' }, () => host.ns);
  clock.start();
  const irq = new TimedIrq(() => clock.nowNs());
  const pit = new Pit8254({ clock, irq0: irq }, state);
  const port61 = new Port61('port61', { pit, clock });
  const bus = new IoPortBus();
  bus.map('pit', 0x40, 4, pit);
  bus.map('port61', 0x61, 1, port61);
  /** Moves virtual time to `ns`, firing due timers at their own deadlines on the way. */
  const advanceTo = (ns: number) => {
    for (;;) {
      const next = clock.nextDeadlineNs();
      if (next > ns) break;
      host.ns = Math.max(host.ns, next);
      clock.runDueTimers();
    }
    host.ns = ns;
    clock.runDueTimers();
  };
  const outb = (port: number, v: number) => bus.write(port, 1, v);
  const inb = (port: number) => bus.read(port, 1);
  /** Reads counter `i` with the latch command, LSB then MSB (RW = 3). */
  const latched = (i: number) => {
    outb(0x43, i << 6);
    return inb(0x40 + i) | (inb(0x40 + i) << 8);
  };
  return { clock, host, irq, pit, port61, bus, advanceTo, outb, inb, latched };
}

/** Programs counter `i` (RW = LSB then MSB) with `mode` and `count` at the current time. */
function program(r: ReturnType<typeof rig>, i: number, mode: number, count: number, bcd = false): void {
  r.outb(0x43, (i << 6) | 0x30 | (mode << 1) | (bcd ? 1 : 0));
  r.outb(0x40 + i, count & 0xff);
  r.outb(0x40 + i, count >> 8);
}

describe('Pit8254: modes on counter 0 and IRQ 0', () => {
  it('mode 0: OUT low after the control word, high N + 1 edges after the count is written', () => {
    const r = rig();
    r.advanceTo(edgeNs(1000) + 5); // between edges 1000 and 1001
    r.outb(0x43, 0x30);
    expect(r.pit.out(0)).toBe(false);
    r.outb(0x40, 100);
    r.outb(0x40, 0);
    // Loaded on edge 1001 without a decrement, then one per edge.
    r.advanceTo(edgeNs(1001));
    expect(r.latched(0)).toBe(100);
    r.advanceTo(edgeNs(1051));
    expect(r.latched(0)).toBe(50);
    r.advanceTo(edgeNs(1101) - 1);
    expect(r.latched(0)).toBe(1);
    expect(r.irq.level).toBe(false);
    r.advanceTo(edgeNs(1101));
    expect(r.irq.changes).toEqual([[edgeNs(1101), true]]);
    // OUT stays high; the counter wraps past zero and keeps counting.
    r.advanceTo(edgeNs(1103));
    expect(r.latched(0)).toBe(0xfffe);
    expect(r.irq.level).toBe(true);
    // One-shot: no timer is left armed.
    expect(r.clock.nextDeadlineNs()).toBe(Infinity);
  });

  it('mode 0: writing the first byte of a new count stops counting and drives OUT low', () => {
    const r = rig();
    program(r, 0, 0, 10);
    r.advanceTo(edgeNs(20));
    expect(r.irq.level).toBe(true);
    r.outb(0x40, 0x05); // LSB: counting stops, OUT low
    expect(r.irq.level).toBe(false);
    const held = r.latched(0);
    r.advanceTo(edgeNs(40));
    expect(r.latched(0)).toBe(held);
    r.outb(0x40, 0x00); // MSB: count 5 loaded on edge 41
    r.advanceTo(edgeNs(46) - 1);
    expect(r.irq.level).toBe(false);
    r.advanceTo(edgeNs(46));
    expect(r.irq.level).toBe(true);
  });

  it('mode 2: OUT low for one edge when the count reaches 1, IRQ 0 rises once per period', () => {
    const r = rig();
    program(r, 0, 2, 1000); // written before edge 1: loaded on edge 1
    expect(r.irq.level).toBe(true);
    const seen: number[] = [];
    for (let e = 1; e <= 1001; e += 250) {
      r.advanceTo(edgeNs(e));
      seen.push(r.latched(0));
    }
    expect(seen).toEqual([1000, 750, 500, 250, 1000]);
    r.advanceTo(edgeNs(1 + 10 * 1000) + 1);
    // Low from edge 1 + 999 + k·1000 to the next edge, high again at each reload.
    const expected: [number, boolean][] = [[0, true]]; // the control word: mode 2 starts high
    for (let k = 0; k < 10; k++) {
      expected.push([edgeNs(1000 + k * 1000), false], [edgeNs(1001 + k * 1000), true]);
    }
    expect(r.irq.changes).toEqual(expected);
    expect(r.irq.rises).toBe(11); // the control word, then one per period
  });

  it('mode 2: a new count takes effect at the end of the current period', () => {
    const r = rig();
    program(r, 0, 2, 100); // loaded on edge 1, periods end at edges 101, 201, ...
    r.advanceTo(edgeNs(50));
    program(r, 0, 2, 100); // a control word restarts the counter...
    r.advanceTo(edgeNs(60));
    r.outb(0x40, 40); // ...but a bare count waits: LSB then MSB
    r.outb(0x40, 0);
    // The control word at edge 50 gave a load on edge 51: the period ends at edge 151.
    r.advanceTo(edgeNs(150));
    expect(r.latched(0)).toBe(1);
    r.advanceTo(edgeNs(151));
    expect(r.latched(0)).toBe(40);
    r.irq.changes = [];
    r.advanceTo(edgeNs(231) + 1);
    expect(r.irq.changes).toEqual([
      [edgeNs(190), false],
      [edgeNs(191), true],
      [edgeNs(230), false],
      [edgeNs(231), true],
    ]);
  });

  it('mode 3 with an even count: N/2 edges high, N/2 low, counting down by two', () => {
    const r = rig();
    program(r, 0, 3, 10); // loaded on edge 1
    const counts: number[] = [];
    const outs: boolean[] = [];
    for (let e = 1; e <= 21; e++) {
      r.advanceTo(edgeNs(e));
      counts.push(r.latched(0));
      outs.push(r.pit.out(0));
    }
    expect(counts).toEqual([10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10]);
    expect(outs).toEqual([...Array(5).fill(true), ...Array(5).fill(false), ...Array(5).fill(true), ...Array(5).fill(false), true]);
    // OUT rises at the control word (mode 3 starts high), then at edges 11 and 21.
    expect(r.irq.rises).toBe(3);
  });

  it('mode 3 with an odd count: (N + 1)/2 high, (N - 1)/2 low, from N - 1 by two', () => {
    const r = rig();
    program(r, 0, 3, 5);
    const counts: number[] = [];
    const outs: boolean[] = [];
    for (let e = 1; e <= 11; e++) {
      r.advanceTo(edgeNs(e));
      counts.push(r.latched(0));
      outs.push(r.pit.out(0));
    }
    // High: 4, 2, 0 (the expired count shows for one edge); low: 4, 2.
    expect(counts).toEqual([4, 2, 0, 4, 2, 4, 2, 0, 4, 2, 4]);
    expect(outs).toEqual([true, true, true, false, false, true, true, true, false, false, true]);
  });

  it('mode 4: OUT low for one edge N + 1 edges after the count is written; the count wraps', () => {
    const r = rig();
    program(r, 0, 4, 3);
    expect(r.irq.level).toBe(true);
    r.advanceTo(edgeNs(20));
    expect(r.irq.changes).toEqual([
      [0, true],
      [edgeNs(4), false],
      [edgeNs(5), true],
    ]);
    expect(r.latched(0)).toBe(0x10000 - 16);
  });

  it('modes 6 and 7 run as 2 and 3 and read back as written', () => {
    const r = rig();
    program(r, 0, 6, 4);
    r.advanceTo(edgeNs(4));
    expect(r.pit.out(0)).toBe(false); // count 1: mode 2's low edge
    r.outb(0x43, 0xe2); // read-back status of counter 0
    expect(r.inb(0x40)).toBe(0x30 | (6 << 1));
    program(r, 1, 7, 4);
    r.advanceTo(edgeNs(8));
    r.outb(0x43, 0xe4);
    expect(r.inb(0x41) & 0x0e).toBe(7 << 1);
  });
});

describe('Pit8254: counter 2, GATE and port 0x61', () => {
  it('mode 0 counts only while GATE (port 0x61 bit 0) is high', () => {
    const r = rig();
    program(r, 2, 0, 100);
    r.advanceTo(edgeNs(50));
    // GATE 2 is low from reset: the count was loaded on edge 1 but has not moved.
    expect(r.latched(2)).toBe(100);
    r.outb(0x61, 0x01);
    r.advanceTo(edgeNs(80));
    expect(r.latched(2)).toBe(70);
    r.outb(0x61, 0x00);
    r.advanceTo(edgeNs(500));
    expect(r.latched(2)).toBe(70);
    expect(r.inb(0x61) & 0x21).toBe(0);
    r.outb(0x61, 0x01);
    r.advanceTo(edgeNs(570) - 1);
    expect(r.inb(0x61) & 0x20).toBe(0);
    r.advanceTo(edgeNs(570));
    expect(r.inb(0x61) & 0x21).toBe(0x21);
  });

  it('mode 1: a rising GATE triggers a one-shot N edges low; a retrigger restarts it', () => {
    const r = rig();
    program(r, 2, 1, 10);
    r.advanceTo(edgeNs(5));
    expect(r.pit.out(2)).toBe(true);
    r.outb(0x61, 0x01); // trigger between edges 5 and 6
    r.advanceTo(edgeNs(6));
    expect(r.pit.out(2)).toBe(false);
    expect(r.latched(2)).toBe(10);
    r.advanceTo(edgeNs(12));
    r.outb(0x61, 0x00);
    r.outb(0x61, 0x01); // retrigger: reload on edge 13
    r.advanceTo(edgeNs(22));
    expect(r.pit.out(2)).toBe(false);
    r.advanceTo(edgeNs(23));
    expect(r.pit.out(2)).toBe(true);
    // GATE level does not stop a mode 1 count.
    r.outb(0x61, 0x00);
    r.advanceTo(edgeNs(30));
    expect(r.latched(2)).toBe(0x10000 - 7);
  });

  it('mode 5: a rising GATE triggers, OUT low one edge N edges later', () => {
    const r = rig();
    program(r, 2, 5, 4);
    r.advanceTo(edgeNs(10));
    expect(r.pit.out(2)).toBe(true);
    r.outb(0x61, 0x01); // loaded on edge 11, zero on edge 15
    r.advanceTo(edgeNs(15) - 1);
    expect(r.pit.out(2)).toBe(true);
    r.advanceTo(edgeNs(15));
    expect(r.pit.out(2)).toBe(false);
    r.advanceTo(edgeNs(16));
    expect(r.pit.out(2)).toBe(true);
  });

  it('modes 2 and 3: GATE low forces OUT high and holds; the rising edge reloads', () => {
    const r = rig();
    r.outb(0x61, 0x01);
    program(r, 2, 2, 10);
    r.advanceTo(edgeNs(10)); // count 1: OUT low
    expect(r.pit.out(2)).toBe(false);
    r.outb(0x61, 0x00);
    expect(r.pit.out(2)).toBe(true);
    r.advanceTo(edgeNs(100));
    expect(r.latched(2)).toBe(1);
    r.outb(0x61, 0x01); // reload on edge 101
    r.advanceTo(edgeNs(101));
    expect(r.latched(2)).toBe(10);
    r.advanceTo(edgeNs(110));
    expect(r.pit.out(2)).toBe(false);
  });

  it('port 0x61 keeps bits 0-3, shows OUT2 in bit 5 and toggles bit 4 every 15.085 µs', () => {
    const r = rig();
    r.outb(0x61, 0xff);
    expect(r.inb(0x61) & 0xcf).toBe(0x0f);
    r.advanceTo(15_084);
    expect(r.inb(0x61) & 0x10).toBe(0);
    r.advanceTo(15_085);
    expect(r.inb(0x61) & 0x10).toBe(0x10);
    r.advanceTo(30_170);
    expect(r.inb(0x61) & 0x10).toBe(0);
    expect(r.clock.nextDeadlineNs()).toBe(Infinity); // no timer for the refresh bit
  });

  it("Linux's pit_calibrate_tsc: mode 0 on counter 2 gated by port 0x61 ends exactly on time", () => {
    const r = rig();
    r.advanceTo(123_456_789);
    // outb((inb(0x61) & ~0x02) | 0x01, 0x61); outb(0xb0, 0x43); latch LSB, MSB.
    r.outb(0x61, (r.inb(0x61) & ~0x02) | 0x01);
    r.outb(0x43, 0xb0);
    const latch = Math.floor(1_193_182 / (1000 / 50)); // CAL_LATCH for CAL_MS = 50
    r.outb(0x42, latch & 0xff);
    r.outb(0x42, latch >> 8);
    const written = Number((123_456_789n * HZ) / 1_000_000_000n); // edges so far
    const done = edgeNs(written + 1 + latch);
    // while ((inb(0x61) & 0x20) == 0) — poll every µs like the busy loop does.
    let polls = 0;
    for (let t = 123_457_789; t < done; t += 1000) {
      r.advanceTo(t);
      expect(r.inb(0x61) & 0x20).toBe(0);
      polls++;
    }
    expect(polls).toBe(Math.ceil((done - 123_457_789) / 1000));
    r.advanceTo(done - 1);
    expect(r.inb(0x61) & 0x20).toBe(0);
    r.advanceTo(done);
    expect(r.inb(0x61) & 0x20).toBe(0x20);
  });

  it("Linux's quick_pit_calibrate: MSB reads (no latch) fall by one every 256 edges", () => {
    const r = rig();
    r.outb(0x61, (r.inb(0x61) & ~0x02) | 0x01);
    r.outb(0x43, 0xb0);
    r.outb(0x42, 0xff);
    r.outb(0x42, 0xff); // count 0xffff, loaded on edge 1
    for (let i = 1; i < 20; i++) {
      // pit_expect_msb: inb(0x42) (LSB, discarded), then the MSB. The count is 0xffff - k on
      // edge 1 + k, so the MSB becomes 0xff - i on edge 1 + 256·i.
      r.advanceTo(edgeNs(256 * i));
      r.inb(0x42);
      expect(r.inb(0x42)).toBe(0xff - i + 1);
      r.advanceTo(edgeNs(1 + 256 * i));
      r.inb(0x42);
      expect(r.inb(0x42)).toBe(0xff - i);
    }
  });
});

describe('Pit8254: reading', () => {
  it('the counter latch holds the count until read; a second latch is ignored', () => {
    const r = rig();
    program(r, 0, 2, 0); // 0 = 65536
    r.advanceTo(edgeNs(101));
    r.outb(0x43, 0x00);
    r.advanceTo(edgeNs(200));
    r.outb(0x43, 0x00); // ignored: the first latch is unread
    expect(r.inb(0x40)).toBe((0x10000 - 100) & 0xff);
    r.advanceTo(edgeNs(300));
    expect(r.inb(0x40)).toBe((0x10000 - 100) >> 8);
    // Released: now reads the live count.
    expect(r.latched(0)).toBe(0x10000 - 299);
  });

  it('LSB-only and MSB-only access', () => {
    const r = rig();
    r.outb(0x43, 0x14); // counter 0, LSB only, mode 2
    r.outb(0x40, 0x80);
    r.advanceTo(edgeNs(17));
    expect(r.inb(0x40)).toBe(0x80 - 16);
    expect(r.inb(0x40)).toBe(0x80 - 16);
    r.outb(0x43, 0x64); // counter 1, MSB only, mode 2: count 0x0200, loaded on edge 18
    r.outb(0x41, 0x02);
    r.advanceTo(edgeNs(18 + 256));
    expect(r.inb(0x41)).toBe(0x01);
    r.advanceTo(edgeNs(18 + 257));
    expect(r.inb(0x41)).toBe(0x00);
  });

  it('read-back latches status and count of several counters; status is read first', () => {
    const r = rig();
    program(r, 0, 2, 500);
    program(r, 1, 0, 500);
    // NULL COUNT until the load on the next edge; mode 0 OUT low, mode 2 OUT high.
    r.outb(0x43, 0xe6); // 11 1 0 CNT1 CNT0 0: status only
    expect(r.inb(0x40)).toBe(0x80 | 0x40 | 0x34);
    expect(r.inb(0x41)).toBe(0x40 | 0x30);
    r.advanceTo(edgeNs(11));
    r.outb(0x43, 0xc6); // status and count of counters 0 and 1
    r.advanceTo(edgeNs(50));
    r.outb(0x43, 0xc6); // ignored: both latched and unread
    expect(r.inb(0x40)).toBe(0x80 | 0x34);
    expect(r.inb(0x40) | (r.inb(0x40) << 8)).toBe(490);
    expect(r.inb(0x41)).toBe(0x30);
    expect(r.inb(0x41) | (r.inb(0x41) << 8)).toBe(490);
    // Read-back with the reserved bit 0 set and no counter selected does nothing.
    r.outb(0x43, 0xc1);
    expect(r.latched(0)).toBe(500 - 49);
  });

  it('BCD counting: counts 0x0100 down through 0x0099; 0 is 10,000', () => {
    const r = rig();
    program(r, 0, 0, 0x0100, true);
    r.advanceTo(edgeNs(2));
    expect(r.latched(0)).toBe(0x0099);
    r.advanceTo(edgeNs(101));
    expect(r.latched(0)).toBe(0x0000);
    r.advanceTo(edgeNs(102));
    expect(r.latched(0)).toBe(0x9999);
    program(r, 1, 2, 0, true);
    r.advanceTo(edgeNs(103));
    expect(r.latched(1)).toBe(0x0000); // 10000 reads as 0000
    r.advanceTo(edgeNs(104));
    expect(r.latched(1)).toBe(0x9999);
  });

  it('no clock timer is armed while counter 0 is unprogrammed or one-shot and done', () => {
    const r = rig();
    expect(r.clock.nextDeadlineNs()).toBe(Infinity);
    program(r, 2, 3, 100);
    program(r, 1, 2, 18);
    expect(r.clock.nextDeadlineNs()).toBe(Infinity);
  });

  it('hostile control words and reads never throw', () => {
    const r = rig();
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 16;
    };
    for (let i = 0; i < 20000; i++) {
      const port = 0x40 + (rnd() & 3);
      if (rnd() & 1) r.outb(port, rnd() & 0xff);
      else r.inb(port);
      if ((rnd() & 7) === 0) r.outb(0x61, rnd() & 0xff);
      r.advanceTo(r.host.ns + (rnd() & 0x3ff));
    }
  });
});

describe('Pit8254: state', () => {
  it('save/load mid-count resumes the same waveform', () => {
    const a = rig();
    program(a, 0, 2, 1000);
    program(a, 2, 3, 0x777);
    a.outb(0x61, 0x01);
    a.outb(0x43, 0x00); // a pending latch is state too
    a.advanceTo(edgeNs(2500));
    const saved = JSON.parse(JSON.stringify(a.pit.saveState())) as PitState;
    const b = rig();
    b.host.ns = a.host.ns;
    b.pit.loadState(saved, 1);
    b.port61.loadState(a.port61.saveState(), 1);
    expect(b.pit.saveState()).toEqual(a.pit.saveState());
    a.irq.changes = [];
    b.irq.changes = [];
    b.irq.level = a.irq.level;
    a.advanceTo(edgeNs(6000));
    b.advanceTo(edgeNs(6000));
    expect(b.irq.changes).toEqual(a.irq.changes);
    expect(b.irq.rises).toBe(3); // edges 3001, 4001, 5001
    expect(b.inb(0x40)).toBe(a.inb(0x40));
    expect(b.latched(2)).toBe(a.latched(2));
    expect(b.inb(0x61) & 0x21).toBe(a.inb(0x61) & 0x21);
  });

  it('random programming survives save → load → save', () => {
    const r = rig();
    let seed = 99;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 16;
    };
    for (let i = 0; i < 500; i++) {
      r.outb(0x40 + (rnd() & 3), rnd() & 0xff);
      if ((rnd() & 3) === 0) r.outb(0x61, rnd() & 1);
      r.advanceTo(r.host.ns + (rnd() & 0xfff));
      const b = rig();
      b.host.ns = r.host.ns;
      b.pit.loadState(r.pit.saveState(), 1);
      expect(b.pit.saveState()).toEqual(r.pit.saveState());
    }
  });

  it('rejects malformed state', () => {
    const r = rig();
    const good = defaultPitState();
    expect(() => r.pit.loadState(good, 2)).toThrow(SnapshotError);
    expect(() => r.pit.loadState({ ...good, counters: good.counters.slice(0, 2) }, 1)).toThrow(SnapshotError);
    const bad = defaultPitState();
    bad.counters[0]!.n = 0;
    expect(() => r.pit.loadState(bad, 1)).toThrow(SnapshotError);
    const gate = defaultPitState();
    gate.counters[1]!.gate = false;
    expect(() => r.pit.loadState(gate, 1)).toThrow(SnapshotError);
  });
});
