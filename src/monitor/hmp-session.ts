/**
 * One interactive HMP session on a byte stream (stdio mux, a socket, a WebSocket): QEMU's
 * readline behaviour — the banner and `(qemu) ` prompt, echo of typed characters, backspace,
 * history on the up/down arrows (and C-p/C-n), left/right cursor keys, C-a/C-e/C-u/C-k line
 * editing, and tab completion of command and `info` names.
 */
import type { Machine } from '../machine/machine.js';
import { HMP_PROMPT, hmpBanner, hmpCompletions, runHmpCommand } from './hmp.js';

const HISTORY_MAX = 64;

export class HmpSession {
  private line = '';
  private cursor = 0;
  private readonly history: string[] = [];
  private historyPos = 0;
  /** Escape-sequence parser state: 0 none, 1 after ESC, 2 after ESC [. */
  private esc = 0;
  private escParam = '';

  constructor(private readonly machine: Machine, private readonly write: (text: string) => void) {}

  /** Prints the banner and the first prompt. */
  start(): void {
    this.write(`${hmpBanner(this.machine.version)}\r\n${HMP_PROMPT}`);
  }

  /** Re-prints the prompt and the line being edited (after a console switch). */
  redraw(): void {
    this.write(`${HMP_PROMPT}${this.line}`);
    if (this.cursor < this.line.length) this.write(`\x1b[${this.line.length - this.cursor}D`);
  }

  /** The commands run so far, oldest first (`info history`). */
  get commandHistory(): readonly string[] {
    return this.history;
  }

  input(bytes: Uint8Array): void {
    for (const b of bytes) this.key(b);
  }

  private key(b: number): void {
    if (this.esc === 1) {
      this.esc = b === 0x5b || b === 0x4f ? 2 : 0;
      this.escParam = '';
      return;
    }
    if (this.esc === 2) {
      if (b >= 0x30 && b <= 0x3f) {
        this.escParam += String.fromCharCode(b);
        return;
      }
      this.esc = 0;
      switch (b) {
        case 0x41: this.historyMove(-1); return; // up
        case 0x42: this.historyMove(1); return; // down
        case 0x43: this.moveTo(this.cursor + 1); return; // right
        case 0x44: this.moveTo(this.cursor - 1); return; // left
        case 0x48: this.moveTo(0); return; // home
        case 0x46: this.moveTo(this.line.length); return; // end
        case 0x7e:
          if (this.escParam === '3') this.deleteAt(this.cursor); // delete
          else if (this.escParam === '1' || this.escParam === '7') this.moveTo(0);
          else if (this.escParam === '4' || this.escParam === '8') this.moveTo(this.line.length);
          return;
        default: return;
      }
    }
    switch (b) {
      case 0x1b: this.esc = 1; return;
      case 0x0d: case 0x0a: this.enter(); return;
      case 0x7f: case 0x08:
        if (this.cursor > 0) {
          this.moveTo(this.cursor - 1);
          this.deleteAt(this.cursor);
        }
        return;
      case 0x01: this.moveTo(0); return; // C-a
      case 0x05: this.moveTo(this.line.length); return; // C-e
      case 0x02: this.moveTo(this.cursor - 1); return; // C-b
      case 0x06: this.moveTo(this.cursor + 1); return; // C-f
      case 0x10: this.historyMove(-1); return; // C-p
      case 0x0e: this.historyMove(1); return; // C-n
      case 0x15: this.replaceLine(this.line.slice(this.cursor), 0); return; // C-u
      case 0x0b: this.replaceLine(this.line.slice(0, this.cursor), this.cursor); return; // C-k
      case 0x09: this.complete(); return;
      default:
        if (b >= 0x20 && b < 0x7f) this.insert(String.fromCharCode(b));
    }
  }

  private enter(): void {
    this.write('\r\n');
    const line = this.line;
    this.line = '';
    this.cursor = 0;
    if (line.trim() !== '') {
      // As QEMU's readline: a repeated line moves to the end instead of appearing twice.
      const seen = this.history.indexOf(line);
      if (seen >= 0) this.history.splice(seen, 1);
      this.history.push(line);
      if (this.history.length > HISTORY_MAX) this.history.shift();
    }
    this.historyPos = this.history.length;
    const out = runHmpCommand(this.machine, line, this);
    if (out) this.write(out.replace(/\r?\n/g, '\r\n') + '\r\n');
    if (!this.machine.exited) this.write(HMP_PROMPT);
  }

  private insert(text: string): void {
    const tail = this.line.slice(this.cursor);
    this.line = this.line.slice(0, this.cursor) + text + tail;
    this.cursor += text.length;
    this.write(text + tail);
    if (tail.length > 0) this.write(`\x1b[${tail.length}D`);
  }

  private deleteAt(pos: number): void {
    if (pos >= this.line.length) return;
    this.line = this.line.slice(0, pos) + this.line.slice(pos + 1);
    const tail = this.line.slice(pos);
    this.write(`${tail} \x1b[${tail.length + 1}D`);
  }

  private moveTo(pos: number): void {
    pos = Math.max(0, Math.min(this.line.length, pos));
    if (pos < this.cursor) this.write(`\x1b[${this.cursor - pos}D`);
    else if (pos > this.cursor) this.write(`\x1b[${pos - this.cursor}C`);
    this.cursor = pos;
  }

  /** Replaces the whole line, leaving the cursor at `cursor`. */
  private replaceLine(line: string, cursor: number): void {
    this.moveTo(0);
    const old = this.line.length;
    this.line = line;
    this.write(line + ' '.repeat(Math.max(0, old - line.length)));
    const end = Math.max(old, line.length);
    this.cursor = end;
    this.moveTo(cursor);
  }

  private historyMove(delta: number): void {
    const pos = this.historyPos + delta;
    if (pos < 0 || pos > this.history.length) return;
    this.historyPos = pos;
    const line = pos === this.history.length ? '' : this.history[pos]!;
    this.replaceLine(line, line.length);
  }

  private complete(): void {
    const before = this.line.slice(0, this.cursor);
    const candidates = hmpCompletions(before);
    if (candidates.length === 0) return;
    const word = before.slice(before.lastIndexOf(' ') + 1);
    if (candidates.length === 1) {
      this.insert(candidates[0]!.slice(word.length) + ' ');
      return;
    }
    let common = candidates[0]!;
    for (const c of candidates) while (!c.startsWith(common)) common = common.slice(0, -1);
    if (common.length > word.length) {
      this.insert(common.slice(word.length));
      return;
    }
    this.write(`\r\n${candidates.join('  ')}\r\n`);
    this.redraw();
  }
}
