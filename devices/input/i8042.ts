/**
 * The Intel 8042 keyboard controller of a PC/AT with PS/2 auxiliary port: data port 0x60,
 * status/command port 0x64, the keyboard on IRQ 1 and the mouse on IRQ 12. The A20 gate and
 * the CPU reset line are bits of its output port.
 *
 * Source: IBM PS/2 Hardware Interface Technical Reference, "Keyboard and Auxiliary Device
 * Controller": status register, controller command byte, commands 20-3F/60-7F (RAM),
 * A7-AB, AD, AE, C0, D0-D4, E0, F0-FF, output port bits; the scancode translation the
 * controller applies when command-byte bit 6 is set. Where the manual leaves freedom we follow
 * QEMU's hw/input/pckbd.c (power-on command byte 0x03 and output port 0xCF, 0xAA sets the
 * system flag, a byte sent to a device re-enables its interface, 0xDD/0xDF gate A20).
 *
 * One output buffer is shared by the controller's own replies, the keyboard and the mouse: a
 * controller reply goes first, then keyboard bytes (unless the keyboard interface is
 * disabled), then mouse bytes. IRQ 1 / IRQ 12 are high while the buffer holds a keyboard /
 * mouse byte and its interrupt is enabled in the command byte; reading port 0x60 drops them,
 * and the next byte raises them again (an edge per byte at the PIC).
 *
 * Commands are executed at once: IBF always reads 0.
 *
 * Not implemented: the keyboard-inhibit switch (KEYLOCK reads "not inhibited"), parity and
 * timeout errors (both devices are always present and answer at once), the 0xC1/0xC2 input
 * port polls, the password commands A4-A6, and vendor commands (logged with -d unimp).
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import type { IrqLine } from '../../src/machine/irq.js';
import type { Device } from '../../src/machine/device.js';
import type { Logger } from '../../src/machine/log.js';
import { SnapshotError } from '../../src/errors.js';
import { expectBool, expectInt, expectIntArray, expectRecord, expectVersion } from '../../src/snapshot/validate.js';
import {
  KBD_QUEUE_MAX,
  defaultPs2KeyboardState,
  keyboardSendScancodes,
  keyboardTake,
  keyboardWrite,
  type Ps2KeyboardState,
} from './ps2-keyboard.js';
import { AUX_QUEUE_MAX, defaultPs2MouseState, mouseTake, mouseWrite, type Ps2MouseState } from './ps2-mouse.js';

// Status register (port 0x64 read).
export const STAT_OBF = 0x01; // output buffer full
export const STAT_IBF = 0x02; // input buffer full (never: commands run at once)
export const STAT_SYS = 0x04; // system flag: set by the self test / command byte bit 2
export const STAT_A2 = 0x08; // the last write went to port 0x64 (command), not 0x60 (data)
export const STAT_KEYLOCK = 0x10; // 1 = keyboard not inhibited
export const STAT_AUXB = 0x20; // the output buffer holds a byte from the mouse

// Controller command byte (RAM byte 0).
export const CCB_KBD_INT = 0x01;
export const CCB_AUX_INT = 0x02;
export const CCB_SYS = 0x04;
export const CCB_DISABLE_KBD = 0x10;
export const CCB_DISABLE_AUX = 0x20;
export const CCB_XLATE = 0x40;

// Output port (commands D0/D1).
export const OUT_RESET = 0x01; // 0 = CPU reset asserted
export const OUT_A20 = 0x02;
const OUT_OBF = 0x10; // keyboard byte in the output buffer (read only)
const OUT_AUX_OBF = 0x20; // mouse byte in the output buffer (read only)

const CMD_READ_RAM = 0x20; // 20-3F: read RAM byte n - 0x20 (20 = command byte)
const CMD_WRITE_RAM = 0x60; // 60-7F: write RAM byte n - 0x60
const CMD_DISABLE_AUX = 0xa7;
const CMD_ENABLE_AUX = 0xa8;
const CMD_TEST_AUX = 0xa9;
const CMD_SELF_TEST = 0xaa;
const CMD_TEST_KBD = 0xab;
const CMD_DISABLE_KBD = 0xad;
const CMD_ENABLE_KBD = 0xae;
const CMD_READ_INPUT_PORT = 0xc0;
const CMD_READ_OUTPUT_PORT = 0xd0;
const CMD_WRITE_OUTPUT_PORT = 0xd1;
const CMD_WRITE_KBD_BUFFER = 0xd2;
const CMD_WRITE_AUX_BUFFER = 0xd3;
const CMD_WRITE_AUX = 0xd4;
const CMD_DISABLE_A20 = 0xdd;
const CMD_ENABLE_A20 = 0xdf;
const CMD_READ_TEST_INPUTS = 0xe0;
const CMD_PULSE_FIRST = 0xf0; // F0-FF: pulse output port bits 3-0 low where the command's bit is 0

const SELF_TEST_OK = 0x55;
const INTERFACE_OK = 0x00;
/** Input port: bit 7 = keyboard not inhibited. */
const INPUT_PORT = 0x80;
const RAM_BYTES = 32;
const NO_REPLY = -1;

/**
 * The controller's set-2 → set-1 translation for bytes 0x00-0x7F (IBM 8042 firmware table);
 * 0x83 (F7) and 0x84 (Alt+SysRq) translate too, every other byte above 0x7F passes as it is.
 */
const XLATE_LOW = hexBytes(
  'ff43413f3d3b3c58644442403e0f2959' + // 0x00-0x0F
    '65382a701d10025a66712c1f1e11035b' + // 0x10-0x1F
    '672e2d201205045c68392f211413065d' + // 0x20-0x2F
    '693130232215075e6a7232241608095f' + // 0x30-0x3F
    '6b332517180b0a606c34352627190c61' + // 0x40-0x4F
    '6d7328741a0d626e3a361c1b752b6376' + // 0x50-0x5F
    '55567778797a0e7b7c4f7d4b477e7f6f' + // 0x60-0x6F
    '5253504c4d480145574e514a37494654', // 0x70-0x7F
);

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** What the controller makes of a byte from the keyboard when translation is on. */
export function translateToSet1(byte: number): number {
  if (byte < 0x80) return XLATE_LOW[byte]!;
  if (byte === 0x83) return 0x41;
  if (byte === 0x84) return 0x54;
  return byte;
}

export interface I8042State {
  /** The controller's 32 bytes of RAM; byte 0 is the command byte. */
  ram: number[];
  /** STAT_SYS and STAT_A2 (the other status bits are derived). */
  status: number;
  /** The output buffer's byte (what port 0x60 reads, also after it was read). */
  outBuf: number;
  outFull: boolean;
  /** The byte in the output buffer came from the mouse. */
  outAux: boolean;
  /** Output port bits 0-3 and 6-7 (4 and 5 show the output buffer). */
  outputPort: number;
  /** The command whose data byte the next write to port 0x60 is, or 0. */
  pendingWrite: number;
  /** A controller reply waiting for the output buffer, or -1. */
  reply: number;
  /** That reply goes out as mouse data (command D3). */
  replyAux: boolean;
  /** Translation saw a 0xF0 break prefix: the next byte gets bit 7. */
  breakPrefix: boolean;
  kbd: Ps2KeyboardState;
  aux: Ps2MouseState;
}

export function defaultI8042State(): I8042State {
  const ram = new Array<number>(RAM_BYTES).fill(0);
  ram[0] = CCB_KBD_INT | CCB_AUX_INT;
  return {
    ram,
    status: STAT_A2,
    outBuf: 0,
    outFull: false,
    outAux: false,
    outputPort: 0xcf,
    pendingWrite: 0,
    reply: NO_REPLY,
    replyAux: false,
    breakPrefix: false,
    kbd: defaultPs2KeyboardState(),
    aux: defaultPs2MouseState(),
  };
}

export interface I8042Deps {
  id?: string;
  /** ISA IRQ 1 (keyboard) and IRQ 12 (mouse). */
  kbdIrq: IrqLine;
  auxIrq: IrqLine;
  /** The A20 gate: output port bit 1 (the board drives the CPU's A20M#). */
  setA20: (enabled: boolean) => void;
  /** Output port bit 0 driven low: the board resets the machine. */
  onReset: () => void;
  log?: Logger;
}

export class I8042 implements Device {
  readonly id: string;
  readonly stateVersion = 1;
  /** Port 0x60 (map with length 1). */
  readonly dataPort: PortHandler;
  /** Port 0x64 (map with length 1). */
  readonly commandPort: PortHandler;
  private s: I8042State = defaultI8042State();
  private readonly deps: I8042Deps;

  constructor(deps: I8042Deps, state?: I8042State) {
    this.id = deps.id ?? 'i8042';
    this.deps = deps;
    this.dataPort = {
      ioRead: (_offset: number, _size: AccessSize) => this.readData(),
      ioWrite: (_offset: number, _size: AccessSize, value: number) => this.writeData(value & 0xff),
    };
    this.commandPort = {
      ioRead: (_offset: number, _size: AccessSize) => this.readStatus(),
      ioWrite: (_offset: number, _size: AccessSize, value: number) => this.writeCommand(value & 0xff),
    };
    this.loadState(state ?? defaultI8042State(), this.stateVersion);
  }

  // --- Device ---------------------------------------------------------------------------

  reset(): void {
    this.loadState(defaultI8042State(), this.stateVersion);
  }

  saveState(): I8042State {
    const s = this.s;
    return {
      ...s,
      ram: s.ram.slice(),
      kbd: { ...s.kbd, queue: s.kbd.queue.slice() },
      aux: { ...s.aux, queue: s.aux.queue.slice() },
    };
  }

  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    this.s = parseI8042State(state, this.id);
    this.update();
  }

  // --- host side ------------------------------------------------------------------------

  /**
   * Key bytes as the keyboard sends them in its current scancode set (set 2 after reset);
   * the controller translates them to set 1 when the command byte asks for it. Returns how
   * many bytes the keyboard accepted (none while it is not scanning; it buffers 16).
   */
  sendScancodes(bytes: ArrayLike<number>): number {
    const n = keyboardSendScancodes(this.s.kbd, bytes);
    this.update();
    return n;
  }

  /** The command byte (for tests and the monitor). */
  get commandByte(): number {
    return this.s.ram[0]!;
  }

  /** LED bits the guest last set on the keyboard (0 Scroll, 1 Num, 2 Caps Lock). */
  get keyboardLeds(): number {
    return this.s.kbd.leds;
  }

  /** The keyboard's scancode set (1-3; 2 after reset), which sendScancodes bytes must be in. */
  get keyboardScancodeSet(): number {
    return this.s.kbd.scancodeSet;
  }

  // --- ports ----------------------------------------------------------------------------

  private readStatus(): number {
    const s = this.s;
    return (s.outFull ? STAT_OBF : 0) | s.status | STAT_KEYLOCK | (s.outFull && s.outAux ? STAT_AUXB : 0);
  }

  private readData(): number {
    const s = this.s;
    const v = s.outBuf;
    if (s.outFull) {
      // The read empties the buffer and drops the IRQ; the next byte arrives after it and
      // raises the line again, so an edge-triggered PIC sees every byte.
      s.outFull = false;
      this.deps.kbdIrq.set(false);
      this.deps.auxIrq.set(false);
      this.update();
    }
    return v;
  }

  private writeData(v: number): void {
    const s = this.s;
    s.status &= ~STAT_A2;
    const cmd = s.pendingWrite;
    s.pendingWrite = 0;
    if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + RAM_BYTES) {
      s.ram[cmd - CMD_WRITE_RAM] = v;
      // Command byte bit 2 is the status register's system flag.
      if (cmd === CMD_WRITE_RAM) s.status = (s.status & ~STAT_SYS) | (v & CCB_SYS);
    } else if (cmd === CMD_WRITE_OUTPUT_PORT) {
      this.writeOutputPort(v);
    } else if (cmd === CMD_WRITE_KBD_BUFFER || cmd === CMD_WRITE_AUX_BUFFER) {
      s.reply = v;
      s.replyAux = cmd === CMD_WRITE_AUX_BUFFER;
    } else if (cmd === CMD_WRITE_AUX) {
      // Sending to a device enables its interface (the controller must clock the byte out).
      s.ram[0] = s.ram[0]! & ~CCB_DISABLE_AUX;
      mouseWrite(s.aux, v);
    } else {
      s.ram[0] = s.ram[0]! & ~CCB_DISABLE_KBD;
      keyboardWrite(s.kbd, v);
    }
    this.update();
  }

  private writeCommand(v: number): void {
    const s = this.s;
    s.status |= STAT_A2;
    s.pendingWrite = 0;
    if (v >= CMD_READ_RAM && v < CMD_READ_RAM + RAM_BYTES) {
      this.controllerReply(s.ram[v - CMD_READ_RAM]!);
    } else if (v >= CMD_WRITE_RAM && v < CMD_WRITE_RAM + RAM_BYTES) {
      s.pendingWrite = v;
    } else if (v >= CMD_PULSE_FIRST) {
      // Bits 3-0 of the command select output port bits to pulse low for 6 µs; bit 0 is the
      // CPU reset line.
      if (!(v & OUT_RESET)) this.deps.onReset();
    } else {
      switch (v) {
        case CMD_DISABLE_AUX:
          s.ram[0] = s.ram[0]! | CCB_DISABLE_AUX;
          break;
        case CMD_ENABLE_AUX:
          s.ram[0] = s.ram[0]! & ~CCB_DISABLE_AUX;
          break;
        case CMD_TEST_AUX:
        case CMD_TEST_KBD:
          this.controllerReply(INTERFACE_OK);
          break;
        case CMD_SELF_TEST:
          s.status |= STAT_SYS;
          this.controllerReply(SELF_TEST_OK);
          break;
        case CMD_DISABLE_KBD:
          s.ram[0] = s.ram[0]! | CCB_DISABLE_KBD;
          break;
        case CMD_ENABLE_KBD:
          s.ram[0] = s.ram[0]! & ~CCB_DISABLE_KBD;
          break;
        case CMD_READ_INPUT_PORT:
          this.controllerReply(INPUT_PORT);
          break;
        case CMD_READ_OUTPUT_PORT:
          this.controllerReply(s.outputPort | (s.outFull ? (s.outAux ? OUT_AUX_OBF : OUT_OBF) : 0));
          break;
        case CMD_WRITE_OUTPUT_PORT:
        case CMD_WRITE_KBD_BUFFER:
        case CMD_WRITE_AUX_BUFFER:
        case CMD_WRITE_AUX:
          s.pendingWrite = v;
          break;
        case CMD_DISABLE_A20:
          this.writeOutputPort(s.outputPort & ~OUT_A20);
          break;
        case CMD_ENABLE_A20:
          this.writeOutputPort(s.outputPort | OUT_A20);
          break;
        case CMD_READ_TEST_INPUTS:
          this.controllerReply(0x00);
          break;
        default:
          if (this.deps.log?.enabled('unimp')) this.deps.log.log('unimp', `${this.id}: controller command 0x${v.toString(16)} ignored`);
      }
    }
    this.update();
  }

  private controllerReply(v: number): void {
    this.s.reply = v;
    this.s.replyAux = false;
  }

  private writeOutputPort(v: number): void {
    this.s.outputPort = v & ~(OUT_OBF | OUT_AUX_OBF);
    // Every write drives the A20 gate (QEMU's outport_write), then a low bit 0 resets.
    this.deps.setA20((v & OUT_A20) !== 0);
    if (!(v & OUT_RESET)) this.deps.onReset();
  }

  // --- output buffer and interrupts -----------------------------------------------------

  /** Fills an empty output buffer from the reply, the keyboard or the mouse; drives the IRQs. */
  private update(): void {
    const s = this.s;
    if (!s.outFull) {
      if (s.reply !== NO_REPLY) {
        this.fill(s.reply, s.replyAux);
        s.reply = NO_REPLY;
      } else if (!(s.ram[0]! & CCB_DISABLE_KBD) && this.fillFromKeyboard()) {
        // filled
      } else if (!(s.ram[0]! & CCB_DISABLE_AUX) && s.aux.queue.length > 0) {
        this.fill(mouseTake(s.aux), true);
      }
    }
    const ccb = s.ram[0]!;
    this.deps.kbdIrq.set(s.outFull && !s.outAux && (ccb & CCB_KBD_INT) !== 0);
    this.deps.auxIrq.set(s.outFull && s.outAux && (ccb & CCB_AUX_INT) !== 0);
  }

  private fillFromKeyboard(): boolean {
    const s = this.s;
    for (;;) {
      const b = keyboardTake(s.kbd);
      if (b < 0) return false;
      if (!(s.ram[0]! & CCB_XLATE)) {
        this.fill(b, false);
        return true;
      }
      // Translation folds the set-2 break prefix into bit 7 of the next code.
      if (b === 0xf0) {
        s.breakPrefix = true;
        continue;
      }
      this.fill(translateToSet1(b) | (s.breakPrefix ? 0x80 : 0), false);
      s.breakPrefix = false;
      return true;
    }
  }

  private fill(v: number, aux: boolean): void {
    this.s.outBuf = v;
    this.s.outFull = true;
    this.s.outAux = aux;
  }
}

/** Validates untrusted saved state; throws SnapshotError naming the bad field. */
function parseI8042State(raw: unknown, id: string): I8042State {
  const r = expectRecord(raw, id);
  const kr = expectRecord(r['kbd'], `${id}.kbd`);
  const ar = expectRecord(r['aux'], `${id}.aux`);
  const kid = `${id}.kbd`;
  const aid = `${id}.aux`;
  const kbdPending = expectInt(kr, 'pendingCommand', 0, 0xff, kid);
  if (![0, 0xed, 0xf0, 0xf3].includes(kbdPending)) throw new SnapshotError(`${kid}.pendingCommand: 0x${kbdPending.toString(16)} takes no argument`);
  const auxPending = expectInt(ar, 'pendingCommand', 0, 0xff, aid);
  if (![0, 0xe8, 0xf3].includes(auxPending)) throw new SnapshotError(`${aid}.pendingCommand: 0x${auxPending.toString(16)} takes no argument`);
  const pendingWrite = expectInt(r, 'pendingWrite', 0, 0xff, id);
  if (pendingWrite !== 0 && !(pendingWrite >= CMD_WRITE_RAM && pendingWrite < CMD_WRITE_RAM + RAM_BYTES) && !(pendingWrite >= CMD_WRITE_OUTPUT_PORT && pendingWrite <= CMD_WRITE_AUX)) {
    throw new SnapshotError(`${id}.pendingWrite: 0x${pendingWrite.toString(16)} is not a command with a data byte`);
  }
  const status = expectInt(r, 'status', 0, 0xff, id);
  if (status & ~(STAT_SYS | STAT_A2)) throw new SnapshotError(`${id}.status: only SYS and A2 are stored`);
  return {
    ram: expectIntArray(r, 'ram', 0, 0xff, RAM_BYTES, id).slice(),
    status,
    outBuf: expectInt(r, 'outBuf', 0, 0xff, id),
    outFull: expectBool(r, 'outFull', id),
    outAux: expectBool(r, 'outAux', id),
    outputPort: expectInt(r, 'outputPort', 0, 0xff, id) & ~(OUT_OBF | OUT_AUX_OBF),
    pendingWrite,
    reply: expectInt(r, 'reply', NO_REPLY, 0xff, id),
    replyAux: expectBool(r, 'replyAux', id),
    breakPrefix: expectBool(r, 'breakPrefix', id),
    kbd: {
      queue: boundedQueue(kr, KBD_QUEUE_MAX, kid),
      scanning: expectBool(kr, 'scanning', kid),
      scancodeSet: expectInt(kr, 'scancodeSet', 1, 3, kid),
      leds: expectInt(kr, 'leds', 0, 7, kid),
      typematic: expectInt(kr, 'typematic', 0, 0x7f, kid),
      pendingCommand: kbdPending,
      lastSent: expectInt(kr, 'lastSent', 0, 0xff, kid),
    },
    aux: {
      queue: boundedQueue(ar, AUX_QUEUE_MAX, aid),
      reporting: expectBool(ar, 'reporting', aid),
      remote: expectBool(ar, 'remote', aid),
      wrap: expectBool(ar, 'wrap', aid),
      scaling21: expectBool(ar, 'scaling21', aid),
      resolution: expectInt(ar, 'resolution', 0, 3, aid),
      sampleRate: expectInt(ar, 'sampleRate', 0, 0xff, aid),
      pendingCommand: auxPending,
      lastSent: expectInt(ar, 'lastSent', 0, 0xff, aid),
    },
  };
}

function boundedQueue(rec: Record<string, unknown>, max: number, what: string): number[] {
  const q = expectIntArray(rec, 'queue', 0, 0xff, undefined, what);
  if (q.length > max) throw new SnapshotError(`${what}.queue: ${q.length} bytes, but the device holds at most ${max}`);
  return q.slice();
}
