/**
 * The terminal UI (`-display tui`) and `-nographic` in a real terminal: pcvm runs inside
 * tmux, keys are typed with send-keys and the screen is read with capture-pane. Runs the
 * built CLI (dist/).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/machine/default-firmware.js';
import { romWithCode } from '../helpers/rom.js';
import { hasTmux, TmuxSession } from '../helpers/tmux.js';

const CLI = join(packageRoot(), 'dist/src/cli/main.js');
const EXIT_MARK = 'pcvm-exited-with:';
let dir: string;
let session: TmuxSession | undefined;

/** pcvm in a terminal; after it ends, the shell prints its exit status. */
function startPcvm(args: string[], cols: number, rows: number): TmuxSession {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  session = new TmuxSession(`${quoted}; echo ${EXIT_MARK}$?; sleep 60`, cols, rows);
  return session;
}

/**
 * A ROM that prints `message` on COM1, then echoes every received byte back (polling the
 * LSR, so the CPU never halts and the status line has instructions to count).
 */
function echoRom(message: Uint8Array): Uint8Array {
  const code = [
    0xfc, //                 cld
    0xbe, 0x00, 0x01, //     mov si, 0x100
    0x2e, 0xac, //           .print: cs lodsb
    0x84, 0xc0, //           test al, al
    0x74, 0x06, //           jz .echo
    0xba, 0xf8, 0x03, //     mov dx, 0x3f8
    0xee, //                 out dx, al
    0xeb, 0xf4, //           jmp .print
    0xba, 0xfd, 0x03, //     .echo: mov dx, 0x3fd (LSR)
    0xec, //                 in al, dx
    0xa8, 0x01, //           test al, 1 (data ready)
    0x74, 0xf8, //           jz .echo
    0xba, 0xf8, 0x03, //     mov dx, 0x3f8
    0xec, //                 in al, dx
    0xee, //                 out dx, al
    0xeb, 0xf1, //           jmp .echo
  ];
  const rom = romWithCode(code);
  rom.set([...message, 0], 0x100);
  return rom;
}

/** Every escape a guest might use to reach past its pane (xterm's ctlseqs). */
const HOSTILE = [
  'before\r\n',
  '\x1b[2J\x1b[3J\x1b[H', // clear screen and scrollback, home
  '\x1b[999;999HCORNER', // absolute move far outside
  '\x1b[H\x1b[300C\x1b[90BFAR\x1b[200A\x1b[400D', // relative moves outside
  '\x1b]0;PWNED-TITLE\x07\x1b]2;PWNED2\x1b\\', // window title
  '\x1b]52;c;cHduZWQ=\x07', // clipboard write
  '\x1b[?1000h\x1b[?1003h\x1b[?1006h', // mouse tracking
  '\x1b[8;5;20t\x1b[3;0;0t', // resize and move the window
  '\x1b[1;3r', // scroll region
  '\x0e', // shift out (the host's G1 character set)
  '\x1b[?25l', // hide the cursor
  '\x1bc', // full reset
  '\x1b[?1049h', // alternate screen
  '\x1b[H\x1b[41;97mHOSTILE-DONE\x1b[0m\r\n',
].join('');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pcvm-tui-'));
});

afterEach(() => {
  session?.kill();
  session = undefined;
});

/** The box border characters blessed draws (Unicode or the ACS letters tmux shows). */
const VERTICAL = /^[│x]/;
const isBorderRow = (line: string, cols: number) => line.length === cols && VERTICAL.test(line) && VERTICAL.test(line[cols - 1]!);

describe.skipIf(!hasTmux())('pcvm in a real terminal (tmux)', () => {
  it('shows the guest console, sends typed keys to COM1, and its monitor pane answers info status', async () => {
    const t = startPcvm(['-m', '32'], 100, 30);
    await t.waitForText('pcvm> ');
    t.type('echo typed-into-the-tui');
    t.keys('Enter');
    // The guest's output line (not the echoed command line) inside the console pane's border.
    await t.waitFor('the echo output', (s) => s.some((l) => /^[│x]typed-into-the-tui +[│x]$/.test(l)));
    const screen = t.screen();
    expect(screen[screen.length - 1]).toMatch(/^ running \| accel \w+ \| .* instr\/s \| vtime \d+:\d\d:\d\d\.\d{3} \| C-a c monitor {2}C-a x quit {2}C-a h help/);

    t.keys('C-a', 'c');
    await t.waitForText('monitor [focus]');
    t.type('info status');
    t.keys('Enter');
    await t.waitForText('VM status: running');
    // Tab completes the info topic; the up arrow recalls the history.
    t.type('info sta');
    t.keys('Tab', 'Enter');
    await t.waitFor('a second answer', (s) => s.filter((l) => l.includes('VM status: running')).length === 2);
    t.keys('Up');
    await t.waitFor('the recalled line', (s) => /\(qemu\) info status/.test(s.filter((l) => l.includes('(qemu)')).pop() ?? ''));
    t.keys('C-u');
    t.type('stop');
    t.keys('Enter');
    await t.waitFor('the paused status line', (s) => s[s.length - 1]!.startsWith(' paused |'));

    // Back to the console: keys go to the guest again.
    t.keys('C-a', 'c');
    await t.waitForText('COM1 [focus]');
    t.type('cont'); // typed into the guest while it is paused: queued in the UART's FIFO
    t.keys('C-a', 'c');
    t.type('cont');
    t.keys('Enter');
    await t.waitFor('running again', (s) => s[s.length - 1]!.startsWith(' running |'));

    // C-a h shows the keys; the next key only closes the help.
    t.keys('C-a', 'h');
    await t.waitForText('pcvm terminal UI keys');
    t.type('q');
    await t.waitFor('the help closed', (s) => !s.some((l) => l.includes('pcvm terminal UI keys')));
    expect(t.screen().some((l) => l.includes('(qemu) q'))).toBe(false);

    t.keys('C-a', 'x');
    await t.waitForText(`${EXIT_MARK}0`);
  });

  it('keeps its layout whatever escape sequences the guest prints, and follows a resize', async () => {
    const bios = join(dir, 'hostile.bin');
    writeFileSync(bios, echoRom(Buffer.from(HOSTILE, 'latin1')));
    const cols = 80;
    const rows = 24;
    const t = startPcvm(['-bios', bios, '-m', '16'], cols, rows);
    const screen = await t.waitForText('HOSTILE-DONE');
    await new Promise((r) => setTimeout(r, 300));
    const check = (s: string[], w: number, h: number) => {
      expect(s).toHaveLength(h);
      expect(s[0]).toMatch(/^[┌l][─q] COM1 (\[focus\] )?[─q]+[┐k]$/);
      const monitorTop = s.findIndex((l) => /^[┌l][─q] monitor (\[focus\] )?[─q]+[┐k]$/.test(l));
      expect(monitorTop).toBeGreaterThan(3);
      for (let y = 1; y < monitorTop - 1; y++) expect(isBorderRow(s[y]!, w), `row ${y}: ${s[y]}`).toBe(true);
      expect(s[monitorTop - 1]).toMatch(/^[└m][─q]+[┘j]$/);
      expect(s[h - 2]).toMatch(/^[└m][─q]+[┘j]$/);
      expect(s[h - 1]).toContain('C-a x quit');
      expect(s.join('\n')).not.toMatch(/CORNER|FAR/); // erased by the guest's own reset, inside the pane
    };
    check(t.screen(), cols, rows);
    // The guest's text is in the pane; nothing reached the host terminal's state.
    expect(t.screen()[1]).toMatch(/^[│x]HOSTILE-DONE +[│x]$/);
    expect(t.format('pane_title')).not.toContain('PWNED');
    expect(t.format('mouse_any_flag')).toBe('0');
    expect(t.format('mouse_all_flag')).toBe('0');
    // The echo loop spins, so the status line counts instructions.
    await t.waitFor('a measured rate', (s) => /\| [1-9][\d.]* [kMG]? ?instr\/s/.test(s[s.length - 1]!));

    t.type('typed after the storm');
    await t.waitFor('the echo', (s) => s.some((l) => /^[│x]typed after the storm +[│x]$/.test(l)));
    t.resize(90, 30);
    const resized = await t.waitFor('the new size', (s) => s.length === 30 && s[0]!.length === 90);
    check(resized, 90, 30);
    t.keys('C-a', 'c');
    t.type('info status');
    t.keys('Enter');
    await t.waitForText('VM status: running');
    check(t.screen(), 90, 30);
    t.keys('C-a', 'x');
    await t.waitForText(`${EXIT_MARK}0`);
  });

  it('-nographic in a real terminal: raw input (C-c reaches the guest), C-a c toggles to the monitor, C-a x quits', async () => {
    const t = startPcvm(['-nographic', '-m', '16'], 80, 24);
    await t.waitForText('pcvm>'); // capture-pane trims trailing blanks
    t.keys('C-c'); // the terminal is raw: the guest gets 0x03 and pcvm lives on
    t.type('echo still-here');
    t.keys('Enter');
    await t.waitFor('the echo', (s) => s.includes('still-here'));
    t.keys('C-a', 'c');
    await t.waitForText('(qemu)');
    t.type('info status');
    t.keys('Enter');
    await t.waitForText('VM status: running');
    t.keys('C-a', 'c');
    t.type('echo back-on-com1');
    t.keys('Enter');
    await t.waitFor('the guest again', (s) => s.includes('back-on-com1'));
    t.keys('C-a', 'x');
    await t.waitForText(`${EXIT_MARK}0`);
    expect(t.screen().some((l) => l.includes('QEMU: Terminated'))).toBe(true);
  });
});
