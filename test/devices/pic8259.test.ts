/**
 * Tests for the cascaded 8259A pair. Expected values come from the Intel 8259A datasheet
 * (command-word encodings, priority rules) and, where it is silent, from what QEMU's
 * hw/intc/i8259.c does; comments name the rule each expectation rests on.
 */
import { describe, expect, it } from 'vitest';
import { Pic8259Pair, defaultPicPairState, type PicPairState } from '../../devices/pic/pic8259.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { SnapshotError } from '../../src/errors.js';

const MASTER_CMD = 0x20;
const MASTER_DATA = 0x21;
const SLAVE_CMD = 0xa0;
const SLAVE_DATA = 0xa1;
const ELCR1 = 0x4d0;
const ELCR2 = 0x4d1;

// Command bytes, encoded by hand from the datasheet's tables.
const ICW1_EDGE_CASCADE_IC4 = 0x11; // D4=1, LTIM=0, SNGL=0, IC4=1
const ICW1_LEVEL_CASCADE_IC4 = 0x19; // + LTIM
const ICW4_8086 = 0x01;
const ICW4_8086_AEOI = 0x03;
const ICW4_8086_SFNM = 0x11;
const OCW2_EOI = 0x20; // R=0 SL=0 EOI=1
const OCW2_SPECIFIC_EOI = 0x60; // | L
const OCW2_ROTATE_EOI = 0xa0; // R=1 SL=0 EOI=1
const OCW2_ROTATE_SPECIFIC_EOI = 0xe0; // | L
const OCW2_SET_PRIORITY = 0xc0; // | L (bottom priority)
const OCW2_ROTATE_AEOI_SET = 0x80;
const OCW2_ROTATE_AEOI_CLEAR = 0x00;
const OCW3_READ_IRR = 0x0a;
const OCW3_READ_ISR = 0x0b;
const OCW3_POLL = 0x0c;
const OCW3_SET_SMM = 0x68;
const OCW3_RESET_SMM = 0x48;

interface Rig {
  pic: Pic8259Pair;
  bus: IoPortBus;
  out(port: number, value: number): void;
  inb(port: number): number;
  isr(master: boolean): number;
  irr(master: boolean): number;
}

function rig(pic = new Pic8259Pair({})): Rig {
  const bus = new IoPortBus();
  bus.map('pic-master', 0x20, 2, pic.master);
  bus.map('pic-slave', 0xa0, 2, pic.slave);
  bus.map('elcr', 0x4d0, 2, pic.elcrPorts);
  const out = (port: number, value: number): void => bus.write(port, 1, value);
  const inb = (port: number): number => bus.read(port, 1);
  const readReg = (master: boolean, ocw3: number): number => {
    const cmd = master ? MASTER_CMD : SLAVE_CMD;
    out(cmd, ocw3);
    return inb(cmd);
  };
  return {
    pic,
    bus,
    out,
    inb,
    isr: (master) => readReg(master, OCW3_READ_ISR),
    irr: (master) => readReg(master, OCW3_READ_IRR),
  };
}

/** The AT BIOS / Linux init sequence: ICW1, ICW2 (base), ICW3 (cascade on IR2 / ID 2), ICW4. */
function initPair(r: Rig, masterBase: number, slaveBase: number, icw4 = ICW4_8086, icw1 = ICW1_EDGE_CASCADE_IC4): void {
  r.out(MASTER_CMD, icw1);
  r.out(MASTER_DATA, masterBase);
  r.out(MASTER_DATA, 0x04);
  r.out(MASTER_DATA, icw4);
  r.out(SLAVE_CMD, icw1);
  r.out(SLAVE_DATA, slaveBase);
  r.out(SLAVE_DATA, 0x02);
  r.out(SLAVE_DATA, icw4);
}

function biosRig(icw4 = ICW4_8086): Rig {
  const r = rig();
  initPair(r, 0x08, 0x70, icw4);
  return r;
}

/** Raise then lower: one edge on an edge-triggered input. */
function pulse(pic: Pic8259Pair, irq: number): void {
  pic.setIrq(irq, true);
  pic.setIrq(irq, false);
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PORTS = [MASTER_CMD, MASTER_DATA, SLAVE_CMD, SLAVE_DATA, ELCR1, ELCR2];

/** Random guest activity: port writes and reads, line changes, INTA cycles. */
function randomActivity(r: Rig, seed: number, steps: number): void {
  const rand = prng(seed);
  for (let i = 0; i < steps; i++) {
    const what = rand();
    if (what < 0.5) r.out(PORTS[Math.floor(rand() * PORTS.length)]!, Math.floor(rand() * 256));
    else if (what < 0.65) r.inb(PORTS[Math.floor(rand() * PORTS.length)]!);
    else if (what < 0.9) r.pic.setIrq(Math.floor(rand() * 16), rand() < 0.5);
    else r.pic.acknowledge();
  }
}

describe('Pic8259Pair initialization', () => {
  it('PC BIOS init (bases 0x08/0x70) delivers IRQ n at 0x08+n and IRQ 8+n at 0x70+n', () => {
    const r = biosRig();
    expect(r.inb(MASTER_DATA)).toBe(0x00); // ICW1 cleared IMR
    expect(r.inb(SLAVE_DATA)).toBe(0x00);
    expect(r.pic.hasInterrupt()).toBe(false);

    r.pic.setIrq(0, true);
    expect(r.pic.hasInterrupt()).toBe(true);
    expect(r.pic.acknowledge()).toBe(0x08);
    r.out(MASTER_CMD, OCW2_EOI);
    r.pic.setIrq(0, false);

    pulse(r.pic, 1);
    expect(r.pic.acknowledge()).toBe(0x09);
    r.out(MASTER_CMD, OCW2_EOI);

    pulse(r.pic, 8);
    expect(r.pic.hasInterrupt()).toBe(true);
    expect(r.pic.acknowledge()).toBe(0x70);
    r.out(SLAVE_CMD, OCW2_EOI);
    r.out(MASTER_CMD, OCW2_EOI);

    pulse(r.pic, 15);
    expect(r.pic.acknowledge()).toBe(0x77);
    r.out(SLAVE_CMD, OCW2_EOI);
    r.out(MASTER_CMD, OCW2_EOI);
    expect(r.isr(true)).toBe(0);
    expect(r.isr(false)).toBe(0);
    expect(r.pic.hasInterrupt()).toBe(false);
  });

  it("re-initialization by Linux (mask all, bases 0x30/0x38) moves the vectors", () => {
    const r = biosRig();
    r.out(MASTER_DATA, 0xff);
    r.out(SLAVE_DATA, 0xff);
    initPair(r, 0x30, 0x38);
    r.out(MASTER_DATA, 0xfb); // Linux then unmasks per IRQ; here IRQ2 (cascade)...
    r.out(SLAVE_DATA, 0xbf); // ... and IRQ14
    pulse(r.pic, 0);
    expect(r.pic.hasInterrupt()).toBe(false); // masked
    r.out(MASTER_DATA, 0xfa);
    expect(r.pic.acknowledge()).toBe(0x30);
    r.out(MASTER_CMD, OCW2_EOI);
    pulse(r.pic, 14);
    expect(r.pic.acknowledge()).toBe(0x3e);
  });

  it('ICW2 ignores T2-T0: base 0x0f behaves as 0x08', () => {
    const r = rig();
    initPair(r, 0x0f, 0x77);
    pulse(r.pic, 3);
    expect(r.pic.acknowledge()).toBe(0x0b);
    r.out(MASTER_CMD, OCW2_EOI);
    pulse(r.pic, 9);
    expect(r.pic.acknowledge()).toBe(0x71);
  });

  it('SNGL skips ICW3 and no IC4 skips ICW4: the next odd-port write is OCW1', () => {
    const r = rig();
    r.out(MASTER_CMD, 0x13); // SNGL + IC4: ICW2, ICW4
    r.out(MASTER_DATA, 0x20);
    r.out(MASTER_DATA, ICW4_8086);
    r.out(MASTER_DATA, 0x5a);
    expect(r.inb(MASTER_DATA)).toBe(0x5a);
    r.out(MASTER_CMD, 0x10); // cascade, no IC4: ICW2, ICW3
    r.out(MASTER_DATA, 0x40);
    r.out(MASTER_DATA, 0x04);
    r.out(MASTER_DATA, 0xa5);
    expect(r.inb(MASTER_DATA)).toBe(0xa5);
    pulse(r.pic, 1);
    expect(r.pic.acknowledge()).toBe(0x41);
  });

  it('ICW1 clears IMR, ISR, rotation, special mask mode and AEOI/SFNM, and selects IRR', () => {
    const r = biosRig(ICW4_8086_SFNM);
    r.out(MASTER_DATA, 0x30);
    pulse(r.pic, 0);
    r.pic.acknowledge(); // ISR bit 0
    r.out(MASTER_CMD, OCW2_SET_PRIORITY | 3);
    r.out(MASTER_CMD, OCW3_SET_SMM);
    r.out(MASTER_CMD, OCW3_READ_ISR);
    expect(r.pic.infoPic().split('\n')[0]).toBe('pic0: irr=00 imr=30 isr=01 hprio=4 irq_base=08 rr_sel=1 elcr=00 fnm=1');
    r.out(MASTER_CMD, 0x10); // ICW1 without IC4: ICW4 functions are zeroed
    r.out(MASTER_DATA, 0x08);
    r.out(MASTER_DATA, 0x04);
    expect(r.pic.infoPic().split('\n')[0]).toBe('pic0: irr=00 imr=00 isr=00 hprio=0 irq_base=08 rr_sel=0 elcr=00 fnm=0');
  });

  it('after ICW1 an edge input that stayed high must go low and high again', () => {
    const r = biosRig();
    r.pic.setIrq(4, true);
    initPair(r, 0x08, 0x70);
    r.pic.setIrq(4, true); // repeating the level is not an edge
    expect(r.pic.hasInterrupt()).toBe(false);
    r.pic.setIrq(4, false);
    r.pic.setIrq(4, true);
    expect(r.pic.acknowledge()).toBe(0x0c);
  });
});

describe('Pic8259Pair priority and masking', () => {
  it('fully nested mode: IR0 highest, in-service level blocks itself and lower, higher nests', () => {
    const r = biosRig();
    pulse(r.pic, 5);
    pulse(r.pic, 3);
    pulse(r.pic, 1);
    expect(r.irr(true)).toBe(0x2a);
    expect(r.pic.acknowledge()).toBe(0x09);
    expect(r.pic.hasInterrupt()).toBe(false); // IR3, IR5 wait behind IS1
    pulse(r.pic, 0);
    expect(r.pic.hasInterrupt()).toBe(true); // IR0 beats IS1
    expect(r.pic.acknowledge()).toBe(0x08);
    expect(r.isr(true)).toBe(0x03);
    r.out(MASTER_CMD, OCW2_EOI);
    r.out(MASTER_CMD, OCW2_EOI);
    expect(r.pic.acknowledge()).toBe(0x0b);
    r.out(MASTER_CMD, OCW2_EOI);
    expect(r.pic.acknowledge()).toBe(0x0d);
    r.out(MASTER_CMD, OCW2_EOI);
    expect(r.pic.hasInterrupt()).toBe(false);
  });

  it('OCW1 masks inputs without losing their requests; IMR reads back at the odd port', () => {
    const r = biosRig();
    r.out(MASTER_DATA, 0x08);
    expect(r.inb(MASTER_DATA)).toBe(0x08);
    pulse(r.pic, 3);
    expect(r.pic.hasInterrupt()).toBe(false);
    expect(r.irr(true)).toBe(0x08); // IRR latches even when masked
    pulse(r.pic, 6);
    expect(r.pic.acknowledge()).toBe(0x0e);
    r.out(MASTER_CMD, OCW2_EOI);
    r.out(MASTER_DATA, 0x00);
    expect(r.pic.acknowledge()).toBe(0x0b);
  });

  it('masking master IR2 masks every slave input', () => {
    const r = biosRig();
    r.out(MASTER_DATA, 0x04);
    pulse(r.pic, 12);
    expect(r.pic.hasInterrupt()).toBe(false);
    r.out(MASTER_DATA, 0x00);
    expect(r.pic.acknowledge()).toBe(0x74);
  });
});

describe('Pic8259Pair edge and level triggering', () => {
  it('edge: one interrupt per rising edge; a line held high does not re-request after EOI', () => {
    const r = biosRig();
    r.pic.setIrq(3, true);
    expect(r.pic.acknowledge()).toBe(0x0b);
    expect(r.irr(true)).toBe(0x00); // INTA cleared the edge-latched request
    r.out(MASTER_CMD, OCW2_EOI);
    r.pic.setIrq(3, true);
    expect(r.pic.hasInterrupt()).toBe(false);
    r.pic.setIrq(3, false);
    r.pic.setIrq(3, true);
    expect(r.pic.acknowledge()).toBe(0x0b);
  });

  it('ELCR level: IRR follows the line, survives INTA and re-requests after EOI while high', () => {
    const r = biosRig();
    r.out(ELCR1, 0x20); // IRQ5 level
    r.pic.setIrq(5, true);
    expect(r.pic.acknowledge()).toBe(0x0d);
    expect(r.irr(true)).toBe(0x20);
    r.out(MASTER_CMD, OCW2_EOI);
    expect(r.pic.hasInterrupt()).toBe(true); // datasheet: remove the request before EOI
    expect(r.pic.acknowledge()).toBe(0x0d);
    r.pic.setIrq(5, false);
    expect(r.irr(true)).toBe(0x00);
    r.out(MASTER_CMD, OCW2_EOI);
    expect(r.pic.hasInterrupt()).toBe(false);
  });

  it('ELCR level on the slave: IRQ11 held high stays requested through cascade INTA', () => {
    const r = biosRig();
    r.out(ELCR2, 0x08);
    r.pic.setIrq(11, true);
    expect(r.pic.acknowledge()).toBe(0x73);
    expect(r.irr(false)).toBe(0x08);
    r.pic.setIrq(11, false);
    expect(r.irr(false)).toBe(0x00);
  });

  it('ICW1 LTIM makes every input of that chip level-triggered', () => {
    const r = rig();
    initPair(r, 0x08, 0x70, ICW4_8086, ICW1_LEVEL_CASCADE_IC4);
    r.pic.setIrq(1, true);
    expect(r.pic.acknowledge()).toBe(0x09);
    expect(r.irr(true) & 0x02).toBe(0x02);
    r.pic.setIrq(1, false);
    expect(r.irr(true) & 0x02).toBe(0x00);
  });

  it('ELCR bits for IRQ 0, 1, 2, 8 and 13 are read-only zero (masks 0xF8, 0xDE)', () => {
    const r = rig();
    r.out(ELCR1, 0xff);
    r.out(ELCR2, 0xff);
    expect(r.inb(ELCR1)).toBe(0xf8);
    expect(r.inb(ELCR2)).toBe(0xde);
    r.out(ELCR1, 0x07);
    expect(r.inb(ELCR1)).toBe(0x00);
  });

  it('ELCR is not changed by ICW1', () => {
    const r = rig();
    r.out(ELCR1, 0x28);
    r.out(ELCR2, 0x0e);
    initPair(r, 0x08, 0x70);
    expect(r.inb(ELCR1)).toBe(0x28);
    expect(r.inb(ELCR2)).toBe(0x0e);
  });
});

describe('Pic8259Pair end of interrupt', () => {
  it('non-specific EOI clears the highest-priority ISR bit; specific EOI clears the named one', () => {
    const r = biosRig();
    pulse(r.pic, 4);
    r.pic.acknowledge();
    pulse(r.pic, 3);
    r.pic.acknowledge();
    pulse(r.pic, 1);
    r.pic.acknowledge();
    expect(r.isr(true)).toBe(0x1a);
    r.out(MASTER_CMD, OCW2_SPECIFIC_EOI | 3);
    expect(r.isr(true)).toBe(0x12);
    r.out(MASTER_CMD, OCW2_EOI);
    expect(r.isr(true)).toBe(0x10);
    r.out(MASTER_CMD, OCW2_SPECIFIC_EOI | 6); // not in service: no effect
    expect(r.isr(true)).toBe(0x10);
    r.out(MASTER_CMD, OCW2_EOI);
    expect(r.isr(true)).toBe(0x00);
    r.out(MASTER_CMD, OCW2_EOI); // nothing in service: harmless
    expect(r.isr(true)).toBe(0x00);
  });

  it('a request blocked by ISR is delivered once EOI clears it', () => {
    const r = biosRig();
    pulse(r.pic, 3);
    r.pic.acknowledge();
    pulse(r.pic, 3);
    expect(r.pic.hasInterrupt()).toBe(false);
    r.out(MASTER_CMD, OCW2_EOI);
    expect(r.pic.hasInterrupt()).toBe(true);
  });
});

describe('Pic8259Pair rotation', () => {
  it('set priority: L is bottom priority, so L+1 is served first', () => {
    const r = biosRig();
    r.out(MASTER_CMD, OCW2_SET_PRIORITY | 4); // order 5 6 7 0 1 2 3 4
    pulse(r.pic, 1);
    pulse(r.pic, 6);
    pulse(r.pic, 4);
    expect(r.pic.acknowledge()).toBe(0x0e);
    r.out(MASTER_CMD, OCW2_EOI);
    expect(r.pic.acknowledge()).toBe(0x09);
    r.out(MASTER_CMD, OCW2_EOI);
    expect(r.pic.acknowledge()).toBe(0x0c);
    expect(r.pic.infoPic()).toMatch(/^pic0: .* hprio=5 /);
  });

  it('rotate on non-specific EOI makes the serviced IR lowest priority (equal-priority devices)', () => {
    const r = biosRig();
    pulse(r.pic, 3);
    pulse(r.pic, 5);
    expect(r.pic.acknowledge()).toBe(0x0b);
    r.out(MASTER_CMD, OCW2_ROTATE_EOI); // IR3 now lowest, IR4 highest
    expect(r.pic.infoPic()).toMatch(/hprio=4/);
    pulse(r.pic, 3);
    expect(r.pic.acknowledge()).toBe(0x0d);
    r.out(MASTER_CMD, OCW2_ROTATE_EOI); // IR5 lowest, IR6 highest
    expect(r.pic.acknowledge()).toBe(0x0b);
  });

  it('in rotated priority an in-service IR blocks the IRs after it, not IR0', () => {
    const r = biosRig();
    r.out(MASTER_CMD, OCW2_SET_PRIORITY | 3); // order 4 5 6 7 0 1 2 3
    pulse(r.pic, 6);
    r.pic.acknowledge();
    pulse(r.pic, 0);
    expect(r.pic.hasInterrupt()).toBe(false);
    pulse(r.pic, 5);
    expect(r.pic.acknowledge()).toBe(0x0d);
  });

  it('rotate on specific EOI clears IR L and makes it lowest priority', () => {
    const r = biosRig();
    pulse(r.pic, 6);
    r.pic.acknowledge();
    r.out(MASTER_CMD, OCW2_ROTATE_SPECIFIC_EOI | 6);
    expect(r.isr(true)).toBe(0x00);
    expect(r.pic.infoPic()).toMatch(/^pic0: .* hprio=7 /);
    pulse(r.pic, 0);
    pulse(r.pic, 7);
    expect(r.pic.acknowledge()).toBe(0x0f);
  });
});

describe('Pic8259Pair automatic EOI', () => {
  it('AEOI: INTA leaves ISR clear, so lower-priority requests follow without EOI', () => {
    const r = biosRig(ICW4_8086_AEOI);
    pulse(r.pic, 3);
    pulse(r.pic, 5);
    expect(r.pic.acknowledge()).toBe(0x0b);
    expect(r.isr(true)).toBe(0x00);
    expect(r.pic.acknowledge()).toBe(0x0d);
    expect(r.pic.hasInterrupt()).toBe(false);
  });

  it('rotate in AEOI mode (set) rotates on each INTA; clear stops it', () => {
    const r = biosRig(ICW4_8086_AEOI);
    r.out(MASTER_CMD, OCW2_ROTATE_AEOI_SET);
    pulse(r.pic, 3);
    expect(r.pic.acknowledge()).toBe(0x0b);
    expect(r.pic.infoPic()).toMatch(/^pic0: .* hprio=4 /);
    pulse(r.pic, 1);
    pulse(r.pic, 6);
    expect(r.pic.acknowledge()).toBe(0x0e); // IR6 before IR1 in order 4..3
    r.out(MASTER_CMD, OCW2_ROTATE_AEOI_CLEAR);
    expect(r.pic.acknowledge()).toBe(0x09);
    expect(r.pic.infoPic()).toMatch(/^pic0: .* hprio=7 /);
  });
});

describe('Pic8259Pair cascade', () => {
  it('a slave request raises master IR2; INTA sets IS2 on the master and the IR on the slave', () => {
    const r = biosRig();
    pulse(r.pic, 10);
    expect(r.irr(true)).toBe(0x04);
    expect(r.irr(false)).toBe(0x04);
    expect(r.pic.acknowledge()).toBe(0x72);
    expect(r.isr(true)).toBe(0x04);
    expect(r.isr(false)).toBe(0x04);
  });

  it('slave handlers must EOI both chips: lower slave IRQ waits for slave EOI and master EOI', () => {
    const r = biosRig();
    pulse(r.pic, 10);
    r.pic.acknowledge();
    pulse(r.pic, 11);
    expect(r.pic.hasInterrupt()).toBe(false); // IS10 on the slave
    r.out(SLAVE_CMD, OCW2_EOI);
    expect(r.pic.hasInterrupt()).toBe(false); // IS2 on the master (fully nested)
    r.out(MASTER_CMD, OCW2_EOI);
    expect(r.pic.acknowledge()).toBe(0x73);
  });

  it('master IRQ0/1 nest over a slave handler, IRQ3 does not', () => {
    const r = biosRig();
    pulse(r.pic, 14);
    r.pic.acknowledge();
    pulse(r.pic, 3);
    expect(r.pic.hasInterrupt()).toBe(false);
    pulse(r.pic, 1);
    expect(r.pic.acknowledge()).toBe(0x09);
  });

  it('without SFNM a higher slave request cannot nest in a slave handler; with SFNM it can', () => {
    const plain = biosRig();
    pulse(plain.pic, 12);
    expect(plain.pic.acknowledge()).toBe(0x74);
    pulse(plain.pic, 9);
    expect(plain.pic.hasInterrupt()).toBe(false);

    const r = rig();
    initPair(r, 0x08, 0x70);
    r.out(MASTER_CMD, ICW1_EDGE_CASCADE_IC4);
    r.out(MASTER_DATA, 0x08);
    r.out(MASTER_DATA, 0x04);
    r.out(MASTER_DATA, ICW4_8086_SFNM);
    pulse(r.pic, 12);
    expect(r.pic.acknowledge()).toBe(0x74);
    pulse(r.pic, 9);
    expect(r.pic.hasInterrupt()).toBe(true);
    expect(r.pic.acknowledge()).toBe(0x71);
    expect(r.isr(false)).toBe(0x12);
    expect(r.pic.infoPic()).toMatch(/^pic0: .* fnm=1\npic1: .* fnm=0$/);
  });
});

describe('Pic8259Pair poll mode and status reads', () => {
  it('poll: the next read returns 0x80 | IR of the highest request and acknowledges it', () => {
    const r = biosRig();
    pulse(r.pic, 4);
    pulse(r.pic, 6);
    r.out(MASTER_CMD, OCW3_POLL);
    expect(r.inb(MASTER_CMD)).toBe(0x84);
    expect(r.isr(true)).toBe(0x10);
    expect(r.irr(true)).toBe(0x40);
    r.out(MASTER_CMD, OCW2_EOI);
    r.out(MASTER_CMD, OCW3_POLL);
    expect(r.inb(MASTER_DATA)).toBe(0x86); // either port
    r.out(MASTER_CMD, OCW2_EOI);
    r.out(MASTER_CMD, OCW3_POLL);
    expect(r.inb(MASTER_CMD)).toBe(0x00); // nothing pending
    expect(r.inb(MASTER_CMD)).toBe(0x00); // poll is over: this is the IRR
  });

  it('poll on the master reports IR2 for a slave request; the slave is polled separately', () => {
    const r = biosRig();
    pulse(r.pic, 13);
    r.out(MASTER_CMD, OCW3_POLL);
    expect(r.inb(MASTER_CMD)).toBe(0x82);
    r.out(SLAVE_CMD, OCW3_POLL);
    expect(r.inb(SLAVE_CMD)).toBe(0x85);
    expect(r.isr(true)).toBe(0x04);
    expect(r.isr(false)).toBe(0x20);
  });

  it('OCW3 RR/RIS selects IRR or ISR at the even port; it stays selected until changed', () => {
    const r = biosRig();
    pulse(r.pic, 5);
    pulse(r.pic, 7);
    r.pic.acknowledge();
    expect(r.inb(MASTER_CMD)).toBe(0x80); // IRR after init
    r.out(MASTER_CMD, OCW3_READ_ISR);
    expect(r.inb(MASTER_CMD)).toBe(0x20);
    r.out(MASTER_CMD, 0x08); // OCW3 with RR=0: no change
    expect(r.inb(MASTER_CMD)).toBe(0x20);
    r.out(MASTER_CMD, OCW3_READ_IRR);
    expect(r.inb(MASTER_CMD)).toBe(0x80);
    expect(r.inb(MASTER_DATA)).toBe(0x00); // odd port is IMR
  });
});

describe('Pic8259Pair special mask mode', () => {
  it('with SMM, masking the in-service IR enables lower-priority requests', () => {
    const r = biosRig();
    pulse(r.pic, 3);
    r.pic.acknowledge();
    pulse(r.pic, 5);
    expect(r.pic.hasInterrupt()).toBe(false);
    r.out(MASTER_DATA, 0x08);
    expect(r.pic.hasInterrupt()).toBe(false); // masking alone does not
    r.out(MASTER_CMD, OCW3_SET_SMM);
    expect(r.pic.acknowledge()).toBe(0x0d);
    expect(r.isr(true)).toBe(0x28);
    r.out(MASTER_CMD, OCW2_SPECIFIC_EOI | 5);
    r.out(MASTER_CMD, OCW3_RESET_SMM);
    pulse(r.pic, 6);
    expect(r.pic.hasInterrupt()).toBe(false); // IS3 blocks again
  });
});

describe('Pic8259Pair spurious interrupts', () => {
  it('a master request withdrawn before INTA yields IR7 (0x0f) without setting ISR', () => {
    const r = biosRig();
    r.out(ELCR1, 0x20);
    r.pic.setIrq(5, true);
    expect(r.pic.hasInterrupt()).toBe(true);
    r.pic.setIrq(5, false);
    expect(r.pic.acknowledge()).toBe(0x0f);
    expect(r.isr(true)).toBe(0x00);
  });

  it('a real IRQ7 sets IS7, which is how a handler tells it from a spurious one', () => {
    const r = biosRig();
    pulse(r.pic, 7);
    expect(r.pic.acknowledge()).toBe(0x0f);
    expect(r.isr(true)).toBe(0x80);
  });

  it('a slave request withdrawn before INTA yields IRQ15 (0x77), IS2 on the master only', () => {
    const r = biosRig();
    r.out(ELCR2, 0x08);
    r.pic.setIrq(11, true);
    r.pic.setIrq(11, false); // master IR2 latched the slave's edge and keeps it
    expect(r.pic.acknowledge()).toBe(0x77);
    expect(r.isr(false)).toBe(0x00);
    expect(r.isr(true)).toBe(0x04); // the handler EOIs the master only
    r.out(MASTER_CMD, OCW2_EOI);
    expect(r.pic.hasInterrupt()).toBe(false);
  });

  it('INTA with nothing pending at all returns the master base + 7', () => {
    const r = biosRig();
    expect(r.pic.acknowledge()).toBe(0x0f);
    expect(r.isr(true)).toBe(0x00);
  });
});

describe('Pic8259Pair monitor and host interface', () => {
  it('infoPic prints QEMU’s two info pic lines', () => {
    const r = biosRig();
    r.out(ELCR2, 0x0c);
    r.out(MASTER_DATA, 0xb8);
    r.out(SLAVE_DATA, 0x8f);
    pulse(r.pic, 0);
    r.pic.acknowledge();
    pulse(r.pic, 4); // masked: stays in IRR
    r.out(SLAVE_CMD, OCW3_READ_ISR);
    expect(r.pic.infoPic()).toBe(
      'pic0: irr=10 imr=b8 isr=01 hprio=0 irq_base=08 rr_sel=0 elcr=00 fnm=0\n' +
        'pic1: irr=00 imr=8f isr=00 hprio=0 irq_base=70 rr_sel=1 elcr=0c fnm=0',
    );
  });

  it('irqCounts counts rising edges per IRQ; IRQ 2 counts slave INT rises', () => {
    const r = biosRig();
    pulse(r.pic, 4);
    r.pic.setIrq(4, true);
    r.pic.setIrq(4, true);
    pulse(r.pic, 9);
    const counts = r.pic.irqCounts();
    expect(counts).toHaveLength(16);
    expect(counts[4]).toBe(2);
    expect(counts[9]).toBe(1);
    expect(counts[2]).toBe(1);
    expect(counts[0]).toBe(0);
  });

  it('onInterruptChange fires when INT rises, not while it stays high', () => {
    const r = biosRig();
    let calls = 0;
    r.pic.onInterruptChange = () => calls++;
    pulse(r.pic, 3);
    expect(calls).toBe(1);
    pulse(r.pic, 1);
    expect(calls).toBe(1); // INT was already high
    r.pic.acknowledge(); // IRQ1; IRQ3 now blocked, INT low
    r.out(MASTER_CMD, OCW2_EOI);
    expect(calls).toBe(2);
    r.out(MASTER_DATA, 0xff);
    r.out(MASTER_DATA, 0x00);
    expect(calls).toBe(3);
  });

  it('setIrq ignores the cascade pin and out-of-range pins', () => {
    const r = biosRig();
    for (const pin of [2, -1, 16, 1.5, Number.NaN]) r.pic.setIrq(pin, true);
    expect(r.pic.hasInterrupt()).toBe(false);
    expect(r.irr(true)).toBe(0);
  });

  it('two pairs are independent', () => {
    const a = biosRig();
    const b = biosRig();
    pulse(a.pic, 6);
    expect(a.pic.hasInterrupt()).toBe(true);
    expect(b.pic.hasInterrupt()).toBe(false);
  });

  it('reset returns to the power-on state', () => {
    const r = biosRig();
    r.out(ELCR1, 0x20);
    pulse(r.pic, 3);
    r.pic.reset();
    expect(r.pic.saveState()).toEqual(defaultPicPairState());
    expect(r.pic.hasInterrupt()).toBe(false);
  });
});

describe('Pic8259Pair hostile programming and snapshots', () => {
  it('random bytes on every port in every state never throw and vectors stay bytes', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = rig();
      const rand = prng(seed * 7919);
      for (let i = 0; i < 5000; i++) {
        const what = rand();
        if (what < 0.5) r.out(PORTS[Math.floor(rand() * PORTS.length)]!, Math.floor(rand() * 256));
        else if (what < 0.7) expect(r.inb(PORTS[Math.floor(rand() * PORTS.length)]!)).toBeLessThan(256);
        else if (what < 0.9) r.pic.setIrq(Math.floor(rand() * 20) - 2, rand() < 0.5);
        else {
          const v = r.pic.acknowledge();
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThan(256);
        }
      }
      expect(r.pic.infoPic()).toMatch(/^pic0: irr=[0-9a-f]{2} .*\npic1: .* fnm=[01]$/);
    }
  });

  it('odd widths and offsets from a careless caller do not throw', () => {
    const pic = new Pic8259Pair({});
    for (const h of [pic.master, pic.slave, pic.elcrPorts]) {
      for (const offset of [0, 1, 2, 7]) {
        h.ioWrite(offset, 4, 0x1234_5678);
        h.ioWrite(offset, 2, 0xffff);
        expect(h.ioRead(offset, 4)).toBeLessThan(256);
      }
    }
  });

  it('save, load into a fresh instance, save again gives the same state and behaviour', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const a = rig();
      randomActivity(a, seed, 300);
      const saved = a.pic.saveState();
      const copy = JSON.parse(JSON.stringify(saved)) as PicPairState;
      const b = rig(new Pic8259Pair({ id: 'pic' }));
      b.pic.loadState(copy, b.pic.stateVersion);
      expect(b.pic.saveState()).toEqual(saved);
      expect(b.pic.hasInterrupt()).toBe(a.pic.hasInterrupt());
      expect(b.pic.infoPic()).toBe(a.pic.infoPic());
      // Same future: identical activity after the restore gives identical states.
      randomActivity(a, seed + 1000, 100);
      randomActivity(b, seed + 1000, 100);
      expect(b.pic.saveState()).toEqual(a.pic.saveState());
    }
  });

  it('the constructor restores a saved state and raises INT from it', () => {
    const a = biosRig();
    pulse(a.pic, 6);
    const b = new Pic8259Pair({}, a.pic.saveState());
    expect(b.hasInterrupt()).toBe(true);
    expect(b.acknowledge()).toBe(0x0e);
  });

  it('loadState recomputes INT and calls onInterruptChange', () => {
    const a = biosRig();
    pulse(a.pic, 6);
    const b = new Pic8259Pair({});
    let calls = 0;
    b.onInterruptChange = () => calls++;
    b.loadState(a.pic.saveState(), 1);
    expect(b.hasInterrupt()).toBe(true);
    expect(calls).toBe(1);
  });

  it('loadState rejects malformed state with SnapshotError and changes nothing', () => {
    const r = biosRig();
    r.out(ELCR2, 0x08);
    pulse(r.pic, 5);
    const before = r.pic.saveState();
    const good = (): PicPairState => JSON.parse(JSON.stringify(before)) as PicPairState;
    const bad: [string, unknown][] = [
      ['null', null],
      ['array', []],
      ['no slave', { master: good().master }],
      ['irr too big', { ...good(), master: { ...good().master, irr: 256 } }],
      ['negative imr', { ...good(), slave: { ...good().slave, imr: -1 } }],
      ['fractional isr', { ...good(), master: { ...good().master, isr: 1.5 } }],
      ['priority 8', { ...good(), master: { ...good().master, highestPriority: 8 } }],
      ['base not multiple of 8', { ...good(), slave: { ...good().slave, irqBase: 0x71 } }],
      ['init state 4', { ...good(), master: { ...good().master, initState: 4 } }],
      ['bool as number', { ...good(), master: { ...good().master, autoEoi: 1 } }],
      ['missing field', { ...good(), slave: { ...good().slave, lines: undefined } }],
      ['string field', { ...good(), master: { ...good().master, irr: '1' } }],
      ['master ELCR read-only bit', { ...good(), master: { ...good().master, elcr: 0x04 } }],
      ['slave ELCR read-only bit', { ...good(), slave: { ...good().slave, elcr: 0x20 } }],
    ];
    for (const [name, state] of bad) {
      expect(() => r.pic.loadState(state, 1), name).toThrow(SnapshotError);
      expect(r.pic.saveState(), name).toEqual(before);
    }
    expect(() => r.pic.loadState(good(), 2)).toThrow(SnapshotError);
    expect(r.pic.saveState()).toEqual(before);
    expect(r.pic.acknowledge()).toBe(0x0d);
  });
});
