import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { StdioMux } from '../../src/ui/stdio-mux.js';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { romWithCode } from '../helpers/rom.js';

let machine: Machine | undefined;
afterEach(() => machine?.close());

function setup() {
  const serial = new MemoryCharBackend();
  // A guest that spins: the mux tests are about the host side.
  machine = new Machine(defaultMachineConfig({ memoryBytes: 4 << 20, bios: romWithCode([0xeb, 0xfe]) }), { serial: [serial], log: NULL_LOGGER });
  const stdout = new PassThrough();
  let screen = '';
  stdout.on('data', (d: Buffer) => (screen += d.toString()));
  const mux = new StdioMux(machine, serial, { stdin: new PassThrough(), stdout, withMonitor: true });
  return { serial, mux, m: machine, screen: () => screen };
}

const bytes = (s: string) => new TextEncoder().encode(s);

describe('stdio mux (-nographic Ctrl-A keys)', () => {
  it('passes typed bytes to the guest console, including C-a C-a as one C-a', () => {
    const { serial, mux } = setup();
    const got: number[] = [];
    serial.attach({ canReceive: () => 100, receive: (d) => got.push(...d) });
    mux.input(bytes('ls\r\x01\x01x'));
    expect(got).toEqual([...bytes('ls\r'), 0x01, ...bytes('x')]);
  });

  it('C-a c switches to the monitor and back; monitor lines run HMP commands', () => {
    const { serial, mux, m, screen } = setup();
    const got: number[] = [];
    serial.attach({ canReceive: () => 100, receive: (d) => got.push(...d) });
    m.start();
    mux.input(bytes('\x01c'));
    expect(screen()).toContain("monitor - type 'help' for more information\r\n(qemu) ");
    mux.input(bytes('info status\r'));
    expect(screen()).toContain('VM status: running');
    mux.input(bytes('stop\rinfo status\r'));
    expect(screen()).toContain('VM status: paused');
    mux.input(bytes('bogus\r'));
    expect(screen()).toContain("unknown command: 'bogus'");
    expect(got).toEqual([]);
    mux.input(bytes('\x01cz'));
    expect(got).toEqual([...bytes('z')]);
  });

  it('C-a h prints the key help; C-a x quits with status 0', async () => {
    const { mux, m, screen } = setup();
    m.start();
    mux.input(bytes('\x01h'));
    expect(screen()).toContain('C-a x    exit emulator');
    mux.input(bytes('\x01x'));
    expect(await m.waitForExit()).toBe(0);
    expect(screen()).toContain('QEMU: Terminated');
  });

  it('a C-a split across two reads still works', () => {
    const { mux, screen } = setup();
    mux.input(bytes('\x01'));
    mux.input(bytes('h'));
    expect(screen()).toContain('C-a h    print this help');
  });
});
