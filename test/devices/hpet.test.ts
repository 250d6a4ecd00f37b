/**
 * HPET tests. Expected values come from the IA-PC HPET Specification 1.0a (register layout in
 * Table 3, GCAP_ID 2.3.4, Tn_CONF 2.3.8, comparator modes 2.3.9.2, LegacyReplacement 2.4) and
 * from what QEMU 7.2's `pc` board shows (GCAP_ID 0x8086A201, a 10 ns period, route capability
 * 4): the counter must read floor(elapsed ns / 10) from the value it was started with, and each
 * comparator must interrupt at the virtual ns where the counter reaches it, computed here.
 */
import { describe, expect, it } from 'vitest';
import {
  ENABLE_CNF, HPET_CAP_ID, HPET_PERIOD_FS, Hpet, LEG_RT_CNF, TN_32MODE_CNF, TN_INT_ENB_CNF, TN_INT_ROUTE_SHIFT,
  TN_INT_TYPE_LEVEL, TN_TYPE_PERIODIC, TN_VAL_SET_CNF, defaultHpetState, type HpetState,
} from '../../devices/timer/hpet.js';
import { VirtualClock } from '../../src/machine/clock.js';
import type { IrqLine } from '../../src/machine/irq.js';
import { SnapshotError } from '../../src/errors.js';

const GEN_CONF = 0x10;
const GINTR_STA = 0x20;
const MAIN_CNT = 0xf0;
const tConf = (n: number) => 0x100 + 0x20 * n;
const tCmp = (n: number) => 0x108 + 0x20 * n;

/** An IRQ line that records the virtual time of every level change (a pulse is two). */
class TimedIrq implements IrqLine {
  level = false;
  changes: [number, boolean][] = [];
  constructor(private readonly clock: () => number) {}
  set(level: boolean): void {
    if (level === this.level) return;
    this.level = level;
    this.changes.push([this.clock(), level]);
  }
  /** Virtual ns of every rising edge. */
  get rises(): number[] {
    return this.changes.filter(([, l]) => l).map(([t]) => t);
  }
}

function rig(state?: HpetState, startNs = 0) {
  const host = { ns: startNs };
  const clock = new VirtualClock({ kind: 'realtime' }, () => host.ns);
  clock.start();
  clock.warpTo(startNs); // virtual time = host time, as after a snapshot restore at startNs
  const lines = Array.from({ length: 32 }, () => new TimedIrq(() => clock.nowNs()));
  const hpet = new Hpet({ clock, irqs: lines }, state);
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
  const rd = (off: number) => hpet.mmioRead(off, 4);
  const wr = (off: number, v: number) => hpet.mmioWrite(off, 4, v >>> 0);
  const rd64 = (off: number) => (BigInt(rd(off + 4)) << 32n) | BigInt(rd(off));
  const wr64 = (off: number, v: bigint) => {
    wr(off, Number(v & 0xffffffffn));
    wr(off + 4, Number(v >> 32n));
  };
  return { host, clock, lines, hpet, advanceTo, rd, wr, rd64, wr64 };
}

describe('HPET registers', () => {
  it('capabilities: vendor 8086, LegacyReplacement, 64-bit counter, 3 comparators, rev 1, 10 ns period', () => {
    const { rd } = rig();
    const cap = rd(0x000);
    expect(cap).toBe(0x8086a201);
    expect(cap).toBe(HPET_CAP_ID);
    expect(cap >>> 16).toBe(0x8086); // VENDOR_ID
    expect((cap >>> 15) & 1).toBe(1); // LEG_RT_CAP
    expect((cap >>> 13) & 1).toBe(1); // COUNT_SIZE_CAP
    expect(((cap >>> 8) & 0x1f) + 1).toBe(3); // NUM_TIM_CAP
    expect(cap & 0xff).toBe(1); // REV_ID
    expect(rd(0x004)).toBe(10_000_000); // COUNTER_CLK_PERIOD in fs
    expect(HPET_PERIOD_FS).toBe(10_000_000);
  });

  it('power-on: halted, comparators all ones, periodic- and 64-bit-capable, I/O APIC input 2 only', () => {
    const { rd, rd64 } = rig();
    expect(rd(GEN_CONF)).toBe(0);
    expect(rd(GINTR_STA)).toBe(0);
    expect(rd64(MAIN_CNT)).toBe(0n);
    for (let n = 0; n < 3; n++) {
      expect(rd(tConf(n))).toBe(0x30); // Tn_PER_INT_CAP | Tn_SIZE_CAP, FSB_INT_DEL_CAP clear
      expect(rd(tConf(n) + 4)).toBe(0x00000004); // Tn_INT_ROUTE_CAP (QEMU pc's hpet-intcap)
      expect(rd64(tCmp(n))).toBe(0xffff_ffff_ffff_ffffn);
    }
    // Reserved registers and the space past timer 2 read 0.
    for (const off of [0x008, 0x014, 0x024, 0x0e0, 0x118, 0x160, 0x3fc]) expect(rd(off)).toBe(0);
  });

  it('read-only fields ignore writes; FSB delivery cannot be enabled', () => {
    const { rd, wr } = rig();
    wr(0x000, 0);
    wr(0x004, 1);
    wr(tConf(0) + 4, 0xffffffff);
    wr(tConf(0), 0xffffffff);
    expect(rd(0x000)).toBe(0x8086a201);
    expect(rd(0x004)).toBe(10_000_000);
    expect(rd(tConf(0) + 4)).toBe(4);
    // Writable: INT_TYPE, INT_ENB, TYPE, VAL_SET, 32MODE, INT_ROUTE; capability bits stay.
    expect(rd(tConf(0))).toBe(0x3f4e | 0x30);
    wr(GEN_CONF, 0xffffffff);
    expect(rd(GEN_CONF)).toBe(ENABLE_CNF | LEG_RT_CNF);
    expect(rd(GEN_CONF + 4)).toBe(0);
  });
});

describe('HPET main counter', () => {
  it('counts at 100 MHz of virtual time while ENABLE_CNF is set and holds while halted', () => {
    const { rd, wr, rd64, advanceTo } = rig();
    advanceTo(1_000);
    expect(rd64(MAIN_CNT)).toBe(0n);
    wr(GEN_CONF, ENABLE_CNF);
    advanceTo(1_000 + 12_345);
    expect(rd64(MAIN_CNT)).toBe(1_234n);
    advanceTo(1_000 + 1_000_000_009);
    expect(rd(MAIN_CNT)).toBe(100_000_000);
    wr(GEN_CONF, 0);
    advanceTo(5_000_000_000);
    expect(rd(MAIN_CNT)).toBe(100_000_000);
    wr(GEN_CONF, ENABLE_CNF);
    advanceTo(5_000_000_000 + 25);
    expect(rd(MAIN_CNT)).toBe(100_000_002);
  });

  it('is written in halves while halted, carries into the high half, and ignores writes while running', () => {
    const { wr, rd, rd64, wr64, advanceTo } = rig();
    wr64(MAIN_CNT, 0x1_ffff_fff0n);
    expect(rd64(MAIN_CNT)).toBe(0x1_ffff_fff0n);
    wr(GEN_CONF, ENABLE_CNF);
    advanceTo(200);
    expect(rd(MAIN_CNT)).toBe(0x4);
    expect(rd(MAIN_CNT + 4)).toBe(0x2);
    wr64(MAIN_CNT, 0n);
    expect(rd64(MAIN_CNT)).toBe(0x2_0000_0004n);
  });

  it('wraps at 2^64', () => {
    const { wr, rd64, wr64, advanceTo } = rig();
    wr64(MAIN_CNT, 0xffff_ffff_ffff_fffen);
    wr(GEN_CONF, ENABLE_CNF);
    advanceTo(50);
    expect(rd64(MAIN_CNT)).toBe(3n);
  });
});

describe('HPET comparators', () => {
  it('one-shot, edge: one pulse on the route when the counter reaches the comparator, no status bit', () => {
    const { wr, rd, wr64, lines, advanceTo } = rig();
    wr(GEN_CONF, ENABLE_CNF);
    advanceTo(1_000); // counter 100
    wr(tConf(2), TN_INT_ENB_CNF | (2 << TN_INT_ROUTE_SHIFT));
    wr64(tCmp(2), 5_100n);
    advanceTo(10_000_000_000);
    expect(lines[2]!.changes).toEqual([[51_000, true], [51_000, false]]);
    expect(rd(GINTR_STA)).toBe(0);
    expect(rd(tCmp(2))).toBe(5_100); // a one-shot comparator keeps its value
  });

  it('a one-shot comparator equal to the counter when written fires at once', () => {
    const { wr, lines, advanceTo, rd } = rig();
    wr(GEN_CONF, ENABLE_CNF);
    advanceTo(700);
    wr(tConf(1), TN_INT_ENB_CNF | (5 << TN_INT_ROUTE_SHIFT));
    wr(tCmp(1) + 4, 0);
    wr(tCmp(1), rd(MAIN_CNT));
    advanceTo(700);
    expect(lines[5]!.rises).toEqual([700]);
  });

  it('periodic: the comparator advances by the last value written at each match (2.3.9.2.2)', () => {
    const { wr, rd, rd64, lines, advanceTo } = rig();
    wr(GEN_CONF, ENABLE_CNF);
    advanceTo(2_000); // counter 200
    // As Linux sets up its periodic tick: VAL_SET, comparator = now + period, then the period.
    // A 64-bit accumulator takes VAL_SET before each half (Tn_VAL_SET_CNF clears itself after a
    // comparator write); the last write, without it, sets the period alone.
    const conf = TN_INT_ENB_CNF | TN_TYPE_PERIODIC | (2 << TN_INT_ROUTE_SHIFT);
    wr(tConf(0), conf | TN_VAL_SET_CNF);
    wr(tCmp(0), 200 + 1_000);
    expect(rd(tConf(0)) & TN_VAL_SET_CNF).toBe(0);
    wr(tConf(0), conf | TN_VAL_SET_CNF);
    wr(tCmp(0) + 4, 0);
    wr(tCmp(0), 1_000);
    expect(rd64(tCmp(0))).toBe(1_200n);
    advanceTo(12_000);
    expect(rd64(tCmp(0))).toBe(2_200n);
    advanceTo(45_000);
    expect(lines[2]!.rises).toEqual([12_000, 22_000, 32_000, 42_000]);
    expect(rd64(tCmp(0))).toBe(5_200n);
    // Without VAL_SET a write changes only the period, from the next match on.
    wr(tCmp(0), 500);
    advanceTo(60_000);
    expect(lines[2]!.rises.slice(4)).toEqual([52_000, 57_000]);
  });

  it('periodic, host late: every elapsed period is accounted for, with one interrupt', () => {
    const { wr, rd64, lines, host, hpet } = rig();
    wr(GEN_CONF, ENABLE_CNF);
    wr(tConf(0), TN_INT_ENB_CNF | TN_TYPE_PERIODIC | TN_VAL_SET_CNF | TN_32MODE_CNF);
    wr(tCmp(0), 100);
    // 10.5 periods of virtual time pass before anything runs; a read sees the hardware's state.
    host.ns = 10_500;
    expect(rd64(tCmp(0))).toBe(1_100n);
    expect(lines[0]!.rises).toEqual([10_500]);
    expect(hpet.counter()).toBe(1_050n);
  });

  it('periodic in 32-bit mode: the comparator wraps with the low 32 counter bits', () => {
    const { wr, rd, wr64, lines, advanceTo } = rig();
    wr64(MAIN_CNT, 0xffff_ff00n);
    wr(tConf(1), TN_INT_ENB_CNF | TN_TYPE_PERIODIC | TN_VAL_SET_CNF | TN_32MODE_CNF | (3 << TN_INT_ROUTE_SHIFT));
    wr(tCmp(1), 0xffff_ff80);
    wr(tCmp(1), 0x100);
    expect(rd(tCmp(1) + 4)).toBe(0); // 32-bit: the high half reads 0
    wr(GEN_CONF, ENABLE_CNF);
    advanceTo(10_000);
    // Matches at counter 0xFFFFFF80, 0x1_0000_0080, 0x1_0000_0180, 0x1_0000_0280 (ticks 0x80,
    // 0x180, 0x280, 0x380); the comparator then holds the low bits of the next, 0x1_0000_0380.
    expect(lines[3]!.rises).toEqual([0x80 * 10, 0x180 * 10, 0x280 * 10, 0x380 * 10]);
    expect(rd(tCmp(1))).toBe(0x380);
  });

  it('one-shot in 32-bit mode also interrupts when the low 32 counter bits wrap; 64-bit mode does not', () => {
    const a = rig();
    a.wr64(MAIN_CNT, 0xffff_ff00n);
    a.wr(tConf(0), TN_INT_ENB_CNF | TN_32MODE_CNF | (2 << TN_INT_ROUTE_SHIFT));
    a.wr(tCmp(0), 0x80);
    a.wr(GEN_CONF, ENABLE_CNF);
    a.advanceTo(100_000);
    // Wrap at tick 0x100, then the match at 0x1_0000_0080 (tick 0x180).
    expect(a.lines[2]!.rises).toEqual([0x100 * 10, 0x180 * 10]);

    const b = rig();
    b.wr64(MAIN_CNT, 0xffff_ff00n);
    b.wr(tConf(0), TN_INT_ENB_CNF | (2 << TN_INT_ROUTE_SHIFT));
    b.wr64(tCmp(0), 0x80n);
    b.wr(GEN_CONF, ENABLE_CNF);
    b.advanceTo(100_000);
    // The 64-bit counter passed 0x80 long ago and reaches it again only after 2^64 ticks.
    expect(b.lines[2]!.rises).toEqual([]);
  });

  it('a 32-bit one-shot comparator matches again each time the low 32 bits come round', () => {
    const { wr, lines, host, clock, rd } = rig();
    wr(tConf(0), TN_INT_ENB_CNF | TN_32MODE_CNF | (2 << TN_INT_ROUTE_SHIFT));
    wr(tCmp(0), 0x10);
    wr(GEN_CONF, ENABLE_CNF);
    host.ns = 160;
    clock.runDueTimers();
    expect(lines[2]!.rises).toEqual([160]);
    // 2^32 ticks later: the wrap at tick 2^32, the match at 2^32 + 0x10.
    host.ns = 2 ** 32 * 10 + 500;
    expect(rd(GINTR_STA)).toBe(0);
    expect(lines[2]!.rises).toEqual([160, 2 ** 32 * 10 + 500]);
  });

  it('halting the counter stops the comparators; restarting finds the match again', () => {
    const { wr, lines, advanceTo } = rig();
    wr(tConf(0), TN_INT_ENB_CNF | (2 << TN_INT_ROUTE_SHIFT));
    wr(tCmp(0), 1_000);
    wr(tCmp(0) + 4, 0);
    wr(GEN_CONF, ENABLE_CNF);
    advanceTo(5_000);
    wr(GEN_CONF, 0); // counter holds 500
    advanceTo(50_000);
    expect(lines[2]!.rises).toEqual([]);
    wr(GEN_CONF, ENABLE_CNF);
    advanceTo(100_000);
    expect(lines[2]!.rises).toEqual([55_000]);
  });
});

describe('HPET interrupt status and routing', () => {
  it('level mode: the status bit and the line stay set until software writes 1 to the bit', () => {
    const { wr, rd, lines, advanceTo } = rig();
    wr(GEN_CONF, ENABLE_CNF);
    wr(tConf(2), TN_INT_ENB_CNF | TN_INT_TYPE_LEVEL | (20 << TN_INT_ROUTE_SHIFT));
    wr(tCmp(2), 100);
    wr(tCmp(2) + 4, 0);
    advanceTo(5_000);
    expect(rd(GINTR_STA)).toBe(0b100);
    expect(lines[20]!.changes).toEqual([[1_000, true]]);
    wr(GINTR_STA, 0b011); // other bits: no effect
    expect(rd(GINTR_STA)).toBe(0b100);
    expect(lines[20]!.level).toBe(true);
    advanceTo(6_000);
    wr(GINTR_STA, 0b100);
    expect(rd(GINTR_STA)).toBe(0);
    expect(lines[20]!.changes).toEqual([[1_000, true], [6_000, false]]);
  });

  it('level mode with Tn_INT_ENB_CNF clear sets the status bit only; enabling then raises the line', () => {
    const { wr, rd, lines, advanceTo } = rig();
    wr(GEN_CONF, ENABLE_CNF);
    wr(tConf(1), TN_INT_TYPE_LEVEL | (17 << TN_INT_ROUTE_SHIFT));
    wr(tCmp(1), 10);
    wr(tCmp(1) + 4, 0);
    advanceTo(1_000);
    expect(rd(GINTR_STA)).toBe(0b010);
    expect(lines[17]!.level).toBe(false);
    wr(tConf(1), TN_INT_TYPE_LEVEL | TN_INT_ENB_CNF | (17 << TN_INT_ROUTE_SHIFT));
    expect(lines[17]!.level).toBe(true);
    // Halting the block drops the line but keeps the status; switching to edge clears it.
    wr(GEN_CONF, 0);
    expect(lines[17]!.level).toBe(false);
    expect(rd(GINTR_STA)).toBe(0b010);
    wr(tConf(1), TN_INT_ENB_CNF | (17 << TN_INT_ROUTE_SHIFT));
    expect(rd(GINTR_STA)).toBe(0);
  });

  it('LegacyReplacement: timer 0 drives IRQ 0, timer 1 IRQ 8, and the PIT and RTC are cut off', () => {
    const { wr, lines, hpet, advanceTo } = rig();
    // Without it the PIT's and RTC's outputs pass straight through.
    hpet.pitIrqInput.set(true);
    hpet.rtcIrqInput.set(true);
    expect([lines[0]!.level, lines[8]!.level]).toEqual([true, true]);
    hpet.pitIrqInput.set(false);
    expect(lines[0]!.level).toBe(false);

    wr(GEN_CONF, ENABLE_CNF | LEG_RT_CNF);
    expect(hpet.legacyReplacement).toBe(true);
    expect(lines[8]!.level).toBe(false); // the RTC's asserted IRQ 8 is taken away
    hpet.pitIrqInput.set(true);
    hpet.pitIrqInput.set(false);
    hpet.rtcIrqInput.set(false);
    hpet.rtcIrqInput.set(true);
    expect(lines[0]!.changes.filter(([t]) => t > 0)).toEqual([]);

    // The route fields say 2 and 3, but legacy routing wins for timers 0 and 1.
    wr(tConf(0), TN_INT_ENB_CNF | (2 << TN_INT_ROUTE_SHIFT));
    wr(tCmp(0), 100);
    wr(tCmp(0) + 4, 0);
    wr(tConf(1), TN_INT_ENB_CNF | (3 << TN_INT_ROUTE_SHIFT));
    wr(tCmp(1), 200);
    wr(tCmp(1) + 4, 0);
    advanceTo(3_000);
    expect(lines[0]!.rises.filter((t) => t > 0)).toEqual([1_000]);
    expect(lines[8]!.rises.filter((t) => t > 0)).toEqual([2_000]);
    expect(lines[2]!.rises).toEqual([]);
    expect(lines[3]!.rises).toEqual([]);

    // Leaving legacy mode gives IRQ 8 back to the RTC at its current level.
    wr(GEN_CONF, ENABLE_CNF);
    expect(lines[8]!.level).toBe(true);
    expect(lines[0]!.level).toBe(false);
  });
});

describe('HPET state', () => {
  /** Sets up two running comparators and returns the rig. */
  function busy(startNs = 0) {
    const r = rig(undefined, startNs);
    r.wr(GEN_CONF, ENABLE_CNF | LEG_RT_CNF);
    r.wr(tConf(0), TN_INT_ENB_CNF | TN_TYPE_PERIODIC | TN_VAL_SET_CNF | TN_32MODE_CNF);
    r.wr(tCmp(0), 1_234);
    r.wr(tCmp(0), 777);
    r.wr(tConf(2), TN_INT_ENB_CNF | TN_INT_TYPE_LEVEL | (2 << TN_INT_ROUTE_SHIFT));
    r.wr(tCmp(2), 40_000);
    r.wr(tCmp(2) + 4, 0);
    r.advanceTo(startNs + 123_456);
    return r;
  }

  it('a restored HPET continues exactly as the original', () => {
    const a = busy();
    const saved = JSON.parse(JSON.stringify(a.hpet.saveState())) as HpetState;
    const b = rig(saved, 123_456);
    expect(b.hpet.saveState()).toEqual(a.hpet.saveState());
    expect(b.clock.armedTimers()).toEqual(a.clock.armedTimers());
    for (const r of [a, b]) r.advanceTo(1_000_000);
    const after = (r: typeof a) => ({
      irq0: r.lines[0]!.rises.filter((t) => t > 123_456),
      irq2: r.lines[2]!.changes.filter(([t]) => t > 123_456),
      counter: r.rd64(MAIN_CNT),
      cmp0: r.rd(tCmp(0)),
      sta: r.rd(GINTR_STA),
    });
    expect(after(b)).toEqual(after(a));
    expect(after(a).irq0.length).toBeGreaterThan(100);
    expect(after(a).irq2).toEqual([[400_000, true]]);
  });

  it('reset returns to the power-on state and stops the comparators', () => {
    const a = busy();
    a.hpet.reset();
    expect(a.hpet.saveState()).toEqual(defaultHpetState());
    expect(a.clock.armedTimers()).toEqual([]);
  });

  it('rejects hostile state before changing anything', () => {
    const { hpet } = rig();
    const good = busy().hpet.saveState();
    const bad: unknown[] = [
      null,
      { ...good, config: 4 },
      { ...good, isr: 8 },
      { ...good, counterHi: 2 ** 32 },
      { ...good, timers: good.timers.slice(0, 2) },
      { ...good, timers: [{ ...good.timers[0]!, config: 0 }, good.timers[1], good.timers[2]] },
      { ...good, timers: [{ ...good.timers[0]!, cmpHi: 1 }, good.timers[1], good.timers[2]] },
      { ...good, timers: [{ ...good.timers[0]!, dueTick: 2 ** 60 }, good.timers[1], good.timers[2]] },
      { ...good, config: 0 }, // halted with events due
    ];
    const before = hpet.saveState();
    for (const s of bad) expect(() => hpet.loadState(s, 1), JSON.stringify(s)).toThrow(SnapshotError);
    expect(() => hpet.loadState(good, 2)).toThrow(SnapshotError);
    expect(hpet.saveState()).toEqual(before);
  });

  for (const seed of [1, 2, 3]) {
    it(`hostile accesses never throw; random register writes survive save, load, save (seed ${seed})`, () => {
      let x = seed * 0x9e3779b9;
      const rnd = (n: number) => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return (x >>> 0) % n;
      };
      const r = rig();
      const sizes = [1, 2, 4] as const;
      for (let i = 0; i < 3_000; i++) {
        const off = rnd(4) === 0 ? rnd(0x400) : (rnd(0x400) & ~3) % 0x180;
        const size = sizes[rnd(3)]!;
        const value = rnd(2) ? rnd(0x1_0000_0000) : [0, 1, 3, 0xffffffff][rnd(4)]!;
        if (rnd(2)) r.hpet.mmioWrite(off, size, size === 4 ? value : value & ((1 << (8 * size)) - 1));
        else {
          const v = r.hpet.mmioRead(off, size);
          expect(v >>> 0).toBe(v);
          if (size !== 4 || (off & 3) !== 0) expect(v).toBe(0);
        }
        if (rnd(8) === 0) r.advanceTo(r.host.ns + rnd(100_000));
      }
      const saved = r.hpet.saveState();
      const b = rig(JSON.parse(JSON.stringify(saved)) as HpetState, r.host.ns);
      expect(b.hpet.saveState()).toEqual(saved);
    });
  }
});
