import { describe, expect, it } from 'vitest';
import xtermHeadless from '@xterm/headless';
import { bufferCells, DEFAULT_ATTR, isSafeSingleWidth, rgbTo256 } from '../../src/ui/tui/terminal-cells.js';

const { Terminal } = xtermHeadless;

async function screenOf(cols: number, rows: number, data: string) {
  const term = new Terminal({ cols, rows, scrollback: 100, allowProposedApi: true });
  await new Promise<void>((resolve) => term.write(Buffer.from(data, 'utf8'), resolve));
  return term;
}

const HOSTILE = [
  '\x1b[2J\x1b[H', // clear screen, home
  '\x1b[999;999Hcorner', // cursor far outside
  '\x1b[300C\x1b[80Bfar', // relative moves outside
  '\x1b]0;PWNED\x07\x1b]2;PWNED2\x1b\\', // title changes
  '\x1b]52;c;cHduZWQ=\x07', // clipboard write
  '\x1bP+q544e\x1b\\', // DCS query
  '\x1b[?1000h\x1b[?1006h', // mouse tracking
  '\x1b[8;5;20t', // window resize request
  '\x0e\x1b(0lqk\x0f\x1b(B', // shift-out and the DEC graphics set
  '\u4e2d\u6587 e\u0301 \u202eRTL\u202c \u{1F600}', // wide, combining, bidi override, astral
  '\x1b[?1049h\x1b[Halt screen',
].join('');

describe('terminal cells (the only path from guest output to the host terminal)', () => {
  it('yields exactly rows x cols printable single-width cells whatever the guest sends', async () => {
    const term = await screenOf(24, 6, HOSTILE);
    const cells = bufferCells(term.buffer.active, 24, 6, { cursor: true });
    expect(cells).toHaveLength(6);
    for (const row of cells) {
      expect(row).toHaveLength(24);
      for (const [attr, ch] of row) {
        expect(ch).toHaveLength(1);
        expect(isSafeSingleWidth(ch.charCodeAt(0))).toBe(true);
        expect(Number.isInteger(attr) && attr >= 0 && attr < 1 << 27).toBe(true);
      }
    }
    // The alternate screen is shown inside the pane, as a terminal would.
    expect(cells[0]!.map((c) => c[1]).join('')).toBe('alt screen              ');
  });

  it('replaces wide, combining, bidi and astral characters, keeps box drawing', async () => {
    const term = await screenOf(20, 2, '\u4e2dx e\u0301 \u202eR \u{1F600}\r\n\x1b(0lqk\x1b(B \u2500');
    const [row0, row1] = bufferCells(term.buffer.active, 20, 2, { cursor: false });
    // The wide glyph takes two columns: one replacement and one blank, so columns stay aligned;
    // a combining mark or bidi control joins the cell before it, which is then replaced.
    expect(row0!.map((c) => c[1]).join('').trimEnd()).toBe('? x ??R ?');
    expect(row1!.map((c) => c[1]).join('').trimEnd()).toBe('\u250c\u2500\u2510 \u2500');
  });

  it('maps SGR attributes and colours to blessed attribute words', async () => {
    const term = await screenOf(10, 1, '\x1b[1;4;31;42mA\x1b[0;7;38;5;200mB\x1b[0;38;2;255;0;0mC\x1b[0mD');
    const [row] = bufferCells(term.buffer.active, 10, 1, { cursor: false });
    const [a, b, c, d] = row!;
    expect(a).toEqual([((1 | 2) << 18) | (1 << 9) | 2, 'A']);
    expect(b).toEqual([(8 << 18) | (200 << 9) | 0x1ff, 'B']);
    expect(c).toEqual([(196 << 9) | 0x1ff, 'C']);
    expect(d).toEqual([DEFAULT_ATTR, 'D']);
  });

  it('draws the cursor in inverse video where the terminal has it', async () => {
    const term = await screenOf(10, 3, 'ab\r\ncd');
    const rows = bufferCells(term.buffer.active, 10, 3, { cursor: true });
    expect(rows[1]![2]).toEqual([DEFAULT_ATTR | (8 << 18), ' ']);
    expect(bufferCells(term.buffer.active, 10, 3, { cursor: false })[1]![2]).toEqual([DEFAULT_ATTR, ' ']);
  });

  it('maps RGB to the xterm 256-colour cube and grey ramp', () => {
    // xterm's palette: 16 + 36r + 6g + b over the levels 0, 95, 135, 175, 215, 255; greys 8 + 10i.
    expect(rgbTo256(0xff0000)).toBe(196);
    expect(rgbTo256(0x000000)).toBe(16);
    expect(rgbTo256(0xffffff)).toBe(231);
    expect(rgbTo256(0x5f87af)).toBe(67);
    expect(rgbTo256(0x808080)).toBe(244);
    expect(rgbTo256(0x121212)).toBe(233);
  });
});
