/**
 * The two cascaded Intel 8259A programmable interrupt controllers of a PC/AT, with the
 * edge/level control registers (ELCR1/ELCR2) that the Intel PIIX south bridges add.
 *
 * Sources: Intel 8259A Programmable Interrupt Controller datasheet (231468), sections
 * "Interrupt Sequence", "Programming the 8259A" (ICW1–ICW4, OCW1–OCW3), "Fully Nested Mode",
 * "End of Interrupt", "Automatic Rotation", "Specific Rotation", "Special Mask Mode",
 * "Poll Command", "Reading the 8259A Status", "Edge and Level Triggered Modes", "Special Fully
 * Nested Mode", "Cascade Mode"; Intel 82371AB (PIIX4) datasheet, ELCR1/ELCR2 at 04D0h/04D1h.
 * Where the datasheet leaves freedom the behaviour follows QEMU's hw/intc/i8259.c.
 *
 * Wiring (fixed, as on every AT): the master (0x20–0x21) drives the CPU's INTR pin and answers
 * INTA; the slave (0xA0–0xA1) drives the master's IR2. ISA IRQ n is master IRn for n < 8 and
 * slave IR(n-8) otherwise.
 *
 * Not implemented: 8080/8085 mode (ICW4 µPM = 0, ICW1 ADI and A7–A5), buffered mode and M/S
 * (ICW4 BUF, M/S), ICW3 (the cascade is hardwired), single mode beyond skipping ICW3.
 */
import type { PortHandler } from '../../src/memory/io-bus.js';
import type { InterruptSource, IrqSink } from '../../src/machine/irq.js';
import type { Device } from '../../src/machine/device.js';
import type { Logger } from '../../src/machine/log.js';
import { SnapshotError } from '../../src/errors.js';
import { expectBool, expectInt, expectRecord, expectVersion } from '../../src/snapshot/validate.js';

// ICW1 (even port, D4 = 1).
const ICW1_IC4 = 0b0000_0001; // ICW4 follows
const ICW1_SNGL = 0b0000_0010; // single 8259A: no ICW3
const ICW1_LTIM = 0b0000_1000; // level-triggered inputs
const ICW1_SEL = 0b0001_0000; // marks ICW1
// ICW2 (odd port): T7–T3 of the vector; T2–T0 come from the IR number.
const ICW2_VECTOR = 0b1111_1000;
// ICW4 (odd port).
const ICW4_UPM = 0b0000_0001; // 8086/8088 mode (0 = MCS-80/85 mode)
const ICW4_AEOI = 0b0000_0010; // automatic end of interrupt
const ICW4_SFNM = 0b0001_0000; // special fully nested mode
// OCW2 (even port, D4 = D3 = 0): R, SL, EOI in D7–D5 select the command; L2–L0 an IR.
const OCW2_LEVEL = 0b0000_0111;
const OCW2_CMD_SHIFT = 5;
const enum Ocw2 {
  RotateAeoiClear = 0b000,
  NonSpecificEoi = 0b001,
  Nop = 0b010,
  SpecificEoi = 0b011,
  RotateAeoiSet = 0b100,
  RotateNonSpecificEoi = 0b101,
  SetPriority = 0b110,
  RotateSpecificEoi = 0b111,
}
// OCW3 (even port, D4 = 0, D3 = 1).
const OCW3_RIS = 0b0000_0001; // read ISR (1) or IRR (0) ...
const OCW3_RR = 0b0000_0010; // ... when RR = 1
const OCW3_P = 0b0000_0100; // poll command
const OCW3_SEL = 0b0000_1000; // marks OCW3
const OCW3_SMM = 0b0010_0000; // special mask mode on (1) or off (0) ...
const OCW3_ESMM = 0b0100_0000; // ... when ESMM = 1
// Poll word: I (an interrupt was pending) and W2–W0 (its IR).
const POLL_INT = 0b1000_0000;

/** Writable ELCR bits: IRQ 0, 1, 2 (ELCR1) and 8, 13 (ELCR2) are always edge-triggered. */
const ELCR_MASTER_WRITABLE = 0xf8;
const ELCR_SLAVE_WRITABLE = 0xde;

/** The master input the slave's INT drives. */
const CASCADE_IR = 2;
/** The IR whose vector a spurious acknowledge returns. */
const SPURIOUS_IR = 7;
const NO_IR = -1;

/** Which initialization command word the odd port expects next. */
const enum Init {
  Ready = 0, // OCW1 (IMR)
  Icw2 = 1,
  Icw3 = 2,
  Icw4 = 3,
}

/** Guest-visible state of one 8259A (plus the ELCR byte that belongs to its eight inputs). */
export interface PicChipState {
  /** Levels of the eight IR inputs as last driven; edge detection compares against them. */
  lines: number;
  /** Interrupt Request Register. */
  irr: number;
  /** Interrupt Mask Register (OCW1). */
  imr: number;
  /** In-Service Register. */
  isr: number;
  /** The IR that currently has the highest priority (0 unless rotated); QEMU's priority_add. */
  highestPriority: number;
  /** ICW2 with T2–T0 cleared: vector of IR0. */
  irqBase: number;
  /** OCW3 RIS as last set with RR = 1: the even port reads ISR (true) or IRR (false). */
  readIsr: boolean;
  /** OCW3 P: the next read is a poll. */
  poll: boolean;
  /** OCW3 SMM: special mask mode. */
  specialMask: boolean;
  /** Which ICW the odd port expects next (`Init`). */
  initState: number;
  /** ICW4 AEOI. */
  autoEoi: boolean;
  /** OCW2 rotate in automatic EOI mode. */
  rotateOnAutoEoi: boolean;
  /** ICW4 SFNM (meaningful on the master only). */
  specialFullyNested: boolean;
  /** ICW1 IC4: the init sequence includes ICW4. */
  icw4Needed: boolean;
  /** ICW1 SNGL: the init sequence skips ICW3. */
  single: boolean;
  /** ICW1 LTIM: all eight inputs are level-triggered. */
  levelTriggered: boolean;
  /** ELCR (PIIX): bit n set = IRn level-triggered. Not touched by ICW1. */
  elcr: number;
}

/** Guest-visible state of the pair. */
export interface PicPairState {
  master: PicChipState;
  slave: PicChipState;
}

export const PIC_STATE_VERSION = 1;

function defaultChipState(): PicChipState {
  return {
    lines: 0,
    irr: 0,
    imr: 0,
    isr: 0,
    highestPriority: 0,
    irqBase: 0,
    readIsr: false,
    poll: false,
    specialMask: false,
    initState: Init.Ready,
    autoEoi: false,
    rotateOnAutoEoi: false,
    specialFullyNested: false,
    icw4Needed: false,
    single: false,
    levelTriggered: false,
    elcr: 0,
  };
}

/** Power-on state: everything zero, ELCR all edge (QEMU's pic_reset). */
export function defaultPicPairState(): PicPairState {
  return { master: defaultChipState(), slave: defaultChipState() };
}

/** Inputs whose IRR bit follows the line rather than latching an edge. */
function levelInputs(c: PicChipState): number {
  return c.levelTriggered ? 0xff : c.elcr;
}

/** Priority (0 = highest) of the best-placed IR in `mask` under the current rotation, or 8. */
function bestPriority(c: PicChipState, mask: number): number {
  if (mask === 0) return 8;
  let p = 0;
  while ((mask & (1 << ((p + c.highestPriority) & 7))) === 0) p++;
  return p;
}

/**
 * The IR the chip would interrupt for now, or NO_IR: the highest-priority unmasked request
 * that beats everything in service. Special mask mode leaves masked in-service levels out of
 * the comparison; special fully nested mode on the master leaves out the cascade input, so a
 * higher-priority slave request can nest inside a slave handler.
 */
function pendingIr(c: PicChipState, isMaster: boolean): number {
  const request = bestPriority(c, c.irr & ~c.imr);
  if (request === 8) return NO_IR;
  let inService = c.isr;
  if (c.specialMask) inService &= ~c.imr;
  if (isMaster && c.specialFullyNested) inService &= ~(1 << CASCADE_IR);
  if (request >= bestPriority(c, inService)) return NO_IR;
  return (request + c.highestPriority) & 7;
}

/** The chip's side of an INTA (or a poll read) for `ir`. Does not recompute outputs. */
function intack(c: PicChipState, ir: number): void {
  const bit = 1 << ir;
  if (c.autoEoi) {
    if (c.rotateOnAutoEoi) c.highestPriority = (ir + 1) & 7;
  } else {
    c.isr |= bit;
  }
  // A level-triggered request stays in IRR for as long as the line is high.
  if ((levelInputs(c) & bit) === 0) c.irr &= ~bit;
}

/** ICW1: start the init sequence (datasheet "Initialization Command Words", a–f). */
function writeIcw1(c: PicChipState, value: number): void {
  c.imr = 0;
  c.isr = 0;
  c.highestPriority = 0;
  c.irqBase = 0;
  c.readIsr = false;
  c.poll = false;
  c.specialMask = false;
  c.autoEoi = false;
  c.rotateOnAutoEoi = false;
  c.specialFullyNested = false;
  c.initState = Init.Icw2;
  c.icw4Needed = (value & ICW1_IC4) !== 0;
  c.single = (value & ICW1_SNGL) !== 0;
  c.levelTriggered = (value & ICW1_LTIM) !== 0;
  // The edge sense circuit is reset: latched edges are forgotten and an input that is high
  // must go low and high again. `lines` keeps the real pin levels, so that needs nothing more.
  // (QEMU clears its last_irr instead, so a repeated "high" re-latches; our IrqLine contract
  // says repeating a level is harmless, so we follow the datasheet.)
  c.irr = c.lines & levelInputs(c);
}

function writeOcw2(c: PicChipState, value: number): void {
  const level = value & OCW2_LEVEL;
  switch ((value >> OCW2_CMD_SHIFT) as Ocw2) {
    case Ocw2.RotateAeoiClear:
      c.rotateOnAutoEoi = false;
      break;
    case Ocw2.RotateAeoiSet:
      c.rotateOnAutoEoi = true;
      break;
    case Ocw2.NonSpecificEoi:
    case Ocw2.RotateNonSpecificEoi: {
      const p = bestPriority(c, c.isr);
      if (p === 8) break;
      const ir = (p + c.highestPriority) & 7;
      c.isr &= ~(1 << ir);
      if (value >> OCW2_CMD_SHIFT === Ocw2.RotateNonSpecificEoi) c.highestPriority = (ir + 1) & 7;
      break;
    }
    case Ocw2.SpecificEoi:
      c.isr &= ~(1 << level);
      break;
    case Ocw2.SetPriority:
      // L2–L0 name the bottom priority level.
      c.highestPriority = (level + 1) & 7;
      break;
    case Ocw2.RotateSpecificEoi:
      c.isr &= ~(1 << level);
      c.highestPriority = (level + 1) & 7;
      break;
    case Ocw2.Nop:
      break;
  }
}

function writeOcw3(c: PicChipState, value: number): void {
  // D7 should be 0; like QEMU we ignore it rather than reject the command.
  if (value & OCW3_P) c.poll = true;
  if (value & OCW3_RR) c.readIsr = (value & OCW3_RIS) !== 0;
  if (value & OCW3_ESMM) c.specialMask = (value & OCW3_SMM) !== 0;
}

/**
 * The master/slave 8259A pair of a PC with the PIIX ELCR. It is the IrqSink for ISA IRQs
 * 0–15 and the CPU's InterruptSource.
 *
 * `irqCounts()` statistics live outside the saved state (like QEMU's irq_count): they count
 * since the object was created and survive reset() and loadState().
 */
export class Pic8259Pair implements Device, IrqSink, InterruptSource {
  readonly id: string;
  readonly stateVersion = PIC_STATE_VERSION;
  /** Ports 0x20–0x21. */
  readonly master: PortHandler;
  /** Ports 0xA0–0xA1. */
  readonly slave: PortHandler;
  /** Ports 0x4D0–0x4D1: ELCR1 (IRQ 0–7), ELCR2 (IRQ 8–15). */
  readonly elcrPorts: PortHandler;
  /** Called whenever the INT output to the CPU may have gone high (wakes a halted CPU). */
  onInterruptChange: (() => void) | undefined;
  /** Called on every change of the INT output (the local APIC's LINT0 input follows it). */
  onOutputLevel: ((level: boolean) => void) | undefined;

  private s: PicPairState = defaultPicPairState();
  /** Derived from `s`: the master's INT output as last computed. */
  private intOutput = false;
  /** Low→high transitions per ISA IRQ (statistics, not state). */
  private readonly counts = new Float64Array(16);
  private readonly log: Logger | undefined;

  constructor(deps: { id?: string; log?: Logger }, state?: PicPairState) {
    this.id = deps.id ?? 'pic';
    this.log = deps.log;
    this.master = {
      ioRead: (offset) => this.readPic(this.s.master, true, offset),
      ioWrite: (offset, _size, value) => this.writePic(this.s.master, true, offset, value),
    };
    this.slave = {
      ioRead: (offset) => this.readPic(this.s.slave, false, offset),
      ioWrite: (offset, _size, value) => this.writePic(this.s.slave, false, offset, value),
    };
    this.elcrPorts = {
      ioRead: (offset) => ((offset & 1) === 0 ? this.s.master.elcr : this.s.slave.elcr),
      ioWrite: (offset, _size, value) => this.writeElcr(offset, value),
    };
    this.loadState(state ?? defaultPicPairState(), PIC_STATE_VERSION);
  }

  // ---- IrqSink ----

  /**
   * Drives ISA IRQ `pin` (0–15). Pin 2 is the cascade input, driven only by the slave; a
   * request on it, or on a pin outside 0–15, is ignored.
   */
  setIrq(pin: number, level: boolean): void {
    // XXX: on an AT the ISA slot's IRQ2 pin is wired to slave IR1 (IRQ9); we leave that
    // redirection to the board and drop pin 2 instead of letting it fight the slave's INT.
    if (!Number.isInteger(pin) || pin < 0 || pin > 15 || pin === CASCADE_IR) return;
    if (pin < 8) this.drivePin(this.s.master, pin, level, pin);
    else this.drivePin(this.s.slave, pin - 8, level, pin);
    this.update();
  }

  // ---- InterruptSource ----

  hasInterrupt(): boolean {
    return this.intOutput;
  }

  /**
   * The INTA cycle. A request on IR2 makes the slave supply the vector. With no request left
   * (it went away or was masked since INT rose) the chip answers IR7 without setting ISR:
   * master base+7, or, when the master saw IR2 but the slave has nothing, slave base+7 with
   * the master's IR2 acknowledged (so the handler must EOI the master only), as QEMU does.
   */
  acknowledge(): number {
    const m = this.s.master;
    const sl = this.s.slave;
    const ir = pendingIr(m, true);
    if (ir === NO_IR) return m.irqBase + SPURIOUS_IR;
    let vector: number;
    if (ir === CASCADE_IR) {
      const ir2 = pendingIr(sl, false);
      if (ir2 === NO_IR) {
        vector = sl.irqBase + SPURIOUS_IR;
      } else {
        intack(sl, ir2);
        vector = sl.irqBase + ir2;
      }
    } else {
      vector = m.irqBase + ir;
    }
    intack(m, ir);
    this.update();
    return vector;
  }

  // ---- Device ----

  reset(): void {
    this.loadState(defaultPicPairState(), PIC_STATE_VERSION);
  }

  saveState(): PicPairState {
    return { master: { ...this.s.master }, slave: { ...this.s.slave } };
  }

  loadState(state: unknown, version: number): void {
    expectVersion(version, PIC_STATE_VERSION, this.id);
    const rec = expectRecord(state, this.id);
    const master = validateChip(rec['master'], `${this.id}.master`, ELCR_MASTER_WRITABLE);
    const slave = validateChip(rec['slave'], `${this.id}.slave`, ELCR_SLAVE_WRITABLE);
    this.s = { master, slave };
    this.intOutput = false;
    this.update();
  }

  // ---- Monitor ----

  /** QEMU's `info pic`: one line per chip, pic0 = master, pic1 = slave. */
  infoPic(): string {
    const hex = (v: number): string => v.toString(16).padStart(2, '0');
    return [this.s.master, this.s.slave]
      .map(
        (c, i) =>
          `pic${i}: irr=${hex(c.irr)} imr=${hex(c.imr)} isr=${hex(c.isr)} hprio=${c.highestPriority} ` +
          `irq_base=${hex(c.irqBase)} rr_sel=${c.readIsr ? 1 : 0} elcr=${hex(c.elcr)} fnm=${c.specialFullyNested ? 1 : 0}`,
      )
      .join('\n');
  }

  /**
   * Low→high transitions seen on each ISA IRQ since creation (QEMU's `info irq`). As in QEMU,
   * IRQ 2 counts rises of the slave's INT output into the cascade input.
   */
  irqCounts(): number[] {
    return Array.from(this.counts);
  }

  // ---- Internals ----

  /** Sets input `ir` of `c` to `level`: an edge latches IRR, a level-triggered input follows. */
  private drivePin(c: PicChipState, ir: number, level: boolean, isaIrq: number): void {
    const bit = 1 << ir;
    const wasHigh = (c.lines & bit) !== 0;
    if (level) {
      c.lines |= bit;
      if (!wasHigh) this.counts[isaIrq]++;
      if (!wasHigh || (levelInputs(c) & bit) !== 0) c.irr |= bit;
    } else {
      // XXX: an edge-latched request stays in IRR when the line falls before INTA (QEMU);
      // the datasheet requires the line to stay high until the first INTA, else IR7 answers.
      c.lines &= ~bit;
      if ((levelInputs(c) & bit) !== 0) c.irr &= ~bit;
    }
  }

  /**
   * Recomputes the outputs: the slave's INT into the master's IR2, then the master's INT to
   * the CPU. Called after every change to either chip. IR2 is edge-triggered like any master
   * input (ELCR bit 2 is read-only zero), as on the hardware and in QEMU.
   */
  private update(): void {
    const slaveInt = pendingIr(this.s.slave, false) !== NO_IR;
    this.drivePin(this.s.master, CASCADE_IR, slaveInt, CASCADE_IR);
    const out = pendingIr(this.s.master, true) !== NO_IR;
    const changed = out !== this.intOutput;
    this.intOutput = out;
    if (changed) this.onOutputLevel?.(out);
    if (changed && out) this.onInterruptChange?.();
  }

  private readPic(c: PicChipState, isMaster: boolean, offset: number): number {
    if (c.poll) {
      // The read is the poll's INTA: it acknowledges the winner and returns I + W2–W0.
      // A master poll that finds IR2 does not reach into the slave (no cascade cycle).
      c.poll = false;
      const ir = pendingIr(c, isMaster);
      if (ir === NO_IR) return 0;
      intack(c, ir);
      this.update();
      return POLL_INT | ir;
    }
    if ((offset & 1) === 0) return c.readIsr ? c.isr : c.irr;
    return c.imr;
  }

  private writePic(c: PicChipState, isMaster: boolean, offset: number, value: number): void {
    value &= 0xff;
    if ((offset & 1) === 0) {
      if (value & ICW1_SEL) {
        writeIcw1(c, value);
        // XXX: SNGL on a PC's PICs would break the board's cascade; like QEMU we keep it.
        if (c.single) this.trace(isMaster, 'ICW1 SNGL ignored: the cascade is hardwired');
      } else if (value & OCW3_SEL) {
        writeOcw3(c, value);
      } else {
        writeOcw2(c, value);
      }
    } else {
      this.writeOddPort(c, isMaster, value);
    }
    this.update();
  }

  private writeOddPort(c: PicChipState, isMaster: boolean, value: number): void {
    switch (c.initState as Init) {
      case Init.Ready:
        c.imr = value;
        break;
      case Init.Icw2:
        c.irqBase = value & ICW2_VECTOR;
        c.initState = c.single ? (c.icw4Needed ? Init.Icw4 : Init.Ready) : Init.Icw3;
        break;
      case Init.Icw3:
        // XXX: ICW3 (master: which IRs have slaves; slave: its ID) is not checked: the
        // slave is always on master IR2, as QEMU assumes.
        c.initState = c.icw4Needed ? Init.Icw4 : Init.Ready;
        break;
      case Init.Icw4:
        // XXX: µPM = 0 (MCS-80/85 mode) is ignored and x86 vectors are still delivered, as in
        // QEMU; BUF and M/S are ignored too.
        if ((value & ICW4_UPM) === 0) this.trace(isMaster, 'ICW4 with uPM=0 (8080 mode) not supported');
        c.specialFullyNested = (value & ICW4_SFNM) !== 0;
        c.autoEoi = (value & ICW4_AEOI) !== 0;
        c.initState = Init.Ready;
        break;
      default:
        c.initState = Init.Ready;
        break;
    }
  }

  private writeElcr(offset: number, value: number): void {
    const c = (offset & 1) === 0 ? this.s.master : this.s.slave;
    c.elcr = value & ((offset & 1) === 0 ? ELCR_MASTER_WRITABLE : ELCR_SLAVE_WRITABLE);
    // Level-triggered inputs report the line at once; inputs switched to edge keep what IRR
    // holds as a latched request. (QEMU waits for the next line change to resync.)
    const level = levelInputs(c);
    c.irr = (c.irr & ~level) | (c.lines & level);
    this.update();
  }

  private trace(isMaster: boolean, message: string): void {
    if (this.log?.enabled('unimp')) this.log.log('unimp', `${this.id}: pic${isMaster ? 0 : 1}: ${message}`);
  }
}

/** Validates one chip's saved state; throws SnapshotError naming the bad field. */
function validateChip(value: unknown, what: string, elcrWritable: number): PicChipState {
  const r = expectRecord(value, what);
  const c: PicChipState = {
    lines: expectInt(r, 'lines', 0, 0xff, what),
    irr: expectInt(r, 'irr', 0, 0xff, what),
    imr: expectInt(r, 'imr', 0, 0xff, what),
    isr: expectInt(r, 'isr', 0, 0xff, what),
    highestPriority: expectInt(r, 'highestPriority', 0, 7, what),
    irqBase: expectInt(r, 'irqBase', 0, 0xff, what),
    readIsr: expectBool(r, 'readIsr', what),
    poll: expectBool(r, 'poll', what),
    specialMask: expectBool(r, 'specialMask', what),
    initState: expectInt(r, 'initState', Init.Ready, Init.Icw4, what),
    autoEoi: expectBool(r, 'autoEoi', what),
    rotateOnAutoEoi: expectBool(r, 'rotateOnAutoEoi', what),
    specialFullyNested: expectBool(r, 'specialFullyNested', what),
    icw4Needed: expectBool(r, 'icw4Needed', what),
    single: expectBool(r, 'single', what),
    levelTriggered: expectBool(r, 'levelTriggered', what),
    elcr: expectInt(r, 'elcr', 0, 0xff, what),
  };
  if ((c.irqBase & ~ICW2_VECTOR) !== 0) {
    throw new SnapshotError(`${what}.irqBase: 0x${c.irqBase.toString(16)} has T2-T0 set; a vector base is a multiple of 8`);
  }
  if ((c.elcr & ~elcrWritable) !== 0) {
    throw new SnapshotError(`${what}.elcr: 0x${c.elcr.toString(16)} sets read-only bits (writable mask 0x${elcrWritable.toString(16)})`);
  }
  return c;
}
