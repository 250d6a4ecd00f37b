/**
 * The machine's virtual clock and its timer queue. Every device gets time from here and
 * nowhere else, so that a stopped VM's time stands still and a deterministic run repeats.
 *
 * Two modes:
 *  - real time: virtual time follows the host's monotonic clock while the VM runs and stands
 *    still while it is stopped (QEMU's QEMU_CLOCK_VIRTUAL without -icount);
 *  - deterministic (`-icount shift=N`): virtual time is the retired instruction count times
 *    2^N ns. When the CPU halts, time jumps to the next timer deadline (QEMU's sleep=off), so
 *    the same inputs give the same run.
 *
 * In real-time mode the host's own work that the guest could never see on hardware — a JIT
 * translation, which costs milliseconds here and microseconds in QEMU — is left out of virtual
 * time (`excludeHostTime`): otherwise a guest that times a loop against the PIT or HPET, or
 * checks how long its timer interrupt took, sees a machine that stalls for 30 ms at random.
 * Virtual time then lags the host's by what was left out, at most MAX_LAG_NS, and catches up
 * while the vCPU is halted (`recoverLag`), where a jump forward looks like a longer idle.
 *
 * Host stalls that nobody reports — a garbage collection, the host scheduling another process,
 * the event loop writing console output between slices — are found by their symptom: host time
 * passing while the vCPU retires (almost) no instructions. With a progress source
 * (`measureProgress`: the CPU's retired-instruction count), each clock read allows the guest at
 * most STALL_NS_PER_INSN per instruction retired since the previous read, plus STALL_GRACE_NS;
 * the rest of the gap is left out like a translation. While the guest runs an interrupt
 * handler (`inHandler`, true at both ends of the gap), the floor is HANDLER_STALL_NS_PER_INSN
 * instead: Linux's timer interrupt times its own passes, and a pass through code not yet
 * translated must not look as long as a timer period. A busy guest catches the lag up by
 * running its clock up to LAG_SLEW faster than the host's while it runs at normal speed, so a
 * long busy phase does not pin the lag at MAX_LAG_NS. Time spent halted is never judged (the
 * board calls `idle()` before the vCPU waits). All devices read this one clock, so the guest
 * sees no disagreement between its timers, only a CPU that never pauses for the host.
 *
 * Virtual time is a whole number of ns whatever is left out or caught up (the host clock gives
 * whole ns; the adjustments are rounded): devices copy it into their saved state, which a
 * load checks for integers.
 *
 * Timers are few (tens), so the queue is a small array kept sorted by deadline.
 */

export type ClockMode = { kind: 'realtime' } | { kind: 'icount'; shift: number };

/**
 * How far real-time virtual time may fall behind the host's through excluded host work. Past
 * it, host work shows as guest time again, so that `date` stays within this of the host's
 * clock however long the guest stays busy (it catches up once the guest idles).
 *
 * The cap is 10 s because a Linux boot needs it: the kernel's init code runs once, cold —
 * interpreted, or in blocks V8 has not optimized yet — and translations plus stretches under
 * 1 MIPS left out about 7 s by the time Linux switches to the TSC clocksource on an idle
 * 2-core host (i386 guest). With a 0.5 s cap the lag was pinned there long before, the
 * stalls showed, and a timer interrupt that the host held up for 8-11 ms made Linux print
 * `hrtimer: interrupt took 10-20 ms`.
 */
export const MAX_LAG_NS = 10_000_000_000;

/**
 * Slowest guest execution that counts as running rather than a host stall: 1 µs per retired
 * instruction (1 MIPS; the interpreter alone runs at several). Slower gaps are host stalls.
 */
export const STALL_NS_PER_INSN = 1000;

/**
 * The floor inside an interrupt handler (see the header): 100 ns per retired instruction
 * (10 MIPS), what translated code reaches once V8 has optimized it.
 *
 * Why a second floor: Linux's hrtimer_interrupt runs with IF = 0 and loops while its next
 * timer has already expired; after three passes it prints `hrtimer: interrupt took N ns`.
 * Early in a boot that handler (about 4,000-12,000 instructions) is interpreted or runs in
 * blocks V8 has not optimized, at 1-3 MIPS: a pass then took 4-10 ms of virtual time, as long
 * as the 4 ms tick, in 1 boot of 6-9. Held to this floor, the longest of an i386 boot's
 * 17,001 timer interrupts took 2.9 ms of virtual time, against 9.9-10.1 ms in two boots
 * without it.
 *
 * Why only in handlers (the board's judgement: IF = 0 and an interrupt delivered since IF was
 * last seen set): all IRQ-off code held to it added 7 s of lag in an amd64 boot's first 30 s,
 * in the bzImage's decompressor, whose cold start nobody times. Held in handlers only, the
 * lag of an amd64 boot peaked at 3.8 s and was caught up when the guest first idled.
 * Handlers are a small part of a running guest, so a benchmark in user space keeps host time.
 */
export const HANDLER_STALL_NS_PER_INSN = 100;

/** Host time between two clock reads that always counts, whatever the vCPU retired. */
export const STALL_GRACE_NS = 200_000;

/**
 * While lagging, the running guest's clock goes up to this fraction faster than the host's.
 * Small, because a benchmark the guest times may start with a lag of several seconds: 5%
 * fast keeps its figure within the 10% of host time that a guest-timed figure must match.
 */
export const LAG_SLEW = 0.05;

/** Host monotonic time in ns. The only place besides the UI that reads the host clock. */
export type HostClock = () => number;

export const defaultHostClock: HostClock = () => Number(process.hrtime.bigint());

/** Plain-data state of the clock, for snapshots. */
export interface ClockState {
  /** Virtual time in ns at the moment of saving. */
  nowNs: number;
}

export class Timer {
  /** Absolute virtual deadline in ns, or -1 when not armed. */
  deadlineNs = -1;
  constructor(private readonly clock: VirtualClock, readonly name: string, readonly callback: (nowNs: number) => void) {}

  /** Arms (or re-arms) the timer to fire when virtual time reaches `deadlineNs`. */
  modNs(deadlineNs: number): void {
    this.clock.schedule(this, deadlineNs);
  }

  /** Disarms the timer. */
  del(): void {
    this.clock.unschedule(this);
  }

  get armed(): boolean {
    return this.deadlineNs >= 0;
  }
}

export class VirtualClock {
  private readonly queue: Timer[] = [];
  /** Virtual ns at the last time the clock was stopped or re-based. */
  private baseNs = 0;
  /** Host ns when the clock last started running (real-time mode). */
  private hostStartNs = 0;
  private running = false;
  /** Instructions retired since `baseNs` (icount mode). */
  private instructions = 0;
  /** Virtual time can never go backwards, whatever the host clock does. */
  private lastNs = 0;
  /** Real-time mode: host ns left out of virtual time and not yet caught up (<= MAX_LAG_NS). */
  private lagNs = 0;
  /** Stall detection (real-time mode): instructions retired so far, from the CPU. */
  private progress: (() => number) | undefined;
  /** Host ns and progress at the previous read while running; -1 after a start or an idle. */
  private lastHostNs = -1;
  private lastProgress = 0;
  /** Whether the vCPU runs an interrupt handler now, and did at the previous read. */
  private inHandler: (() => boolean) | undefined;
  private lastInHandler = false;
  /** Host stalls left out of virtual time since power-on (diagnostics). */
  private stallCount = 0;
  private stallNsTotal = 0;
  /**
   * Called when a timer becomes the earliest deadline. The board stops a running vCPU with
   * it, since the vCPU was told to run until the old earliest deadline (a LAPIC one-shot or
   * TSC deadline armed by the guest mid-batch must not fire late).
   */
  onEarlierDeadline: (() => void) | undefined;

  constructor(readonly mode: ClockMode = { kind: 'realtime' }, private readonly host: HostClock = defaultHostClock) {}

  get deterministic(): boolean {
    return this.mode.kind === 'icount';
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Current virtual time in ns. */
  nowNs(): number {
    let now: number;
    if (this.mode.kind === 'icount') {
      now = this.baseNs + this.instructions * 2 ** this.mode.shift;
    } else if (this.running) {
      const host = this.host();
      if (this.progress !== undefined) this.judgeGap(host, this.progress(), this.inHandler?.() ?? false);
      now = this.baseNs + (host - this.hostStartNs);
    } else {
      now = this.baseNs;
    }
    if (now < this.lastNs) now = this.lastNs;
    this.lastNs = now;
    return now;
  }

  /**
   * Between two reads while running: leaves out of virtual time the part of the host's gap
   * that the vCPU's progress cannot account for (a host stall), or catches up some lag when
   * the vCPU ran at normal speed. See the header.
   */
  private judgeGap(host: number, progress: number, inHandler: boolean): void {
    if (this.lastHostNs >= 0) {
      const gap = host - this.lastHostNs;
      // In a handler at both reads: (most likely) one handler's run, held to the stricter floor.
      const perInsn = this.lastInHandler && inHandler ? HANDLER_STALL_NS_PER_INSN : STALL_NS_PER_INSN;
      const allowed = Math.max(0, progress - this.lastProgress) * perInsn + STALL_GRACE_NS;
      if (gap > allowed) {
        const take = Math.min(gap - allowed, MAX_LAG_NS - this.lagNs);
        if (take > 0) {
          this.baseNs -= take;
          this.lagNs += take;
          this.stallCount++;
          this.stallNsTotal += take;
        }
      } else if (this.lagNs > 0 && gap > 0) {
        const give = Math.floor(Math.min(this.lagNs, gap * LAG_SLEW, allowed - gap));
        this.baseNs += give;
        this.lagNs -= give;
      }
    }
    this.lastHostNs = host;
    this.lastProgress = progress;
    this.lastInHandler = inHandler;
  }

  /**
   * Real-time mode: judge host gaps between clock reads against `progress` (the vCPU's
   * retired-instruction count) and leave host stalls out of virtual time; `inHandler` (the
   * vCPU runs an interrupt handler) selects the stricter floor.
   */
  measureProgress(progress: () => number, inHandler?: () => boolean): void {
    this.progress = progress;
    this.inHandler = inHandler;
    this.lastHostNs = -1;
  }

  /**
   * The vCPU is about to wait (halted until a deadline or a kick): the host time until the
   * next read is idle time the guest sees in full, not a stall.
   */
  idle(): void {
    this.lastHostNs = -1;
  }

  /** Host stalls left out of virtual time since power-on: how many, and their total ns. */
  get stalls(): { count: number; ns: number } {
    return { count: this.stallCount, ns: this.stallNsTotal };
  }

  /** Starts virtual time (VM running). */
  start(): void {
    if (this.running) return;
    this.baseNs = this.nowNs();
    this.instructions = 0;
    this.hostStartNs = this.host();
    this.lastHostNs = -1;
    this.running = true;
  }

  /** Freezes virtual time (VM stopped). */
  stop(): void {
    if (!this.running) return;
    this.baseNs = this.nowNs();
    this.instructions = 0;
    this.running = false;
  }

  /** icount mode: account for `n` retired instructions. Ignored in real-time mode. */
  retire(n: number): void {
    if (this.mode.kind === 'icount') this.instructions += n;
  }

  /**
   * Real-time mode, running: `ns` of host time just went into work the guest must not see
   * (a translation). Virtual time leaves it out, up to MAX_LAG_NS behind the host in all.
   */
  excludeHostTime(ns: number): void {
    if (this.mode.kind !== 'realtime' || !this.running || !(ns > 0)) return;
    const take = Math.min(Math.round(ns), MAX_LAG_NS - this.lagNs);
    if (take <= 0) return;
    this.baseNs -= take;
    this.lagNs += take;
    // The next read must not judge this part of its gap a stall again.
    if (this.lastHostNs >= 0) this.lastHostNs += take;
  }

  /** Host ns that virtual time is behind the host's by excluded host work. */
  get lag(): number {
    return this.lagNs;
  }

  /**
   * Real-time mode, vCPU halted until `untilNs` (its next deadline): moves virtual time
   * forward by as much of the lag as fits before the deadline. Returns the ns recovered.
   */
  recoverLag(untilNs: number): number {
    if (this.lagNs <= 0 || !this.running) return 0;
    const step = Math.floor(Math.min(this.lagNs, untilNs - this.nowNs()));
    if (!(step > 0)) return 0;
    this.baseNs += step;
    this.lagNs -= step;
    return step;
  }

  /** Virtual ns per instruction in icount mode (0 in real-time mode). */
  get nsPerInstruction(): number {
    return this.mode.kind === 'icount' ? 2 ** this.mode.shift : 0;
  }

  /**
   * Moves virtual time forward to `targetNs` without executing (icount mode, CPU halted, or
   * real-time mode re-basing after the host slept). Never moves it back.
   */
  warpTo(targetNs: number): void {
    const now = this.nowNs();
    if (targetNs <= now) return;
    targetNs = Math.ceil(targetNs);
    this.baseNs = targetNs;
    this.instructions = 0;
    this.hostStartNs = this.host();
    this.lastHostNs = -1;
    this.lastNs = targetNs;
  }

  createTimer(name: string, callback: (nowNs: number) => void): Timer {
    return new Timer(this, name, callback);
  }

  /** Earliest armed deadline, or Infinity. */
  nextDeadlineNs(): number {
    return this.queue.length > 0 ? this.queue[0]!.deadlineNs : Infinity;
  }

  /** Fires every timer whose deadline has passed, in deadline order. Returns how many fired. */
  runDueTimers(): number {
    let fired = 0;
    // A callback may re-arm its own timer or others; re-read the head each time. A timer that
    // re-arms itself in the past fires again on the next call, not in a loop here.
    const limit = this.queue.length * 4 + 16;
    while (this.queue.length > 0 && fired < limit) {
      const head = this.queue[0]!;
      const now = this.nowNs();
      if (head.deadlineNs > now) break;
      this.queue.shift();
      head.deadlineNs = -1;
      fired++;
      head.callback(now);
    }
    return fired;
  }

  /** @internal used by Timer. */
  schedule(timer: Timer, deadlineNs: number): void {
    if (!Number.isFinite(deadlineNs)) throw new RangeError(`timer ${timer.name}: deadline ${deadlineNs} is not finite`);
    this.unschedule(timer);
    timer.deadlineNs = Math.max(0, deadlineNs);
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1]!.deadlineNs > timer.deadlineNs) i--;
    this.queue.splice(i, 0, timer);
    if (i === 0) this.onEarlierDeadline?.();
  }

  /** @internal used by Timer. */
  unschedule(timer: Timer): void {
    if (timer.deadlineNs < 0) return;
    const i = this.queue.indexOf(timer);
    if (i >= 0) this.queue.splice(i, 1);
    timer.deadlineNs = -1;
  }

  /** The armed timers in deadline order (tests and diagnostics: which deadlines a load re-armed). */
  armedTimers(): { name: string; deadlineNs: number }[] {
    return this.queue.map((t) => ({ name: t.name, deadlineNs: t.deadlineNs }));
  }

  saveState(): ClockState {
    return { nowNs: this.nowNs() };
  }

  /** Restores virtual time. Devices re-arm their own timers from their own state afterwards. */
  loadState(state: ClockState): void {
    const wasRunning = this.running;
    this.running = false;
    this.baseNs = state.nowNs;
    this.lastNs = state.nowNs;
    this.instructions = 0;
    this.lagNs = 0;
    this.lastHostNs = -1;
    if (wasRunning) this.start();
  }
}
