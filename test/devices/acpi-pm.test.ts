/**
 * PIIX4 PM1 / PM timer tests. Expected values come from the ACPI specification (section 4.8:
 * PM1 bit positions, write-1-to-clear, the 3.579545 MHz timer, TMR_STS on bit 23) computed in
 * the test with BigInt, independently of the device's arithmetic.
 */
import { describe, expect, it } from 'vitest';
import { AcpiPm, ACPI_PM_IO_LENGTH, defaultAcpiPmState, type AcpiPmDeps, type AcpiPmState } from '../../devices/acpi/acpi-pm.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { RecordingIrqLine } from '../../src/machine/irq.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { SnapshotError } from '../../src/errors.js';

const BASE = 0x600;
// ACPI 4.8.3.1 bit positions, spelled out here rather than imported.
const TMR = 1 << 0;
const BM = 1 << 4;
const GBL = 1 << 5;
const PWRBTN = 1 << 8;
const RTC = 1 << 10;
const WAK = 1 << 15;
const SCI_EN = 1 << 0;
const SLP_EN = 1 << 13;

/** Ticks of a 3.579545 MHz counter after `ns`, exactly. */
function ticks(ns: number | bigint): bigint {
  return (BigInt(ns) * 3579545n) / 1_000_000_000n;
}
/** First ns at which the counter reaches `t` ticks. */
function nsAt(t: bigint): number {
  return Number((t * 1_000_000_000n + 3579545n - 1n) / 3579545n);
}

function rig(deps: Partial<AcpiPmDeps> = {}, startNs = 0, state?: AcpiPmState) {
  // The fake host clock reads 0 when the clock starts, so virtual time equals host.ns.
  const host = { ns: 0 };
  const clock = new VirtualClock({ kind: 'realtime' }, () => host.ns);
  clock.start();
  host.ns = startNs;
  const sci = new RecordingIrqLine();
  const events: string[] = [];
  const pm = new AcpiPm(
    { clock, sci, onPowerOff: () => events.push('off'), onSuspend: (t) => events.push(`suspend ${t}`), ...deps },
    state,
  );
  const bus = new IoPortBus();
  bus.map('piix4_pm', BASE, ACPI_PM_IO_LENGTH, pm.ports, { widths: [1, 2, 4] });
  const advanceTo = (ns: number) => {
    host.ns = ns;
    clock.runDueTimers();
  };
  return { pm, bus, clock, sci, events, host, advanceTo };
}

describe('AcpiPm: PM timer', () => {
  it('counts at 3.579545 MHz from the virtual clock', () => {
    const r = rig();
    expect(r.bus.read(BASE + 8, 4)).toBe(0);
    for (const ns of [1, 279, 280, 1_000_000, 999_999_999, 1_000_000_000, 4_686_968_636, 123_456_789_012]) {
      r.host.ns = ns;
      expect(r.bus.read(BASE + 8, 4), `at ${ns} ns`).toBe(Number(ticks(ns) % 2n ** 24n));
    }
  });

  it('keeps exact ticks at large virtual times', () => {
    const r = rig();
    for (const ns of [86_400e9 + 17, 2 ** 52 + 3, 2 ** 53 - 1]) {
      r.host.ns = ns;
      expect(r.bus.read(BASE + 8, 4), `at ${ns} ns`).toBe(Number(ticks(ns) % 2n ** 24n));
    }
  });

  it('advances by the elapsed time times 3579545 Hz within one tick of rounding', () => {
    const r = rig({}, 5_000_000_123);
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 200; i++) {
      const before = r.bus.read(BASE + 8, 4);
      const dt = Math.floor(rnd() * 3e9);
      r.host.ns += dt;
      const delta = (r.bus.read(BASE + 8, 4) - before + 2 ** 24) % 2 ** 24;
      const ideal = (dt * 3579545) / 1e9;
      expect(Math.abs(delta - (ideal % 2 ** 24))).toBeLessThanOrEqual(1);
    }
  });

  it('reads the same value through byte and word lanes and ignores writes', () => {
    const r = rig({}, 3_000_000_000);
    const v = r.bus.read(BASE + 8, 4);
    const bytes = [0, 1, 2, 3].map((i) => r.bus.read(BASE + 8 + i, 1));
    expect(bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)).toBe(v);
    expect(bytes[3]).toBe(0); // 24-bit counter
    expect(r.bus.read(BASE + 10, 2)).toBe(v >>> 16);
    r.bus.write(BASE + 8, 4, 0x12345678);
    expect(r.bus.read(BASE + 8, 4)).toBe(v);
  });
});

describe('AcpiPm: PM1 event block and SCI', () => {
  it('drives SCI from (STS & EN) for each event with an enable bit', () => {
    const pairs = [TMR, GBL, PWRBTN, RTC];
    for (const sts of [0, ...pairs, GBL | RTC, BM | WAK]) {
      for (const en of [0, ...pairs, TMR | GBL | PWRBTN | RTC]) {
        const r = rig({}, 0, { pm1Sts: sts, pm1En: en, pm1Cnt: SCI_EN, tmrOverflowNs: -1 });
        expect(r.sci.level, `sts=${sts.toString(16)} en=${en.toString(16)}`).toBe((sts & en) !== 0);
      }
    }
  });

  it('clears PM1_STS bits written as 1 and only those', () => {
    const all = TMR | BM | GBL | PWRBTN | RTC | WAK;
    const r = rig({}, 0, { pm1Sts: all, pm1En: 0, pm1Cnt: SCI_EN, tmrOverflowNs: -1 });
    expect(r.bus.read(BASE, 2)).toBe(all);
    r.bus.write(BASE, 2, 0);
    expect(r.bus.read(BASE, 2)).toBe(all);
    r.bus.write(BASE, 2, PWRBTN);
    expect(r.bus.read(BASE, 2)).toBe(all & ~PWRBTN);
    r.bus.write(BASE + 1, 1, WAK >>> 8);
    expect(r.bus.read(BASE, 2)).toBe(all & ~PWRBTN & ~WAK);
    r.bus.write(BASE, 2, 0xffff);
    expect(r.bus.read(BASE, 2)).toBe(0);
  });

  it('drops SCI when the status is cleared or the enable removed', () => {
    const r = rig();
    r.bus.write(BASE + 2, 2, PWRBTN);
    expect(r.bus.read(BASE + 2, 2)).toBe(PWRBTN);
    r.pm.powerButton();
    expect(r.sci.level).toBe(true);
    expect(r.sci.rises).toBe(1);
    r.bus.write(BASE + 2, 2, 0);
    expect(r.sci.level).toBe(false);
    r.bus.write(BASE + 2, 2, PWRBTN);
    expect(r.sci.level).toBe(true);
    r.bus.write(BASE, 2, PWRBTN);
    expect(r.sci.level).toBe(false);
  });

  it('keeps a power-button press pending while PWRBTN_EN is clear', () => {
    const r = rig();
    r.pm.powerButton();
    expect(r.sci.level).toBe(false);
    expect(r.bus.read(BASE, 2) & PWRBTN).toBe(PWRBTN);
    r.bus.write(BASE + 2, 2, PWRBTN);
    expect(r.sci.level).toBe(true);
  });

  it('accepts STS and EN in one 32-bit write (STS low, EN high)', () => {
    const r = rig({}, 0, { pm1Sts: PWRBTN | RTC, pm1En: 0, pm1Cnt: SCI_EN, tmrOverflowNs: -1 });
    r.bus.write(BASE, 4, (RTC << 16) | PWRBTN);
    expect(r.bus.read(BASE, 4)).toBe((RTC << 16) | RTC);
    expect(r.sci.level).toBe(true);
  });

  it('sets TMR_STS when counter bit 23 toggles and raises SCI with TMR_EN', () => {
    const toggle1 = nsAt(1n << 23n);
    const toggle2 = nsAt(2n << 23n);
    const r = rig();
    r.bus.write(BASE + 2, 2, TMR);
    expect(r.clock.nextDeadlineNs()).toBe(toggle1);

    r.advanceTo(toggle1 - 1);
    expect(r.bus.read(BASE + 8, 4) & (1 << 23)).toBe(0);
    expect(r.bus.read(BASE, 2) & TMR).toBe(0);
    expect(r.sci.level).toBe(false);

    r.advanceTo(toggle1);
    expect(r.bus.read(BASE + 8, 4) & (1 << 23)).toBe(1 << 23);
    expect(r.sci.level).toBe(true);
    expect(r.bus.read(BASE, 2) & TMR).toBe(TMR);

    r.bus.write(BASE, 2, TMR);
    expect(r.sci.level).toBe(false);
    expect(r.clock.nextDeadlineNs()).toBe(toggle2);
    r.advanceTo(toggle2 - 1);
    expect(r.sci.level).toBe(false);
    r.advanceTo(toggle2);
    expect(r.sci.level).toBe(true);
    expect(r.sci.rises).toBe(2);
  });

  it('sets TMR_STS without TMR_EN too, and arms no timer then', () => {
    const r = rig();
    expect(r.clock.nextDeadlineNs()).toBe(Infinity);
    r.host.ns = nsAt(1n << 23n);
    expect(r.bus.read(BASE, 2)).toBe(TMR);
    expect(r.sci.level).toBe(false);
  });
});

describe('AcpiPm: PM1 control', () => {
  it('reports SCI_EN from reset and preserves it against guest writes', () => {
    const r = rig();
    expect(r.bus.read(BASE + 4, 2)).toBe(SCI_EN);
    r.bus.write(BASE + 4, 2, 0);
    expect(r.bus.read(BASE + 4, 2)).toBe(SCI_EN);
  });

  it('without acpiOnly, SCI_EN follows the ACPI enable command and gates SCI', () => {
    const r = rig({ acpiOnly: false });
    expect(r.bus.read(BASE + 4, 2)).toBe(0);
    r.bus.write(BASE + 2, 2, PWRBTN);
    r.pm.powerButton();
    expect(r.sci.level).toBe(false);
    r.pm.acpiEnableCommand(true);
    expect(r.bus.read(BASE + 4, 2)).toBe(SCI_EN);
    expect(r.sci.level).toBe(true);
    r.pm.acpiEnableCommand(false);
    expect(r.sci.level).toBe(false);
  });

  it('powers off on SLP_EN with SLP_TYP 0; SLP_EN reads 0', () => {
    const r = rig();
    r.bus.write(BASE + 4, 2, (0 << 10) | SLP_EN | SCI_EN);
    expect(r.events).toEqual(['off']);
    expect(r.bus.read(BASE + 4, 2) & SLP_EN).toBe(0);
    // A byte write to the high half with SLP_EN (bit 13 = bit 5 of that byte) does it too.
    r.bus.write(BASE + 5, 1, SLP_EN >>> 8);
    expect(r.events).toEqual(['off', 'off']);
  });

  it('stores SLP_TYP, and SLP_EN with another type asks for suspend', () => {
    const r = rig();
    r.bus.write(BASE + 4, 2, (5 << 10) | SCI_EN);
    expect(r.events).toEqual([]);
    expect(r.bus.read(BASE + 4, 2)).toBe((5 << 10) | SCI_EN);
    r.bus.write(BASE + 5, 1, ((5 << 10) | SLP_EN) >>> 8);
    expect(r.events).toEqual(['suspend 5']);
  });

  it('ignores other sleep types without onSuspend', () => {
    const r = rig({ onSuspend: undefined });
    expect(() => r.bus.write(BASE + 4, 2, (1 << 10) | SLP_EN)).not.toThrow();
    expect(r.events).toEqual([]);
  });
});

describe('AcpiPm: hostile guests', () => {
  it('never throws on random accesses anywhere in the block, and undecoded offsets read all ones', () => {
    const r = rig({ onPowerOff: () => {}, onSuspend: () => {} });
    let seed = 99;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    expect(() => {
      for (let i = 0; i < 5000; i++) {
        const size = ([1, 2, 4] as const)[Math.floor(rnd() * 3)]!;
        const port = BASE + Math.floor(rnd() * (ACPI_PM_IO_LENGTH + 4)) - 2;
        if (rnd() < 0.5) r.bus.write(port, size, Math.floor(rnd() * 2 ** 32));
        else r.bus.read(port, size);
        r.host.ns += Math.floor(rnd() * 1e8);
        r.clock.runDueTimers();
      }
    }).not.toThrow();
    expect(r.bus.read(BASE + 6, 2)).toBe(0xffff);
    expect(r.bus.read(BASE + 0x0c, 4)).toBe(0xffffffff);
    expect(r.bus.read(BASE + 0x3f, 1)).toBe(0xff);
  });
});

describe('AcpiPm: state', () => {
  it('round-trips and re-arms the TMR_STS timer on load', () => {
    const a = rig({}, 1_000_000_000);
    a.bus.write(BASE + 2, 2, TMR | PWRBTN);
    a.bus.write(BASE + 4, 2, 3 << 10);
    a.pm.powerButton();
    const saved = a.pm.saveState();
    expect(saved).toEqual({ pm1Sts: PWRBTN, pm1En: TMR | PWRBTN, pm1Cnt: SCI_EN | (3 << 10), tmrOverflowNs: nsAt(1n << 23n) });

    const b = rig({}, 1_000_000_000);
    b.pm.loadState(JSON.parse(JSON.stringify(saved)), 1);
    expect(b.pm.saveState()).toEqual(saved);
    expect(b.sci.level).toBe(true);
    expect(b.clock.nextDeadlineNs()).toBe(saved.tmrOverflowNs);
    b.bus.write(BASE, 2, PWRBTN);
    expect(b.sci.level).toBe(false);
    b.advanceTo(saved.tmrOverflowNs);
    expect(b.sci.level).toBe(true);
  });

  it('survives random register traffic: save, load into a fresh device, save again', () => {
    let seed = 4242;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let round = 0; round < 20; round++) {
      const a = rig({ onPowerOff: () => {}, onSuspend: () => {} }, Math.floor(rnd() * 1e12));
      for (let i = 0; i < 40; i++) {
        const off = Math.floor(rnd() * 6);
        a.bus.write(BASE + off, 1, Math.floor(rnd() * 256));
        if (rnd() < 0.2) a.pm.powerButton();
        a.advanceTo(a.host.ns + Math.floor(rnd() * 1e9));
      }
      const saved = a.pm.saveState();
      const b = rig({}, a.host.ns);
      b.pm.loadState(saved, 1);
      expect(b.pm.saveState()).toEqual(saved);
      expect(b.sci.level).toBe(a.sci.level);
    }
  });

  it('reset returns to the power-on registers', () => {
    const r = rig();
    r.bus.write(BASE + 2, 2, PWRBTN);
    r.pm.powerButton();
    r.pm.reset();
    expect(r.sci.level).toBe(false);
    expect([r.bus.read(BASE, 2), r.bus.read(BASE + 2, 2), r.bus.read(BASE + 4, 2)]).toEqual([0, 0, SCI_EN]);
    expect(defaultAcpiPmState().pm1Cnt).toBe(SCI_EN);
  });

  it('rejects malformed state without changing anything', () => {
    const r = rig();
    r.bus.write(BASE + 2, 2, PWRBTN);
    const before = r.pm.saveState();
    const good = { pm1Sts: 0, pm1En: 0, pm1Cnt: SCI_EN, tmrOverflowNs: -1 };
    const bad: unknown[] = [
      null,
      42,
      [],
      {},
      { ...good, pm1Sts: 0x10000 },
      { ...good, pm1Sts: 1 << 1 }, // reserved bit
      { ...good, pm1En: 1 << 4 }, // BM has no enable
      { ...good, pm1Cnt: SLP_EN }, // write-only bit cannot be saved
      { ...good, pm1Cnt: -1 },
      { ...good, tmrOverflowNs: -2 },
      { ...good, tmrOverflowNs: 1.5 },
      { ...good, tmrOverflowNs: Infinity },
      { ...good, tmrOverflowNs: '0' },
      { pm1Sts: 0, pm1En: 0, pm1Cnt: 0 },
    ];
    for (const s of bad) expect(() => r.pm.loadState(s, 1), JSON.stringify(s)).toThrow(SnapshotError);
    expect(() => r.pm.loadState(good, 2)).toThrow(SnapshotError);
    expect(r.pm.saveState()).toEqual(before);
  });

  it('clamps an overflow deadline beyond the next toggle', () => {
    const r = rig();
    r.pm.loadState({ pm1Sts: 0, pm1En: 0, pm1Cnt: SCI_EN, tmrOverflowNs: 1e15 }, 1);
    expect(r.pm.saveState().tmrOverflowNs).toBe(nsAt(1n << 23n));
  });
});
