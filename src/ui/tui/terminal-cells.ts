/**
 * Turns the screen of a headless xterm.js terminal (the guest console's or the monitor's
 * screen model) into blessed's cells: one `[attr, char]` pair per column.
 *
 * This is the only path from guest output to the host terminal, and it carries no escape
 * sequence: the guest's control sequences were consumed by the terminal emulator, and each
 * cell yields one printable, single-width character and an attribute word that blessed turns
 * into SGR codes of its own. Characters the host terminal might draw at another width or use
 * to reorder text (controls, combining marks, zero-width and bidi controls, wide glyphs,
 * astral code points) are replaced, so a line always occupies exactly its pane's width.
 *
 * blessed's attribute word: flags << 18 | fg << 9 | bg; flags 1 bold, 2 underline, 4 blink,
 * 8 inverse, 16 invisible; colours 0-255, 0x1ff for the terminal's default.
 */
import type { IBuffer, IBufferCell } from '@xterm/headless';

export type BlessedCell = [attr: number, ch: string];

export const DEFAULT_COLOR = 0x1ff;
export const DEFAULT_ATTR = (DEFAULT_COLOR << 9) | DEFAULT_COLOR;
const FLAG_BOLD = 1;
const FLAG_UNDERLINE = 2;
const FLAG_BLINK = 4;
const FLAG_INVERSE = 8;
const FLAG_INVISIBLE = 16;

/** Drawn for a character the host terminal could not show at width 1 (wide, astral, combining). */
const REPLACEMENT = '?';

/** Whether `code` can be sent to the host terminal as one column of text. */
export function isSafeSingleWidth(code: number): boolean {
  if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return false; // C0, DEL, C1
  if (code === 0xad) return false; // soft hyphen: zero width in some terminals
  if (code >= 0x300 && code < 0x370) return false; // combining diacritical marks
  if (code >= 0x1ab0 && code < 0x1b00) return false;
  if (code >= 0x1dc0 && code < 0x1e00) return false;
  if (code >= 0x200b && code < 0x2010) return false; // zero-width space/joiners, LRM/RLM
  if (code >= 0x2028 && code < 0x202f) return false; // line/paragraph separators, bidi embeddings
  if (code >= 0x2060 && code < 0x2070) return false; // word joiner, bidi isolates
  if (code >= 0x20d0 && code < 0x2100) return false; // combining marks for symbols
  if (code >= 0x1100 && code < 0x1200) return false; // Hangul Jamo (wide or combining)
  // Above the general punctuation, arrows, maths and letter-like symbols, keep only box
  // drawing, blocks and geometric shapes: the ranges beyond hold emoji that many terminals
  // draw two columns wide, East Asian wide scripts, surrogates, private use, variation
  // selectors and half-width forms.
  if (code >= 0x2300) return code >= 0x2500 && code < 0x2600 && code !== 0x25fd && code !== 0x25fe;
  return true;
}

/** One cell's character as it may be drawn. */
function cellChar(cell: IBufferCell): string {
  const chars = cell.getChars();
  if (chars === '') return ' ';
  if (chars.length !== 1) return REPLACEMENT; // combined or astral
  return isSafeSingleWidth(chars.charCodeAt(0)) ? chars : REPLACEMENT;
}

/** The xterm 256-colour palette entry nearest to an RGB colour (the cube or the grey ramp). */
export function rgbTo256(rgb: number): number {
  const r = (rgb >> 16) & 0xff;
  const g = (rgb >> 8) & 0xff;
  const b = rgb & 0xff;
  const level = (v: number) => (v < 48 ? 0 : v < 115 ? 1 : Math.min(5, Math.floor((v - 35) / 40)));
  const levelValue = (l: number) => (l === 0 ? 0 : 55 + l * 40);
  const [lr, lg, lb] = [level(r), level(g), level(b)];
  const cube = 16 + 36 * lr + 6 * lg + lb;
  const cubeDist = (levelValue(lr) - r) ** 2 + (levelValue(lg) - g) ** 2 + (levelValue(lb) - b) ** 2;
  const grey = Math.max(0, Math.min(23, Math.round(((r + g + b) / 3 - 8) / 10)));
  const gv = 8 + grey * 10;
  const greyDist = (gv - r) ** 2 + (gv - g) ** 2 + (gv - b) ** 2;
  return greyDist < cubeDist ? 232 + grey : cube;
}

function cellAttr(cell: IBufferCell): number {
  let flags = 0;
  if (cell.isBold()) flags |= FLAG_BOLD;
  if (cell.isUnderline()) flags |= FLAG_UNDERLINE;
  if (cell.isBlink()) flags |= FLAG_BLINK;
  if (cell.isInverse()) flags |= FLAG_INVERSE;
  if (cell.isInvisible()) flags |= FLAG_INVISIBLE;
  const fg = cell.isFgDefault() ? DEFAULT_COLOR : cell.isFgRGB() ? rgbTo256(cell.getFgColor()) : cell.getFgColor() & 0xff;
  const bg = cell.isBgDefault() ? DEFAULT_COLOR : cell.isBgRGB() ? rgbTo256(cell.getBgColor()) : cell.getBgColor() & 0xff;
  return (flags << 18) | (fg << 9) | bg;
}

export interface CellsOptions {
  /** Draw the terminal's cursor (inverse video) at its position. */
  cursor: boolean;
}

/**
 * The visible rows of `buffer` (from its viewport), `rows` × `cols` cells. Rows and columns
 * the buffer does not have are blank, so the result always has exactly that shape.
 */
export function bufferCells(buffer: IBuffer, cols: number, rows: number, opts: CellsOptions): BlessedCell[][] {
  const out: BlessedCell[][] = [];
  let cell: IBufferCell | undefined;
  for (let y = 0; y < rows; y++) {
    const row: BlessedCell[] = [];
    const line = buffer.getLine(buffer.viewportY + y);
    for (let x = 0; x < cols; x++) {
      cell = line?.getCell(x, cell);
      if (!cell) {
        row.push([DEFAULT_ATTR, ' ']);
        continue;
      }
      const width = cell.getWidth();
      // The second half of a wide glyph: its first half was drawn as one replacement column.
      const ch = width === 0 ? ' ' : width === 2 ? REPLACEMENT : cellChar(cell);
      row.push([cellAttr(cell), ch]);
    }
    out.push(row);
  }
  if (opts.cursor) {
    const y = buffer.baseY + buffer.cursorY - buffer.viewportY;
    const x = Math.min(buffer.cursorX, cols - 1);
    const target = y >= 0 && y < rows && x >= 0 ? out[y]![x] : undefined;
    if (target) target[0] ^= FLAG_INVERSE << 18;
  }
  return out;
}
