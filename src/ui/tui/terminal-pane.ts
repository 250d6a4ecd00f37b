/**
 * A pane of the terminal UI that shows a terminal: a blessed box with a border whose inside is
 * painted from a headless xterm.js terminal (the screen model). Bytes written to the pane go
 * through the terminal emulator, never to the host terminal; what is drawn comes from
 * terminal-cells.ts, one sanitised character per cell.
 *
 * The terminal is as big as the box's inside and follows it on resize (xterm.js reflows the
 * normal buffer). Shift-PgUp/PgDn scroll back through history, as on the Linux console.
 */
import blessed from 'blessed';
import type { Widgets } from 'blessed';
import xtermHeadless from '@xterm/headless';
import type { Terminal as HeadlessTerminal } from '@xterm/headless';
import { bufferCells } from './terminal-cells.js';

const { Terminal } = xtermHeadless;

/** The part of blessed's Screen the pane paints into (not in @types/blessed). */
interface ScreenLines {
  lines: ([number, string][] & { dirty?: boolean })[];
}

/** The box's border and padding widths (blessed has them; @types/blessed mistypes or omits them). */
interface Insets {
  ileft: number;
  itop: number;
  iright: number;
  ibottom: number;
  iwidth: number;
  iheight: number;
}

interface RenderCoords {
  xi: number;
  xl: number;
  yi: number;
  yl: number;
}

export interface TerminalPaneOptions {
  label: string;
  top: number | string;
  left?: number | string;
  width?: number | string;
  height: number | string;
  scrollback: number;
  /** Called when the terminal's screen changed (the UI schedules a redraw). */
  onChange: () => void;
}

const ESC = 0x1b;

export class TerminalPane {
  readonly box: Widgets.BoxElement;
  readonly terminal: HeadlessTerminal;
  private focusedFlag = false;
  /** DECTCEM (CSI ? 25 l/h): the guest hid its cursor. xterm.js does not expose this mode. */
  private cursorHidden = false;

  constructor(private readonly screen: Widgets.Screen, private readonly opts: TerminalPaneOptions) {
    this.box = blessed.box({
      parent: screen,
      top: opts.top,
      left: opts.left ?? 0,
      width: opts.width ?? '100%',
      height: opts.height,
      label: ` ${opts.label} `,
      border: { type: 'line' },
      tags: false,
      style: { border: { fg: 'gray' }, label: {} },
    });
    const { cols, rows } = this.innerSize();
    this.terminal = new Terminal({ cols, rows, scrollback: opts.scrollback, allowProposedApi: true });
    const trackCursor = (show: boolean) => (params: (number | number[])[]) => {
      if (params.includes(25)) this.cursorHidden = !show;
      return false; // let xterm.js handle the rest of the sequence too
    };
    this.terminal.parser.registerCsiHandler({ prefix: '?', final: 'h' }, trackCursor(true));
    this.terminal.parser.registerCsiHandler({ prefix: '?', final: 'l' }, trackCursor(false));
    this.terminal.onWriteParsed(() => opts.onChange());
    this.box.on('render', (coords: RenderCoords) => this.paint(coords));
  }

  get focused(): boolean {
    return this.focusedFlag;
  }

  set focused(on: boolean) {
    this.focusedFlag = on;
    this.box.style.border.fg = on ? 'green' : 'gray';
    this.box.style.label.bold = on;
    this.box.setLabel(` ${this.opts.label}${on ? ' [focus]' : ''} `);
  }

  write(data: Uint8Array | string): void {
    this.terminal.write(data);
  }

  /** Makes the terminal the size of the box's inside (after a layout change). */
  fit(): void {
    const { cols, rows } = this.innerSize();
    if (cols !== this.terminal.cols || rows !== this.terminal.rows) this.terminal.resize(cols, rows);
  }

  /**
   * Key bytes from the host terminal as the guest expects them: cursor keys follow the
   * guest's DECCKM mode (CSI A when it is reset, SS3 A when set), whatever mode the host
   * terminal is in. Scroll keys (Shift-PgUp/PgDn) are consumed here; returns undefined then.
   */
  keyBytes(bytes: Uint8Array): Uint8Array | undefined {
    const s = Buffer.from(bytes).toString('latin1');
    if (s === '\x1b[5;2~' || s === '\x1b[6;2~') {
      this.terminal.scrollLines((s[2] === '5' ? -1 : 1) * Math.max(1, this.terminal.rows - 1));
      this.opts.onChange();
      return undefined;
    }
    this.terminal.scrollToBottom();
    const app = this.terminal.modes.applicationCursorKeysMode;
    if (bytes.length === 3 && bytes[0] === ESC && (bytes[1] === 0x5b || bytes[1] === 0x4f) && 'ABCDHF'.includes(s[2]!)) {
      return Uint8Array.of(ESC, app ? 0x4f : 0x5b, bytes[2]!);
    }
    return bytes;
  }

  private innerSize(): { cols: number; rows: number } {
    const width = typeof this.box.width === 'number' ? this.box.width : 80;
    const height = typeof this.box.height === 'number' ? this.box.height : 24;
    const inset = this.box as unknown as Insets;
    return { cols: Math.max(2, width - inset.iwidth), rows: Math.max(1, height - inset.iheight) };
  }

  /** Paints the terminal's visible rows into the box's inside, after blessed drew the box. */
  private paint(coords: RenderCoords): void {
    const lines = (this.screen as unknown as ScreenLines).lines;
    const inset = this.box as unknown as Insets;
    const x0 = coords.xi + inset.ileft;
    const y0 = coords.yi + inset.itop;
    const cols = Math.min(this.terminal.cols, coords.xl - inset.iright - x0);
    const rows = Math.min(this.terminal.rows, coords.yl - inset.ibottom - y0);
    if (cols <= 0 || rows <= 0) return;
    const buffer = this.terminal.buffer.active;
    const atBottom = buffer.viewportY === buffer.baseY;
    const cells = bufferCells(buffer, cols, rows, { cursor: this.focusedFlag && !this.cursorHidden && atBottom });
    for (let y = 0; y < rows; y++) {
      const line = lines[y0 + y];
      if (!line) continue;
      const row = cells[y]!;
      for (let x = 0; x < cols; x++) {
        const target = line[x0 + x];
        if (!target) continue;
        const [attr, ch] = row[x]!;
        if (target[0] !== attr || target[1] !== ch) {
          target[0] = attr;
          target[1] = ch;
          line.dirty = true;
        }
      }
    }
  }

  dispose(): void {
    this.terminal.dispose();
  }
}
