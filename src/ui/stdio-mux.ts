/**
 * `-nographic`: the guest's serial console and the monitor multiplexed on stdio with QEMU's
 * Ctrl-A keys (QEMU chardev/char-mux.c):
 *
 *   C-a h  help          C-a x  exit          C-a c  switch console/monitor
 *   C-a b  send break    C-a t  timestamps    C-a s  save disk data (only with -snapshot)
 *   C-a C-a  sends C-a to the guest
 *
 * Output from the guest always goes to stdout; input goes to whichever side has focus.
 * When stdin is a terminal it is put into raw mode (restored on exit), so Ctrl-C reaches
 * the guest rather than killing pcvm — `C-a x` is the way out, as in QEMU.
 */
import type { Readable, Writable } from 'node:stream';
import type { BufferedCharBackend } from '../chardev/chardev.js';
import type { Machine } from '../machine/machine.js';
import { HmpSession } from '../monitor/hmp-session.js';

const CTRL_A = 0x01;

const HELP = [
  'C-a h    print this help',
  'C-a x    exit emulator',
  'C-a s    save disk data back to file (if -snapshot)',
  'C-a t    toggle console timestamps',
  'C-a b    send break (magic sysrq)',
  'C-a c    switch between console and monitor',
  'C-a C-a  sends C-a',
];

export interface StdioMuxOptions {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (on: boolean) => unknown };
  stdout: Writable;
  /** Whether the monitor is on this mux (`-nographic` / `-serial mon:stdio`). */
  withMonitor: boolean;
  /** Only the monitor is here (`-monitor stdio` with the console elsewhere). */
  monitorOnly?: boolean;
}

export class StdioMux {
  private escape = false;
  private monitorFocused = false;
  private monitor: HmpSession | undefined;
  private timestamps = false;
  private readonly onData = (chunk: Buffer) => this.input(chunk);
  private rawMode = false;

  constructor(private readonly machine: Machine, private readonly console: BufferedCharBackend, private readonly opts: StdioMuxOptions) {}

  start(): void {
    const { stdin } = this.opts;
    if (this.opts.monitorOnly) {
      this.monitorFocused = true;
      this.hmp().start();
    }
    if (stdin.isTTY && stdin.setRawMode) {
      stdin.setRawMode(true);
      this.rawMode = true;
    }
    stdin.on('data', this.onData);
    stdin.resume();
  }

  /** Restores the terminal and stops reading stdin. */
  close(): void {
    const { stdin } = this.opts;
    stdin.off('data', this.onData);
    if (this.rawMode && stdin.setRawMode) stdin.setRawMode(false);
    this.rawMode = false;
    stdin.pause();
  }

  /** The monitor session, created on first use (QEMU prints the banner when it is first shown). */
  private hmp(): HmpSession {
    this.monitor ??= new HmpSession(this.machine, (t) => this.write(t));
    return this.monitor;
  }

  private write(text: string): void {
    this.opts.stdout.write(text);
  }

  /** Feeds bytes typed by the user. Public for tests. */
  input(chunk: Uint8Array): void {
    let passStart = 0;
    const flush = (end: number) => {
      if (end > passStart) this.deliver(chunk.subarray(passStart, end));
    };
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.escape) {
        this.escape = false;
        passStart = i + 1;
        this.command(b);
        continue;
      }
      if (b === CTRL_A) {
        flush(i);
        this.escape = true;
        passStart = i + 1;
      }
    }
    if (!this.escape) flush(chunk.length);
  }

  private deliver(bytes: Uint8Array): void {
    if (this.monitorFocused) this.hmp().input(bytes);
    else this.console.pushInput(bytes);
  }

  private command(key: number): void {
    switch (String.fromCharCode(key)) {
      case 'h': case '?':
        this.write('\r\n' + HELP.join('\r\n') + '\r\n');
        return;
      case 'x':
        this.write('QEMU: Terminated\r\n');
        this.machine.quit();
        return;
      case 'c':
        if (!this.opts.withMonitor || this.opts.monitorOnly) return;
        this.monitorFocused = !this.monitorFocused;
        if (!this.monitorFocused) this.write('\r\n');
        else if (this.monitor) {
          this.write('\r\n');
          this.monitor.redraw();
        } else {
          this.write('\r\n');
          this.hmp().start();
        }
        return;
      case 'b':
        this.console.sendBreak();
        return;
      case 't':
        // XXX: timestamps are toggled but not yet prefixed to output lines.
        this.timestamps = !this.timestamps;
        return;
      case 's':
        return; // no disks yet: nothing to save
      default:
        if (key === CTRL_A) this.deliver(Uint8Array.of(CTRL_A));
    }
  }
}
