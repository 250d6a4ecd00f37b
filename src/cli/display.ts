/**
 * Which display pcvm opens. QEMU's default is a window; pcvm's is its terminal UI
 * (`-display tui`, QEMU's `curses` place) when stdout is a terminal, and `none` when it is not
 * (a pipe, a file, CI), so scripts never receive a screen's escape sequences. The TUI needs
 * the terminal for itself: a default display gives way to any character device on stdio
 * (`-serial stdio`, `-monitor stdio`, `-qmp stdio`), and an explicit `-display tui` refuses
 * them, as `-nographic -display curses` is refused.
 */
import { ConfigError } from '../errors.js';
import type { ChardevSpec } from './chardev-spec.js';
import type { CliOptions, DisplaySpec } from './option-specs.js';

function usesStdio(opts: CliOptions): boolean {
  const all: (ChardevSpec | undefined)[] = [...opts.serial, ...opts.parallel, ...opts.monitor, ...opts.qmp];
  return all.some((c) => c?.backend === 'stdio');
}

export function resolveDisplay(opts: CliOptions, stdoutIsTerminal: boolean): DisplaySpec {
  const display = opts.display;
  if (display.type !== 'tui') return display;
  if (display.implicit) return stdoutIsTerminal && !usesStdio(opts) ? { type: 'tui' } : { type: 'none' };
  if (!stdoutIsTerminal) throw new ConfigError('-display curses: standard output is not a terminal (use -display none or -nographic)');
  if (usesStdio(opts)) throw new ConfigError('-display curses cannot be used with a character device on stdio (both need the terminal)');
  return display;
}
