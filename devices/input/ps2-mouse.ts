/**
 * A standard PS/2 mouse (device ID 0) on the controller's auxiliary port: its commands and
 * replies, enough for an OS's probe (Linux psmouse) to identify a plain 3-button PS/2 mouse.
 *
 * Source: IBM PS/2 Hardware Interface Technical Reference, "Pointing Device" (commands E6-FF,
 * status request reply, wrap mode, reset reply 0xAA 0x00); QEMU hw/input/ps2.c for the
 * choices the manual leaves open (replies at once, unknown commands answered 0xFE).
 *
 * Not implemented: movement and buttons (nothing injects them yet; a remote-mode read data
 * request returns an empty packet), the IntelliMouse ID-3/4 knock sequences (the mouse always
 * answers ID 0, which every OS accepts as a plain PS/2 mouse).
 */

export const AUX_REPLY_ACK = 0xfa;
export const AUX_REPLY_RESEND = 0xfe;
export const AUX_REPLY_BAT_OK = 0xaa;
export const AUX_DEVICE_ID = 0x00;

const CMD_SCALING_1_1 = 0xe6;
const CMD_SCALING_2_1 = 0xe7;
const CMD_SET_RESOLUTION = 0xe8;
const CMD_STATUS = 0xe9;
const CMD_STREAM_MODE = 0xea;
const CMD_READ_DATA = 0xeb;
const CMD_RESET_WRAP = 0xec;
const CMD_WRAP = 0xee;
const CMD_REMOTE_MODE = 0xf0;
const CMD_GET_ID = 0xf2;
const CMD_SAMPLE_RATE = 0xf3;
const CMD_ENABLE = 0xf4;
const CMD_DISABLE = 0xf5;
const CMD_DEFAULTS = 0xf6;
const CMD_RESEND = 0xfe;
const CMD_RESET = 0xff;

// Status request, first byte.
const STATUS_REMOTE = 0x40;
const STATUS_ENABLED = 0x20;
const STATUS_SCALING_2_1 = 0x10;
/** An empty movement packet: bit 3 is always 1. */
const PACKET_ALWAYS_ONE = 0x08;

/** Bytes the mouse may have waiting for the controller. */
export const AUX_QUEUE_MAX = 16;

export interface Ps2MouseState {
  queue: number[];
  /** Data reporting enabled (F4) in stream mode. */
  reporting: boolean;
  remote: boolean;
  wrap: boolean;
  scaling21: boolean;
  /** Resolution code 0-3 (1, 2, 4, 8 counts/mm). */
  resolution: number;
  /** Samples per second. */
  sampleRate: number;
  /** The command waiting for its argument (E8, F3), or 0. */
  pendingCommand: number;
  lastSent: number;
}

export function defaultPs2MouseState(): Ps2MouseState {
  return {
    queue: [],
    reporting: false,
    remote: false,
    wrap: false,
    scaling21: false,
    resolution: 2,
    sampleRate: 100,
    pendingCommand: 0,
    lastSent: 0,
  };
}

function loadDefaults(s: Ps2MouseState): void {
  s.reporting = false;
  s.scaling21 = false;
  s.resolution = 2;
  s.sampleRate = 100;
}

function reply(s: Ps2MouseState, ...bytes: number[]): void {
  for (const b of bytes) {
    if (s.queue.length < AUX_QUEUE_MAX) s.queue.push(b);
  }
}

/** A byte from the host (controller command 0xD4, then port 0x60). */
export function mouseWrite(s: Ps2MouseState, byte: number): void {
  if (s.wrap && byte !== CMD_RESET_WRAP && byte !== CMD_RESET) {
    // Wrap (echo) mode returns every byte except the two that leave it.
    reply(s, byte);
    return;
  }
  const pending = s.pendingCommand;
  s.pendingCommand = 0;
  if (pending === CMD_SET_RESOLUTION) {
    s.resolution = byte & 3;
    reply(s, AUX_REPLY_ACK);
    return;
  }
  if (pending === CMD_SAMPLE_RATE) {
    s.sampleRate = byte;
    reply(s, AUX_REPLY_ACK);
    return;
  }
  switch (byte) {
    case CMD_SCALING_1_1:
      s.scaling21 = false;
      reply(s, AUX_REPLY_ACK);
      break;
    case CMD_SCALING_2_1:
      s.scaling21 = true;
      reply(s, AUX_REPLY_ACK);
      break;
    case CMD_SET_RESOLUTION:
    case CMD_SAMPLE_RATE:
      s.pendingCommand = byte;
      reply(s, AUX_REPLY_ACK);
      break;
    case CMD_STATUS:
      reply(
        s,
        AUX_REPLY_ACK,
        (s.remote ? STATUS_REMOTE : 0) | (s.reporting ? STATUS_ENABLED : 0) | (s.scaling21 ? STATUS_SCALING_2_1 : 0),
        s.resolution,
        s.sampleRate,
      );
      break;
    case CMD_STREAM_MODE:
      s.remote = false;
      reply(s, AUX_REPLY_ACK);
      break;
    case CMD_READ_DATA:
      reply(s, AUX_REPLY_ACK, PACKET_ALWAYS_ONE, 0, 0);
      break;
    case CMD_RESET_WRAP:
      s.wrap = false;
      reply(s, AUX_REPLY_ACK);
      break;
    case CMD_WRAP:
      s.wrap = true;
      reply(s, AUX_REPLY_ACK);
      break;
    case CMD_REMOTE_MODE:
      s.remote = true;
      reply(s, AUX_REPLY_ACK);
      break;
    case CMD_GET_ID:
      reply(s, AUX_REPLY_ACK, AUX_DEVICE_ID);
      break;
    case CMD_ENABLE:
      s.reporting = true;
      reply(s, AUX_REPLY_ACK);
      break;
    case CMD_DISABLE:
      s.reporting = false;
      reply(s, AUX_REPLY_ACK);
      break;
    case CMD_DEFAULTS:
      loadDefaults(s);
      reply(s, AUX_REPLY_ACK);
      break;
    case CMD_RESEND:
      reply(s, s.lastSent);
      break;
    case CMD_RESET:
      s.queue.length = 0;
      loadDefaults(s);
      s.remote = false;
      s.wrap = false;
      reply(s, AUX_REPLY_ACK, AUX_REPLY_BAT_OK, AUX_DEVICE_ID);
      break;
    default:
      reply(s, AUX_REPLY_RESEND);
  }
}

/** The next byte for the controller, or -1. */
export function mouseTake(s: Ps2MouseState): number {
  const b = s.queue.shift();
  if (b === undefined) return -1;
  s.lastSent = b;
  return b;
}
