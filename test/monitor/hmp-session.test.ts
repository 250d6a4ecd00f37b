/**
 * The interactive HMP line editor behaves like QEMU's readline: echo, backspace, history on
 * the arrow keys, cursor editing, tab completion, and `info history`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { HmpSession } from '../../src/monitor/hmp-session.js';

let machine: Machine;
afterEach(() => machine?.close());

function session() {
  machine = new Machine(defaultMachineConfig({ startStopped: true }), { serial: [new MemoryCharBackend()], log: NULL_LOGGER });
  let out = '';
  const s = new HmpSession(machine, (t) => (out += t));
  s.start();
  const type = (text: string) => s.input(new TextEncoder().encode(text));
  const take = () => {
    const o = out;
    out = '';
    return o;
  };
  return { s, type, take };
}

describe('HMP session', () => {
  it('prints the banner and prompt, echoes input and runs the line on Enter', () => {
    const { type, take } = session();
    expect(take()).toMatch(/^pcvm \S+ monitor - type 'help' for more information\r\n\(qemu\) $/);
    type('info status\r');
    expect(take()).toBe('info status\r\nVM status: paused (prelaunch)\r\n(qemu) ');
  });

  it('backspace edits the line before it runs', () => {
    const { type, take } = session();
    take();
    type('info statuz\x7fs\r');
    expect(take()).toContain('VM status: paused (prelaunch)');
  });

  it('up and down arrows walk the history; info history lists it', () => {
    const { type, take } = session();
    take();
    type('info name\r');
    type('info status\r');
    take();
    type('\x1b[A\x1b[A\r');
    expect(take()).toMatch(/\r\n\(qemu\) $/);
    type('info history\r');
    // Recalling a line moves it to the end, as QEMU's readline does.
    expect(take()).toContain("0: 'info status'\r\n1: 'info name'\r\n2: 'info history'");
    type('\x1b[A\x1b[B\r');
    // Down past the newest entry gives an empty line: nothing runs.
    expect(take()).toMatch(/\r\n\(qemu\) $/);
  });

  it('cursor keys insert in the middle of the line', () => {
    const { type, take } = session();
    take();
    type('info stus\x1b[D\x1b[D\x1b[Dta\r');
    expect(take()).toContain('VM status: paused (prelaunch)');
  });

  it('tab completes a unique command and info topic, and lists ambiguous ones', () => {
    const { type, take } = session();
    take();
    type('inf\t');
    expect(take()).toBe('info ');
    type('sta\t');
    expect(take()).toBe('status ');
    type('\r');
    expect(take()).toContain('VM status: paused (prelaunch)');
    type('s\t');
    expect(take()).toContain('stop  system_powerdown  system_reset');
  });

  it('C-u erases the line before the cursor', () => {
    const { type, take } = session();
    take();
    type('garbage\x15info status\r');
    expect(take()).toContain('VM status: paused (prelaunch)');
  });
});
