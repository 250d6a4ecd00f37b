/**
 * I/O APIC tests. Expected values come from the Intel 82093AA datasheet (register indices,
 * the version register 0x00170020 for 24 pins, redirection-entry bits, Remote IRR and
 * edge/level rules) and QEMU's ioapic for its choices (EOI register of version 0x20, `info
 * ioapic` lines as a port of QEMU's ioapic_print_redtbl expects them).
 */
import { describe, expect, it } from 'vitest';
import { IoApic, type IoApicState } from '../../devices/apic/ioapic.js';
import type { ApicMessageSink } from '../../devices/apic/apic-bus.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { SnapshotError } from '../../src/errors.js';

const IOREGSEL = 0x00, IOWIN = 0x10, IOEOI = 0x40;
const MASKED = 1 << 16, LEVEL = 1 << 15, REMOTE_IRR = 1 << 14;

interface Message {
  dest: number;
  logical: boolean;
  mode: number;
  vector: number;
  level: boolean;
}

interface Rig {
  io: IoApic;
  sent: Message[];
  /** Whether the local APIC accepts what it is sent. */
  accept: boolean;
  rd(index: number): number;
  wr(index: number, value: number): void;
  /** Programs pin `pin`: low dword `lo`, destination in the high dword. */
  route(pin: number, lo: number, dest?: number): void;
  vectors(): number[];
}

function rig(state?: IoApicState): Rig {
  const r = { sent: [] as Message[], accept: true } as Rig;
  const sink: ApicMessageSink = {
    deliverMessage(dest, logical, mode, vector, level) {
      r.sent.push({ dest, logical, mode, vector, level });
      return r.accept;
    },
  };
  r.io = new IoApic({ apicBus: sink, log: NULL_LOGGER }, state);
  r.rd = (index) => {
    r.io.mmioWrite(IOREGSEL, 4, index);
    return r.io.mmioRead(IOWIN, 4);
  };
  r.wr = (index, value) => {
    r.io.mmioWrite(IOREGSEL, 4, index);
    r.io.mmioWrite(IOWIN, 4, value);
  };
  r.route = (pin, lo, dest = 0) => {
    r.wr(0x11 + 2 * pin, dest << 24);
    r.wr(0x10 + 2 * pin, lo);
  };
  r.vectors = () => r.sent.splice(0).map((m) => m.vector);
  return r;
}

describe('I/O APIC registers', () => {
  it('reset: ID 0, version 0x20 with 24 entries, every entry masked', () => {
    const r = rig();
    expect(r.rd(0x00)).toBe(0);
    expect(r.rd(0x01)).toBe(0x00170020);
    expect(r.rd(0x02)).toBe(0);
    for (let pin = 0; pin < 24; pin++) {
      expect(r.rd(0x10 + 2 * pin)).toBe(0x00010000);
      expect(r.rd(0x11 + 2 * pin)).toBe(0);
    }
  });

  it('ID is bits 27:24; version and arbitration are read-only; IOREGSEL reads back', () => {
    const r = rig();
    r.wr(0x00, 0xffffffff);
    expect(r.rd(0x00)).toBe(0x0f000000);
    expect(r.rd(0x02)).toBe(0x0f000000); // QEMU answers the ID for arbitration
    r.wr(0x01, 0);
    expect(r.rd(0x01)).toBe(0x00170020);
    r.io.mmioWrite(IOREGSEL, 4, 0x1234);
    expect(r.io.mmioRead(IOREGSEL, 4)).toBe(0x34);
  });

  it('redirection entries keep their defined bits; delivery status and Remote IRR are read-only', () => {
    const r = rig();
    r.wr(0x10, 0xffffffff);
    expect(r.rd(0x10)).toBe(0x0001afff);
    r.wr(0x11, 0xffffffff);
    expect(r.rd(0x11)).toBe(0xff000000);
  });

  it('nonexistent registers read all ones; other offsets and widths do nothing and never throw', () => {
    const r = rig();
    expect(r.rd(0x40)).toBe(0xffffffff);
    expect(r.rd(0x03)).toBe(0xffffffff);
    r.io.mmioWrite(IOREGSEL, 4, 0x10);
    expect(r.io.mmioRead(IOWIN, 2)).toBe(0);
    r.io.mmioWrite(IOWIN, 1, 0);
    expect(r.rd(0x10)).toBe(0x00010000);
    let seed = 3;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
    for (let i = 0; i < 20000; i++) {
      const offset = rand() & 0xfff;
      const size = ([1, 2, 4] as const)[rand() % 3]!;
      if (rand() & 1) r.io.mmioWrite(offset, size, rand() | (rand() << 16));
      else r.io.mmioRead(offset, size);
      if (i % 7 === 0) r.io.setIrq(rand() % 30, (rand() & 1) === 1);
    }
    const saved = r.io.saveState();
    expect(rig(saved).io.saveState()).toEqual(saved);
  });
});

describe('I/O APIC delivery', () => {
  it('edge: one message per rising edge with the entry fields; repeating a level sends nothing', () => {
    const r = rig();
    r.route(4, 0x0000_0934, 3); // vector 0x34, lowest priority, logical, destination 3
    r.io.setIrq(4, true);
    r.io.setIrq(4, true);
    expect(r.sent).toEqual([{ dest: 3, logical: true, mode: 1, vector: 0x34, level: false }]);
    r.sent.length = 0;
    r.io.setIrq(4, false);
    r.io.setIrq(4, true);
    expect(r.vectors()).toEqual([0x34]);
  });

  it('edges are ignored while the pin is masked and not delivered on unmask', () => {
    const r = rig();
    r.route(5, MASKED | 0x35);
    r.io.setIrq(5, true);
    r.route(5, 0x35);
    expect(r.vectors()).toEqual([]);
  });

  it('level: Remote IRR holds further messages until the EOI of the vector; still asserted, it goes out again', () => {
    const r = rig();
    r.route(9, LEVEL | 0x39);
    r.io.setIrq(9, true);
    expect(r.vectors()).toEqual([0x39]);
    expect(r.rd(0x10 + 18) & REMOTE_IRR).toBe(REMOTE_IRR);
    r.io.setIrq(9, false);
    r.io.setIrq(9, true);
    expect(r.vectors()).toEqual([]); // Remote IRR set: held
    r.io.endOfInterrupt(0x38); // another vector: nothing
    expect(r.rd(0x10 + 18) & REMOTE_IRR).toBe(REMOTE_IRR);
    r.io.endOfInterrupt(0x39);
    expect(r.vectors()).toEqual([0x39]); // still asserted
    r.io.setIrq(9, false);
    r.io.endOfInterrupt(0x39);
    expect(r.vectors()).toEqual([]);
    expect(r.rd(0x10 + 18)).toBe(LEVEL | 0x39);
  });

  it('the EOI register (version 0x20) clears Remote IRR like a broadcast', () => {
    const r = rig();
    r.route(10, LEVEL | 0x3a);
    r.io.setIrq(10, true);
    r.io.setIrq(10, false);
    r.io.mmioWrite(IOEOI, 4, 0x3a);
    expect(r.rd(0x10 + 20)).toBe(LEVEL | 0x3a);
  });

  it('a masked level-triggered request is delivered when unmasked', () => {
    const r = rig();
    r.route(11, MASKED | LEVEL | 0x3b);
    r.io.setIrq(11, true);
    expect(r.vectors()).toEqual([]);
    r.route(11, LEVEL | 0x3b);
    expect(r.vectors()).toEqual([0x3b]);
  });

  it('a level request not accepted by any local APIC leaves Remote IRR clear', () => {
    const r = rig();
    r.accept = false;
    r.route(12, LEVEL | 0x3c);
    r.io.setIrq(12, true);
    expect(r.vectors()).toEqual([0x3c]);
    expect(r.rd(0x10 + 24) & REMOTE_IRR).toBe(0);
  });

  it('NMI, INIT and ExtINT entries are edge-triggered whatever the trigger bit says', () => {
    const r = rig();
    r.route(1, LEVEL | 0x400); // NMI
    r.io.setIrq(1, true);
    r.route(0, 0x700); // ExtINT
    r.io.setIrq(0, true);
    expect(r.sent.map((m) => [m.mode, m.level])).toEqual([[4, false], [7, false]]);
    expect(r.rd(0x10 + 2) & REMOTE_IRR).toBe(0);
  });

  it('pins outside 0-23 are ignored', () => {
    const r = rig();
    r.io.setIrq(24, true);
    r.io.setIrq(-1, true);
    expect(r.sent).toEqual([]);
  });
});

describe('I/O APIC snapshots and info', () => {
  it('save, load into a fresh I/O APIC, save again: equal; Remote IRR survives', () => {
    const a = rig();
    a.route(3, LEVEL | 0x53, 1);
    a.io.setIrq(3, true);
    a.io.mmioWrite(IOREGSEL, 4, 0x17);
    const saved = a.io.saveState();
    const b = rig(JSON.parse(JSON.stringify(saved)) as IoApicState);
    expect(b.io.saveState()).toEqual(saved);
    b.io.endOfInterrupt(0x53);
    expect(b.vectors()).toEqual([0x53]); // the line is still high in the restored state
  });

  it('rejects bad state', () => {
    const good = rig().io.saveState();
    const bad: Array<Partial<IoApicState>> = [
      { id: 16 },
      { irr: 1 << 24 },
      { redirLo: new Array<number>(24).fill(0x20000) }, // reserved bit 17
      { redirHi: new Array<number>(24).fill(1) },
      { redirLo: [0] },
    ];
    for (const patch of bad) expect(() => rig().io.loadState({ ...good, ...patch }, 1)).toThrow(SnapshotError);
    expect(() => rig().io.loadState(good, 0)).toThrow(SnapshotError);
  });

  it('info ioapic prints QEMU ioapic_print_redtbl lines', () => {
    const r = rig();
    r.route(1, 0xa031, 2); // active-low, level, vector 0x31, destination 2
    r.io.mmioWrite(IOREGSEL, 4, 0x12);
    const info = r.io.info();
    expect(info.startsWith('ioapic0: ver=0x20 id=0x00 sel=0x12 (redir[1])\n')).toBe(true);
    expect(info).toContain('\n  pin 1  0x020000000000a031 dest=2 vec=49  active-lo level        fixed  physical\n');
    expect(info).toContain('\n  pin 0  0x0000000000010000 dest=0 vec=0   active-hi edge  masked fixed  physical\n');
    expect(info.endsWith('  IRR      (none)\n  Remote IRR (none)')).toBe(true);
    r.io.setIrq(1, true);
    expect(r.io.info().endsWith('  IRR      1  \n  Remote IRR 1  ')).toBe(true);
  });
});
