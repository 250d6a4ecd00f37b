import { describe, expect, it } from 'vitest';
import { interruptHandlerProbe } from '../../src/machine/machine.js';
import { LAG_SLEW, HANDLER_STALL_NS_PER_INSN, MAX_LAG_NS, STALL_GRACE_NS, STALL_NS_PER_INSN, VirtualClock } from '../../src/machine/clock.js';

const IF = 1 << 9;

function fakeHost() {
  const h = { now: 1_000_000, fn: () => h.now };
  return h;
}

describe('VirtualClock', () => {
  it('real-time mode follows the host while running and stands still while stopped', () => {
    const host = fakeHost();
    const c = new VirtualClock({ kind: 'realtime' }, host.fn);
    expect(c.nowNs()).toBe(0);
    c.start();
    host.now += 5000;
    expect(c.nowNs()).toBe(5000);
    c.stop();
    host.now += 1_000_000;
    expect(c.nowNs()).toBe(5000);
    c.start();
    host.now += 10;
    expect(c.nowNs()).toBe(5010);
  });

  it('never goes backwards even if the host clock does', () => {
    const host = fakeHost();
    const c = new VirtualClock({ kind: 'realtime' }, host.fn);
    c.start();
    host.now += 100;
    expect(c.nowNs()).toBe(100);
    host.now -= 50;
    expect(c.nowNs()).toBe(100);
  });

  it('icount mode derives time from retired instructions (2^shift ns each)', () => {
    const c = new VirtualClock({ kind: 'icount', shift: 3 });
    c.start();
    c.retire(10);
    expect(c.nowNs()).toBe(80);
    expect(c.nsPerInstruction).toBe(8);
  });

  it('fires timers in deadline order, only when due', () => {
    const host = fakeHost();
    const c = new VirtualClock({ kind: 'realtime' }, host.fn);
    const fired: string[] = [];
    const a = c.createTimer('a', () => fired.push('a'));
    const b = c.createTimer('b', () => fired.push('b'));
    a.modNs(300);
    b.modNs(200);
    c.start();
    expect(c.nextDeadlineNs()).toBe(200);
    host.now += 250;
    c.runDueTimers();
    expect(fired).toEqual(['b']);
    host.now += 100;
    c.runDueTimers();
    expect(fired).toEqual(['b', 'a']);
    expect(c.nextDeadlineNs()).toBe(Infinity);
  });

  it('re-arming moves a timer and del() disarms it', () => {
    const c = new VirtualClock({ kind: 'icount', shift: 0 });
    const fired: number[] = [];
    const t = c.createTimer('t', (now) => fired.push(now));
    t.modNs(100);
    t.modNs(50);
    expect(c.nextDeadlineNs()).toBe(50);
    t.del();
    expect(t.armed).toBe(false);
    c.start();
    c.retire(1000);
    expect(c.runDueTimers()).toBe(0);
  });

  it('a periodic timer that re-arms itself in its callback fires once per call', () => {
    const c = new VirtualClock({ kind: 'icount', shift: 0 });
    let n = 0;
    const t = c.createTimer('p', (now) => {
      n++;
      t.modNs(now + 10);
    });
    t.modNs(10);
    c.start();
    c.retire(35);
    // Deadlines 10, 20, 30 are due at t=35; the callback re-arms relative to "now" so it
    // fires once and the next deadline is in the future.
    c.runDueTimers();
    expect(n).toBe(1);
    expect(c.nextDeadlineNs()).toBe(45);
  });

  it('warpTo jumps forward only', () => {
    const c = new VirtualClock({ kind: 'icount', shift: 0 });
    c.start();
    c.warpTo(1000);
    expect(c.nowNs()).toBe(1000);
    c.warpTo(10);
    expect(c.nowNs()).toBe(1000);
    c.retire(5);
    expect(c.nowNs()).toBe(1005);
  });

  it('save and load restore virtual time', () => {
    const c = new VirtualClock({ kind: 'icount', shift: 0 });
    c.start();
    c.retire(1234);
    const saved = c.saveState();
    const d = new VirtualClock({ kind: 'icount', shift: 0 });
    d.loadState(saved);
    expect(d.nowNs()).toBe(1234);
  });

  it('rejects a non-finite deadline', () => {
    const c = new VirtualClock();
    const t = c.createTimer('x', () => {});
    expect(() => t.modNs(NaN)).toThrow(RangeError);
  });

  describe('excluded host time (a JIT translation is not guest time)', () => {
    it('a translation leaves the clock where it was; later time runs on from there', () => {
      const host = fakeHost();
      const c = new VirtualClock({ kind: 'realtime' }, host.fn);
      c.start();
      host.now += 1000;
      expect(c.nowNs()).toBe(1000);
      host.now += 30_000_000; // a 30 ms translation
      c.excludeHostTime(30_000_000);
      expect(c.nowNs()).toBe(1000);
      host.now += 500;
      expect(c.nowNs()).toBe(1500);
      expect(c.lag).toBe(30_000_000);
    });

    it('the lag is capped at MAX_LAG_NS: past it, host work shows as guest time', () => {
      const host = fakeHost();
      const c = new VirtualClock({ kind: 'realtime' }, host.fn);
      c.start();
      host.now += MAX_LAG_NS + 7;
      c.excludeHostTime(MAX_LAG_NS + 7);
      expect(c.lag).toBe(MAX_LAG_NS);
      expect(c.nowNs()).toBe(7);
      host.now += 100;
      c.excludeHostTime(100);
      expect(c.nowNs()).toBe(107);
    });

    it('while halted, the lag is recovered up to the next deadline, never past it', () => {
      const host = fakeHost();
      const c = new VirtualClock({ kind: 'realtime' }, host.fn);
      c.start();
      host.now += 50_000_000;
      c.excludeHostTime(50_000_000);
      expect(c.nowNs()).toBe(0);
      // Halted until virtual 20 ms: 20 ms of the 50 ms lag is recovered at once.
      expect(c.recoverLag(20_000_000)).toBe(20_000_000);
      expect(c.nowNs()).toBe(20_000_000);
      expect(c.lag).toBe(30_000_000);
      // Halted with no deadline at all: the rest.
      expect(c.recoverLag(Infinity)).toBe(30_000_000);
      expect(c.lag).toBe(0);
      expect(c.nowNs()).toBe(50_000_000); // back with the host
      expect(c.recoverLag(Infinity)).toBe(0);
    });

    it('does nothing in icount mode or while stopped; a loaded state has no lag', () => {
      const ic = new VirtualClock({ kind: 'icount', shift: 0 });
      ic.start();
      ic.excludeHostTime(1000);
      expect(ic.lag).toBe(0);
      const host = fakeHost();
      const c = new VirtualClock({ kind: 'realtime' }, host.fn);
      c.excludeHostTime(1000);
      expect(c.lag).toBe(0);
      c.start();
      host.now += 5000;
      c.excludeHostTime(4000);
      expect(c.lag).toBe(4000);
      c.loadState({ nowNs: 123 });
      expect(c.lag).toBe(0);
      expect(c.nowNs()).toBe(123);
    });
  });

  describe('host stalls judged by the vCPU\'s progress', () => {
    function running() {
      const host = fakeHost();
      const cpu = { retired: 0 };
      const c = new VirtualClock({ kind: 'realtime' }, host.fn);
      c.measureProgress(() => cpu.retired);
      c.start();
      c.nowNs(); // the first read only sets the baseline
      return { host, cpu, c };
    }

    it('a gap with nothing retired counts only its grace: the rest is a stall left out', () => {
      const { host, c } = running();
      host.now += 20_000_000; // a 20 ms garbage collection
      expect(c.nowNs()).toBe(STALL_GRACE_NS);
      expect(c.lag).toBe(20_000_000 - STALL_GRACE_NS);
      expect(c.stalls).toEqual({ count: 1, ns: 20_000_000 - STALL_GRACE_NS });
    });

    it('a gap the retired instructions account for counts in full', () => {
      const { host, cpu, c } = running();
      host.now += 20_000_000;
      cpu.retired += 20_000_000 / STALL_NS_PER_INSN;
      expect(c.nowNs()).toBe(20_000_000);
      expect(c.lag).toBe(0);
      // Partly accounted for: 5000 instructions allow 5 ms (plus the grace) of a 9 ms gap.
      host.now += 9_000_000;
      cpu.retired += 5000;
      expect(c.nowNs()).toBe(20_000_000 + 5000 * STALL_NS_PER_INSN + STALL_GRACE_NS);
      expect(c.lag).toBe(9_000_000 - 5000 * STALL_NS_PER_INSN - STALL_GRACE_NS);
    });

    it('inside an interrupt handler at both reads, a gap is held to HANDLER_STALL_NS_PER_INSN per instruction', () => {
      const host = fakeHost();
      const cpu = { retired: 0, inHandler: false };
      const c = new VirtualClock({ kind: 'realtime' }, host.fn);
      c.measureProgress(() => cpu.retired, () => cpu.inHandler);
      c.start();
      c.nowNs();
      // A timer interrupt from here on. The gap into it began outside the handler and is
      // judged by the normal floor (8,000 instructions account for 8 ms).
      cpu.inHandler = true;
      host.now += 8_000_000;
      cpu.retired += 8000;
      expect(c.nowNs()).toBe(8_000_000);
      expect(c.lag).toBe(0);
      // A pass of 8,000 instructions that took 8 ms of host time inside the handler counts
      // 0.8 ms (plus the grace); the rest is left out.
      host.now += 8_000_000;
      cpu.retired += 8000;
      const counted = 8000 * HANDLER_STALL_NS_PER_INSN + STALL_GRACE_NS;
      expect(c.nowNs()).toBe(8_000_000 + counted);
      expect(c.lag).toBe(8_000_000 - counted);
      // Out of the handler: a gap that ends outside it is judged by the normal floor again. 5,000
      // instructions account for its 5 ms, so it is no stall, and the guest running at normal
      // speed catches some lag up (LAG_SLEW, no more than the gap's unused allowance).
      cpu.inHandler = false;
      host.now += 5_000_000;
      cpu.retired += 5000;
      const give = Math.floor(Math.min(5_000_000 * LAG_SLEW, STALL_GRACE_NS));
      expect(c.nowNs()).toBe(8_000_000 + counted + 5_000_000 + give);
      expect(c.lag).toBe(8_000_000 - counted - give);
    });

    it('the board takes IRQ-off code for a handler only after an interrupt was delivered while IF was set', () => {
      const cpu = { s: { eflags: 0 }, interruptsDelivered: 0 };
      const inHandler = interruptHandlerProbe(cpu);
      // IRQ-off code no interrupt led to (a decompressor, early init): not a handler.
      expect(inHandler()).toBe(false);
      cpu.s.eflags = IF;
      expect(inHandler()).toBe(false);
      // An interrupt is delivered: the gate clears IF and the handler runs.
      cpu.interruptsDelivered++;
      cpu.s.eflags = 0;
      expect(inHandler()).toBe(true);
      expect(inHandler()).toBe(true);
      // IRET back to IF = 1; a later CLI section with no interrupt since is not a handler.
      cpu.s.eflags = IF;
      expect(inHandler()).toBe(false);
      cpu.s.eflags = 0;
      expect(inHandler()).toBe(false);
    });

    it('time spent halted after idle() is never a stall; a stop and start is not either', () => {
      const { host, c } = running();
      c.idle();
      host.now += 50_000_000;
      expect(c.nowNs()).toBe(50_000_000);
      c.stop();
      host.now += 1_000_000_000;
      c.start();
      host.now += 1_000_000;
      expect(c.nowNs()).toBe(51_000_000);
      expect(c.lag).toBe(0);
    });

    it('a running guest catches the lag up at most LAG_SLEW faster than the host, never past it', () => {
      const { host, cpu, c } = running();
      host.now += 10_000_000;
      const afterStall = c.nowNs();
      const lag = c.lag;
      // 1 ms gaps at full speed: each gives back LAG_SLEW of its length.
      for (let i = 0; i < 10; i++) {
        host.now += 1_000_000;
        cpu.retired += 1_000_000;
        c.nowNs();
      }
      expect(c.lag).toBeCloseTo(lag - 10 * 1_000_000 * LAG_SLEW, 3);
      expect(c.nowNs()).toBeCloseTo(afterStall + 10 * 1_000_000 * (1 + LAG_SLEW), 3);
      for (let i = 0; i < 1000; i++) {
        host.now += 1_000_000;
        cpu.retired += 1_000_000;
        c.nowNs();
      }
      expect(c.lag).toBe(0);
      expect(c.nowNs()).toBe(host.now - 1_000_000); // with the host again (fakeHost starts at 1 ms)
    });

    it('stalls share MAX_LAG_NS with translations; past it they show as guest time', () => {
      const { host, c } = running();
      host.now += MAX_LAG_NS;
      c.nowNs();
      expect(c.lag).toBe(MAX_LAG_NS - STALL_GRACE_NS);
      host.now += 10_000_000;
      const before = c.nowNs() - 0;
      expect(c.lag).toBe(MAX_LAG_NS);
      host.now += 10_000_000;
      expect(c.nowNs()).toBe(before + 10_000_000);
    });

    it('stays a whole number of ns through fractional exclusions, slew, recovery and warps (saved state is checked for integers)', () => {
      const { host, cpu, c } = running();
      const whole = (): void => expect(Number.isInteger(c.nowNs()) && Number.isInteger(c.lag)).toBe(true);
      host.now += 3_000_000;
      c.excludeHostTime(1_234_567.891); // translations are timed with performance.now()
      whole();
      for (let i = 0; i < 7; i++) {
        host.now += 333_333; // slew gives back LAG_SLEW of each gap
        cpu.retired += 1_000;
        whole();
      }
      c.idle();
      c.recoverLag(c.nowNs() + 123.5);
      whole();
      c.warpTo(c.nowNs() + 1000.25);
      whole();
    });

    it('a translation left out by excludeHostTime is not judged a stall a second time', () => {
      const { host, c } = running();
      host.now += 5_000_000;
      c.excludeHostTime(5_000_000);
      expect(c.nowNs()).toBe(0);
      expect(c.lag).toBe(5_000_000);
      expect(c.stalls.count).toBe(0);
    });
  });
});
