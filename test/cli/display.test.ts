import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/options.js';
import { resolveDisplay } from '../../src/cli/display.js';

const resolve = (tty: boolean, ...argv: string[]) => resolveDisplay(parseCommandLine(argv), tty);

describe('-display resolution', () => {
  it('defaults to the TUI on a terminal and to none otherwise', () => {
    expect(resolve(true)).toEqual({ type: 'tui' });
    expect(resolve(false)).toEqual({ type: 'none' });
  });

  it('gives the default TUI up when a character device needs stdio', () => {
    expect(resolve(true, '-serial', 'stdio')).toEqual({ type: 'none' });
    expect(resolve(true, '-monitor', 'stdio')).toEqual({ type: 'none' });
    expect(resolve(true, '-qmp', 'stdio')).toEqual({ type: 'none' });
  });

  it('keeps -nographic and an explicit -display none', () => {
    expect(resolve(true, '-nographic')).toEqual({ type: 'none' });
    expect(resolve(true, '-display', 'none')).toEqual({ type: 'none' });
  });

  it('refuses an explicit -display tui without a terminal or with stdio taken', () => {
    expect(resolve(true, '-display', 'tui')).toEqual({ type: 'tui' });
    expect(() => resolve(false, '-display', 'curses')).toThrow('-display curses: standard output is not a terminal (use -display none or -nographic)');
    expect(() => resolve(true, '-display', 'tui', '-serial', 'stdio')).toThrow('-display curses cannot be used with a character device on stdio (both need the terminal)');
  });
});
