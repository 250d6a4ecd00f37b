/**
 * The command-line parser against QEMU's behaviour. Expected messages marked "QEMU 7.2" were
 * checked by running qemu-system-x86_64 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18) with the same
 * arguments; pcvm prefixes every message with the option as typed, as QEMU does for most.
 */

import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import {
  LATER_OPTIONS, SUPPORTED_NOW_OPTIONS, parseBool, parseCommandLine, parseHostForward, parseKeyValueList,
  parseNumber, parseSize, type ChardevSpec, type CliOptions,
} from '../../src/cli/options.js';
import { helpText, topicHelpText, versionText } from '../../src/cli/help.js';

const MiB = 1024 * 1024;

function parse(...argv: string[]): CliOptions {
  return parseCommandLine(argv);
}

/** Parses with the default set plus the named later options. */
function parseWith(extra: readonly string[], ...argv: string[]): CliOptions {
  return parseCommandLine(argv, new Set([...SUPPORTED_NOW_OPTIONS, ...extra]));
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

function parseError(...argv: string[]): string {
  return errorOf(() => parseCommandLine(argv));
}

function parseErrorWith(extra: readonly string[], ...argv: string[]): string {
  return errorOf(() => parseWith(extra, ...argv));
}

describe('parseKeyValueList (QemuOpts syntax)', () => {
  it('gives the first element to the implied key when it has no "="', () => {
    const kv = parseKeyValueList('isa-debug-exit,iobase=0xf4,iosize=0x04', 'driver');
    expect(kv.entries).toEqual([
      { key: 'driver', value: 'isa-debug-exit' },
      { key: 'iobase', value: '0xf4' },
      { key: 'iosize', value: '0x04' },
    ]);
  });

  it('uses an explicit key for the first element when it has "="', () => {
    expect(parseKeyValueList('type=user,id=n0', 'type').get('type')).toBe('user');
    expect(parseKeyValueList('id=n0,type=user', 'type').get('type')).toBe('user');
  });

  it('reads ",," as a literal comma in implied and explicit values', () => {
    const kv = parseKeyValueList('a,,b.img,file=c,,d,,,x=1', 'path');
    expect(kv.get('path')).toBe('a,b.img');
    expect(kv.get('file')).toBe('c,d,');
    expect(kv.get('x')).toBe('1');
  });

  it('expands short-form booleans: "server" is server=on, "nowait" is wait=off', () => {
    const kv = parseKeyValueList('host=h,server,nowait');
    expect(kv.get('server')).toBe('on');
    expect(kv.get('wait')).toBe('off');
  });

  it('keeps repeated keys in order and lets the last one win for get()', () => {
    const kv = parseKeyValueList('hostfwd=a,hostfwd=b,x=1,x=2');
    expect(kv.getAll('hostfwd')).toEqual(['a', 'b']);
    expect(kv.get('x')).toBe('2');
    expect(kv.keys()).toEqual(['hostfwd', 'x']);
  });

  it('flags "help" and "?" without adding an entry', () => {
    expect(parseKeyValueList('isa-debug-exit,help', 'driver').helpRequested).toBe(true);
    expect(parseKeyValueList('?', 'driver').helpRequested).toBe(true);
    expect(parseKeyValueList('a=1,?').entries).toEqual([{ key: 'a', value: '1' }]);
  });

  it('ignores a trailing comma and yields nothing for an empty string', () => {
    expect(parseKeyValueList('a=1,').entries).toEqual([{ key: 'a', value: '1' }]);
    expect(parseKeyValueList('').entries).toEqual([]);
  });
});

describe('value syntax', () => {
  it('accepts QEMU booleans on/off, yes/no, true/false, y/n', () => {
    for (const v of ['on', 'yes', 'true', 'y']) expect(parseBool('k', v)).toBe(true);
    for (const v of ['off', 'no', 'false', 'n']) expect(parseBool('k', v)).toBe(false);
    // QEMU 7.2: -icount 7,sleep=maybe
    expect(errorOf(() => parseBool('sleep', 'maybe'))).toBe("Parameter 'sleep' expects 'on' or 'off'");
  });

  it('reads numbers as strtoull(…, 0): decimal, 0x hex, leading-0 octal', () => {
    expect(parseNumber('n', '42')).toBe(42);
    expect(parseNumber('n', '0xf4')).toBe(0xf4);
    expect(parseNumber('n', '010')).toBe(8);
    // QEMU 7.2: -drive file=a.img,index=x
    expect(errorOf(() => parseNumber('index', 'x'))).toBe("Parameter 'index' expects a number");
    expect(errorOf(() => parseNumber('index', '08'))).toBe("Parameter 'index' expects a number");
  });

  it('reads sizes with case-insensitive binary suffixes and rejects "GB"', () => {
    expect(parseSize('size', '1k')).toBe(1024);
    expect(parseSize('size', '1K')).toBe(1024);
    expect(parseSize('size', '2M')).toBe(2 * MiB);
    expect(parseSize('size', '1.5k')).toBe(1536);
    expect(parseSize('size', '7b')).toBe(7);
    expect(parseSize('size', '0x10')).toBe(16);
    expect(() => parseSize('size', '1GB')).toThrow(ConfigError);
    expect(() => parseSize('size', '1.5')).toThrow(ConfigError);
  });
});

describe('option syntax', () => {
  it('accepts "--" as well as "-" before an option name', () => {
    expect(parse('--m', '256').memoryBytes).toBe(256 * MiB);
    expect(parse('--nographic').nographic).toBe(true);
  });

  it('reports an unknown option as QEMU does, with the dashes typed', () => {
    // QEMU 7.2: "-foo: invalid option", "--foo: invalid option"
    expect(parseError('-foo')).toBe('-foo: invalid option');
    expect(parseError('--foo')).toBe('--foo: invalid option');
    expect(parseError('-m=256')).toBe('-m=256: invalid option');
    expect(parseError('-')).toBe('-: invalid option');
  });

  it('reports a missing argument as QEMU does', () => {
    // QEMU 7.2: "-m: requires an argument", "--m: requires an argument", "-D: ..."
    expect(parseError('-m')).toBe('-m: requires an argument');
    expect(parseError('--m')).toBe('--m: requires an argument');
    expect(parseError('-D')).toBe('-D: requires an argument');
  });

  it('takes the next argv element as the argument even if it starts with "-"', () => {
    expect(parse('-name', '-nographic').name).toBe('-nographic');
    expect(parse('-name', '-nographic').nographic).toBe(false);
  });

  it('stops at -h / -help / --help and at -version, as QEMU exits there', () => {
    expect(parse('-h').showHelp).toBe(true);
    expect(parse('-help').showHelp).toBe(true);
    expect(parse('--help', '-bogus').showHelp).toBe(true);
    expect(parse('-version').showVersion).toBe(true);
    expect(parse('--version').showVersion).toBe(true);
    expect(parseError('-bogus', '-h')).toBe('-bogus: invalid option');
  });
});

describe('defaults', () => {
  it('match QEMU: 128 MiB, one CPU, pc, tcg, RTC in UTC, boot order cad', () => {
    const o = parse();
    expect(o.memoryBytes).toBe(128 * MiB);
    expect(o.smp).toBe(1);
    expect(o.machine).toEqual({ type: 'pc', props: {} });
    expect(o.accel).toEqual([{ name: 'tcg', given: 'tcg', props: {} }]);
    expect(o.rtc).toEqual({ base: 'utc', clock: 'host', driftfix: 'none' });
    expect(o.boot).toEqual({ order: 'cad' });
    expect(o.nographic || o.noReboot || o.noShutdown || o.startStopped || o.snapshot).toBe(false);
  });

  it('put COM1, LPT1 and the monitor on a virtual console of the display', () => {
    const o = parse();
    const vc: ChardevSpec = { mux: false, backend: 'vc', cols: 80, rows: 24 };
    expect(o.display).toEqual({ type: 'tui', implicit: true });
    expect(o.serial).toEqual([vc]);
    expect(o.parallel).toEqual([vc]);
    expect(o.monitor).toEqual([vc]);
  });
});

describe('-m', () => {
  it('reads a bare number as MiB', () => {
    expect(parse('-m', '256').memoryBytes).toBe(256 * MiB);
  });

  it('accepts suffixes, size=, k/K and 0x hex', () => {
    expect(parse('-m', '1G').memoryBytes).toBe(1024 * MiB);
    expect(parse('-m', '1g').memoryBytes).toBe(1024 * MiB);
    expect(parse('-m', 'size=512M').memoryBytes).toBe(512 * MiB);
    expect(parse('-m', '2048k').memoryBytes).toBe(2 * MiB);
    expect(parse('-m', '1.5G').memoryBytes).toBe(1536 * MiB);
    // QEMU 7.2 (monitor `info memory_size_summary`): -m 0x100 → 268435456, -m 010 → 10 MiB.
    expect(parse('-m', '0x100').memoryBytes).toBe(256 * MiB);
    expect(parse('-m', '010').memoryBytes).toBe(10 * MiB);
  });

  it('rounds up to 8 KiB as QEMU does', () => {
    // QEMU 7.2: -m 4097k → 4202496, -m 1b → 8192, -m 8193b → 16384, -m 1.5k → 8192.
    expect(parse('-m', '4097k').memoryBytes).toBe(4202496);
    expect(parse('-m', '1b').memoryBytes).toBe(8192);
    expect(parse('-m', '8193b').memoryBytes).toBe(16384);
    expect(parse('-m', '1.5k').memoryBytes).toBe(8192);
  });

  it('takes the last of repeated -m options', () => {
    expect(parse('-m', '64', '-m', '32').memoryBytes).toBe(32 * MiB);
  });

  it("rejects non-numbers, '1GB', negatives and suffix-less fractions with QEMU's message", () => {
    // QEMU 7.2 prints this line plus a second line about suffixes (folded into one here).
    const msg = "Parameter 'size' expects a non-negative number below 2^64 (optional suffix k, M, G, T, P or E)";
    for (const bad of ['abc', '1GB', '1gb', '-1', '1.5', '1X', 'size=']) {
      expect(parseError('-m', bad)).toBe(`-m ${bad}: ${msg}`);
    }
  });

  it('rejects 0 and fractions that are not whole bytes', () => {
    expect(parseError('-m', '0')).toBe('-m 0: memory size must be greater than 0');
    expect(parseError('-m', '1.0001k')).toBe("-m 1.0001k: Parameter 'size' expects a whole number of bytes");
  });

  it('rejects unknown keys and memory hotplug', () => {
    // QEMU 7.2: "-m foo=1: Invalid parameter 'foo'"
    expect(parseError('-m', 'foo=1')).toBe("-m foo=1: Invalid parameter 'foo'");
    expect(parseError('-m', '1G,maxmem=2G')).toBe('-m 1G,maxmem=2G: memory hotplug (slots=, maxmem=) is not supported yet');
  });
});

describe('-nographic and -display', () => {
  it('-nographic muxes COM1 and the monitor on stdio, Ctrl-C to the guest', () => {
    const o = parse('-nographic');
    expect(o.nographic).toBe(true);
    expect(o.display).toEqual({ type: 'none' });
    expect(o.serial).toEqual([{ mux: true, backend: 'stdio', signal: false }]);
    expect(o.monitor).toEqual([]);
    expect(o.parallel).toEqual([{ mux: false, backend: 'null' }]);
  });

  it('-nographic with an explicit -serial puts the monitor alone on stdio', () => {
    const o = parse('-nographic', '-serial', 'null');
    expect(o.serial).toEqual([{ mux: false, backend: 'null' }]);
    expect(o.monitor).toEqual([{ mux: false, backend: 'stdio', signal: true }]);
  });

  it('refuses two users of stdio as QEMU does', () => {
    // QEMU 7.2: "-serial stdio: cannot use stdio by multiple character devices"
    expect(parseError('-nographic', '-serial', 'stdio')).toBe('-serial stdio: cannot use stdio by multiple character devices');
    expect(parseErrorWith(['monitor'], '-serial', 'mon:stdio', '-monitor', 'stdio'))
      .toBe('-serial mon:stdio: cannot use stdio by multiple character devices');
    expect(parseErrorWith(['gdb'], '-gdb', 'stdio', '-serial', 'stdio'))
      .toBe('-gdb stdio: cannot use stdio by multiple character devices');
    // QEMU 7.2 accepts this one: -monitor none leaves stdio to COM1.
    expect(parseWith(['monitor'], '-nographic', '-serial', 'stdio', '-monitor', 'none').serial)
      .toEqual([{ mux: false, backend: 'stdio', signal: true }]);
  });

  it('-display none / curses / tui', () => {
    expect(parse('-display', 'none').display).toEqual({ type: 'none' });
    expect(parse('-display', 'curses').display).toEqual({ type: 'tui' });
    expect(parse('-display', 'curses,charset=CP850').display).toEqual({ type: 'tui', charset: 'CP850' });
    expect(parse('-display', 'tui').display).toEqual({ type: 'tui' });
    // -display none still leaves the default serial on the (invisible) virtual console, as QEMU.
    expect(parse('-display', 'none').serial[0]!.backend).toBe('vc');
  });

  it('rejects unknown and not-yet display types and unknown keys', () => {
    // QEMU 7.2: "-display foo: Parameter 'type' does not accept value 'foo'"
    expect(parseError('-display', 'foo')).toBe("-display foo: Parameter 'type' does not accept value 'foo'");
    expect(parseError('-display', 'gtk')).toBe("-display gtk: display 'gtk' is not supported yet (use none or curses)");
    // QEMU 7.2: "-display none,foo=1: Parameter 'foo' is unexpected"
    expect(parseError('-display', 'none,foo=1')).toBe("-display none,foo=1: Parameter 'foo' is unexpected");
  });

  it('lets the later of -nographic and -display win, refusing the terminal twice', () => {
    expect(parse('-display', 'curses', '-nographic').display).toEqual({ type: 'none' });
    expect(parseError('-nographic', '-display', 'curses')).toBe('-nographic cannot be used with -display curses (both need the terminal)');
  });

  it('-display help asks for the list', () => {
    expect(parse('-display', 'help').helpRequest).toEqual({ topic: 'display' });
  });
});

describe('-serial', () => {
  it('parses every device string QEMU knows into a typed spec', () => {
    const s = (dev: string): ChardevSpec => parse('-serial', dev).serial[0]!;
    expect(s('stdio')).toEqual({ mux: false, backend: 'stdio', signal: true });
    expect(s('null')).toEqual({ mux: false, backend: 'null' });
    expect(s('none')).toEqual({ mux: false, backend: 'none' });
    expect(s('mon:stdio')).toEqual({ mux: true, backend: 'stdio', signal: false });
    expect(s('vc')).toEqual({ mux: false, backend: 'vc' });
    expect(s('vc:80Cx25C')).toEqual({ mux: false, backend: 'vc', cols: 80, rows: 25 });
    expect(s('vc:640x480')).toEqual({ mux: false, backend: 'vc', width: 640, height: 480 });
    expect(s('file:/tmp/a,b.log')).toEqual({ mux: false, backend: 'file', path: '/tmp/a,b.log', append: false });
    expect(s('pipe:/tmp/fifo')).toEqual({ mux: false, backend: 'pipe', path: '/tmp/fifo' });
    expect(s('pty')).toEqual({ mux: false, backend: 'pty' });
    expect(s('/dev/ttyS0')).toEqual({ mux: false, backend: 'serial', path: '/dev/ttyS0' });
    expect(s('chardev:c0')).toEqual({ mux: false, backend: 'chardev', id: 'c0' });
  });

  it('parses tcp:, telnet: and unix: with long- and short-form options', () => {
    const s = (dev: string): ChardevSpec => parse('-serial', dev).serial[0]!;
    const base = { mux: false, backend: 'socket', nodelay: false, telnet: false, websocket: false, reconnectSec: 0 };
    expect(s('tcp::4444,server=on,wait=off')).toEqual({
      ...base, address: { type: 'inet', host: '', port: 4444 }, server: true, wait: false,
    });
    expect(s('tcp::4444,server,nowait')).toEqual(s('tcp::4444,server=on,wait=off'));
    expect(s('tcp:127.0.0.1:4444,nodelay')).toEqual({
      ...base, address: { type: 'inet', host: '127.0.0.1', port: 4444 }, server: false, wait: true, nodelay: true,
    });
    expect(s('telnet:localhost:4444,server=on')).toEqual({
      ...base, address: { type: 'inet', host: 'localhost', port: 4444 }, server: true, wait: true, telnet: true,
    });
    expect(s('unix:/tmp/s,,1,server=on,wait=off')).toEqual({
      ...base, address: { type: 'unix', path: '/tmp/s,1', abstract: false }, server: true, wait: false,
    });
    expect(s('mon:telnet::4444,server=on,wait=off').mux).toBe(true);
    expect(s('udp:10.0.0.1:5555@:6666')).toEqual({
      mux: false, backend: 'udp', host: '10.0.0.1', port: 5555, localAddr: '', localPort: 6666,
    });
  });

  it('fills COM1..COM4 in order, "none" keeping its slot', () => {
    const o = parse('-serial', 'none', '-serial', 'stdio', '-serial', 'null', '-serial', 'file:/tmp/x');
    expect(o.serial.map((s) => s.backend)).toEqual(['none', 'stdio', 'null', 'file']);
  });

  it('rejects a fifth -serial', () => {
    const four = ['-serial', 'null', '-serial', 'null', '-serial', 'null', '-serial', 'null'];
    expect(parseError(...four, '-serial', 'null')).toBe('-serial null: too many serial ports');
  });

  it("reports bad device strings in QEMU's words", () => {
    // QEMU 7.2: "-serial foo: 'foo' is not a valid char driver"
    expect(parseError('-serial', 'foo')).toBe("-serial foo: 'foo' is not a valid char driver");
    // QEMU 7.2: "-serial tcp:localhost: could not connect serial device to character backend 'tcp:localhost'"
    expect(parseError('-serial', 'tcp:localhost'))
      .toBe("-serial tcp:localhost: could not connect serial device to character backend 'tcp:localhost'");
    // QEMU 7.2: "-serial mon:mon:stdio: 'mon:stdio' is not a valid char driver"
    expect(parseError('-serial', 'mon:mon:stdio')).toBe("-serial mon:mon:stdio: 'mon:stdio' is not a valid char driver");
    // QEMU 7.2: "-serial unix:/tmp/qchk/s,server=on,wait=off,bogus=1: Invalid parameter 'bogus'"
    expect(parseError('-serial', 'unix:/tmp/s,server=on,bogus=1')).toBe("-serial unix:/tmp/s,server=on,bogus=1: Invalid parameter 'bogus'");
  });

  it('turns off the default monitor when -serial mon:stdio carries it', () => {
    const o = parse('-serial', 'mon:stdio');
    expect(o.monitor).toEqual([]);
    expect(o.serial).toEqual([{ mux: true, backend: 'stdio', signal: false }]);
  });
});

describe('-accel and -enable-kvm', () => {
  it('keeps tcg, interp (the interpreter alone), jit and kvm apart', () => {
    expect(parse('-accel', 'tcg').accel).toEqual([{ name: 'tcg', given: 'tcg', props: {} }]);
    expect(parse('-accel', 'interp').accel).toEqual([{ name: 'interp', given: 'interp', props: {} }]);
    expect(parse('-accel', 'accel=jit').accel).toEqual([{ name: 'jit', given: 'jit', props: {} }]);
    expect(parse('-accel', 'tcg,thread=single,tb-size=64').accel[0]!.props).toEqual({ thread: 'single', 'tb-size': '64' });
  });

  it('keeps several -accel options in order for fallback', () => {
    expect(parse('-accel', 'kvm', '-accel', 'tcg').accel.map((a) => a.name)).toEqual(['kvm', 'tcg']);
  });

  it('-enable-kvm is "-machine accel=kvm", as in QEMU 7.2', () => {
    expect(parse('-enable-kvm').accel).toEqual([{ name: 'kvm', given: 'kvm', props: {} }]);
    // QEMU 7.2: the later -machine accel= wins; -accel conflicts.
    expect(parse('-enable-kvm', '-machine', 'accel=tcg').accel.map((a) => a.name)).toEqual(['tcg']);
    expect(parseError('-enable-kvm', '-accel', 'tcg')).toBe('The -accel and "-machine accel=" options are incompatible');
  });

  it('-machine accel=kvm:tcg gives the same fallback list, but not together with -accel', () => {
    expect(parse('-machine', 'accel=kvm:tcg').accel.map((a) => a.name)).toEqual(['kvm', 'tcg']);
    // QEMU 7.2: 'The -accel and "-machine accel=" options are incompatible'
    expect(parseError('-accel', 'tcg', '-machine', 'accel=tcg')).toBe('The -accel and "-machine accel=" options are incompatible');
  });

  it("rejects unknown accelerators and properties in QEMU's words", () => {
    // QEMU 7.2: "-accel foo: invalid accelerator foo"
    expect(parseError('-accel', 'foo')).toBe('-accel foo: invalid accelerator foo');
    expect(parseError('-accel', 'xen')).toBe('-accel xen: accelerator xen is not supported yet');
    // QEMU 7.2: "-accel tcg,foo=1: Property 'tcg-accel.foo' not found"
    expect(parseError('-accel', 'tcg,foo=1')).toBe("-accel tcg,foo=1: Property 'tcg-accel.foo' not found");
    // QEMU 7.2: "-accel accel=tcg,thread=bogus: Invalid 'thread' setting bogus"
    expect(parseError('-accel', 'accel=tcg,thread=bogus')).toBe("-accel accel=tcg,thread=bogus: Invalid 'thread' setting bogus");
    // QEMU 7.2: "-accel tcg,tb-size=x: Parameter 'tb-size' expects uint64"
    expect(parseError('-accel', 'tcg,tb-size=x')).toBe("-accel tcg,tb-size=x: Parameter 'tb-size' expects uint64");
  });
});

describe('flags and file options', () => {
  it('-no-reboot, -no-shutdown, -S, -bios, -L, -D', () => {
    const o = parse('-no-reboot', '-no-shutdown', '-S', '-bios', 'bios.bin', '-L', '/usr/share/qemu', '-D', 'log.txt');
    expect(o.noReboot).toBe(true);
    expect(o.noShutdown).toBe(true);
    expect(o.startStopped).toBe(true);
    expect(o.bios).toBe('bios.bin');
    expect(o.firmwareDirs).toEqual(['/usr/share/qemu']);
    expect(o.logFile).toBe('log.txt');
  });
});

describe('-device', () => {
  it('parses isa-debug-exit with its QEMU properties as numbers', () => {
    expect(parse('-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04').devices).toEqual([
      { driver: 'isa-debug-exit', props: { iobase: 0xf4, iosize: 4 } },
    ]);
  });

  it('reads 010 as octal, as QEMU does (info qtree shows iobase = 8)', () => {
    expect(parse('-device', 'isa-debug-exit,iobase=010').devices[0]!.props).toEqual({ iobase: 8 });
  });

  it('keeps id and bus apart, repeats, and accepts the JSON form', () => {
    const o = parse('-device', 'isa-debug-exit,id=dbg,bus=isa.0', '-device', '{"driver":"isa-debug-exit","iobase":244}');
    expect(o.devices).toEqual([
      { driver: 'isa-debug-exit', id: 'dbg', bus: 'isa.0', props: {} },
      { driver: 'isa-debug-exit', props: { iobase: 244 } },
    ]);
  });

  it("rejects bad values and properties in QEMU's words", () => {
    // QEMU 7.2: each of these messages, verbatim.
    expect(parseError('-device', 'isa-debug-exit,iobase=zz')).toBe("-device isa-debug-exit,iobase=zz: Parameter 'iobase' expects integer");
    expect(parseError('-device', 'isa-debug-exit,iobase=-1')).toBe("-device isa-debug-exit,iobase=-1: Parameter 'iobase' expects uint32_t");
    expect(parseError('-device', 'isa-debug-exit,iobase=0x1ffffffff'))
      .toBe("-device isa-debug-exit,iobase=0x1ffffffff: Parameter 'iobase' expects uint32_t");
    expect(parseError('-device', 'isa-debug-exit,bogus=1')).toBe("-device isa-debug-exit,bogus=1: Property 'isa-debug-exit.bogus' not found");
    expect(parseError('-device', 'foo')).toBe("-device foo: 'foo' is not a valid device model name");
  });

  it('says "not supported yet" for a real QEMU model pcvm lacks', () => {
    expect(parseError('-device', 'e1000')).toBe("-device e1000: device 'e1000' is not supported yet");
  });

  it('asks for help lists', () => {
    expect(parse('-device', 'help').helpRequest).toEqual({ topic: 'device' });
    expect(parse('-device', 'isa-debug-exit,help').helpRequest).toEqual({ topic: 'device', driver: 'isa-debug-exit' });
    expect(topicHelpText({ topic: 'device', driver: 'isa-debug-exit' })).toContain('iobase=<uint32>');
  });
});

describe('-d', () => {
  it("keeps QEMU's log items and trace patterns", () => {
    expect(parse('-d', 'unimp,guest_errors,int,cpu_reset,in_asm,exec,cpu,pcall').debugItems)
      .toEqual(['unimp', 'guest_errors', 'int', 'cpu_reset', 'in_asm', 'exec', 'cpu', 'pcall']);
    expect(parse('-d', 'trace:pic_*').debugItems).toEqual(['trace:pic_*']);
  });

  it('keeps only the last -d, as QEMU does', () => {
    // QEMU 7.2: `-d cpu_reset -d int -S` logs no CPU reset.
    expect(parse('-d', 'cpu_reset', '-d', 'int').debugItems).toEqual(['int']);
  });

  it('rejects an unknown item and lists on help', () => {
    expect(parseError('-d', 'in_asm,foo')).toBe("-d in_asm,foo: unknown log item 'foo' (use -d help for a list)");
    expect(parse('-d', 'help').helpRequest).toEqual({ topic: 'd' });
    expect(topicHelpText({ topic: 'd' })).toContain('guest_errors');
  });
});

describe('-name, -icount, -smp, -machine, -cpu', () => {
  it('-name NAME and guest=NAME,process=P', () => {
    expect(parse('-name', 'vm1').name).toBe('vm1');
    const o = parse('-name', 'guest=vm2,process=pcvm-vm2,debug-threads=on');
    expect([o.name, o.processName]).toEqual(['vm2', 'pcvm-vm2']);
    // QEMU 7.2: "-name foo,bogus=1: Invalid parameter 'bogus'"
    expect(parseError('-name', 'foo,bogus=1')).toBe("-name foo,bogus=1: Invalid parameter 'bogus'");
  });

  it('-icount shift=N, N, and sleep=off', () => {
    expect(parse('-icount', 'shift=7').icount).toEqual({ shift: 7, sleep: true, align: false });
    expect(parse('-icount', '7').icount).toEqual({ shift: 7, sleep: true, align: false });
    expect(parse('-icount', '0,sleep=off').icount).toEqual({ shift: 0, sleep: false, align: false });
    expect(parse('-icount', 'sleep=off').icount).toBeUndefined();
  });

  it("-icount errors in QEMU's words", () => {
    // QEMU 7.2: each message verbatim.
    expect(parseError('-icount', '11')).toBe('-icount 11: icount: Invalid shift value');
    expect(parseError('-icount', 'shift=zz')).toBe('-icount shift=zz: icount: Invalid shift value');
    expect(parseError('-icount', '7,sleep=maybe')).toBe("-icount 7,sleep=maybe: Parameter 'sleep' expects 'on' or 'off'");
    expect(parseError('-icount', 'align=on')).toBe('-icount align=on: Please specify shift option when using align');
    expect(parseError('-icount', '1,align=on,sleep=off')).toBe('-icount 1,align=on,sleep=off: align=on and sleep=off are incompatible');
    expect(parseError('-icount', '7,bogus=1')).toBe("-icount 7,bogus=1: Invalid parameter 'bogus'");
    expect(parseError('-icount', 'auto')).toBe('-icount auto: shift=auto is not supported yet');
  });

  it('-smp accepts one CPU only', () => {
    expect(parse('-smp', '1').smp).toBe(1);
    expect(parse('-smp', 'cpus=1,sockets=1,cores=1,threads=1').smp).toBe(1);
    expect(parseError('-smp', '4')).toBe('-smp 4: only 1 CPU is supported yet');
    expect(parseError('-smp', 'sockets=2')).toBe('-smp sockets=2: only 1 CPU is supported yet');
    expect(parseError('-smp', '1,maxcpus=2')).toBe('-smp 1,maxcpus=2: only 1 CPU is supported yet');
    // QEMU 7.2: "Parameter 'smp.cpus' expects integer", "Parameter 'smp.foo' is unexpected"
    expect(parseError('-smp', 'foo')).toBe("-smp foo: Parameter 'smp.cpus' expects integer");
    expect(parseError('-smp', '1,foo=2')).toBe("-smp 1,foo=2: Parameter 'smp.foo' is unexpected");
  });

  it('-machine / -M take pc and pc-i440fx-X.Y, merge repeats, and list on help', () => {
    expect(parse('-machine', 'pc').machine).toEqual({ type: 'pc', props: {} });
    expect(parse('-M', 'pc-i440fx-7.2').machine.type).toBe('pc-i440fx-7.2');
    expect(parse('-machine', 'type=pc,usb=off', '-machine', 'graphics=off').machine)
      .toEqual({ type: 'pc', props: { usb: 'off', graphics: 'off' } });
    expect(parse('-M', 'help').helpRequest).toEqual({ topic: 'machine' });
  });

  it("-machine errors", () => {
    expect(parseError('-machine', 'q35')).toBe("-machine q35: machine type 'q35' is not supported yet");
    // QEMU 7.2: "unsupported machine type" + "Use -machine help to list supported machines"
    expect(parseError('-machine', 'foo')).toBe('-machine foo: unsupported machine type (use -machine help to list supported machines)');
    // QEMU 7.2: "Property 'pc-i440fx-7.2-machine.foo' not found" (its pc resolves to a version)
    expect(parseError('-machine', 'pc,foo=1')).toBe("-machine pc,foo=1: Property 'pc-machine.foo' not found");
  });

  it('-cpu keeps the model string and lists on help', () => {
    expect(parse('-cpu', 'qemu64,+ssse3').cpu).toBe('qemu64,+ssse3');
    expect(parse('-cpu', 'help').helpRequest).toEqual({ topic: 'cpu' });
    // QEMU 7.2 prints "-cpu option cannot be empty" without a location; pcvm adds it.
    expect(parseError('-cpu', '')).toBe('-cpu : -cpu option cannot be empty');
  });
});

describe('-rtc, -boot, -fw_cfg', () => {
  it('-rtc base and clock', () => {
    expect(parse('-rtc', 'base=localtime,clock=vm').rtc).toEqual({ base: 'localtime', clock: 'vm', driftfix: 'none' });
    expect(parse('-rtc', 'base=2006-06-17T16:01:21,driftfix=slew').rtc)
      .toEqual({ base: 'date', date: '2006-06-17T16:01:21', clock: 'host', driftfix: 'slew' });
    // QEMU 7.2: "invalid datetime format" / "valid formats: ..." (two lines, joined here)
    expect(parseError('-rtc', 'base=xx')).toBe("-rtc base=xx: invalid datetime format; valid formats: '2006-06-17T16:01:21' or '2006-06-17'");
    // QEMU 7.2: "invalid option value 'xx'", "-rtc base=utc,bogus=1: Invalid parameter 'bogus'"
    expect(parseError('-rtc', 'clock=xx')).toBe("-rtc clock=xx: invalid option value 'xx'");
    expect(parseError('-rtc', 'base=utc,bogus=1')).toBe("-rtc base=utc,bogus=1: Invalid parameter 'bogus'");
  });

  it('-boot order (implied), once, menu and errors', () => {
    expect(parse('-boot', 'd').boot).toEqual({ order: 'd' });
    expect(parse('-boot', 'order=dc,once=n,menu=on,splash-time=500').boot)
      .toEqual({ order: 'dc', once: 'n', menu: true, splashTimeMs: 500 });
    // QEMU 7.2: each message verbatim (QEMU prints them without the location).
    expect(parseError('-boot', 'order=x')).toBe("-boot order=x: Invalid boot device 'x'");
    expect(parseError('-boot', 'order=cc')).toBe("-boot order=cc: Boot device 'c' was given twice");
    expect(parseError('-boot', 'foo=1')).toBe("-boot foo=1: Parameter 'boot.foo' is unexpected");
    expect(parseError('-boot', 'menu=maybe')).toBe("-boot menu=maybe: Parameter 'boot.menu' expects 'on' or 'off'");
    expect(parseError('-boot', 'splash-time=x')).toBe("-boot splash-time=x: Parameter 'boot.splash-time' expects integer");
  });

  it('-fw_cfg string= and file=, with the implied name and ",," escaping', () => {
    const o = parse('-fw_cfg', 'name=opt/a,string=x,,y', '-fw_cfg', 'opt/b,file=/tmp/f');
    expect(o.fwCfg).toEqual([{ name: 'opt/a', string: 'x,y' }, { name: 'opt/b', file: '/tmp/f' }]);
    expect(o.warnings).toEqual([]);
  });

  it("-fw_cfg errors and warning in QEMU's words", () => {
    const needed = 'name, plus exactly one of file, string and gen_id, are needed';
    // QEMU 7.2: each message verbatim.
    expect(parseError('-fw_cfg', 'foo')).toBe(`-fw_cfg foo: ${needed}`);
    expect(parseError('-fw_cfg', 'name=opt/x,string=a,file=b')).toBe(`-fw_cfg name=opt/x,string=a,file=b: ${needed}`);
    const long = `opt/${'a'.repeat(60)}`;
    expect(parseError('-fw_cfg', `name=${long},string=x`)).toBe(`-fw_cfg name=${long},string=x: name too long (max. 55 char)`);
    expect(parse('-fw_cfg', 'name=x,string=a').warnings)
      .toEqual(['-fw_cfg name=x,string=a: externally provided fw_cfg item names should be prefixed with "opt/"']);
  });
});

describe('options that later work implements', () => {
  /** A valid use of every later option, keyed by the name `supported` must contain. */
  const SAMPLES: Readonly<Record<string, readonly string[]>> = {
    hda: ['-hda', 'a.img'], hdb: ['-hdb', 'b.img'],
    hdc: ['-hdc', 'c.img'], hdd: ['-hdd', 'd.img'], cdrom: ['-cdrom', 'cd.iso'],
    mon: ['-mon', 'c0'], chardev: ['-chardev', 'null,id=c0'],
    parallel: ['-parallel', 'none'], loadvm: ['-loadvm', 'tag'],
    incoming: ['-incoming', 'defer'],
    vnc: ['-vnc', ':0'], usb: ['-usb'], vga: ['-vga', 'std'], k: ['-k', 'en-us'],
    object: ['-object', 'iothread,id=io0'], global: ['-global', 'a.b=c'], trace: ['-trace', 'x'],
    pidfile: ['-pidfile', 'p'], daemonize: ['-daemonize'], watchdog: ['-watchdog', 'ib700'],
    nodefaults: ['-nodefaults'],
  };

  it('are each rejected by default with "not supported yet" and accepted when supported', () => {
    expect(new Set(Object.keys(SAMPLES))).toEqual(LATER_OPTIONS);
    for (const [name, argv] of Object.entries(SAMPLES)) {
      expect(parseError(...argv)).toBe(`${argv[0]}: not supported yet`);
      expect(() => parseWith([name], ...argv)).not.toThrow();
    }
    expect(parseError('--hda', 'a.img')).toBe('--hda: not supported yet');
  });

  it('still require their argument first, as QEMU checks it before anything else', () => {
    expect(parseError('-hda')).toBe('-hda: requires an argument');
  });

  it('are parsed when the caller supports them', () => {
    const o = parseWith(['drive'], '-drive', 'file=a.img,format=raw');
    expect(o.drives).toHaveLength(1);
  });

  it('a bare argument is -hda, and needs hda support', () => {
    expect(parseError('disk.img')).toBe('disk.img: disk images (-hda) are not supported yet');
    expect(parseWith(['hda'], 'disk.img').drives).toEqual([{
      interface: 'ide', bus: 0, unit: 0, index: 0, media: 'disk', readOnly: false, snapshot: false,
      cache: 'writeback', extra: {}, file: 'disk.img',
    }]);
  });

  it('two disk images collide at index 0, in QEMU words', () => {
    // QEMU 7.2: "b.img: drive with bus=0, unit=0 (index=0) exists"
    expect(parseErrorWith(['hda'], 'a.img', 'b.img')).toBe('b.img: drive with bus=0, unit=0 (index=0) exists');
    // QEMU 7.2: "-cdrom b.img: drive with bus=1, unit=0 (index=2) exists"
    expect(parseErrorWith(['hdc', 'cdrom'], '-hdc', 'a.img', '-cdrom', 'b.img')).toBe('-cdrom b.img: drive with bus=1, unit=0 (index=2) exists');
  });

  it('-hda..-hdd and -cdrom take the file name literally and map to IDE indexes', () => {
    const o = parseWith(['hda', 'hdb', 'hdd', 'cdrom'], '-hda', 'a,b.img', '-hdb', 'b.img', '-cdrom', 'cd.iso', '-hdd', 'd.img');
    expect(o.drives.map((d) => [d.file, d.bus, d.unit, d.media, d.readOnly])).toEqual([
      ['a,b.img', 0, 0, 'disk', false], ['b.img', 0, 1, 'disk', false], ['cd.iso', 1, 0, 'cdrom', true], ['d.img', 1, 1, 'disk', false],
    ]);
  });

  it('-drive with ",," in the file name, free-unit assignment and keys', () => {
    const o = parseWith(['drive'],
      '-drive', 'file=my,,disk.img,format=raw,if=ide,cache=none,readonly=on,id=d0,serial=abc',
      '-drive', 'file=second.img,format=qcow2');
    expect(o.drives[0]).toEqual({
      interface: 'ide', bus: 0, unit: 0, index: 0, media: 'disk', readOnly: true, snapshot: false,
      cache: 'none', extra: { serial: 'abc' }, file: 'my,disk.img', format: 'raw', id: 'd0',
    });
    expect([o.drives[1]!.bus, o.drives[1]!.unit]).toEqual([0, 1]);
  });

  it("-drive errors in QEMU's words", () => {
    const d = (arg: string): string => parseErrorWith(['drive'], '-drive', arg);
    // QEMU 7.2: each message verbatim.
    expect(d('file=a.img,if=bogus')).toBe("-drive file=a.img,if=bogus: unsupported bus type 'bogus'");
    expect(d('file=a.img,cache=bogus')).toBe('-drive file=a.img,cache=bogus: invalid cache option');
    expect(d('file=a.img,media=bogus')).toBe("-drive file=a.img,media=bogus: 'bogus' invalid media");
    expect(d('file=a.img,format=bogus')).toBe("-drive file=a.img,format=bogus: Unknown driver 'bogus'");
    expect(d('file=a.img,readonly=maybe')).toBe("-drive file=a.img,readonly=maybe: Parameter 'read-only' expects 'on' or 'off'");
    expect(d('file=a.img,index=x')).toBe("-drive file=a.img,index=x: Parameter 'index' expects a number");
    expect(d('file=a.img,foo=1')).toBe("-drive file=a.img,foo=1: Block format 'raw' does not support the option 'foo'");
  });

  it('-s is -gdb tcp::1234 as a listening, non-waiting server', () => {
    const gdb = parseWith(['gdb'], '-s').gdb;
    expect(gdb).toEqual({
      mux: false, backend: 'socket', address: { type: 'inet', host: '', port: 1234 }, server: true, wait: false,
      nodelay: true, telnet: false, websocket: false, reconnectSec: 0,
    });
    expect(parseWith(['gdb'], '-gdb', 'tcp::1234').gdb).toEqual(gdb);
    // QEMU 7.2: "-gdb bogus: 'bogus' is not a valid char driver"
    expect(parseErrorWith(['gdb'], '-gdb', 'bogus')).toBe("-gdb bogus: 'bogus' is not a valid char driver");
  });

  it('-netdev user with repeated hostfwd, and socket', () => {
    const o = parseWith(['netdev'],
      '-netdev', 'user,id=n0,hostfwd=tcp::5555-:22,hostfwd=udp:127.0.0.1:6666-10.0.2.15:66,net=10.0.2.0/24',
      '-netdev', 'socket,id=s0,listen=:1234');
    expect(o.netdevs).toEqual([
      {
        type: 'user', id: 'n0', guestfwd: [], props: { net: '10.0.2.0/24' },
        hostfwd: [
          { protocol: 'tcp', hostAddr: '', hostPort: 5555, guestAddr: '', guestPort: 22 },
          { protocol: 'udp', hostAddr: '127.0.0.1', hostPort: 6666, guestAddr: '10.0.2.15', guestPort: 66 },
        ],
      },
      { type: 'socket', id: 's0', mode: 'listen', host: '', port: 1234 },
    ]);
  });

  it("-netdev errors in QEMU's words", () => {
    const n = (arg: string): string => parseErrorWith(['netdev'], '-netdev', arg);
    // QEMU 7.2: each message verbatim.
    expect(n('user')).toBe("-netdev user: Parameter 'id' is missing");
    expect(n('user,id=n0,hostfwd=bad')).toBe("-netdev user,id=n0,hostfwd=bad: Invalid host forwarding rule 'bad' (No : separators)");
    expect(n('bogus,id=x')).toBe("-netdev bogus,id=x: Parameter 'type' does not accept value 'bogus'");
    expect(n('socket,id=s')).toBe('-netdev socket,id=s: exactly one of listen=, connect=, mcast= or udp= is required');
    expect(n('tap,id=t0')).toBe("-netdev tap,id=t0: netdev type 'tap' is not supported yet");
    expect(errorOf(() => parseHostForward('tcp::x-:22'))).toBe("Invalid host forwarding rule 'tcp::x-:22' (Bad host port)");
  });

  it('-nic and -net keep their type and options', () => {
    const o = parseWith(['nic', 'net'], '-nic', 'user,model=e1000,hostfwd=tcp::2222-:22', '-net', 'nic', '-net', 'none');
    expect(o.nics[0]!.type).toBe('user');
    expect(o.nics[0]!.options.get('model')).toBe('e1000');
    expect(o.net.map((n) => n.type)).toEqual(['nic', 'none']);
    // QEMU 7.2: "-nic bogus: Parameter 'type' does not accept value 'bogus'"
    expect(parseErrorWith(['nic'], '-nic', 'bogus')).toBe("-nic bogus: Parameter 'type' does not accept value 'bogus'");
  });

  it('-monitor, -qmp, -mon and -chardev', () => {
    const o = parseWith(['monitor', 'qmp', 'mon', 'chardev'],
      '-chardev', 'socket,id=c0,host=localhost,port=4444,server=on,wait=off',
      '-monitor', 'telnet::4445,server,nowait', '-qmp', 'unix:/tmp/qmp.sock,server=on,wait=off',
      '-mon', 'chardev=c0,mode=control,pretty=on');
    expect(o.chardevs[0]).toMatchObject({ id: 'c0', backend: 'socket', server: true, wait: false, address: { type: 'inet', host: 'localhost', port: 4444 } });
    expect(o.monitor).toEqual([expect.objectContaining({ backend: 'socket', telnet: true, server: true, wait: false })]);
    expect(o.qmp).toEqual([expect.objectContaining({ backend: 'socket', address: { type: 'unix', path: '/tmp/qmp.sock', abstract: false } })]);
    expect(o.mon).toEqual([{ chardev: 'c0', mode: 'control', pretty: true }]);
    expect(o.serial).toEqual([{ mux: false, backend: 'vc', cols: 80, rows: 24 }]);
    expect(parseWith(['monitor'], '-monitor', 'none').monitor).toEqual([]);
  });

  it("-chardev and -mon errors in QEMU's words", () => {
    // QEMU 7.2: each message verbatim.
    expect(parseErrorWith(['chardev'], '-chardev', 'null')).toBe('-chardev null: chardev: no id specified');
    expect(parseErrorWith(['chardev'], '-chardev', 'bogus,id=x')).toBe("-chardev bogus,id=x: 'bogus' is not a valid char driver name");
    expect(parseErrorWith(['mon'], '-mon', 'chardev=foo,mode=x')).toBe("-mon chardev=foo,mode=x: Parameter 'mode' does not accept value 'x'");
  });

  it('-loadvm, -snapshot, -incoming', () => {
    const o = parseWith(['loadvm', 'snapshot', 'incoming'], '-loadvm', 'boot1', '-snapshot', '-incoming', 'tcp:0:4444');
    expect([o.loadvm, o.snapshot, o.incoming]).toEqual(['boot1', true, { kind: 'tcp', host: '0', port: 4444 }]);
    expect(parseWith(['incoming'], '-incoming', 'defer').incoming).toEqual({ kind: 'defer' });
    expect(parseWith(['incoming'], '-incoming', 'unix:/tmp/m').incoming).toEqual({ kind: 'unix', path: '/tmp/m' });
    // QEMU 7.2: "-incoming bogus: unknown migration protocol: bogus"
    expect(parseErrorWith(['incoming'], '-incoming', 'bogus')).toBe('-incoming bogus: unknown migration protocol: bogus');
  });

  it('-websocket [HOST:]PORT[,token=SECRET]', () => {
    expect(parseWith(['websocket'], '-websocket', '8080').websocket).toEqual({ port: 8080 });
    expect(parseWith(['websocket'], '-websocket', '0.0.0.0:8080,token=s3cret').websocket)
      .toEqual({ host: '0.0.0.0', port: 8080, token: 's3cret' });
    expect(parseWith(['websocket'], '-websocket', '[::1]:9000').websocket).toEqual({ host: '::1', port: 9000 });
    expect(parseErrorWith(['websocket'], '-websocket', 'abc')).toBe("-websocket abc: invalid address 'abc' (expected [HOST:]PORT)");
    expect(parseErrorWith(['websocket'], '-websocket', '70000')).toBe("-websocket 70000: invalid address '70000' (expected [HOST:]PORT)");
  });

  it('-vnc, -usb, -vga, -k', () => {
    const o = parseWith(['vnc', 'usb', 'vga', 'k'], '-vnc', ':1,password=on', '-usb', '-vga', 'std', '-k', 'fr');
    expect(o.vnc?.display).toBe(':1');
    expect([o.usb, o.vga, o.keyboardLayout]).toEqual([true, 'std', 'fr']);
    // QEMU 7.2: "unknown vga type: foo", "-vnc bogus: no vnc port specified"
    expect(parseErrorWith(['vga'], '-vga', 'foo')).toBe('-vga foo: unknown vga type: foo');
    expect(parseErrorWith(['vnc'], '-vnc', 'bogus')).toBe('-vnc bogus: no vnc port specified');
  });

  it('-object, -global, -trace', () => {
    const o = parseWith(['object', 'global', 'trace'],
      '-object', 'rng-random,id=rng0,filename=/dev/urandom',
      '-global', 'isa-debugcon.iobase=0x402', '-global', 'driver=isa-fdc,property=driveA,value=fd0',
      '-trace', 'pic_*,file=trace.log');
    expect(o.objects).toEqual([{ qomType: 'rng-random', id: 'rng0', props: { filename: '/dev/urandom' } }]);
    expect(o.globals).toEqual([
      { driver: 'isa-debugcon', property: 'iobase', value: '0x402' },
      { driver: 'isa-fdc', property: 'driveA', value: 'fd0' },
    ]);
    expect(o.trace).toEqual([{ enable: 'pic_*', file: 'trace.log' }]);
    // QEMU 7.2: each message verbatim.
    expect(parseErrorWith(['object'], '-object', 'memory-backend-ram,size=1M')).toBe("-object memory-backend-ram,size=1M: Parameter 'id' is missing");
    expect(parseErrorWith(['object'], '-object', 'foo')).toBe("-object foo: Parameter 'qom-type' does not accept value 'foo'");
    expect(parseErrorWith(['trace'], '-trace', 'foo=1')).toBe("-trace foo=1: Invalid parameter 'foo'");
  });

  it('-pidfile, -daemonize, -watchdog, -nodefaults', () => {
    const o = parseWith(['pidfile', 'daemonize', 'watchdog', 'nodefaults'],
      '-pidfile', '/run/vm.pid', '-daemonize', '-watchdog', 'i6300esb', '-nodefaults');
    expect([o.pidfile, o.daemonize, o.watchdog, o.noDefaults]).toEqual(['/run/vm.pid', true, 'i6300esb', true]);
    expect([o.serial, o.parallel, o.monitor]).toEqual([[], [], []]);
  });
});

describe('help and version text', () => {
  it('has QEMU-style usage and marks options that are not supported yet', () => {
    const text = helpText();
    expect(text.startsWith('usage: pcvm [options] [disk_image]\n')).toBe(true);
    expect(text).toMatch(/^Standard options:$/m);
    expect(text).toMatch(/^-kernel bzImage +use 'bzImage' as kernel image$/m);
    expect(text).not.toMatch(/^-m \[size=\]megs\n.*\n.*\n +\(not supported yet\)/m);
    expect(helpText(new Set([...SUPPORTED_NOW_OPTIONS].filter((o) => o !== 'kernel')))).toMatch(/^-kernel bzImage +use 'bzImage' as kernel image\n +\(not supported yet\)$/m);
  });

  it('version text names pcvm and the version', () => {
    expect(versionText('0.1.0')).toContain('pcvm emulator version 0.1.0');
  });
});
