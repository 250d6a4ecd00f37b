/**
 * Keys by QEMU's names (the QKeyCode enum of qapi/ui.json, which HMP `sendkey` and QMP
 * `send-key` take) and the scancodes a PS/2 keyboard sends for them.
 *
 * Each key is given by its "qnum" (QEMU's name for it): the scancode-set-1 make code, with
 * 0x80 added for the keys that set 1 prefixes with 0xE0 (so Right Ctrl, E0 1D, is 0x9D). The
 * same numbers are what `sendkey 0x1d` takes. Set-2 codes come from inverting the i8042's
 * set-2 → set-1 translation table (IBM 8042 firmware), so the two tables cannot disagree.
 *
 * Source: IBM PS/2 Hardware Interface Technical Reference, keyboard scan-code tables; QEMU
 * ui/input-keymap (qcode → qnum) and hw/input/ps2.c (set 2 sequences of Print and Pause).
 *
 * Not implemented: scancode set 3 (ps2KeyBytes answers undefined) and the qcodes that have no
 * PS/2 scancode in QEMU's tables either (they are listed with qnum 0 and send nothing).
 */
import { translateToSet1 } from './i8042.js';

/** QEMU's QKeyCode names → qnum (0 = a name QEMU knows that has no PS/2 scancode). */
export const QKEYCODE_QNUM: ReadonlyMap<string, number> = new Map<string, number>([
  ['unmapped', 0], ['shift', 0x2a], ['shift_r', 0x36], ['alt', 0x38], ['alt_r', 0xb8],
  ['ctrl', 0x1d], ['ctrl_r', 0x9d], ['menu', 0xdd], ['esc', 0x01],
  ['1', 0x02], ['2', 0x03], ['3', 0x04], ['4', 0x05], ['5', 0x06], ['6', 0x07], ['7', 0x08],
  ['8', 0x09], ['9', 0x0a], ['0', 0x0b], ['minus', 0x0c], ['equal', 0x0d], ['backspace', 0x0e],
  ['tab', 0x0f], ['q', 0x10], ['w', 0x11], ['e', 0x12], ['r', 0x13], ['t', 0x14], ['y', 0x15],
  ['u', 0x16], ['i', 0x17], ['o', 0x18], ['p', 0x19], ['bracket_left', 0x1a],
  ['bracket_right', 0x1b], ['ret', 0x1c], ['a', 0x1e], ['s', 0x1f], ['d', 0x20], ['f', 0x21],
  ['g', 0x22], ['h', 0x23], ['j', 0x24], ['k', 0x25], ['l', 0x26], ['semicolon', 0x27],
  ['apostrophe', 0x28], ['grave_accent', 0x29], ['backslash', 0x2b], ['z', 0x2c], ['x', 0x2d],
  ['c', 0x2e], ['v', 0x2f], ['b', 0x30], ['n', 0x31], ['m', 0x32], ['comma', 0x33],
  ['dot', 0x34], ['slash', 0x35], ['asterisk', 0x37], ['spc', 0x39], ['caps_lock', 0x3a],
  ['f1', 0x3b], ['f2', 0x3c], ['f3', 0x3d], ['f4', 0x3e], ['f5', 0x3f], ['f6', 0x40],
  ['f7', 0x41], ['f8', 0x42], ['f9', 0x43], ['f10', 0x44], ['num_lock', 0x45],
  ['scroll_lock', 0x46], ['kp_divide', 0xb5], ['kp_multiply', 0x37], ['kp_subtract', 0x4a],
  ['kp_add', 0x4e], ['kp_enter', 0x9c], ['kp_decimal', 0x53], ['sysrq', 0x54],
  ['kp_0', 0x52], ['kp_1', 0x4f], ['kp_2', 0x50], ['kp_3', 0x51], ['kp_4', 0x4b],
  ['kp_5', 0x4c], ['kp_6', 0x4d], ['kp_7', 0x47], ['kp_8', 0x48], ['kp_9', 0x49],
  ['less', 0x56], ['f11', 0x57], ['f12', 0x58], ['print', 0xb7], ['home', 0xc7],
  ['pgup', 0xc9], ['pgdn', 0xd1], ['end', 0xcf], ['left', 0xcb], ['up', 0xc8], ['down', 0xd0],
  ['right', 0xcd], ['insert', 0xd2], ['delete', 0xd3],
  ['meta_l', 0xdb], ['meta_r', 0xdc], ['compose', 0xdd], ['pause', 0xc6], ['ro', 0x73],
  ['henkan', 0x79], ['yen', 0x7d], ['muhenkan', 0x7b], ['katakanahiragana', 0x70],
  ['kp_comma', 0x7e], ['kp_equals', 0x59], ['power', 0xde], ['sleep', 0xdf], ['wake', 0xe3],
  ['audionext', 0x99], ['audioprev', 0x90], ['audiostop', 0xa4], ['audioplay', 0xa2],
  ['audiomute', 0xa0], ['volumeup', 0xb0], ['volumedown', 0xae], ['mediaselect', 0xed],
  ['mail', 0xec], ['calculator', 0xa1], ['computer', 0xeb], ['ac_home', 0xb2],
  ['ac_back', 0xea], ['ac_forward', 0xe9], ['ac_refresh', 0xe7], ['ac_bookmarks', 0xe6],
  // XXX: Sun and extra function keys: QEMU knows the names; their PS/2 codes are not in the
  // IBM tables this file follows, so they send nothing here.
  ['stop', 0], ['again', 0], ['props', 0], ['undo', 0], ['front', 0], ['copy', 0], ['open', 0],
  ['paste', 0], ['find', 0], ['cut', 0], ['lf', 0], ['help', 0], ['hiragana', 0], ['lang1', 0],
  ['lang2', 0], ['f13', 0], ['f14', 0], ['f15', 0], ['f16', 0], ['f17', 0], ['f18', 0],
  ['f19', 0], ['f20', 0], ['f21', 0], ['f22', 0], ['f23', 0], ['f24', 0],
]);

/** Print Screen and Pause are multi-byte sequences in both sets (IBM tables; QEMU ps2.c). */
const QNUM_PRINT = 0xb7;
const QNUM_PAUSE = 0xc6;

/** set-1 byte (0x00-0x7F) → the set-2 byte the 8042 translates into it. */
const SET2_OF_SET1 = (() => {
  const t = new Int16Array(0x80).fill(-1);
  // Lowest set-2 byte wins where two translate alike (0x00 and 0x83/0x84 are not keys here).
  for (let b = 0x7f; b >= 1; b--) t[translateToSet1(b)] = b;
  t[0x41] = 0x83; // F7: the one key whose set-2 code is above 0x7F
  return t;
})();

/**
 * The bytes a keyboard in scancode set `set` sends when the key `qnum` goes down (`down`) or
 * up; [] for a key with no code, undefined for a set this table does not cover (set 3).
 */
export function ps2KeyBytes(qnum: number, down: boolean, set: number): number[] | undefined {
  if (set !== 1 && set !== 2) return undefined;
  if (qnum <= 0 || qnum > 0xff) return [];
  if (qnum === QNUM_PAUSE) {
    // Pause has no break code; its make code is Ctrl+NumLock with an E1 prefix.
    if (!down) return [];
    return set === 1 ? [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5] : [0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77];
  }
  if (qnum === QNUM_PRINT) {
    // Print Screen with no modifier held: a fake Left Shift around E0 37 (set 2: E0 12 E0 7C).
    if (set === 1) return down ? [0xe0, 0x2a, 0xe0, 0x37] : [0xe0, 0xb7, 0xe0, 0xaa];
    return down ? [0xe0, 0x12, 0xe0, 0x7c] : [0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12];
  }
  const extended = (qnum & 0x80) !== 0;
  const code = qnum & 0x7f;
  const out: number[] = extended ? [0xe0] : [];
  if (set === 1) {
    out.push(down ? code : code | 0x80);
    return out;
  }
  const s2 = SET2_OF_SET1[code]!;
  if (s2 < 0) return [];
  if (!down) out.push(0xf0);
  out.push(s2);
  return out;
}
