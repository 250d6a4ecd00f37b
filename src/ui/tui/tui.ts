/**
 * `-display tui` (QEMU's `-display curses` place): pcvm's terminal UI, drawn with blessed.
 *
 *   ┌ COM1 ───────────────────────────────┐   the guest console: COM1's output through a
 *   │ pcvm> _                             │   terminal emulator (xterm.js, headless); what
 *   └─────────────────────────────────────┘   is typed here goes to COM1
 *   ┌ monitor ────────────────────────────┐   HMP (hmp-session.ts: history on the arrow
 *   │ (qemu) info status                  │   keys, tab completion of commands and `info`
 *   └─────────────────────────────────────┘   topics)
 *    running | accel tcg | 12.3 M instr/s | vtime 0:00:04.211 | C-a c monitor  C-a x quit ...
 *
 * Keys use QEMU's mux prefix, as `-nographic` does: C-a c switches between the console and the
 * monitor, C-a x quits, C-a h shows the key list, C-a b sends a break, C-a C-a sends C-a.
 * Shift-PgUp/PgDn scroll the focused pane. stdin is read raw by this class (Ctrl-C reaches the
 * guest); blessed gets no input of its own, so no host-terminal reply or key is interpreted
 * twice.
 *
 * Not done: the guest's `-display curses,charset=` code page (the console is UTF-8/latin1 as
 * the guest sends it); mouse selection and copy.
 */
import { PassThrough, type Readable, type Writable } from 'node:stream';
import blessed from 'blessed';
import type { Widgets } from 'blessed';
import type { Machine } from '../../machine/machine.js';
import type { VirtualConsoleCharBackend } from '../../chardev/virtual-console.js';
import { HmpSession } from '../../monitor/hmp-session.js';
import { TerminalPane } from './terminal-pane.js';
import { formatStatusLine, instructionsPerSecond, type StatusSample } from './status-line.js';

const CTRL_A = 0x01;
const STATUS_INTERVAL_MS = 500;
const RENDER_DELAY_MS = 15;
const CONSOLE_SCROLLBACK = 2000;
const MONITOR_SCROLLBACK = 1000;

const HELP_LINES = [
  'pcvm terminal UI keys',
  '',
  'C-a c      switch between the COM1 console and the monitor',
  'C-a x      quit pcvm',
  'C-a b      send a break to COM1',
  'C-a h      show or hide this help',
  'C-a C-a    send C-a to the focused pane',
  'S-PgUp/Dn  scroll the focused pane back / forward',
  '',
  'Monitor: Up/Down recall history, Tab completes.',
  'Any key closes this help.',
];

export interface TuiOptions {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (on: boolean) => unknown };
  /** The host terminal (a tty.WriteStream: `columns`, `rows` and 'resize' events). */
  stdout: Writable;
  /** COM1 when it is this display's virtual console; undefined when COM1 goes elsewhere. */
  console: VirtualConsoleCharBackend | undefined;
  /** Whether the monitor is this display's virtual console (QEMU's default). */
  withMonitor: boolean;
}

export class TerminalUi {
  private readonly screen: Widgets.Screen;
  private readonly consolePane: TerminalPane;
  private readonly monitorPane: TerminalPane | undefined;
  private readonly statusBox: Widgets.BoxElement;
  private readonly helpBox: Widgets.BoxElement;
  private readonly hmp: HmpSession | undefined;
  private readonly blessedInput = new PassThrough();
  private focus: 'console' | 'monitor' = 'console';
  private escape = false;
  private rawMode = false;
  private closed = false;
  private renderTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private lastSample: StatusSample | undefined;
  private ips = 0;
  private readonly onData = (chunk: Buffer) => this.input(chunk);
  private readonly onStateChange = () => this.updateStatus(false);

  constructor(private readonly machine: Machine, private readonly opts: TuiOptions) {
    this.screen = blessed.screen({
      // @types/blessed swaps the stream types of input and output.
      input: this.blessedInput as unknown as Writable,
      output: opts.stdout as unknown as Readable,
      smartCSR: true,
      fullUnicode: false,
      warnings: false,
      autoPadding: true,
      resizeTimeout: 50,
    });
    const requestRender = () => this.scheduleRender();
    this.consolePane = new TerminalPane(this.screen, {
      label: opts.console ? 'COM1' : 'COM1 (not on this display)', top: 0, height: 3,
      scrollback: CONSOLE_SCROLLBACK, onChange: requestRender,
    });
    if (opts.withMonitor) {
      this.monitorPane = new TerminalPane(this.screen, {
        label: 'monitor', top: 3, height: 3, scrollback: MONITOR_SCROLLBACK, onChange: requestRender,
      });
      const pane = this.monitorPane;
      this.hmp = new HmpSession(machine, (text) => pane.write(text));
    }
    this.statusBox = blessed.box({
      parent: this.screen, bottom: 0, left: 0, width: '100%', height: 1, tags: false,
      style: { fg: 'black', bg: 'white' },
    });
    this.helpBox = blessed.box({
      parent: this.screen, top: 'center', left: 'center', height: HELP_LINES.length + 2,
      width: Math.max(...HELP_LINES.map((l) => l.length)) + 4,
      border: { type: 'line' }, tags: false, hidden: true, content: HELP_LINES.join('\n'),
      style: { border: { fg: 'yellow' } },
    });
    this.layout();
    this.screen.on('resize', () => {
      this.layout();
      this.updateStatus(false);
      this.screen.render();
    });
  }

  /** Takes over the terminal: raw stdin, the panes, the status line. */
  start(): void {
    const { stdin } = this.opts;
    if (stdin.isTTY && stdin.setRawMode) {
      stdin.setRawMode(true);
      this.rawMode = true;
    }
    stdin.on('data', this.onData);
    stdin.resume();
    this.opts.console?.connect((data) => this.consolePane.write(data));
    if (!this.opts.console) this.consolePane.write('COM1 is not connected to this display (see -serial).\r\n');
    // A guest's terminal queries (cursor position, device attributes) are answered to it, as
    // a real terminal on the serial line would; they never reach the host terminal.
    this.consolePane.terminal.onData((reply) => this.opts.console?.pushInput(Buffer.from(reply, 'latin1')));
    this.hmp?.start();
    this.setFocus('console');
    this.machine.on('stop', this.onStateChange);
    this.machine.on('resume', this.onStateChange);
    this.updateStatus(false);
    this.statusTimer = setInterval(() => this.updateStatus(true), STATUS_INTERVAL_MS);
    this.screen.render();
  }

  /** Gives the terminal back as it was. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.statusTimer);
    clearTimeout(this.renderTimer);
    this.machine.off('stop', this.onStateChange);
    this.machine.off('resume', this.onStateChange);
    const { stdin } = this.opts;
    stdin.off('data', this.onData);
    if (this.rawMode && stdin.setRawMode) stdin.setRawMode(false);
    this.rawMode = false;
    stdin.pause();
    this.screen.destroy();
    this.consolePane.dispose();
    this.monitorPane?.dispose();
  }

  /** Feeds bytes typed by the user (public for tests). */
  input(chunk: Uint8Array): void {
    let passStart = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.escape) {
        this.escape = false;
        passStart = i + 1;
        this.command(b);
        continue;
      }
      if (b === CTRL_A) {
        if (i > passStart) this.deliver(chunk.subarray(passStart, i));
        this.escape = true;
        passStart = i + 1;
      }
    }
    if (!this.escape && passStart < chunk.length) this.deliver(chunk.subarray(passStart));
  }

  private deliver(bytes: Uint8Array): void {
    if (!this.helpBox.hidden) {
      this.toggleHelp();
      return;
    }
    if (this.focus === 'monitor' && this.monitorPane && this.hmp) {
      const keys = this.monitorPane.keyBytes(bytes);
      if (keys && !this.machine.exited) this.hmp.input(keys);
      return;
    }
    const keys = this.consolePane.keyBytes(bytes);
    if (keys) this.opts.console?.pushInput(keys);
  }

  private command(key: number): void {
    switch (String.fromCharCode(key)) {
      case 'c':
        if (this.monitorPane) this.setFocus(this.focus === 'console' ? 'monitor' : 'console');
        return;
      case 'x':
        this.machine.quit();
        return;
      case 'h': case '?':
        this.toggleHelp();
        return;
      case 'b':
        this.opts.console?.sendBreak();
        return;
      default:
        if (key === CTRL_A) this.deliver(Uint8Array.of(CTRL_A));
    }
  }

  private setFocus(focus: 'console' | 'monitor'): void {
    this.focus = focus;
    this.consolePane.focused = focus === 'console';
    if (this.monitorPane) this.monitorPane.focused = focus === 'monitor';
    this.updateStatus(false);
  }

  private toggleHelp(): void {
    if (this.helpBox.hidden) {
      this.helpBox.show();
      this.helpBox.setFront();
    } else {
      this.helpBox.hide();
    }
    this.scheduleRender();
  }

  /** Console on top, the monitor under it (a third of the rows, at least 6), the status line. */
  private layout(): void {
    const rows = Math.max(4, this.screen.height as number);
    const usable = rows - 1;
    let monitorRows = 0;
    if (this.monitorPane) monitorRows = Math.min(usable - 3, Math.max(6, Math.floor(usable / 3)));
    const consoleRows = usable - monitorRows;
    this.consolePane.box.top = 0;
    this.consolePane.box.height = consoleRows;
    this.consolePane.fit();
    if (this.monitorPane) {
      this.monitorPane.box.top = consoleRows;
      this.monitorPane.box.height = Math.max(3, monitorRows);
      this.monitorPane.fit();
    }
  }

  private keysText(): string {
    const other = this.focus === 'console' ? 'monitor' : 'console';
    return `${this.monitorPane ? `C-a c ${other}  ` : ''}C-a x quit  C-a h help`;
  }

  private updateStatus(sampleRate: boolean): void {
    if (this.closed) return;
    const sample: StatusSample = {
      state: this.machine.runState,
      accel: this.machine.accel.name,
      instructions: this.machine.accel.instructionsRetired,
      virtualNs: this.machine.clock.nowNs(),
      hostMs: performance.now(),
    };
    if (sampleRate) {
      this.ips = sample.state === 'running' ? instructionsPerSecond(this.lastSample, sample) : 0;
      this.lastSample = sample;
    }
    const width = Math.max(1, this.screen.width as number);
    this.statusBox.setContent(formatStatusLine(sample, this.ips, this.keysText(), width));
    this.scheduleRender();
  }

  private scheduleRender(): void {
    if (this.renderTimer || this.closed) return;
    this.renderTimer = setTimeout(() => {
      this.renderTimer = undefined;
      if (!this.closed) this.screen.render();
    }, RENDER_DELAY_MS);
  }
}
