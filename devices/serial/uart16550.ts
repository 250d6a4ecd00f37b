/**
 * The NS16550A UART (register-compatible with the TI TL16C550C), as a PC's COM port.
 *
 * Sources: NS PC16550D datasheet §8 (registers), Table II (interrupt control functions),
 * §8.4 FIFO interrupt mode; TL16C550C datasheet "Principles of operation". Where they leave
 * freedom the behaviour follows QEMU's hw/char/serial.c (THRE re-sampling on IER writes,
 * character timeout ahead of received data at priority 2, no OUT2 gating of the IRQ).
 *
 * Modelled: all eleven registers with DLAB switching, 16-byte receive FIFO with trigger
 * levels 1/4/8/14 and per-character error flags (BI revealed when its character reaches the
 * top, LSR bit 7), character timeout after four character times from the injected clock,
 * the five interrupt sources with their priorities, overrun, loopback with the modem inputs
 * wired to the MCR outputs, and flow control towards the back end (nothing pasted is lost).
 *
 * Not implemented:
 *  - Transmit timing: a byte written to THR goes to the back end at once and THRE/TEMT are
 *    set again before the write returns (QEMU does the same when its back end accepts), so
 *    the transmit FIFO is always empty and not part of the state.
 *  - Parity and framing errors (no source produces them: bytes arrive whole from the host).
 *  - LCR bit 6 (set break) towards the back end, DMA mode (FCR3 is kept but does nothing),
 *    the RXRDY/TXRDY pins, real modem lines (outside loopback the inputs read CTS, DSR and
 *    DCD asserted, RI deasserted, as QEMU reports for a back end without modem lines).
 *  - Trace logging of ignored writes (no logger is injected into devices yet).
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import type { IrqLine } from '../../src/machine/irq.js';
import type { Timer, VirtualClock } from '../../src/machine/clock.js';
import type { Device } from '../../src/machine/device.js';
import type { CharBackend, CharFrontend } from '../../src/chardev/chardev.js';
import { SnapshotError } from '../../src/errors.js';
import { expectBool, expectInt, expectIntArray, expectRecord, expectVersion } from '../../src/snapshot/validate.js';

// Register offsets (PC16550D Table I). Offsets 0 and 1 are DLL/DLM while LCR.DLAB is set.
const REG_RBR_THR = 0; // receiver buffer (read) / transmitter holding (write)
const REG_IER = 1;
const REG_IIR_FCR = 2; // interrupt identification (read) / FIFO control (write)
const REG_LCR = 3;
const REG_MCR = 4;
const REG_LSR = 5;
const REG_MSR = 6;
const REG_SCR = 7;

// IER: interrupt enable.
export const IER_ERBFI = 0x01; // received data available (and character timeout)
export const IER_ETBEI = 0x02; // transmitter holding register empty
export const IER_ELSI = 0x04; // receiver line status
export const IER_EDSSI = 0x08; // modem status
const IER_MASK = 0x0f; // bits 4-7 are always 0 on the 16550A

// IIR: interrupt identification. Bit 0 is 0 while an interrupt is pending.
export const IIR_NO_INT = 0x01;
export const IIR_MSI = 0x00; // priority 4: modem status
export const IIR_THRI = 0x02; // priority 3: THR empty
export const IIR_RDI = 0x04; // priority 2: received data available
export const IIR_RLSI = 0x06; // priority 1: receiver line status
export const IIR_CTI = 0x0c; // priority 2: character timeout (FIFO mode)
export const IIR_FIFO_ENABLED = 0xc0; // bits 6-7 read 11 when FCR0 is set

// FCR: FIFO control (write only).
export const FCR_FIFOE = 0x01; // enable both FIFOs; other bits are only programmed with it
export const FCR_RFR = 0x02; // clear the receive FIFO (self-clearing)
export const FCR_XFR = 0x04; // clear the transmit FIFO (self-clearing)
export const FCR_DMS = 0x08; // DMA mode select (kept, no effect)
export const FCR_RTL = 0xc0; // receiver trigger level: 00=1, 01=4, 10=8, 11=14 bytes
const FCR_STICKY = FCR_FIFOE | FCR_DMS | FCR_RTL;
const RX_TRIGGER_BYTES = [1, 4, 8, 14] as const;

// LCR: line control.
export const LCR_WLS = 0x03; // word length: 5 + value bits
export const LCR_STB = 0x04; // 2 stop bits (1.5 with 5-bit words)
export const LCR_PEN = 0x08; // parity enable
export const LCR_EPS = 0x10; // even parity select
export const LCR_STICK = 0x20; // stick parity
export const LCR_BC = 0x40; // break control
export const LCR_DLAB = 0x80; // divisor latch access

// MCR: modem control.
export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10; // local loopback
const MCR_MASK = 0x1f; // bits 5-7 are always 0 on the 16550A

// LSR: line status.
export const LSR_DR = 0x01; // data ready
export const LSR_OE = 0x02; // overrun error
export const LSR_PE = 0x04; // parity error
export const LSR_FE = 0x08; // framing error
export const LSR_BI = 0x10; // break interrupt
export const LSR_THRE = 0x20; // THR (transmit FIFO) empty
export const LSR_TEMT = 0x40; // transmitter empty (THR and shift register)
export const LSR_RXFE = 0x80; // FIFO mode: an error character is in the receive FIFO
/** Error bits that belong to one received character. */
const LSR_CHAR_ERRORS = LSR_PE | LSR_FE | LSR_BI;
/** Bits whose presence raises the receiver line status interrupt. */
const LSR_INT_ANY = LSR_OE | LSR_CHAR_ERRORS;

// MSR: modem status. Low nibble: deltas since the last MSR read; high nibble: input levels.
export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04; // trailing edge (1 -> 0) of RI
export const MSR_DDCD = 0x08;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;
const MSR_DELTAS = 0x0f;
/** Inputs outside loopback: a host console has carrier and is ready, and never rings. */
const MSR_EXTERNAL_INPUTS = MSR_DCD | MSR_DSR | MSR_CTS;

export const UART_FIFO_BYTES = 16;
/** The PC's UART crystal. */
export const UART_CLOCK_HZ = 1_843_200;
/** The baud rate generator divides the crystal by 16 × divisor. */
const SAMPLES_PER_BIT = 16;
/** A divisor of 0 counts like 65,536 in the 16-bit divider (see charTimeNs). */
const DIVISOR_ZERO_AS = 0x10000;
/** Character times without FIFO activity before a timeout interrupt (PC16550D §8.4). */
const TIMEOUT_CHAR_TIMES = 4;

/** All guest-visible state of a 16550A. Plain data: saved and restored as it is. */
export interface UartState {
  /** Divisor latch DLM:DLL, 0..0xffff. */
  divisor: number;
  ier: number;
  /** The FCR bits that stick (FIFOE, DMS, RTL); 0 while the FIFOs are disabled. */
  fcr: number;
  lcr: number;
  mcr: number;
  lsr: number;
  msr: number;
  scr: number;
  /** The last byte moved out of the receiver: what RBR reads when nothing is waiting. */
  rbr: number;
  /** Received bytes, oldest first (at most 16; at most 1, the RBR, in non-FIFO mode). */
  rxFifo: number[];
  /** LSR error bits (PE, FE, BI) of each byte in `rxFifo`, same length. */
  rxFifoErrors: number[];
  /** A THR-empty interrupt is pending (cleared by reading it from IIR or writing THR). */
  thrIpending: boolean;
  /** A character timeout interrupt is pending (cleared by reading RBR). */
  timeoutIpending: boolean;
  /** Virtual time of the next character timeout check in ns, or -1 when not armed. */
  timeoutDeadlineNs: number;
}

/** Power-on state (PC16550D Table IV "UART reset configuration"; divisor as QEMU: 9600 baud). */
export function defaultUartState(): UartState {
  return {
    divisor: 12,
    ier: 0,
    fcr: 0,
    lcr: 0,
    mcr: 0,
    lsr: LSR_THRE | LSR_TEMT,
    msr: MSR_EXTERNAL_INPUTS,
    scr: 0,
    rbr: 0,
    rxFifo: [],
    rxFifoErrors: [],
    thrIpending: false,
    timeoutIpending: false,
    timeoutDeadlineNs: -1,
  };
}

export interface UartDeps {
  /** Instance name, e.g. "serial0". */
  id: string;
  irq: IrqLine;
  clock: VirtualClock;
  backend: CharBackend;
}

export class Uart16550 implements Device, PortHandler, CharFrontend {
  readonly id: string;
  readonly stateVersion = 1;
  private s: UartState;
  private readonly irq: IrqLine;
  private readonly clock: VirtualClock;
  private readonly backend: CharBackend;
  private readonly timeoutTimer: Timer;

  constructor(deps: UartDeps, state?: UartState) {
    this.id = deps.id;
    this.irq = deps.irq;
    this.clock = deps.clock;
    this.backend = deps.backend;
    this.timeoutTimer = deps.clock.createTimer(`${deps.id}.rx-timeout`, () => this.onTimeout());
    this.s = state === undefined ? defaultUartState() : parseUartState(state, deps.id);
    this.applyDerived();
    deps.backend.attach(this);
  }

  // --- Device ---------------------------------------------------------------------------

  reset(): void {
    this.loadState(defaultUartState(), this.stateVersion);
  }

  saveState(): UartState {
    return cloneState(this.s);
  }

  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    this.s = parseUartState(state, this.id);
    this.applyDerived();
    // The new state may have room where the old one had none: let held input flow.
    this.acceptInput();
  }

  // --- PortHandler ----------------------------------------------------------------------

  ioRead(offset: number, _size: AccessSize): number {
    const s = this.s;
    switch (offset) {
      case REG_RBR_THR:
        return s.lcr & LCR_DLAB ? s.divisor & 0xff : this.readRbr();
      case REG_IER:
        return s.lcr & LCR_DLAB ? s.divisor >>> 8 : s.ier;
      case REG_IIR_FCR: {
        const id = this.pendingInterrupt();
        // Reading IIR acknowledges THRE only when THRE is what it reports (Table II).
        if (id === IIR_THRI) {
          s.thrIpending = false;
          this.updateIrq();
        }
        return id | (s.fcr & FCR_FIFOE ? IIR_FIFO_ENABLED : 0);
      }
      case REG_LCR:
        return s.lcr;
      case REG_MCR:
        return s.mcr;
      case REG_LSR: {
        const value = s.lsr;
        s.lsr &= ~LSR_INT_ANY;
        // LSR7 clears "if there are no subsequent errors in the FIFO": the top character's
        // errors are the ones this read reports, so only those behind it keep LSR7 set.
        if (!hasErrorsBehindTop(s.rxFifoErrors)) s.lsr &= ~LSR_RXFE;
        this.updateIrq();
        return value;
      }
      case REG_MSR: {
        const value = s.msr;
        s.msr &= ~MSR_DELTAS;
        this.updateIrq();
        return value;
      }
      case REG_SCR:
        return s.scr;
      default:
        return 0xff;
    }
  }

  ioWrite(offset: number, _size: AccessSize, value: number): void {
    const s = this.s;
    const v = value & 0xff;
    switch (offset) {
      case REG_RBR_THR:
        if (s.lcr & LCR_DLAB) s.divisor = (s.divisor & 0xff00) | v;
        else this.writeThr(v);
        break;
      case REG_IER:
        if (s.lcr & LCR_DLAB) s.divisor = (s.divisor & 0x00ff) | (v << 8);
        else this.writeIer(v);
        break;
      case REG_IIR_FCR:
        this.writeFcr(v);
        break;
      case REG_LCR:
        s.lcr = v;
        break;
      case REG_MCR:
        this.writeMcr(v);
        break;
      case REG_SCR:
        s.scr = v;
        break;
      default:
        // LSR and MSR are read-only here (the datasheet reserves LSR writes for factory
        // test); QEMU ignores writes to both, and so do we.
        break;
    }
  }

  // --- CharFrontend ---------------------------------------------------------------------

  canReceive(): number {
    const s = this.s;
    // In loopback SIN is disconnected from the receiver. Real hardware would drop what
    // arrives; we hold it in the back end until loopback ends.
    if (s.mcr & MCR_LOOP) return 0;
    const capacity = s.fcr & FCR_FIFOE ? UART_FIFO_BYTES : 1;
    return Math.max(0, capacity - s.rxFifo.length);
  }

  receive(data: Uint8Array): void {
    if (data.length === 0) return;
    for (let i = 0; i < data.length; i++) this.rxPut(data[i]!, 0);
    this.rxActivity();
    this.updateIrq();
  }

  receiveBreak(): void {
    if (this.s.mcr & MCR_LOOP) return;
    // A break arrives as an all-zero character with BI (PC16550D LSR4).
    this.rxPut(0, LSR_BI);
    this.rxActivity();
    this.updateIrq();
  }

  // --- monitor --------------------------------------------------------------------------

  /** One line for the monitor's `info chardev`-style output. */
  describe(): string {
    const s = this.s;
    const h = (n: number): string => n.toString(16).padStart(2, '0');
    const wordBits = 5 + (s.lcr & LCR_WLS);
    const parity = s.lcr & LCR_PEN ? (s.lcr & LCR_STICK ? (s.lcr & LCR_EPS ? 'S' : 'M') : s.lcr & LCR_EPS ? 'E' : 'O') : 'N';
    const stop = s.lcr & LCR_STB ? (wordBits === 5 ? '1.5' : '2') : '1';
    const baud = s.divisor === 0 ? 'rate undefined' : `${Math.round(UART_CLOCK_HZ / SAMPLES_PER_BIT / s.divisor)} baud`;
    const fifo = s.fcr & FCR_FIFOE ? `fifo=on trigger=${RX_TRIGGER_BYTES[s.fcr >>> 6]} rx=${s.rxFifo.length}/16` : `fifo=off rx=${s.rxFifo.length}/1`;
    return (
      `${this.id}: divisor=${s.divisor} (${baud}, ${wordBits}${parity}${stop}) lcr=${h(s.lcr)} ier=${h(s.ier)} ` +
      `iir=${h(this.pendingInterrupt() | (s.fcr & FCR_FIFOE ? IIR_FIFO_ENABLED : 0))} lsr=${h(s.lsr)} ` +
      `mcr=${h(s.mcr)} msr=${h(s.msr)} scr=${h(s.scr)} ${fifo}`
    );
  }

  // --- registers ------------------------------------------------------------------------

  private readRbr(): number {
    const s = this.s;
    if (s.rxFifo.length === 0) return s.rbr;
    const byte = s.rxFifo.shift()!;
    s.rxFifoErrors.shift();
    s.rbr = byte;
    if (s.rxFifo.length === 0) s.lsr &= ~LSR_DR;
    // The next character's errors show in LSR once it is at the top of the FIFO.
    else s.lsr |= s.rxFifoErrors[0]!;
    if (s.fcr & FCR_FIFOE) {
      // A read clears a timeout interrupt and restarts the timeout (PC16550D §8.4).
      s.timeoutIpending = false;
      if (s.rxFifo.length > 0) this.armTimeout();
      else this.disarmTimeout();
    }
    this.updateIrq();
    this.acceptInput();
    return byte;
  }

  private writeThr(byte: number): void {
    const s = this.s;
    // Writing THR acknowledges a THRE interrupt. The line drops here and rises again below,
    // so an edge-triggered PIC sees one edge per byte as on hardware.
    s.thrIpending = false;
    s.lsr &= ~(LSR_THRE | LSR_TEMT);
    this.updateIrq();
    if (s.mcr & MCR_LOOP) {
      // SOUT is looped to the receiver (PC16550D MCR4).
      this.rxPut(byte, 0);
      this.rxActivity();
    } else {
      // A fresh array each time: a back end may queue what it is given.
      this.backend.write(Uint8Array.of(byte));
    }
    s.lsr |= LSR_THRE | LSR_TEMT;
    if (s.ier & IER_ETBEI) s.thrIpending = true;
    this.updateIrq();
  }

  private writeIer(v: number): void {
    const s = this.s;
    const changed = (s.ier ^ v) & IER_MASK;
    s.ier = v & IER_MASK;
    // Enabling ETBEI while THR is empty raises THRE again even if it was acknowledged
    // before (not in the datasheet; QEMU and Bochs do it and Windows relies on it).
    if (changed & IER_ETBEI) s.thrIpending = (s.ier & IER_ETBEI) !== 0 && (s.lsr & LSR_THRE) !== 0;
    this.updateIrq();
  }

  private writeFcr(v: number): void {
    const s = this.s;
    let clear = v & (FCR_RFR | FCR_XFR);
    if ((v ^ s.fcr) & FCR_FIFOE) {
      // Changing FCR0 empties both FIFOs (PC16550D FCR0).
      clear = FCR_RFR | FCR_XFR;
    } else if (!(v & FCR_FIFOE)) {
      // "FCR0 must be a 1 when other FCR bits are written to or they will not be programmed."
      return;
    }
    if (clear & FCR_RFR) {
      s.rxFifo.length = 0;
      s.rxFifoErrors.length = 0;
      s.lsr &= ~(LSR_DR | LSR_RXFE);
      s.timeoutIpending = false;
      this.disarmTimeout();
    }
    // The transmit FIFO is always empty (bytes leave at once); clearing it re-raises THRE
    // as QEMU does.
    if (clear & FCR_XFR && s.ier & IER_ETBEI) s.thrIpending = true;
    s.fcr = v & FCR_FIFOE ? v & FCR_STICKY : 0;
    this.updateIrq();
    if (clear & FCR_RFR) this.acceptInput();
  }

  private writeMcr(v: number): void {
    const s = this.s;
    const wasLoop = (s.mcr & MCR_LOOP) !== 0;
    const before = modemInputs(s.mcr);
    s.mcr = v & MCR_MASK;
    const after = modemInputs(s.mcr);
    const changed = before ^ after;
    let deltas = 0;
    if (changed & MSR_CTS) deltas |= MSR_DCTS;
    if (changed & MSR_DSR) deltas |= MSR_DDSR;
    if (before & MSR_RI && !(after & MSR_RI)) deltas |= MSR_TERI;
    if (changed & MSR_DCD) deltas |= MSR_DDCD;
    s.msr = after | (s.msr & MSR_DELTAS) | deltas;
    this.updateIrq();
    if (wasLoop && !(s.mcr & MCR_LOOP)) this.acceptInput();
  }

  // --- receiver -------------------------------------------------------------------------

  /** One character arriving at the receiver with its error bits (PE, FE, BI). */
  private rxPut(byte: number, errors: number): void {
    const s = this.s;
    if (s.fcr & FCR_FIFOE) {
      if (s.rxFifo.length >= UART_FIFO_BYTES) {
        // The FIFO keeps its contents; the new character is lost (PC16550D LSR1).
        s.lsr |= LSR_OE;
        return;
      }
      s.rxFifo.push(byte);
      s.rxFifoErrors.push(errors);
      if (errors) s.lsr |= LSR_RXFE;
      if (s.rxFifo.length === 1) s.lsr |= errors;
    } else {
      // 16450 mode: RBR holds one character and a new one overwrites it.
      if (s.rxFifo.length > 0) {
        s.lsr |= LSR_OE;
        s.rxFifo.length = 0;
        s.rxFifoErrors.length = 0;
      }
      s.rxFifo.push(byte);
      s.rxFifoErrors.push(errors);
      s.lsr |= errors;
    }
    s.lsr |= LSR_DR;
  }

  /** Characters arrived: restart the timeout count in FIFO mode. */
  private rxActivity(): void {
    if (this.s.fcr & FCR_FIFOE && this.s.rxFifo.length > 0) this.armTimeout();
  }

  private acceptInput(): void {
    if (!(this.s.mcr & MCR_LOOP) && this.canReceive() > 0) this.backend.notifyReadable();
  }

  /**
   * Time of one character on the line: start bit, data bits, parity, stop bits at the
   * baud rate 1.8432 MHz / (16 × divisor).
   */
  private charTimeNs(): number {
    const lcr = this.s.lcr;
    const wordBits = 5 + (lcr & LCR_WLS);
    const stopBits = lcr & LCR_STB ? (wordBits === 5 ? 1.5 : 2) : 1;
    const frameBits = 1 + wordBits + (lcr & LCR_PEN ? 1 : 0) + stopBits;
    // XXX: the datasheet leaves divisor 0 undefined. We let the 16-bit divider wrap and
    // count 65,536 (the slowest rate, about 1.76 baud), so the timeout stays finite; bytes
    // still pass at once like at any other rate.
    const divisor = this.s.divisor === 0 ? DIVISOR_ZERO_AS : this.s.divisor;
    return (frameBits * SAMPLES_PER_BIT * divisor * 1e9) / UART_CLOCK_HZ;
  }

  private armTimeout(): void {
    const deadlineNs = Math.ceil(this.clock.nowNs() + TIMEOUT_CHAR_TIMES * this.charTimeNs());
    this.s.timeoutDeadlineNs = deadlineNs;
    this.timeoutTimer.modNs(deadlineNs);
  }

  private disarmTimeout(): void {
    this.s.timeoutDeadlineNs = -1;
    this.timeoutTimer.del();
  }

  private onTimeout(): void {
    const s = this.s;
    s.timeoutDeadlineNs = -1;
    if (s.fcr & FCR_FIFOE && s.rxFifo.length > 0) {
      s.timeoutIpending = true;
      this.updateIrq();
    }
  }

  // --- interrupts -----------------------------------------------------------------------

  /** The IIR interrupt ID of the highest-priority pending source (Table II). */
  private pendingInterrupt(): number {
    const s = this.s;
    if (s.ier & IER_ELSI && s.lsr & LSR_INT_ANY) return IIR_RLSI;
    // ERBFI also masks the timeout; QEMU checks it before RDI at the same priority.
    if (s.ier & IER_ERBFI && s.timeoutIpending) return IIR_CTI;
    if (s.ier & IER_ERBFI && s.rxFifo.length > 0) {
      const trigger = s.fcr & FCR_FIFOE ? RX_TRIGGER_BYTES[s.fcr >>> 6]! : 1;
      if (s.rxFifo.length >= trigger) return IIR_RDI;
    }
    if (s.ier & IER_ETBEI && s.thrIpending) return IIR_THRI;
    if (s.ier & IER_EDSSI && s.msr & MSR_DELTAS) return IIR_MSI;
    return IIR_NO_INT;
  }

  /** Drives the IRQ line from the registers. Not gated by MCR OUT2, like QEMU. */
  private updateIrq(): void {
    this.irq.set(this.pendingInterrupt() !== IIR_NO_INT);
  }

  /** After a state replacement: the IRQ level and the timeout timer follow the state. */
  private applyDerived(): void {
    if (this.s.timeoutDeadlineNs >= 0) this.timeoutTimer.modNs(this.s.timeoutDeadlineNs);
    else this.timeoutTimer.del();
    this.updateIrq();
  }
}

function hasErrorsBehindTop(errors: readonly number[]): boolean {
  for (let i = 1; i < errors.length; i++) if (errors[i] !== 0) return true;
  return false;
}

/** The modem input levels (MSR bits 4-7) for a given MCR. */
function modemInputs(mcr: number): number {
  if (!(mcr & MCR_LOOP)) return MSR_EXTERNAL_INPUTS;
  // Loopback: RTS -> CTS, DTR -> DSR, OUT1 -> RI, OUT2 -> DCD (PC16550D MCR4).
  return (
    (mcr & MCR_RTS ? MSR_CTS : 0) |
    (mcr & MCR_DTR ? MSR_DSR : 0) |
    (mcr & MCR_OUT1 ? MSR_RI : 0) |
    (mcr & MCR_OUT2 ? MSR_DCD : 0)
  );
}

function cloneState(s: UartState): UartState {
  return { ...s, rxFifo: s.rxFifo.slice(), rxFifoErrors: s.rxFifoErrors.slice() };
}

/** Validates untrusted saved state and returns a fresh copy; throws SnapshotError. */
function parseUartState(raw: unknown, id: string): UartState {
  const rec = expectRecord(raw, id);
  const fcr = expectInt(rec, 'fcr', 0, 0xff, id);
  if (fcr & ~FCR_STICKY || (fcr !== 0 && !(fcr & FCR_FIFOE))) {
    throw new SnapshotError(`${id}.fcr: 0x${fcr.toString(16)} is not a value the FCR can hold`);
  }
  const fifoBytes = fcr & FCR_FIFOE ? UART_FIFO_BYTES : 1;
  const rxFifo = expectIntArray(rec, 'rxFifo', 0, 0xff, undefined, id);
  if (rxFifo.length > fifoBytes) {
    throw new SnapshotError(`${id}.rxFifo: ${rxFifo.length} bytes, but the receiver holds at most ${fifoBytes}`);
  }
  const rxFifoErrors = expectIntArray(rec, 'rxFifoErrors', 0, LSR_CHAR_ERRORS, rxFifo.length, id);
  if (rxFifoErrors.some((e) => (e & ~LSR_CHAR_ERRORS) !== 0)) {
    throw new SnapshotError(`${id}.rxFifoErrors: only PE, FE and BI (0x1c) may be set`);
  }
  const lsr = expectInt(rec, 'lsr', 0, 0xff, id);
  if ((lsr & LSR_DR) !== 0 !== (rxFifo.length > 0)) {
    throw new SnapshotError(`${id}.lsr: DR is ${lsr & LSR_DR}, but the receiver holds ${rxFifo.length} bytes`);
  }
  if ((lsr & (LSR_THRE | LSR_TEMT)) !== (LSR_THRE | LSR_TEMT)) {
    throw new SnapshotError(`${id}.lsr: THRE and TEMT must be set (the transmitter is never busy between accesses)`);
  }
  const mcr = expectInt(rec, 'mcr', 0, MCR_MASK, id);
  const msr = expectInt(rec, 'msr', 0, 0xff, id);
  if ((msr & ~MSR_DELTAS) !== modemInputs(mcr)) {
    throw new SnapshotError(`${id}.msr: input bits 0x${(msr & 0xf0).toString(16)} disagree with mcr 0x${mcr.toString(16)}`);
  }
  const state: UartState = {
    divisor: expectInt(rec, 'divisor', 0, 0xffff, id),
    ier: expectInt(rec, 'ier', 0, IER_MASK, id),
    fcr,
    lcr: expectInt(rec, 'lcr', 0, 0xff, id),
    mcr,
    lsr,
    msr,
    scr: expectInt(rec, 'scr', 0, 0xff, id),
    rbr: expectInt(rec, 'rbr', 0, 0xff, id),
    rxFifo: rxFifo.slice(),
    rxFifoErrors: rxFifoErrors.slice(),
    thrIpending: expectBool(rec, 'thrIpending', id),
    timeoutIpending: expectBool(rec, 'timeoutIpending', id),
    timeoutDeadlineNs: expectInt(rec, 'timeoutDeadlineNs', -1, Number.MAX_SAFE_INTEGER, id),
  };
  return state;
}
