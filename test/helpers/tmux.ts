/**
 * Drives a program in a real terminal: a tmux server of our own (its own socket, so no user
 * session is touched), one window of a fixed size, keys in with send-keys, the screen out with
 * capture-pane — what a person at a terminal sees.
 */
import { execFileSync } from 'node:child_process';

export function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let serial = 0;

export class TmuxSession {
  private readonly socket = `pcvm-test-${process.pid}-${serial++}`;
  private readonly name = 'main';

  /** Starts `command` (a shell command line) in a `cols` x `rows` window. */
  constructor(command: string, cols: number, rows: number, env: Record<string, string> = {}) {
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    this.tmux('-f', '/dev/null', 'new-session', '-d', '-s', this.name, '-x', String(cols), '-y', String(rows), ...envArgs, command);
    this.tmux('set-option', '-t', this.name, 'status', 'off');
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** The visible screen, one string per row (trailing blanks trimmed by tmux). */
  screen(): string[] {
    return this.tmux('capture-pane', '-p', '-t', this.name).replace(/\n$/, '').split('\n');
  }

  /** A tmux format variable of the pane (`pane_title`, `mouse_any_flag`, …). */
  format(variable: string): string {
    return this.tmux('display-message', '-p', '-t', this.name, `#{${variable}}`).trim();
  }

  /** Types text literally. */
  type(text: string): void {
    this.tmux('send-keys', '-t', this.name, '-l', text);
  }

  /** Presses keys by tmux name (`Enter`, `C-a`, `Up`, `Tab`). */
  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', this.name, ...keys);
  }

  resize(cols: number, rows: number): void {
    this.tmux('resize-window', '-t', this.name, '-x', String(cols), '-y', String(rows));
  }

  /**
   * Waits until `test` holds for the screen; throws with the screen when it does not in time.
   * Each look runs tmux once: a wait of many minutes (a guest booting) wants a longer `pollMs`.
   */
  async waitFor(what: string, test: (screen: string[]) => boolean, timeoutMs = 20_000, pollMs = 50): Promise<string[]> {
    const start = Date.now();
    for (;;) {
      const screen = this.screen();
      if (test(screen)) return screen;
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}; screen:\n${screen.join('\n')}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Waits for `text` anywhere on the screen. */
  waitForText(text: string, timeoutMs?: number): Promise<string[]> {
    return this.waitFor(JSON.stringify(text), (s) => s.some((line) => line.includes(text)), timeoutMs);
  }

  /** Ends the tmux server (and the program in it). */
  kill(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
  }
}
