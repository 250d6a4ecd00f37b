/**
 * Splits a byte stream of JSON texts into whole values, as QEMU's JSON streamer does for QMP:
 * input need not be newline-delimited, several values may come in one chunk, and one value may
 * span chunks. Limits keep a hostile client from growing memory: a value may be at most
 * `maxBytes` long and `maxDepth` deep; past either, the value is dropped with an error and the
 * splitter resynchronises at the next top-level boundary.
 */

export interface JsonStreamLimits {
  maxBytes: number;
  maxDepth: number;
}

export const QMP_LIMITS: JsonStreamLimits = { maxBytes: 1 << 20, maxDepth: 64 };

export type JsonStreamItem = { value: unknown } | { error: string };

export class JsonStreamSplitter {
  private buf = '';
  private depth = 0;
  private inString = false;
  private escape = false;
  /** Dropping an over-limit value until its end. */
  private discarding = false;

  constructor(private readonly limits: JsonStreamLimits = QMP_LIMITS) {}

  /** Feeds text; returns the complete values (or errors) it finished. */
  feed(text: string): JsonStreamItem[] {
    const out: JsonStreamItem[] = [];
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (!this.discarding) this.buf += ch;
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (ch === '\\') this.escape = true;
        else if (ch === '"') this.inString = false;
      } else if (ch === '"') {
        this.inString = true;
      } else if (ch === '{' || ch === '[') {
        this.depth++;
        if (this.depth > this.limits.maxDepth && !this.discarding) {
          out.push({ error: 'JSON parse error, JSON nesting depth limit exceeded' });
          this.discarding = true;
        }
      } else if (ch === '}' || ch === ']') {
        this.depth--;
        if (this.depth <= 0) {
          this.finish(out);
          continue;
        }
      } else if (this.depth === 0 && (ch === '\n' || ch === '\r' || ch === ' ' || ch === '\t')) {
        // Whitespace between values; a bare scalar or garbage line ends here.
        if (this.buf.trim() !== '') this.finish(out);
        else this.buf = '';
        continue;
      }
      if (!this.discarding && this.buf.length > this.limits.maxBytes) {
        out.push({ error: 'JSON parse error, JSON token size limit exceeded' });
        this.discarding = true;
        this.buf = '';
      }
    }
    return out;
  }

  private finish(out: JsonStreamItem[]): void {
    const text = this.buf.trim();
    const wasDiscarding = this.discarding;
    this.buf = '';
    this.depth = 0;
    this.inString = false;
    this.escape = false;
    this.discarding = false;
    if (wasDiscarding || text === '') return;
    try {
      out.push({ value: JSON.parse(text) });
    } catch (e) {
      out.push({ error: `JSON parse error, ${(e as Error).message}` });
    }
  }
}
