/**
 * Turns parsed command-line options into a MachineConfig and the host-side back ends, and
 * rejects (with QEMU-style one-line errors) what the machine does not implement yet.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { defaultMachineConfig, type KernelBootConfig, type MachineConfig } from '../machine/config.js';
import { LineLogger, type Logger } from '../machine/log.js';
import type { BufferedCharBackend, CharBackend } from '../chardev/chardev.js';
import { NullCharBackend } from '../chardev/chardev.js';
import { ChardevList } from '../chardev/chardev-list.js';
import { FileCharBackend, StreamCharBackend } from '../chardev/stream.js';
import { SocketCharBackend, type SocketPeerHandlers } from '../chardev/socket.js';
import { TeeCharBackend } from '../chardev/tee.js';
import { VirtualConsoleCharBackend } from '../chardev/virtual-console.js';
import type { ChardevSpec, CliOptions } from './options.js';
import type { RtcSpec } from './option-specs.js';
import { parseBool } from './keyval.js';
import { isMultibootKernel } from '../machine/boot/direct-boot.js';
import { parseMultibootModules } from '../machine/boot/multiboot.js';
import { findCpuModel } from '../cpu/x86/cpu-model.js';
import { virtioFromOptions, type VirtioSetup } from './virtio-from-options.js';

/** A serial port routed to this process's stdio (the mux serves it). */
export interface StdioRoute {
  backend: BufferedCharBackend;
  /** The monitor shares stdio (`-nographic`, `mon:stdio`). */
  withMonitor: boolean;
}

export interface HostSetup {
  config: MachineConfig;
  serial: (CharBackend | undefined)[];
  log: Logger;
  stdio: StdioRoute | undefined;
  /** Serial ports on sockets: the CLI opens them (asynchronously) before the guest starts. */
  /** `label`: the port's name in `info chardev` (serialN). */
  serialSockets: { spec: Extract<ChardevSpec, { backend: 'socket' }>; handlers: SocketPeerHandlers; label: string }[];
  /** The serial ports' character devices not on sockets (openMonitors adds the rest). */
  chardevs: ChardevList;
  /** COM1 copied to the WebSocket server's /serial clients (with `-websocket`). */
  consoleTee: TeeCharBackend | undefined;
  /** Drives, netdevs and the virtio functions using them (pass drives/netdevs to the Machine). */
  virtio: VirtioSetup;
  /** COM1 on the terminal UI's console pane (`-display tui` with COM1 on `vc`, the default). */
  virtualConsole: VirtualConsoleCharBackend | undefined;
  /** Releases files opened for the back ends. */
  close(): void;
}

export function machineFromOptions(opts: CliOptions, stdout: NodeJS.WritableStream): HostSetup {
  const fds: number[] = [];
  const open = (path: string, flags: string, what: string) => {
    try {
      const fd = openSync(path, flags);
      fds.push(fd);
      return fd;
    } catch (e) {
      throw new ConfigError(`${what}: could not open '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };

  const accel = opts.accel[0];
  if (accel && accel.name === 'kvm') {
    throw new ConfigError(`-accel ${accel.given}: not supported yet (-accel tcg, the JIT, and -accel interp are available)`);
  }
  const engine: MachineConfig['accel'] = accel?.name === 'interp' ? 'interp' : 'jit';

  let bios: Uint8Array | undefined;
  if (opts.bios !== undefined) {
    try {
      bios = new Uint8Array(readFileSync(opts.bios));
    } catch {
      throw new ConfigError(`could not load PC BIOS '${opts.bios}'`);
    }
    if (bios.length === 0 || bios.length % 4096 !== 0 || bios.length > 16 * 1024 * 1024) {
      throw new ConfigError(`-bios ${opts.bios}: size ${bios.length} is not a multiple of 4 KiB up to 16 MiB`);
    }
  }

  const debugExits = opts.devices.filter((d) => d.driver === 'isa-debug-exit').map((d) => {
    const iobase = typeof d.props['iobase'] === 'number' ? d.props['iobase'] : 0x501;
    const iosize = typeof d.props['iosize'] === 'number' ? d.props['iosize'] : 2;
    if (iobase < 0 || iosize < 1 || iobase + iosize > 0x10000) {
      throw new ConfigError(`-device isa-debug-exit: iobase=0x${iobase.toString(16)},iosize=${iosize} is outside the I/O space`);
    }
    return { iobase, iosize };
  });

  const incoming = opts.incoming?.kind;
  if (incoming !== undefined && incoming !== 'file' && incoming !== 'exec' && incoming !== 'defer') {
    throw new ConfigError(`-incoming ${incoming}: not supported yet (file:, exec: and defer are)`);
  }

  if (opts.machine.type !== 'pc' && !opts.machine.type.startsWith('pc-i440fx')) {
    throw new ConfigError(`-machine ${opts.machine.type}: not supported yet`);
  }
  let cpuModel: string | undefined;
  if (opts.cpu !== undefined) {
    const found = findCpuModel(opts.cpu);
    if ('error' in found) throw new ConfigError(found.error);
    // The config names the model with its feature flag, so that `+vmx` reaches the CPU (and
    // a snapshot records it): machine.ts resolves the string again with cpuModelOf.
    cpuModel = found.model.vmx ? `${found.model.name},+vmx` : found.model.name;
  }

  const fwCfgFiles = opts.fwCfg.map((f) => ({
    name: f.name,
    data: 'string' in f ? new TextEncoder().encode(f.string) : readFwCfgFile(f.file),
  }));

  // Serial back ends, COM1..COM4.
  let stdio: StdioRoute | undefined;
  let virtualConsole: VirtualConsoleCharBackend | undefined;
  const serial: (CharBackend | undefined)[] = [];
  const serialSockets: HostSetup['serialSockets'] = [];
  const chardevs = new ChardevList();
  opts.serial.forEach((spec, i) => {
    const backend = serialBackend(spec, i);
    serial.push(backend);
    // QEMU's labels: serialN by -serial slot; a socket's filename is its endpoint's (openMonitors).
    if (backend && spec.backend !== 'socket') chardevs.addMaybeMuxed(`serial${i}`, spec.mux, spec.backend);
  });
  function serialBackend(spec: ChardevSpec, index: number): CharBackend | undefined {
    const what = `-serial (COM${index + 1})`;
    switch (spec.backend) {
      case 'none':
        return undefined;
      case 'null':
        return new NullCharBackend();
      case 'vc':
        // The TUI shows COM1 in its console pane. XXX: QEMU gives every vc its own console;
        // COM2-4 on vc, and any vc under -display none, go nowhere.
        if (opts.display.type !== 'tui' || index !== 0) return new NullCharBackend();
        virtualConsole = new VirtualConsoleCharBackend();
        return virtualConsole;
      case 'stdio': {
        if (stdio) throw new ConfigError('cannot use stdio by multiple character devices');
        const backend = new StreamCharBackend(stdout as unknown as import('node:stream').Writable);
        stdio = { backend, withMonitor: spec.mux };
        return backend;
      }
      case 'file': {
        const fd = open(spec.path, spec.append ? 'a' : 'w', what);
        return new FileCharBackend(fd, (f, data) => writeSync(f, data));
      }
      case 'socket': {
        if (spec.telnet || spec.websocket) throw new ConfigError(`${what}: telnet and websocket socket modes are not supported yet`);
        const backend = new SocketCharBackend();
        serialSockets.push({ spec, handlers: backend.handlers, label: `serial${index}` });
        return backend;
      }
      default:
        throw new ConfigError(`${what}: character device '${spec.backend}' is not supported yet`);
    }
  }
  const serialPorts = Math.max(1, serial.length);
  // -websocket serves COM1 as well as its own back end (the machine always has a COM1).
  const consoleTee = opts.websocket ? new TeeCharBackend(serial[0] ?? new NullCharBackend()) : undefined;
  if (consoleTee) serial[0] = consoleTee;

  // -d / -D
  let sink: (line: string) => void = (line) => process.stderr.write(line + '\n');
  if (opts.logFile !== undefined) {
    const fd = open(opts.logFile, 'a', '-D');
    sink = (line) => writeSync(fd, line + '\n');
  }
  const log = new LineLogger(opts.debugItems, sink);

  // Drives, netdevs, NICs: opened last, so that an error above leaves no file open.
  const virtio = virtioFromOptions(opts, {
    warn: (msg) => process.stderr.write(`pcvm: warning: ${msg}\n`),
    netLog: (line) => process.stderr.write(`pcvm: ${line}\n`),
  });

  const config: MachineConfig = defaultMachineConfig({
    memoryBytes: opts.memoryBytes,
    accel: engine,
    bios,
    clock: opts.icount ? { kind: 'icount', shift: opts.icount.shift } : { kind: 'realtime' },
    noReboot: opts.noReboot,
    noShutdown: opts.noShutdown,
    startStopped: opts.startStopped,
    debugExits,
    serialPorts,
    fwCfgFiles,
    name: opts.name,
    rtcBaseMs: rtcBaseMs(opts.rtc, Date.now()),
    kernel: kernelBootFromOptions(opts),
    cpuModel,
    virtioDevices: virtio.devices,
    hpet: opts.machine.props['hpet'] === undefined ? true : parseBool('hpet', opts.machine.props['hpet']),
    smbios: opts.smbios,
  });
  return {
    config,
    serial,
    log,
    stdio,
    serialSockets,
    chardevs,
    consoleTee,
    virtio,
    virtualConsole,
    close() {
      virtio.close();
      for (const fd of fds.splice(0)) {
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
      }
    },
  };
}

/**
 * `-rtc base=…`: the RTC's start time, read once from the host clock (`hostNowMs`) as QEMU
 * does. XXX: `clock=host|rt` and `driftfix=` are accepted but the RTC always runs on the
 * machine's virtual clock (QEMU's clock=vm), which follows host time while the VM runs.
 */
export function rtcBaseMs(rtc: RtcSpec, hostNowMs: number): number {
  switch (rtc.base) {
    case 'utc':
      return hostNowMs;
    case 'localtime':
      // The RTC shows local wall time: UTC shifted by the host's offset at that moment.
      return hostNowMs - new Date(hostNowMs).getTimezoneOffset() * 60_000;
    default: {
      const date = rtc.date ?? '';
      const ms = Date.parse(date.length === 10 ? `${date}T00:00:00Z` : `${date}Z`);
      if (!Number.isFinite(ms)) throw new ConfigError(`-rtc base=${date}: invalid date`);
      return ms;
    }
  }
}

function readFwCfgFile(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch {
    throw new ConfigError(`-fw_cfg: cannot read file '${path}'`);
  }
}

/** strerror(3)'s text for the errors a file read commonly meets (QEMU's messages use it). */
function strerror(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const text: Record<string, string> = {
    ENOENT: 'No such file or directory',
    EACCES: 'Permission denied',
    EISDIR: 'Is a directory',
    ENOTDIR: 'Not a directory',
    ELOOP: 'Too many levels of symbolic links',
    EMFILE: 'Too many open files',
  };
  return (code && text[code]) ?? code ?? (e as Error).message;
}

/**
 * -kernel, -initrd, -append with QEMU's checks and messages. A multiboot kernel takes
 * `-initrd "file arg,file2"` as a module list (",," for a comma); a Linux kernel one file.
 */
function kernelBootFromOptions(opts: CliOptions): KernelBootConfig | undefined {
  if (opts.kernel === undefined) {
    if (opts.append !== undefined && opts.append !== '') throw new ConfigError('-append only allowed with -kernel option');
    if (opts.initrd !== undefined) throw new ConfigError('-initrd only allowed with -kernel option');
    return undefined;
  }
  let data: Uint8Array;
  try {
    data = new Uint8Array(readFileSync(opts.kernel));
  } catch (e) {
    throw new ConfigError(`could not load kernel '${opts.kernel}': ${strerror(e)}`);
  }
  const initrd: KernelBootConfig['initrd'] = [];
  if (opts.initrd !== undefined && isMultibootKernel(data)) {
    for (const mod of parseMultibootModules(opts.initrd)) {
      try {
        initrd.push({ name: mod.string, data: new Uint8Array(readFileSync(mod.file)) });
      } catch {
        throw new ConfigError(`Failed to open file '${mod.file}'`);
      }
    }
  } else if (opts.initrd !== undefined) {
    try {
      initrd.push({ name: opts.initrd, data: new Uint8Array(readFileSync(opts.initrd)) });
    } catch (e) {
      throw new ConfigError(`error reading initrd ${opts.initrd}: ${strerror(e)}`);
    }
  }
  return { fileName: opts.kernel, data, cmdline: opts.append ?? '', initrd };
}
