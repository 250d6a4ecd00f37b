/**
 * The keyboard controller as a BIOS leaves it, for direct kernel boot, where no BIOS runs.
 * QEMU's i8042 powers on with command byte 0x03 (no translation), and it is SeaBIOS that
 * turns translation on: its keyboard_init (src/hw/ps2port.c) resets the keyboard, selects
 * scancode set 2 and leaves the command byte at AUXDIS | XLATE | KBDINT = 0x61 — mouse
 * interface disabled, set-2 → set-1 translation on, keyboard interrupt enabled.
 *
 * Linux's i8042 driver keeps the translation the firmware chose (drivers/input/serio/i8042.c:
 * a controller found untranslated is driven "direct"), so this is what makes the guest report
 * "AT Translated Set 2 keyboard" as under QEMU instead of "AT Raw Set 2". The keyboard itself
 * is already in set 2 and scanning after its reset. The byte is written through the
 * controller's own ports, as the BIOS writes it.
 */
import type { IoPortBus } from '../../memory/io-bus.js';

const I8042_DATA = 0x60;
const I8042_COMMAND = 0x64;
/** Controller command 60H: write the command byte (RAM byte 0). */
const CMD_WRITE_COMMAND_BYTE = 0x60;
/** Command byte: KBDINT (bit 0), XLATE (bit 6), AUXDIS (bit 5). */
export const BIOS_I8042_COMMAND_BYTE = 0x61;

export function leaveBiosKeyboardController(io: IoPortBus): void {
  io.write(I8042_COMMAND, 1, CMD_WRITE_COMMAND_BYTE);
  io.write(I8042_DATA, 1, BIOS_I8042_COMMAND_BYTE);
}
