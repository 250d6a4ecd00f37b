/**
 * The console transcript of a library machine: everything the guest wrote to COM1, with a
 * cursor for expect-style matching (each match consumes the text up to its end, so that a
 * script waiting for the same prompt twice waits for a second one).
 *
 * Bounded: past MAX_CHARS the oldest half is dropped (the cursor moves with it), so that a
 * chatty guest never grows memory without limit.
 */

const MAX_CHARS = 16 * 1024 * 1024;

export class ConsoleTranscript {
  private text = '';
  private cursor = 0;

  append(s: string): void {
    this.text += s;
    if (this.text.length > MAX_CHARS) {
      const drop = this.text.length - MAX_CHARS / 2;
      this.text = this.text.slice(drop);
      this.cursor = Math.max(0, this.cursor - drop);
    }
  }

  /** Everything kept so far. */
  all(): string {
    return this.text;
  }

  /** The last `n` lines (an unfinished last line included), without line ends. */
  lastLines(n: number): string[] {
    const lines = this.text.split(/\r?\n/);
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-n);
  }

  /**
   * Matches `re` against the text after the cursor; on a match moves the cursor past it and
   * returns it with the text before it.
   */
  matchFromCursor(re: RegExp): { text: string; match: RegExpExecArray; before: string } | undefined {
    const flags = re.flags.replace(/[gy]/g, '');
    const m = new RegExp(re.source, flags).exec(this.text.slice(this.cursor));
    if (!m) return undefined;
    const before = this.text.slice(this.cursor, this.cursor + m.index + m[0].length);
    this.cursor += m.index + m[0].length;
    return { text: m[0], match: m, before };
  }
}
