/**
 * MC146818 RTC/CMOS tests. Expected values come from the Motorola datasheet (register bits,
 * Table 3 formats, Table 5 periodic rates, UIP 244 µs before the update, flags in register C
 * cleared by reading it), the calendar (2024 is a leap year; 2024-02-29 is a Thursday), and
 * the IBM AT CMOS layout QEMU fills in, all spelled out here rather than imported.
 */
import { describe, expect, it } from 'vitest';
import { Mc146818, defaultRtcState, type RtcState } from '../../devices/rtc/mc146818.js';
import { pcCmosNvram } from '../../devices/rtc/pc-cmos.js';
import { VirtualClock } from '../../src/machine/clock.js';
import type { IrqLine } from '../../src/machine/irq.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { SnapshotError } from '../../src/errors.js';

const START = Date.UTC(2024, 1, 29, 23, 59, 58, 250); // Thursday 2024-02-29 23:59:58.250
const MS = 1_000_000;

class TimedIrq implements IrqLine {
  level = false;
  rises: number[] = [];
  constructor(private readonly now: () => number) {}
  set(level: boolean): void {
    if (level && !this.level) this.rises.push(this.now());
    this.level = level;
  }
}

function rig(opts: { state?: RtcState; nvram?: [number, number][]; startMs?: number } = {}) {
  const host = { ns: 0 };
  const clock = new VirtualClock({ kind: 'realtime' }, () => host.ns);
  clock.start();
  const irq = new TimedIrq(() => clock.nowNs());
  const rtc = new Mc146818({ clock, irq, startMs: opts.startMs ?? START, nvram: opts.nvram }, opts.state);
  const bus = new IoPortBus();
  bus.map('rtc', 0x70, 2, rtc);
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
  const read = (i: number) => {
    bus.write(0x70, 1, i);
    return bus.read(0x71, 1);
  };
  const write = (i: number, v: number) => {
    bus.write(0x70, 1, i);
    bus.write(0x71, 1, v);
  };
  /** [sec, min, hour, dow, day, month, year, century] as the registers read. */
  const time = () => [0, 2, 4, 6, 7, 8, 9, 0x32].map(read);
  return { clock, host, irq, rtc, bus, advanceTo, read, write, time };
}

describe('Mc146818: time keeping', () => {
  it('shows the start time in BCD 24-hour format and counts virtual seconds across a leap day', () => {
    const r = rig();
    expect(r.time()).toEqual([0x58, 0x59, 0x23, 5, 0x29, 0x02, 0x24, 0x20]);
    r.advanceTo(750 * MS - 1);
    expect(r.read(0)).toBe(0x58);
    r.advanceTo(750 * MS);
    expect(r.read(0)).toBe(0x59);
    r.advanceTo(1750 * MS);
    // Friday 2024-03-01 00:00:00.
    expect(r.time()).toEqual([0x00, 0x00, 0x00, 6, 0x01, 0x03, 0x24, 0x20]);
  });

  it('binary mode and 12-hour mode with the PM bit', () => {
    const r = rig();
    r.write(0x0b, 0x06); // binary, 24 h
    expect(r.time().slice(0, 3)).toEqual([58, 59, 23]);
    r.write(0x0b, 0x04); // binary, 12 h: 11 PM
    expect(r.read(4)).toBe(0x80 | 11);
    r.write(0x0b, 0x00); // BCD, 12 h
    expect(r.read(4)).toBe(0x91);
    r.advanceTo(1750 * MS); // midnight is 12 AM
    expect(r.read(4)).toBe(0x12);
    r.advanceTo(1750 * MS + 12 * 3600 * 1e9); // noon is 12 PM
    expect(r.read(4)).toBe(0x92);
    // Setting the hour in 12-hour format: 0x81 = 1 PM.
    r.write(4, 0x81);
    r.write(0x0b, 0x02);
    expect(r.read(4)).toBe(0x13);
  });

  it('SET stops updates and clears UIE; clearing it starts the clock from the registers', () => {
    const r = rig();
    r.write(0x0b, 0x12); // UIE
    r.write(0x0b, 0x82 | 0x10); // SET with UIE: UIE is cleared
    expect(r.read(0x0b)).toBe(0x82);
    r.advanceTo(5000 * MS);
    expect(r.read(0)).toBe(0x58);
    expect(r.read(0x0a) & 0x80).toBe(0); // no UIP while SET
    // 2030-01-02 03:04:05 (a Wednesday: day of week 4).
    for (const [i, v] of [[0, 0x05], [2, 0x04], [4, 0x03], [7, 0x02], [8, 0x01], [9, 0x30]] as const) r.write(i, v);
    r.write(0x0b, 0x02);
    expect(r.time()).toEqual([0x05, 0x04, 0x03, 4, 0x02, 0x01, 0x30, 0x20]);
    // The divider kept its phase: the next update is at the next x.750 s.
    r.advanceTo(5750 * MS - 1);
    expect(r.read(0)).toBe(0x05);
    r.advanceTo(5750 * MS);
    expect(r.read(0)).toBe(0x06);
  });

  it('writing a time register while the clock runs sets the clock', () => {
    const r = rig();
    r.advanceTo(100 * MS);
    r.write(2, 0x30); // minutes
    expect(r.time().slice(0, 3)).toEqual([0x58, 0x30, 0x23]);
    r.advanceTo(750 * MS);
    expect(r.time().slice(0, 3)).toEqual([0x59, 0x30, 0x23]);
  });

  it('UIP is set during the 244 µs before each update', () => {
    const r = rig();
    const update = 750 * MS;
    r.advanceTo(update - 244_141);
    expect(r.read(0x0a)).toBe(0x26);
    r.advanceTo(update - 244_140);
    expect(r.read(0x0a)).toBe(0xa6);
    r.advanceTo(update - 1);
    expect(r.read(0x0a)).toBe(0xa6);
    r.advanceTo(update);
    expect(r.read(0x0a)).toBe(0x26);
    r.write(0x0a, 0xa6); // UIP is read-only
    expect(r.read(0x0a)).toBe(0x26);
  });

  it('divider reset (DV = 11x) stops the clock; the first update comes 500 ms after release', () => {
    const r = rig();
    r.write(0x0a, 0x76);
    r.advanceTo(10_000 * MS);
    expect(r.read(0)).toBe(0x58);
    r.write(0x0a, 0x26);
    r.advanceTo(10_500 * MS - 1);
    expect(r.read(0)).toBe(0x58);
    r.advanceTo(10_500 * MS);
    expect(r.read(0)).toBe(0x59);
  });
});

describe('Mc146818: interrupts and register C', () => {
  it('periodic interrupt at 1024 Hz: IRQ 8 rises on each tap, reading C clears IRQF and PF', () => {
    const r = rig({ startMs: Date.UTC(2024, 0, 1) });
    r.write(0x0b, 0x42); // PIE
    r.advanceTo(1_000_000);
    // Taps at k · 976562.5 ns (the divider's phase is whole seconds here).
    expect(r.irq.rises).toEqual([976_563]);
    expect(r.read(0x0c)).toBe(0xc0);
    expect(r.irq.level).toBe(false);
    expect(r.read(0x0c)).toBe(0x00);
    r.advanceTo(1_953_125);
    expect(r.irq.rises).toEqual([976_563, 1_953_125]);
    // Rate 0011 = 122.070 µs (4 ticks of 32.768 kHz).
    r.read(0x0c);
    r.write(0x0a, 0x23);
    r.advanceTo(2_100_000);
    expect(r.irq.rises[2]).toBe(Math.ceil((17 * 4 * 1e9) / 32768));
  });

  it('PF is set without PIE, but IRQF stays clear and no timer runs', () => {
    const r = rig();
    r.advanceTo(10 * MS);
    expect(r.clock.nextDeadlineNs()).toBe(Infinity);
    expect(r.read(0x0c)).toBe(0x40);
    expect(r.irq.rises).toEqual([]);
    // Enabling PIE with PF already pending raises IRQF at once (IRQF = PF·PIE + …).
    r.advanceTo(20 * MS);
    r.write(0x0b, 0x42);
    expect(r.irq.level).toBe(true);
    expect(r.read(0x0c)).toBe(0xc0);
  });

  it('update-ended interrupt once per second', () => {
    const r = rig();
    r.write(0x0b, 0x12);
    r.advanceTo(3 * 1000 * MS);
    expect(r.irq.rises).toEqual([750 * MS]); // IRQF stays set until C is read
    // IRQF, PF (the 1024 Hz rate runs too), UF, and AF: the power-on alarm 00:00:00 matched
    // at the update of 1.75 s.
    expect(r.read(0x0c)).toBe(0xf0);
    r.advanceTo(4 * 1000 * MS);
    expect(r.irq.rises).toEqual([750 * MS, 3750 * MS]);
  });

  it('alarm interrupt at the matching second, with AF and UF', () => {
    const r = rig();
    r.write(0x0a, 0x20); // no periodic rate, to see AF/UF alone
    r.write(1, 0x05);
    r.write(3, 0x00);
    r.write(5, 0x00); // 00:00:05, reached by the update at 6.75 s
    r.write(0x0b, 0x22); // AIE
    r.advanceTo(10_000 * MS);
    expect(r.irq.rises).toEqual([6750 * MS]);
    expect(r.read(0x0c)).toBe(0xb0);
  });

  it("alarm don't-care bytes (11xxxxxx) match any value", () => {
    const r = rig();
    r.write(0x0a, 0x20);
    r.write(1, 0x30);
    r.write(3, 0xc0);
    r.write(5, 0xff); // every minute at :30
    r.write(0x0b, 0x22);
    r.advanceTo(100_000 * MS);
    // 00:00:00 comes with the update at 1.75 s, so 00:00:30 at 31.75 s; IRQF then stays set.
    expect(r.irq.rises).toEqual([31_750 * MS]);
    expect(r.read(0x0c)).toBe(0xb0);
    // Cleared at 100 s: the next match is 00:02:30, the update at 151.75 s.
    r.advanceTo(200_000 * MS);
    expect(r.irq.rises).toEqual([31_750 * MS, 151_750 * MS]);
  });

  it('a 12-hour alarm matches the hour byte with its PM bit', () => {
    const r = rig();
    r.write(0x0a, 0x20);
    r.write(0x0b, 0x00); // BCD, 12 h
    r.write(1, 0x00);
    r.write(3, 0x00);
    r.write(5, 0x81); // 1 PM
    r.write(0x0b, 0x20); // AIE
    r.advanceTo(50_000 * 1000 * MS);
    // Midnight comes with the update at 1.75 s; 13:00:00 thirteen hours later.
    expect(r.irq.rises).toEqual([(1750 + 13 * 3600 * 1000) * MS]);
  });

  it('an alarm that can never match (BCD seconds 0x99) arms no timer', () => {
    const r = rig();
    r.write(0x0a, 0x20);
    r.write(1, 0x99);
    r.write(0x0b, 0x22);
    expect(r.clock.nextDeadlineNs()).toBe(Infinity);
  });

  it('registers C and D are read-only; D reads VRT', () => {
    const r = rig();
    r.write(0x0c, 0xff);
    r.write(0x0d, 0x00);
    expect(r.read(0x0d)).toBe(0x80);
    expect(r.read(0x0c)).toBe(0x00);
  });

  it('machine reset clears the interrupt enables and flags, keeps time and CMOS', () => {
    const r = rig({ nvram: [[0x40, 0x5a]] });
    r.write(0x0b, 0x7a);
    r.advanceTo(2000 * MS);
    r.rtc.reset();
    expect(r.read(0x0b)).toBe(0x02); // PIE, AIE, UIE, SQWE cleared; 24 h kept
    expect(r.read(0x0c)).toBe(0);
    expect(r.irq.level).toBe(false);
    expect(r.read(0x40)).toBe(0x5a);
    expect(r.read(0)).toBe(0x00);
  });
});

describe('Mc146818: CMOS RAM and ports', () => {
  it('memory-size fields and checksum as QEMU fills them (128 MiB)', () => {
    const below = 128 * 1024 * 1024;
    const r = rig({ nvram: pcCmosNvram({ belowFourGBytes: below, aboveFourGBytes: 0 }) });
    expect(r.read(0x14)).toBe(0x06);
    expect([r.read(0x15), r.read(0x16)]).toEqual([0x80, 0x02]); // 640 KiB
    expect([r.read(0x17), r.read(0x18), r.read(0x30), r.read(0x31)]).toEqual([0xff, 0xff, 0xff, 0xff]); // 127 MiB > 0xFFFF KiB
    expect([r.read(0x34), r.read(0x35)]).toEqual([0x00, 0x07]); // 112 MiB / 64 KiB = 0x0700
    expect([r.read(0x5b), r.read(0x5c), r.read(0x5d)]).toEqual([0, 0, 0]);
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += r.read(i);
    expect((r.read(0x2e) << 8) | r.read(0x2f)).toBe(sum);
    expect(r.read(0x32)).toBe(0x20); // century
  });

  it('memory-size fields for 32 MiB and for 6 GiB split at 3.5 GiB', () => {
    const small = new Map(pcCmosNvram({ belowFourGBytes: 32 * 1024 * 1024, aboveFourGBytes: 0 }));
    expect([small.get(0x17), small.get(0x18)]).toEqual([0x00, 0x7c]); // 31744 KiB
    expect([small.get(0x34), small.get(0x35)]).toEqual([0x00, 0x01]); // 16 MiB / 64 KiB
    const big = new Map(pcCmosNvram({ belowFourGBytes: 0xe0000000, aboveFourGBytes: 0xa0000000 }));
    expect([big.get(0x34), big.get(0x35)]).toEqual([0x00, 0xdf]); // (3584 - 16) MiB / 64 KiB
    expect([big.get(0x5b), big.get(0x5c), big.get(0x5d)]).toEqual([0x00, 0xa0, 0x00]); // 2.5 GiB / 64 KiB
  });

  it('the index wraps at 128 and bit 7 of port 0x70 is the NMI mask', () => {
    const r = rig();
    r.bus.write(0x70, 1, 0x90);
    r.bus.write(0x71, 1, 0x42);
    expect(r.rtc.nmiMasked).toBe(true);
    r.bus.write(0x70, 1, 0x10);
    expect(r.rtc.nmiMasked).toBe(false);
    expect(r.bus.read(0x71, 1)).toBe(0x42);
    r.bus.write(0x70, 1, 0xff);
    r.bus.write(0x71, 1, 0x33);
    expect(r.read(0x7f)).toBe(0x33);
    expect(r.bus.read(0x70, 1)).toBe(0xff);
  });

  it('hostile register values never throw', () => {
    const r = rig();
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 16;
    };
    for (let i = 0; i < 5000; i++) {
      const idx = rnd() % 0x40;
      if (rnd() & 1) r.write(idx, rnd() & 0xff);
      else r.read(idx);
      r.advanceTo(r.host.ns + (rnd() & 0xfffff));
    }
  });
});

describe('Mc146818: state', () => {
  it('save/load mid-period resumes the same interrupts and time', () => {
    const a = rig({ nvram: pcCmosNvram({ belowFourGBytes: 64 << 20, aboveFourGBytes: 0 }) });
    a.write(0x0a, 0x2f); // 2 Hz
    a.write(0x0b, 0x52); // PIE, UIE
    a.advanceTo(1234 * MS);
    a.read(0x0c);
    const saved = JSON.parse(JSON.stringify(a.rtc.saveState())) as RtcState;
    const b = rig({ startMs: 0 });
    b.host.ns = a.host.ns;
    b.rtc.loadState(saved, 1);
    expect(b.rtc.saveState()).toEqual(a.rtc.saveState());
    a.irq.rises = [];
    b.irq.rises = [];
    for (let t = 1300; t <= 5000; t += 100) {
      a.advanceTo(t * MS);
      b.advanceTo(t * MS);
      if (a.irq.level) expect(a.read(0x0c)).toBe(b.read(0x0c));
    }
    expect(b.irq.rises).toEqual(a.irq.rises);
    expect(b.irq.rises.length).toBeGreaterThan(5);
    expect(b.time()).toEqual(a.time());
  });

  it('rejects malformed state', () => {
    const r = rig();
    const good = defaultRtcState(START);
    expect(() => r.rtc.loadState(good, 2)).toThrow(SnapshotError);
    expect(() => r.rtc.loadState({ ...good, cmos: good.cmos.slice(1) }, 1)).toThrow(SnapshotError);
    expect(() => r.rtc.loadState({ ...good, index: 128 }, 1)).toThrow(SnapshotError);
    const d = defaultRtcState(START);
    d.cmos[0x0d] = 0;
    expect(() => r.rtc.loadState(d, 1)).toThrow(SnapshotError);
  });
});
