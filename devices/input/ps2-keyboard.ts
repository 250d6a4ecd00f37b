/**
 * A PS/2 (MF2) keyboard as seen from the keyboard controller: the host-to-keyboard commands
 * and the bytes it sends back, including scancodes injected from the host side.
 *
 * Source: IBM PS/2 Hardware Interface Technical Reference, "Keyboard and Auxiliary Device
 * Controller" / "101/102-Key Keyboard" (commands ED, EE, F0, F2-F6, FE, FF and their replies;
 * BAT completion 0xAA; identification 0xAB 0x83; the 16-byte buffer with its overrun code);
 * QEMU hw/input/ps2.c for choices the manual leaves open (commands answered at once, no BAT
 * delay; F5/F6 load the defaults).
 *
 * The keyboard speaks its own scancode set (2 after reset); translation to set 1 is the
 * controller's job (i8042.ts). The state is plain data owned by the controller's state.
 *
 * Not implemented: the set-3 per-key commands F7-FD (answered 0xFE, "resend", as any unknown
 * command), typematic repeat (the rate byte is kept; repeats come from whoever injects keys),
 * and key-level state (injected bytes are queued as they are).
 */

export const KBD_REPLY_ACK = 0xfa;
export const KBD_REPLY_RESEND = 0xfe;
export const KBD_REPLY_ECHO = 0xee;
export const KBD_REPLY_BAT_OK = 0xaa;
/** Identification of an MF2 keyboard (untranslated). */
export const KBD_ID = [0xab, 0x83] as const;

const CMD_SET_LEDS = 0xed;
const CMD_ECHO = 0xee;
const CMD_SCANCODE_SET = 0xf0;
const CMD_IDENTIFY = 0xf2;
const CMD_TYPEMATIC = 0xf3;
const CMD_ENABLE = 0xf4;
const CMD_DISABLE_DEFAULTS = 0xf5;
const CMD_DEFAULTS = 0xf6;
const CMD_RESEND = 0xfe;
const CMD_RESET = 0xff;
/** Bytes from here up are commands, never arguments (LED bits, rates, set numbers are below). */
const FIRST_COMMAND = 0xed;

/** Scancodes the keyboard buffers (IBM: 16 keys) before it reports an overrun. */
export const KBD_BUFFER_BYTES = 16;
/** Replies to commands always fit: the queue can hold this many bytes in all. */
export const KBD_QUEUE_MAX = KBD_BUFFER_BYTES + 4;
/** Default typematic byte: 10.9 characters/s after 500 ms. */
const DEFAULT_TYPEMATIC = 0x2b;

export interface Ps2KeyboardState {
  /** Bytes waiting for the controller, oldest first. */
  queue: number[];
  /** Scanning enabled (F4) or disabled (F5). */
  scanning: boolean;
  /** Scancode set 1, 2 or 3. */
  scancodeSet: number;
  /** LED bits: 0 Scroll Lock, 1 Num Lock, 2 Caps Lock. */
  leds: number;
  typematic: number;
  /** The command waiting for its argument byte (ED, F0, F3), or 0. */
  pendingCommand: number;
  /** The last byte sent, for the resend command. */
  lastSent: number;
}

export function defaultPs2KeyboardState(): Ps2KeyboardState {
  return { queue: [], scanning: true, scancodeSet: 2, leds: 0, typematic: DEFAULT_TYPEMATIC, pendingCommand: 0, lastSent: 0 };
}

function loadDefaults(s: Ps2KeyboardState): void {
  s.scancodeSet = 2;
  s.leds = 0;
  s.typematic = DEFAULT_TYPEMATIC;
}

function reply(s: Ps2KeyboardState, ...bytes: number[]): void {
  for (const b of bytes) {
    if (s.queue.length < KBD_QUEUE_MAX) s.queue.push(b);
  }
}

/** A byte from the host (written to port 0x60 with no controller command pending). */
export function keyboardWrite(s: Ps2KeyboardState, byte: number): void {
  const pending = s.pendingCommand;
  s.pendingCommand = 0;
  if (pending !== 0 && byte < FIRST_COMMAND) {
    switch (pending) {
      case CMD_SET_LEDS:
        s.leds = byte & 7;
        reply(s, KBD_REPLY_ACK);
        return;
      case CMD_TYPEMATIC:
        s.typematic = byte & 0x7f;
        reply(s, KBD_REPLY_ACK);
        return;
      default: // CMD_SCANCODE_SET
        if (byte === 0) {
          reply(s, KBD_REPLY_ACK, s.scancodeSet);
        } else if (byte <= 3) {
          s.scancodeSet = byte;
          reply(s, KBD_REPLY_ACK);
        } else {
          reply(s, KBD_REPLY_RESEND);
        }
        return;
    }
  }
  switch (byte) {
    case CMD_SET_LEDS:
    case CMD_SCANCODE_SET:
    case CMD_TYPEMATIC:
      s.pendingCommand = byte;
      reply(s, KBD_REPLY_ACK);
      break;
    case CMD_ECHO:
      reply(s, KBD_REPLY_ECHO);
      break;
    case CMD_IDENTIFY:
      reply(s, KBD_REPLY_ACK, ...KBD_ID);
      break;
    case CMD_ENABLE:
      s.scanning = true;
      reply(s, KBD_REPLY_ACK);
      break;
    case CMD_DISABLE_DEFAULTS:
      loadDefaults(s);
      s.scanning = false;
      reply(s, KBD_REPLY_ACK);
      break;
    case CMD_DEFAULTS:
      loadDefaults(s);
      s.scanning = true;
      reply(s, KBD_REPLY_ACK);
      break;
    case CMD_RESEND:
      reply(s, s.lastSent);
      break;
    case CMD_RESET:
      // The buffer is cleared; the self test (BAT) passes at once.
      s.queue.length = 0;
      loadDefaults(s);
      s.scanning = true;
      reply(s, KBD_REPLY_ACK, KBD_REPLY_BAT_OK);
      break;
    default:
      reply(s, KBD_REPLY_RESEND);
  }
}

/**
 * Key bytes from the host side in the keyboard's current set. Dropped while scanning is
 * disabled; past the buffer's 16 bytes the last slot becomes the overrun code (0xFF in set 1,
 * 0x00 in sets 2 and 3) and the rest is lost. Returns how many bytes were accepted.
 */
export function keyboardSendScancodes(s: Ps2KeyboardState, bytes: ArrayLike<number>): number {
  if (!s.scanning) return 0;
  let accepted = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (s.queue.length >= KBD_BUFFER_BYTES) {
      s.queue[s.queue.length - 1] = s.scancodeSet === 1 ? 0xff : 0x00;
      break;
    }
    s.queue.push(bytes[i]! & 0xff);
    accepted++;
  }
  return accepted;
}

/** The next byte for the controller, or -1. */
export function keyboardTake(s: Ps2KeyboardState): number {
  const b = s.queue.shift();
  if (b === undefined) return -1;
  s.lastSent = b;
  return b;
}
