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

/** `-d` log items of qemu-system-x86_64 7.2 (`-d help`), with QEMU's descriptions. */
export const LOG_ITEMS: readonly (readonly [name: string, description: string])[] = [
  ['out_asm', 'show generated host assembly code for each compiled TB'],
  ['in_asm', 'show target assembly code for each compiled TB'],
  ['op', 'show micro ops for each compiled TB'],
  ['op_opt', 'show micro ops after optimization'],
  ['op_ind', 'show micro ops before indirect lowering'],
  ['int', 'show interrupts/exceptions in short format'],
  ['exec', 'show trace before each executed TB (lots of logs)'],
  ['cpu', 'show CPU registers before entering a TB (lots of logs)'],
  ['fpu', "include FPU registers in the 'cpu' logging"],
  ['mmu', 'log MMU-related activities'],
  ['pcall', 'x86 only: show protected mode far calls/returns/exceptions'],
  ['cpu_reset', 'show CPU state before CPU resets'],
  ['unimp', 'log unimplemented functionality'],
  ['guest_errors', 'log when the guest OS does something invalid (eg accessing a non-existent register)'],
  ['page', 'dump pages at beginning of user mode emulation'],
  ['nochain', 'do not chain compiled TBs so that "exec" and "cpu" show complete traces'],
  ['plugin', 'output from TCG plugins'],
  ['strace', 'log every user-mode syscall, its input, and its result'],
  ['tid', "open a separate log file per thread; filename must contain '%d'"],
];
