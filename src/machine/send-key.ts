/**
 * Key presses from the host (HMP `sendkey`, QMP `send-key`) as QEMU 7.2 does them
 * (ui/input-legacy.c qmp_send_key, ui/input.c's keyboard queue): each key goes down in the
 * order given, then they come up in reverse order, with a pause of the hold time after every
 * event — 10 ms (kbd_default_delay_ms) when none is given, although the help text says 100 ms.
 * Events queue behind earlier ones; the pauses run on the virtual clock (QEMU_CLOCK_VIRTUAL),
 * so a paused VM receives the rest when it resumes. The bytes go to the PS/2 keyboard in its
 * current scancode set; the i8042 translates them to set 1 if the guest asked for that.
 */
import type { I8042 } from '../../devices/input/i8042.js';
import { ps2KeyBytes } from '../../devices/input/key-names.js';
import type { Timer, VirtualClock } from './clock.js';

/** QEMU's kbd_default_delay_ms: the pause used when sendkey is given no hold time (or 0). */
export const DEFAULT_KEY_DELAY_MS = 10;
/** QEMU's input queue_limit: events beyond it are dropped. */
const QUEUE_LIMIT = 1024;

type KeyEvent = { qnum: number; down: boolean } | { delayMs: number };

export class KeySender {
  private readonly queue: KeyEvent[] = [];
  private readonly timer: Timer;

  constructor(private readonly clock: VirtualClock, private readonly kbc: I8042) {
    this.timer = clock.createTimer('input-kbd-queue', () => this.drain());
  }

  /**
   * Presses the keys (qnums, see key-names.ts) and releases them in reverse order, pausing
   * `holdMs` (0 or undefined: 10 ms) after each event. An error message when the keyboard's
   * scancode set is one this emulator cannot type in.
   */
  send(qnums: readonly number[], holdMs?: number): string | undefined {
    const set = this.kbc.keyboardScancodeSet;
    if (ps2KeyBytes(0x1e, true, set) === undefined) return `the keyboard is in scancode set ${set}, which sendkey does not support`;
    const delayMs = holdMs && holdMs > 0 ? holdMs : DEFAULT_KEY_DELAY_MS;
    for (const q of qnums) this.push({ qnum: q, down: true }, { delayMs });
    for (let i = qnums.length - 1; i >= 0; i--) this.push({ qnum: qnums[i]!, down: false }, { delayMs });
    if (!this.timer.armed) this.drain();
    return undefined;
  }

  /** Events (key changes and pauses) not yet delivered. */
  get pending(): number {
    return this.queue.length;
  }

  private push(...events: KeyEvent[]): void {
    for (const e of events) if (this.queue.length < QUEUE_LIMIT) this.queue.push(e);
  }

  /** Delivers queued key events up to the next pause, then arms the timer for it. */
  private drain(): void {
    for (;;) {
      const e = this.queue.shift();
      if (e === undefined) return;
      if ('delayMs' in e) {
        this.timer.modNs(this.clock.nowNs() + e.delayMs * 1_000_000);
        return;
      }
      const bytes = ps2KeyBytes(e.qnum, e.down, this.kbc.keyboardScancodeSet);
      if (bytes && bytes.length > 0) this.kbc.sendScancodes(bytes);
    }
  }
}
