/**
 * QEMU-style debug logging (`-d ITEM,...`, `-D FILE`). Components get a Logger and ask
 * `enabled(item)` before building a message, so a disabled item costs one property read.
 */

/** QEMU's log item names that pcvm emits. */
export type LogItem = 'unimp' | 'guest_errors' | 'int' | 'cpu_reset' | 'in_asm' | 'exec' | 'cpu' | 'ioport' | 'trace';

export interface Logger {
  enabled(item: LogItem): boolean;
  log(item: LogItem, message: string): void;
}

/** Writes enabled items as lines to a sink (stderr or the -D file). */
export class LineLogger implements Logger {
  private items: Set<string>;
  constructor(items: Iterable<string>, private sink: (line: string) => void) {
    this.items = new Set(items);
  }
  /** Replaces the enabled items (HMP `log`). */
  setItems(items: Iterable<string>): void {
    this.items = new Set(items);
  }
  /** Sends later lines elsewhere (HMP `logfile`). */
  setSink(sink: (line: string) => void): void {
    this.sink = sink;
  }
  enabled(item: LogItem): boolean {
    return this.items.has(item);
  }
  log(item: LogItem, message: string): void {
    if (this.items.has(item)) this.sink(message);
  }
}

/** Logs nothing. */
export const NULL_LOGGER: Logger = { enabled: () => false, log: () => {} };
