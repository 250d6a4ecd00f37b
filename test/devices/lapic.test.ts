/**
 * Local APIC tests. Expected values come from the Intel SDM Vol. 3A chapter 10 (register
 * offsets of Table 10-1, reset values of 10.4.7.1, bit layouts of Figures 10-5 to 10-23)
 * and, for `info lapic`, from a QEMU session quoted on the KVM mailing list; they are written
 * out as numbers here rather than imported from the implementation.
 */
import { describe, expect, it } from 'vitest';
import { LocalApic, type LocalApicState } from '../../devices/apic/lapic.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { SnapshotError } from '../../src/errors.js';

const BASE = 0xfee00000;
// Register offsets (SDM Table 10-1).
const ID = 0x20, VERSION = 0x30, TPR = 0x80, APR = 0x90, PPR = 0xa0, EOI = 0xb0, LDR = 0xd0, DFR = 0xe0, SVR = 0xf0;
const ISR = 0x100, TMR = 0x180, IRR = 0x200, ESR = 0x280, ICR_LO = 0x300, ICR_HI = 0x310;
const LVT_TIMER = 0x320, LVT_THERMAL = 0x330, LVT_PERF = 0x340, LVT_LINT0 = 0x350, LVT_LINT1 = 0x360, LVT_ERROR = 0x370;
const TIMER_INITIAL = 0x380, TIMER_CURRENT = 0x390, TIMER_DIVIDE = 0x3e0;
const MASKED = 0x10000;

/** A fake 8259 pair behind LINT0. */
class FakePic {
  level = false;
  vector = 0x08;
  acks = 0;
  hasInterrupt(): boolean {
    return this.level;
  }
  acknowledge(): number {
    this.acks++;
    return this.vector;
  }
}

interface Rig {
  apic: LocalApic;
  mem: PhysicalMemory;
  clock: VirtualClock;
  pic: FakePic;
  eois: number[];
  nmis: number;
  rd(offset: number): number;
  wr(offset: number, value: number): void;
  advanceNs(ns: number): void;
  /** What the CPU would take now (INTR then INTA), or undefined. */
  take(): number | undefined;
  /** Takes everything deliverable, EOIing each. */
  drain(): number[];
}

function rig(state?: LocalApicState, startNs = 0): Rig {
  let hostNs = startNs;
  const clock = new VirtualClock({ kind: 'realtime' }, () => hostNs);
  clock.start();
  const mem = new PhysicalMemory(1024 * 1024);
  mem.mapRam(0, 1024 * 1024, 0);
  const pic = new FakePic();
  const r = {
    mem,
    clock,
    pic,
    eois: [] as number[],
    nmis: 0,
  } as Rig;
  r.apic = new LocalApic(
    { clock, memory: mem, extInt: pic, eoi: { endOfInterrupt: (v) => r.eois.push(v) }, raiseNmi: () => r.nmis++, log: NULL_LOGGER },
    state,
  );
  r.rd = (offset) => mem.read(BASE + offset, 4);
  r.wr = (offset, value) => mem.write(BASE + offset, 4, value);
  r.advanceNs = (ns) => {
    hostNs += ns;
    clock.runDueTimers();
  };
  r.take = () => (r.apic.hasInterrupt() ? r.apic.acknowledge() : undefined);
  r.drain = () => {
    const got: number[] = [];
    for (let v = r.take(); v !== undefined; v = r.take()) {
      got.push(v);
      r.wr(EOI, 0);
    }
    return got;
  };
  return r;
}

/** A rig with the APIC software-enabled (SVR 0x1FF) and LINT0 masked (no virtual wire). */
function enabledRig(): Rig {
  const r = rig();
  r.wr(SVR, 0x1ff);
  r.wr(LVT_LINT0, MASKED | 0x700);
  return r;
}

/** Reads ESR the way the SDM asks: write, then read. */
function readEsr(r: Rig): number {
  r.wr(ESR, 0);
  return r.rd(ESR);
}

describe('local APIC: reset state and the APIC base', () => {
  it('power-on registers follow SDM 10.4.7.1, with LINT0 in virtual wire mode as QEMU sets it', () => {
    const r = rig();
    expect(r.apic.readApicBase()).toBe(0xfee00900); // base, BSP (bit 8), enable (bit 11)
    expect(r.rd(ID)).toBe(0);
    expect(r.rd(VERSION)).toBe(0x00050014);
    expect(r.rd(TPR)).toBe(0);
    expect(r.rd(PPR)).toBe(0);
    expect(r.rd(LDR)).toBe(0);
    expect(r.rd(DFR)).toBe(0xffffffff);
    expect(r.rd(SVR)).toBe(0xff);
    for (const lvt of [LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT1, LVT_ERROR]) expect(r.rd(lvt)).toBe(0x00010000);
    expect(r.rd(LVT_LINT0)).toBe(0x00000700);
    expect(r.rd(TIMER_INITIAL)).toBe(0);
    expect(r.rd(TIMER_CURRENT)).toBe(0);
    expect(r.rd(TIMER_DIVIDE)).toBe(0);
    for (let i = 0; i < 8; i++) expect([r.rd(ISR + i * 16), r.rd(TMR + i * 16), r.rd(IRR + i * 16)]).toEqual([0, 0, 0]);
    expect(r.apic.globallyEnabled).toBe(true);
  });

  it('passes the 8259 through at reset (virtual wire): INTA goes to the PIC', () => {
    const r = rig();
    expect(r.apic.hasInterrupt()).toBe(false);
    r.pic.level = true;
    r.pic.vector = 0x0c;
    expect(r.take()).toBe(0x0c);
    expect(r.pic.acks).toBe(1);
  });

  it('with LINT0 masked the 8259 does not reach the CPU', () => {
    const r = enabledRig();
    r.pic.level = true;
    expect(r.apic.hasInterrupt()).toBe(false);
  });

  it('a global disable removes the registers and wires the 8259 straight to the CPU', () => {
    const r = enabledRig();
    r.mem.write(BASE + 0x10, 4, 0x12345678); // reserved register: not RAM, nothing stored
    r.apic.writeApicBase(0xfee00100); // BSP kept, enable cleared
    expect(r.apic.globallyEnabled).toBe(false);
    expect(r.rd(VERSION)).toBe(0xffffffff); // unassigned memory now
    r.pic.level = true;
    expect(r.take()).toBe(0x08);
    // Messages are not accepted while disabled.
    expect(r.apic.deliverMessage(0, false, 0, 0x40, false)).toBe(false);
    // Re-enabled, the APIC is in its reset state with LINT0 masked: the 8259 is cut off.
    r.apic.writeApicBase(0xfee00900);
    expect(r.rd(VERSION)).toBe(0x00050014);
    expect(r.rd(LVT_LINT0)).toBe(0x00010000);
    expect(r.rd(SVR)).toBe(0xff);
    expect(r.apic.hasInterrupt()).toBe(false);
  });

  it('relocates over RAM and gives the RAM back when it moves away', () => {
    const r = rig();
    r.mem.write(0x80000 + VERSION, 4, 0xcafef00d);
    r.apic.writeApicBase(0x00080900);
    expect(r.mem.read(0x80000 + VERSION, 4)).toBe(0x00050014);
    expect(r.rd(VERSION)).toBe(0xffffffff); // nothing at the old place
    r.mem.write(0x80000 + TPR, 4, 0x20);
    expect(r.apic.getTpr()).toBe(2);
    r.apic.writeApicBase(0xfee00900);
    expect(r.mem.read(0x80000 + VERSION, 4)).toBe(0xcafef00d);
    expect(r.rd(TPR)).toBe(0x20);
  });
});

describe('local APIC: registers', () => {
  it('ID, LDR, DFR and TPR are read/write in their defined bits', () => {
    const r = rig();
    r.wr(ID, 0xffffffff);
    expect(r.rd(ID)).toBe(0xff000000);
    r.wr(LDR, 0xffffffff);
    expect(r.rd(LDR)).toBe(0xff000000);
    r.wr(DFR, 0x0);
    expect(r.rd(DFR)).toBe(0x0fffffff);
    r.wr(TPR, 0x1234);
    expect(r.rd(TPR)).toBe(0x34);
    r.wr(VERSION, 0);
    expect(r.rd(VERSION)).toBe(0x00050014);
  });

  it('CR8 is TPR[7:4]: a write sets the class and clears the subclass', () => {
    const r = rig();
    r.wr(TPR, 0x5a);
    expect(r.apic.getTpr()).toBe(5);
    r.apic.setTpr(0x13); // only 4 bits
    expect(r.rd(TPR)).toBe(0x30);
  });

  it('ESR reports errors only after a write, and a second write clears them (SDM 10.5.3)', () => {
    const r = enabledRig();
    expect(r.rd(0x040)).toBe(0); // reserved register
    expect(r.rd(ESR)).toBe(0); // not latched yet
    r.wr(ESR, 0);
    expect(r.rd(ESR)).toBe(0x80); // illegal register address
    r.wr(ESR, 0);
    expect(r.rd(ESR)).toBe(0);
  });

  it('errors raise the LVT error interrupt', () => {
    const r = enabledRig();
    r.wr(LVT_ERROR, 0xfe);
    r.wr(0x3f0, 1); // reserved
    expect(r.take()).toBe(0xfe);
    expect(readEsr(r)).toBe(0x80);
  });

  it('hostile accesses: reserved registers, every offset, every width, misaligned — no throw', () => {
    const r = enabledRig();
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
    for (let i = 0; i < 20000; i++) {
      const offset = rand() & 0xfff;
      const size = ([1, 2, 4] as const)[rand() % 3]!;
      if (rand() & 1) r.mem.write(BASE + offset, size, rand() | (rand() << 16));
      else r.mem.read(BASE + offset, size);
      if (i % 97 === 0) r.advanceNs(rand() % 5000);
    }
    // The state still round-trips through a snapshot.
    const saved = r.apic.saveState();
    const b = rig(saved);
    expect(b.apic.saveState()).toEqual(saved);
  });

  it('8- and 16-bit accesses read 0 and write nothing; a 32-bit access anywhere in a slot hits its register (QEMU)', () => {
    const r = rig();
    expect(r.mem.read(BASE + VERSION, 1)).toBe(0);
    expect(r.mem.read(BASE + VERSION, 2)).toBe(0);
    r.mem.write(BASE + TPR, 1, 0x40);
    expect(r.rd(TPR)).toBe(0);
    expect(r.mem.read(BASE + VERSION + 3, 4)).toBe(0x00050014);
    r.mem.write(BASE + TPR + 4, 4, 0x70);
    expect(r.rd(TPR)).toBe(0x70);
  });
});

describe('local APIC: accepting and prioritizing interrupts', () => {
  it('a software-disabled APIC accepts no fixed interrupt; enabling it does', () => {
    const r = rig();
    expect(r.apic.deliverMessage(0, false, 0, 0x40, false)).toBe(false);
    r.wr(SVR, 0x1ff);
    expect(r.apic.deliverMessage(0, false, 0, 0x40, false)).toBe(true);
    expect(r.rd(IRR + 0x20)).toBe(1); // vector 0x40: word 2, bit 0
  });

  it('software disable masks every LVT and keeps them masked (SDM 10.4.7.2)', () => {
    const r = enabledRig();
    r.wr(LVT_LINT1, 0x400);
    r.wr(SVR, 0x0ff);
    expect(r.rd(LVT_LINT1)).toBe(0x10400);
    r.wr(LVT_LINT1, 0x400);
    expect(r.rd(LVT_LINT1)).toBe(0x10400);
  });

  it('delivers the highest vector first; a lower or equal class waits for EOI; EOI clears the highest ISR bit', () => {
    const r = enabledRig();
    r.apic.deliverMessage(0, false, 0, 0x41, false);
    r.apic.deliverMessage(0, false, 0, 0x52, false);
    expect(r.take()).toBe(0x52);
    expect(r.rd(ISR + 0x20)).toBe(1 << 18); // 0x52 = word 2, bit 18
    expect(r.rd(PPR)).toBe(0x50);
    r.apic.deliverMessage(0, false, 0, 0x53, false); // same class as the one in service
    expect(r.apic.hasInterrupt()).toBe(false);
    r.apic.deliverMessage(0, false, 0, 0x61, false); // higher class nests
    expect(r.take()).toBe(0x61);
    r.wr(EOI, 0);
    expect(r.rd(ISR + 0x30)).toBe(0);
    r.wr(EOI, 0); // retires 0x52
    expect(r.drain()).toEqual([0x53, 0x41]);
    expect(r.eois).toEqual([]); // all edge-triggered: nothing broadcast
  });

  it('TPR holds back interrupts of its class and below; PPR and APR follow (SDM 10.8.3)', () => {
    const r = enabledRig();
    r.wr(TPR, 0x5f);
    r.apic.deliverMessage(0, false, 0, 0x52, false);
    expect(r.apic.hasInterrupt()).toBe(false);
    expect(r.rd(PPR)).toBe(0x5f);
    expect(r.rd(APR)).toBe(0x5f);
    r.apic.deliverMessage(0, false, 0, 0x60, false);
    expect(r.take()).toBe(0x60);
    expect(r.rd(PPR)).toBe(0x60); // ISR class above TPR: subclass cleared
    r.wr(EOI, 0);
    r.wr(TPR, 0x40);
    expect(r.take()).toBe(0x52);
  });

  it('an INTA with nothing deliverable answers the spurious vector and leaves ISR alone (SDM 10.9)', () => {
    const r = enabledRig();
    r.wr(SVR, 0x1ef);
    r.apic.deliverMessage(0, false, 0, 0x52, false);
    expect(r.apic.hasInterrupt()).toBe(true);
    r.wr(TPR, 0x60); // raised between INTR and INTA
    expect(r.apic.acknowledge()).toBe(0xef);
    for (let i = 0; i < 8; i++) expect(r.rd(ISR + i * 16)).toBe(0);
    expect(r.rd(IRR + 0x20)).toBe(1 << 18);
  });

  it('vectors 0-15 are illegal: not accepted, ESR bit 6 (receive) or bit 5 (send)', () => {
    const r = enabledRig();
    expect(r.apic.deliverMessage(0, false, 0, 0x0e, false)).toBe(false);
    expect(readEsr(r)).toBe(0x40);
    r.wr(ICR_LO, 0x00040005); // self, fixed, vector 5
    expect(readEsr(r)).toBe(0x20);
    expect(r.apic.hasInterrupt()).toBe(false);
  });

  it('level-triggered vectors set TMR and their EOI is broadcast', () => {
    const r = enabledRig();
    r.apic.deliverMessage(0, false, 0, 0x71, true);
    expect(r.rd(TMR + 0x30)).toBe(1 << 17);
    expect(r.take()).toBe(0x71);
    r.wr(EOI, 0);
    expect(r.eois).toEqual([0x71]);
  });

  it('destinations: physical ID or broadcast; logical flat and cluster models', () => {
    const r = enabledRig();
    r.wr(ID, 0x03000000);
    expect(r.apic.deliverMessage(0, false, 0, 0x40, false)).toBe(false);
    expect(r.apic.deliverMessage(3, false, 0, 0x40, false)).toBe(true);
    expect(r.apic.deliverMessage(0xff, false, 0, 0x41, false)).toBe(true);
    r.wr(LDR, 0x04000000);
    expect(r.apic.deliverMessage(0x04, true, 0, 0x42, false)).toBe(true);
    expect(r.apic.deliverMessage(0x0b, true, 0, 0x43, false)).toBe(false);
    r.wr(DFR, 0x0fffffff); // cluster: cluster 2, member bit 1
    r.wr(LDR, 0x22000000);
    expect(r.apic.deliverMessage(0x23, true, 0, 0x44, false)).toBe(true);
    expect(r.apic.deliverMessage(0x32, true, 0, 0x45, false)).toBe(false);
    expect(r.drain()).toEqual([0x44, 0x42, 0x41, 0x40]);
  });

  it('NMI and ExtINT messages: NMI to the CPU, ExtINT makes the CPU acknowledge the 8259', () => {
    const r = enabledRig();
    expect(r.apic.deliverMessage(0, false, 4, 0, false)).toBe(true);
    expect(r.nmis).toBe(1);
    r.pic.vector = 0x20;
    expect(r.apic.deliverMessage(0, false, 7, 0, false)).toBe(true);
    expect(r.take()).toBe(0x20);
    expect(r.pic.acks).toBe(1);
    expect(r.take()).toBeUndefined();
  });
});

describe('local APIC: LINT pins', () => {
  it('LINT0 in fixed mode latches a vector on a rising edge', () => {
    const r = enabledRig();
    r.wr(LVT_LINT0, 0x31);
    r.apic.setLint0(true);
    expect(r.take()).toBe(0x31);
    expect(r.pic.acks).toBe(0);
  });

  it('LINT0 level-triggered fixed: remote IRR until EOI, raised again while the line stays high', () => {
    const r = enabledRig();
    r.wr(LVT_LINT0, 0x8032);
    r.apic.setLint0(true);
    expect(r.rd(LVT_LINT0)).toBe(0xc032); // remote IRR (bit 14)
    expect(r.take()).toBe(0x32);
    r.wr(EOI, 0);
    expect(r.take()).toBe(0x32); // still asserted
    r.apic.setLint0(false);
    r.wr(EOI, 0);
    expect(r.rd(LVT_LINT0)).toBe(0x8032);
    expect(r.take()).toBeUndefined();
  });

  it('LINT1 programmed NMI raises NMI on an edge; masked it does nothing', () => {
    const r = enabledRig();
    r.apic.setLint1(true);
    expect(r.nmis).toBe(0);
    r.apic.setLint1(false);
    r.wr(LVT_LINT1, 0x400);
    r.apic.setLint1(true);
    expect(r.nmis).toBe(1);
  });
});

describe('local APIC: IPIs through the ICR', () => {
  it('fixed IPIs to self: by shorthand, by physical ID, all-including-self; all-excluding-self goes nowhere', () => {
    const r = enabledRig();
    r.wr(ICR_LO, 0x00040045); // self
    r.wr(ICR_HI, 0x00000000);
    r.wr(ICR_LO, 0x00000046); // destination 0 = our ID
    r.wr(ICR_LO, 0x00080047); // all including self
    r.wr(ICR_LO, 0x000c0048); // all excluding self
    r.wr(ICR_HI, 0x05000000);
    r.wr(ICR_LO, 0x00000049); // APIC ID 5: nobody
    expect(r.drain()).toEqual([0x47, 0x46, 0x45]);
    expect(r.rd(ICR_LO)).toBe(0x00000049); // delivery status idle
    expect(r.rd(ICR_HI)).toBe(0x05000000);
  });

  it('an NMI IPI to self raises NMI; INIT and SIPI to self are ignored without harm', () => {
    const r = enabledRig();
    r.wr(ICR_LO, 0x00040400);
    expect(r.nmis).toBe(1);
    r.wr(ICR_LO, 0x0004c500); // INIT assert
    r.wr(ICR_LO, 0x00088500); // INIT level de-assert
    r.wr(ICR_LO, 0x00040608); // SIPI
    expect(r.apic.hasInterrupt()).toBe(false);
    expect(readEsr(r)).toBe(0);
  });
});

describe('local APIC: timer (1 GHz bus)', () => {
  it('one-shot: fires once after count × divisor ns; the count reads down to 0 and stays', () => {
    const r = enabledRig();
    r.wr(TIMER_DIVIDE, 0x3); // divide by 16
    r.wr(LVT_TIMER, 0x40);
    r.wr(TIMER_INITIAL, 1000);
    r.advanceNs(8000);
    expect(r.rd(TIMER_CURRENT)).toBe(500);
    r.advanceNs(7999);
    expect(r.take()).toBeUndefined();
    r.advanceNs(1);
    expect(r.take()).toBe(0x40);
    r.wr(EOI, 0);
    expect(r.rd(TIMER_CURRENT)).toBe(0);
    r.advanceNs(100000);
    expect(r.take()).toBeUndefined();
  });

  it('periodic: fires every period and reloads; the count wraps to the initial value', () => {
    const r = enabledRig();
    r.wr(TIMER_DIVIDE, 0xb); // divide by 1
    r.wr(LVT_TIMER, 0x20000 | 0x41);
    r.wr(TIMER_INITIAL, 300000);
    const fired: number[] = [];
    for (let t = 0; t < 1_000_000; t += 50000) {
      r.advanceNs(50000);
      if (r.drain().length) fired.push(t + 50000);
    }
    expect(fired).toEqual([300000, 600000, 900000]);
    r.advanceNs(0);
    expect(r.rd(TIMER_CURRENT)).toBe(200000); // 1,000,000 - 900,000 = 100,000 ticks into the period
  });

  it('a masked timer still counts and expires, but delivers nothing', () => {
    const r = enabledRig();
    r.wr(TIMER_DIVIDE, 0xb);
    r.wr(LVT_TIMER, MASKED | 0x42);
    r.wr(TIMER_INITIAL, 1000);
    r.advanceNs(500);
    expect(r.rd(TIMER_CURRENT)).toBe(500);
    r.advanceNs(600);
    expect(r.take()).toBeUndefined();
    r.wr(LVT_TIMER, 0x42);
    r.advanceNs(10000);
    expect(r.take()).toBeUndefined();
  });

  it('a new divisor keeps the current count and applies from now on', () => {
    const r = enabledRig();
    r.wr(TIMER_DIVIDE, 0xb); // by 1
    r.wr(LVT_TIMER, 0x43);
    r.wr(TIMER_INITIAL, 1000);
    r.advanceNs(400);
    r.wr(TIMER_DIVIDE, 0x0); // by 2
    expect(r.rd(TIMER_CURRENT)).toBe(600);
    r.advanceNs(1199);
    expect(r.take()).toBeUndefined();
    r.advanceNs(1);
    expect(r.take()).toBe(0x43);
  });

  it('initial count 0 stops the timer', () => {
    const r = enabledRig();
    r.wr(LVT_TIMER, 0x44);
    r.wr(TIMER_INITIAL, 1000);
    r.wr(TIMER_INITIAL, 0);
    r.advanceNs(1_000_000);
    expect(r.take()).toBeUndefined();
  });

  it('TSC-deadline: fires at the deadline, the MSR then reads 0; outside that mode the MSR reads 0 and ignores writes', () => {
    const r = enabledRig();
    r.apic.writeTscDeadline(1234, 0, 5000); // one-shot mode: ignored
    expect(r.apic.readTscDeadline()).toEqual([0, 0]);
    r.wr(LVT_TIMER, 0x40000 | 0x45);
    r.wr(TIMER_INITIAL, 10); // ignored in TSC-deadline mode
    expect(r.rd(TIMER_INITIAL)).toBe(0);
    r.apic.writeTscDeadline(1234, 1, 5000);
    expect(r.apic.readTscDeadline()).toEqual([1234, 1]);
    r.advanceNs(4999);
    expect(r.take()).toBeUndefined();
    r.advanceNs(1);
    expect(r.take()).toBe(0x45);
    r.wr(EOI, 0);
    expect(r.apic.readTscDeadline()).toEqual([0, 0]);
    // A deadline in the past fires at once; zero disarms.
    r.apic.writeTscDeadline(1, 0, 0);
    r.advanceNs(0);
    expect(r.drain()).toEqual([0x45]);
    r.apic.writeTscDeadline(9, 0, 20000);
    r.apic.writeTscDeadline(0, 0, 0);
    r.advanceNs(100000);
    expect(r.take()).toBeUndefined();
  });

  it('leaving TSC-deadline mode disarms the timer', () => {
    const r = enabledRig();
    r.wr(LVT_TIMER, 0x40000 | 0x46);
    r.apic.writeTscDeadline(1, 0, 1000);
    r.wr(LVT_TIMER, 0x46);
    r.advanceNs(5000);
    expect(r.take()).toBeUndefined();
  });

  it('a periodic timer with a tiny count cannot flood the host: expiries are at least 200 µs apart', () => {
    const r = enabledRig();
    r.wr(TIMER_DIVIDE, 0xb);
    r.wr(LVT_TIMER, 0x20000 | 0x47);
    r.wr(TIMER_INITIAL, 1);
    r.advanceNs(1_000_000);
    r.drain();
    let fired = 0;
    for (let i = 0; i < 10; i++) {
      r.advanceNs(100_000);
      fired += r.drain().length;
    }
    expect(fired).toBe(5); // 1 ms at one expiry per 200 µs
  });
});

describe('local APIC: snapshots', () => {
  it('the timer resumes from the saved current count, without a storm or a stall, whatever the clock of the new machine', () => {
    const a = enabledRig();
    a.wr(TIMER_DIVIDE, 0xb);
    a.wr(LVT_TIMER, 0x20000 | 0x48);
    a.wr(TIMER_INITIAL, 400000);
    a.advanceNs(1_000_000); // 2.5 periods at once (a late timer callback)
    expect(a.drain()).toEqual([0x48]); // missed periods are not queued
    const saved = a.apic.saveState();
    expect(a.apic.currentCount(a.clock.nowNs())).toBe(200000);

    const b = rig(saved, 5_000_000_000); // a machine whose clock is elsewhere
    expect(b.rd(TIMER_CURRENT)).toBe(200000);
    b.advanceNs(199_999);
    expect(b.take()).toBeUndefined();
    b.advanceNs(1);
    expect(b.drain()).toEqual([0x48]);
    b.advanceNs(400_000);
    expect(b.drain()).toEqual([0x48]);
  });

  it('random register activity, save, load into a fresh APIC, save again: equal', () => {
    for (let seed = 1; seed < 6; seed++) {
      const a = enabledRig();
      let x = seed;
      const rand = () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8);
      const offsets = [TPR, LDR, DFR, SVR, ESR, ICR_HI, ICR_LO, LVT_TIMER, LVT_LINT0, LVT_LINT1, LVT_ERROR, TIMER_DIVIDE, TIMER_INITIAL, EOI];
      for (let i = 0; i < 300; i++) {
        a.wr(offsets[rand() % offsets.length]!, rand() | (rand() << 16));
        if (i % 10 === 0) a.apic.deliverMessage(0, false, 0, 16 + (rand() % 240), (rand() & 1) === 1);
        if (i % 13 === 0) a.take();
      }
      const saved = a.apic.saveState();
      const b = rig(JSON.parse(JSON.stringify(saved)) as LocalApicState);
      expect(b.apic.saveState()).toEqual(saved);
    }
  });

  it('rejects state with reserved bits or out-of-range fields, before changing anything', () => {
    const r = enabledRig();
    r.wr(TPR, 0x30);
    const good = r.apic.saveState();
    const bad: Array<Partial<LocalApicState>> = [
      { apicBase: 0xfee00901 },
      { lvt: [0x10000, 0x10000, 0x10000, 0x10000, 0x10000, 0x80000] },
      { irr: [1, 0, 0, 0, 0, 0, 0, 0] },
      { tpr: 256 },
      { svr: 0x400 },
      { isr: [0, 0, 0] },
      { timerDueInNs: -2 },
    ];
    for (const patch of bad) {
      expect(() => r.apic.loadState({ ...good, ...patch }, 1)).toThrow(SnapshotError);
    }
    expect(() => r.apic.loadState(good, 2)).toThrow(SnapshotError);
    expect(r.rd(TPR)).toBe(0x30);
  });
});

describe('local APIC: info lapic', () => {
  it('prints in QEMU format (lines from a QEMU session)', () => {
    const r = rig();
    r.wr(SVR, 0x1ff);
    r.wr(LVT_LINT0, 0x10700);
    r.wr(LVT_LINT1, 0x10400);
    r.wr(LVT_PERF, 0x400);
    r.wr(LVT_ERROR, 0xfe);
    r.wr(LVT_TIMER, 0x400ec);
    r.apic.deliverMessage(0, false, 0, 236, false);
    r.take();
    r.apic.deliverMessage(0, false, 0, 236, false);
    r.apic.deliverMessage(0, false, 0, 37, true);
    r.wr(ICR_LO, 0x0c000000 | 0xfd); // bits 27:26 are reserved: ICR keeps 0x000000fd; a self IPI
    const lines = r.apic.info(1).split('\n').map((l) => l.trimEnd());
    expect(lines.slice(0, 15)).toEqual([
      'dumping local APIC state for CPU 1',
      '',
      'LVT0\t 0x00010700 active-hi edge  masked                      ExtINT (vec 0)',
      'LVT1\t 0x00010400 active-hi edge  masked                      NMI',
      'LVTPC\t 0x00000400 active-hi edge                              NMI',
      'LVTERR\t 0x000000fe active-hi edge                              Fixed  (vec 254)',
      'LVTTHMR\t 0x00010000 active-hi edge  masked                      Fixed  (vec 0)',
      'LVTT\t 0x000400ec active-hi edge                 tsc-deadline Fixed  (vec 236)',
      'Timer\t DCR=0x0 (divide by 2) initial_count = 0 current_count = 0',
      'SPIV\t 0x000001ff APIC enabled, focus=off, spurious vec 255',
      'ICR\t 0x000000fd physical edge de-assert no-shorthand',
      'ICR2\t 0x00000000 cpu 0 (APIC ID)',
      'ESR\t 0x00000000',
      'ISR\t 236',
      'IRR\t 37(level) 236 253',
    ]);
    // APR = the highest of the TPR, ISRV and IRRV classes (SDM 10.8.3.2): 0xf0 for IRR 253.
    expect(lines[16]).toBe('APR 0xf0 TPR 0x00 DFR 0x0f LDR 0x00 PPR 0xe0');
  });
});
