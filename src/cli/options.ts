/**
 * The command line, in qemu-system-x86_64's syntax, parsed into typed options.
 *
 * Models QEMU's `qemu-options.hx` and the option loop of `softmmu/vl.c`: every option starts
 * with `-` or `--`, takes zero or one argument (always the next argv element, even if it
 * starts with `-`), and a bare argument is a disk image (`-hda FILE`). Sub-option lists follow
 * QemuOpts (`util/qemu-option.c`): `key=value,...`, `,,` is a literal comma, an option may name
 * its first key implicitly, a bare `key` means `key=on` and `nokey` means `key=off`.
 * Error messages are QEMU's, one line each, prefixed with the option as the user typed it
 * (`-m abc: Parameter 'size' expects ...`); the caller prints `pcvm: <message>`.
 *
 * Options that later work implements are parsed fully but rejected with
 * `-kernel: not supported yet` unless the caller's `supported` set names them.
 *
 * Not implemented: QEMU's `-readconfig`, `-blockdev`, `-numa`, `-audiodev` and other options
 * that pcvm has no use for (they are `invalid option`); keyval's dotted nesting (`a.b=c`) is
 * kept as a flat key. Divergences from QEMU are marked `// XXX:`.
 *
 * The pieces live in their own modules (keyval.ts, chardev-spec.ts, drive-spec.ts,
 * netdev-spec.ts, option-specs.ts); this module re-exports their public names.
 */

import { ConfigError } from '../errors.js';
import { CHARDEV_BACKENDS, chardevFromOptions, parseChardevCompat, type ChardevSpec } from './chardev-spec.js';
import { parseDrive } from './drive-spec.js';
import {
  KeyValueList, checkKeys, isHelpOption, keyValueListFromJson, optBool, optEnum, parseBool, parseCInteger,
  parseHostPort, parseKeyValueList, parsePropertyInt, parseSize, parseSizeBig,
} from './keyval.js';
import { NETDEV_TYPES, parseHostForward, parseNetdev } from './netdev-spec.js';
import type {
  AccelName, AccelSpec, BootSpec, CliOptions, DisplaySpec, HelpRequest, IncomingSpec, RtcSpec, TraceSpec, VgaType,
  WebsocketSpec,
} from './option-specs.js';
import { LOG_ITEMS } from '../machine/log.js';
import { applySmbiosOption, applyUuidOption } from './smbios-spec.js';

export { KeyValueList, parseBool, parseKeyValueList, parseNumber, parseSize, parseSizeBig, type KeyValue } from './keyval.js';
export { parseChardevCompat, type ChardevCommon, type ChardevSpec, type NamedChardevSpec, type SocketAddress } from './chardev-spec.js';
export type { DriveSpec } from './drive-spec.js';
export { parseHostForward, type HostForward, type NetdevSpec, type NicSpec } from './netdev-spec.js';
export type {
  AccelName, AccelSpec, BootSpec, CliOptions, DeviceSpec, DisplaySpec, FwCfgSpec, GlobalSpec, HelpRequest, IcountSpec,
  IncomingSpec, MachineSpec, MonSpec, ObjectSpec, RtcSpec, TraceSpec, VgaType, VncSpec, WebsocketSpec,
} from './option-specs.js';

// ---------------------------------------------------------------------------------------------
// Tables of names QEMU accepts

/** `-d` log items (the table lives with the logger; the monitor's `log` uses it too). */
export { LOG_ITEMS };

/** Machine types: `pc` and every `pc-i440fx-X.Y` version QEMU has had. */
const MACHINE_PC_VERSIONED = /^pc-i440fx-[0-9]+\.[0-9]+$/;
/** QEMU x86 machine types pcvm does not model (yet). */
const MACHINES_NOT_YET = ['q35', 'isapc', 'microvm', 'none', 'x-remote'];
const MACHINE_PROPS = [
  'type', 'accel', 'usb', 'graphics', 'dump-guest-core', 'mem-merge', 'vmport', 'smm', 'hpet',
  'pit', 'pic', 'acpi', 'smbus', 'sata', 'i8042', 'max-ram-below-4g', 'kernel-irqchip',
  'suppress-vmdesc', 'memory-backend', 'default-bus-bypass-iommu', 'pflash0', 'pflash1',
  'nvdimm', 'hmat', 'memory-encryption', 'firmware', 'kernel', 'initrd', 'append', 'dtb',
];

/** QEMU accelerators that pcvm cannot offer. */
const ACCELS_NOT_YET = ['xen', 'hax', 'hvf', 'nvmm', 'whpx', 'qtest'];

/** A `-device` property's C type in QEMU, which decides parsing and range. */
export type DevicePropType = 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'bool' | 'string';

/** What `-device DRIVER` accepts: QEMU's property names and types for that model. */
export interface DeviceModel {
  readonly description: string;
  readonly props: Readonly<Record<string, { readonly type: DevicePropType; readonly dflt: string }>>;
}

/** Device models pcvm implements, with QEMU's property names and defaults. */
export const DEVICE_MODELS: Readonly<Record<string, DeviceModel>> = {
  'isa-debug-exit': {
    description: 'ISA debug exit: a write of V to iobase exits with status (V << 1) | 1',
    props: { iobase: { type: 'uint32', dflt: '0x501' }, iosize: { type: 'uint32', dflt: '2' } },
  },
  'virtio-blk-pci': {
    description: 'Virtio block device (transitional; legacy I/O BAR0, MSI-X BAR1, modern BAR4)',
    props: { drive: { type: 'string', dflt: '' }, serial: { type: 'string', dflt: '' }, addr: { type: 'string', dflt: '-1' } },
  },
  'virtio-net-pci': {
    description: 'Virtio network device (transitional)',
    props: { netdev: { type: 'string', dflt: '' }, mac: { type: 'string', dflt: '52:54:00:12:34:56' }, addr: { type: 'string', dflt: '-1' } },
  },
};
/** Real QEMU device models pcvm may implement later: `not supported yet` instead of invalid. */
const DEVICE_MODELS_NOT_YET = [
  'isa-serial', 'isa-parallel', 'isa-debugcon', 'isa-ide', 'ide-hd', 'ide-cd', 'ne2k_isa',
  'ne2k_pci', 'e1000', 'rtl8139', 'pcnet', 'virtio-serial-pci',
  'virtconsole', 'virtio-rng-pci', 'VGA', 'cirrus-vga', 'isa-vga', 'bochs-display', 'sb16',
  'adlib', 'pcspk', 'i6300esb', 'ib700', 'usb-tablet', 'usb-kbd', 'usb-mouse', 'piix3-usb-uhci',
];

/** `-display` types QEMU has; pcvm offers `none` and `curses` (its terminal UI, alias `tui`). */
const DISPLAY_TYPES_NOT_YET = ['gtk', 'sdl', 'egl-headless', 'spice-app', 'dbus', 'cocoa', 'vnc'];
/** QAPI `DisplayOptions` base members, valid with every type. */
const DISPLAY_COMMON_KEYS = ['type', 'full-screen', 'window-close', 'show-cursor', 'gl'];

/** `-vga` types of qemu-system-x86_64 (see `VgaType`). */
const VGA_TYPES: readonly VgaType[] = ['std', 'cirrus', 'vmware', 'qxl', 'xenfb', 'tcx', 'cg3', 'virtio', 'none'];

/** Common `-object` types (QEMU checks `qom-type` before anything else). */
const OBJECT_TYPES = [
  'memory-backend-ram', 'memory-backend-file', 'memory-backend-memfd', 'rng-random', 'rng-builtin',
  'rng-egd', 'secret', 'secret_keyring', 'tls-creds-anon', 'tls-creds-psk', 'tls-creds-x509',
  'tls-cipher-suites', 'throttle-group', 'iothread', 'main-loop', 'thread-context', 'filter-buffer',
  'filter-dump', 'filter-mirror', 'filter-redirector', 'filter-rewriter', 'colo-compare',
  'input-linux', 'input-barrier', 'authz-simple', 'authz-list', 'authz-listfile', 'authz-pam',
  'cryptodev-backend-builtin', 'cryptodev-vhost-user', 'can-bus', 'can-host-socketcan',
  'dbus-vmstate', 'pr-manager-helper', 'sev-guest', 'memory-backend-epc', 'x-remote-object',
];

// ---------------------------------------------------------------------------------------------
// The option table

interface OptionDef {
  /** Takes the next argv element as its argument. */
  readonly arg: boolean;
  /** The name looked up in `supported` (aliases share one); undefined = always available. */
  readonly gate?: string;
}

const OPTION_TABLE: ReadonlyMap<string, OptionDef> = new Map<string, OptionDef>([
  // Always available.
  ['h', { arg: false }], ['help', { arg: false }], ['version', { arg: false }],
  // Supported now.
  ['m', { arg: true, gate: 'm' }], ['nographic', { arg: false, gate: 'nographic' }],
  ['display', { arg: true, gate: 'display' }], ['serial', { arg: true, gate: 'serial' }],
  ['accel', { arg: true, gate: 'accel' }], ['no-reboot', { arg: false, gate: 'no-reboot' }],
  ['no-shutdown', { arg: false, gate: 'no-shutdown' }], ['S', { arg: false, gate: 'S' }],
  ['bios', { arg: true, gate: 'bios' }], ['device', { arg: true, gate: 'device' }],
  ['d', { arg: true, gate: 'd' }], ['D', { arg: true, gate: 'D' }], ['name', { arg: true, gate: 'name' }],
  ['icount', { arg: true, gate: 'icount' }], ['smp', { arg: true, gate: 'smp' }],
  ['machine', { arg: true, gate: 'machine' }], ['M', { arg: true, gate: 'machine' }],
  ['cpu', { arg: true, gate: 'cpu' }], ['rtc', { arg: true, gate: 'rtc' }], ['boot', { arg: true, gate: 'boot' }],
  ['fw_cfg', { arg: true, gate: 'fw_cfg' }], ['L', { arg: true, gate: 'L' }],
  ['enable-kvm', { arg: false, gate: 'enable-kvm' }], ['no-hpet', { arg: false, gate: 'no-hpet' }],
  ['smbios', { arg: true, gate: 'smbios' }], ['uuid', { arg: true, gate: 'uuid' }],
  // Later work.
  ['kernel', { arg: true, gate: 'kernel' }], ['initrd', { arg: true, gate: 'initrd' }],
  ['append', { arg: true, gate: 'append' }], ['drive', { arg: true, gate: 'drive' }],
  ['hda', { arg: true, gate: 'hda' }], ['hdb', { arg: true, gate: 'hdb' }], ['hdc', { arg: true, gate: 'hdc' }],
  ['hdd', { arg: true, gate: 'hdd' }], ['cdrom', { arg: true, gate: 'cdrom' }],
  ['netdev', { arg: true, gate: 'netdev' }], ['nic', { arg: true, gate: 'nic' }], ['net', { arg: true, gate: 'net' }],
  ['monitor', { arg: true, gate: 'monitor' }], ['qmp', { arg: true, gate: 'qmp' }], ['mon', { arg: true, gate: 'mon' }],
  ['chardev', { arg: true, gate: 'chardev' }], ['parallel', { arg: true, gate: 'parallel' }],
  ['loadvm', { arg: true, gate: 'loadvm' }], ['snapshot', { arg: false, gate: 'snapshot' }],
  ['incoming', { arg: true, gate: 'incoming' }], ['gdb', { arg: true, gate: 'gdb' }], ['s', { arg: false, gate: 'gdb' }],
  ['websocket', { arg: true, gate: 'websocket' }], ['vnc', { arg: true, gate: 'vnc' }],
  ['usb', { arg: false, gate: 'usb' }], ['vga', { arg: true, gate: 'vga' }], ['k', { arg: true, gate: 'k' }],
  ['object', { arg: true, gate: 'object' }], ['global', { arg: true, gate: 'global' }],
  ['trace', { arg: true, gate: 'trace' }], ['pidfile', { arg: true, gate: 'pidfile' }],
  ['daemonize', { arg: false, gate: 'daemonize' }], ['watchdog', { arg: true, gate: 'watchdog' }],
  ['nodefaults', { arg: false, gate: 'nodefaults' }],
]);

/** Option names (without dash) that pcvm implements now: the default `supported` set. */
export const SUPPORTED_NOW_OPTIONS: ReadonlySet<string> = new Set([
  'm', 'nographic', 'display', 'serial', 'accel', 'no-reboot', 'no-shutdown', 'S', 'bios',
  'device', 'd', 'D', 'name', 'icount', 'smp', 'machine', 'cpu', 'rtc', 'boot', 'fw_cfg', 'L',
  'enable-kvm', 'monitor', 'qmp', 'kernel', 'initrd', 'append', 'websocket', 'gdb', 'drive', 'snapshot',
  'netdev', 'nic', 'net', 'loadvm', 'incoming', 'no-hpet', 'smbios', 'uuid',
]);

/** Option names that parse but need a `supported` entry (`-s` is gated by `gdb`). */
export const LATER_OPTIONS: ReadonlySet<string> = new Set(
  [...OPTION_TABLE.values()].map((d) => d.gate).filter((g): g is string => g !== undefined && !SUPPORTED_NOW_OPTIONS.has(g)),
);

// ---------------------------------------------------------------------------------------------
// The parser

const DEFAULT_MEMORY_BYTES = 128 * 1024 * 1024;
/** QEMU rounds RAM up to this (`QEMU_ALIGN_UP(sz, 8192)` in `machine_set_mem`). */
const RAM_ALIGN_BYTES = 8192n;
const MAX_SERIAL_PORTS = 4;
const MAX_PARALLEL_PORTS = 3;

/** Order in which QEMU creates chardev users (`qemu_create_early_backends` and later). */
const STAGE_CHARDEV = 0;
const STAGE_MONITOR = 1;
const STAGE_SERIAL = 2;
const STAGE_PARALLEL = 3;
const STAGE_GDB = 4;

interface PendingDrive {
  readonly where: string;
  readonly kv: KeyValueList;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** State while walking argv; `finish()` resolves defaults and cross-option rules. */
class CommandLineParser {
  readonly o: Mutable<CliOptions> = {
    memoryBytes: DEFAULT_MEMORY_BYTES, nographic: false, display: { type: 'tui', implicit: true }, serial: [],
    parallel: [], accel: [], noReboot: false, noShutdown: false, startStopped: false,
    firmwareDirs: [], devices: [], debugItems: [], showHelp: false, showVersion: false, smp: 1,
    machine: { type: 'pc', props: {} }, rtc: { base: 'utc', clock: 'host', driftfix: 'none' },
    boot: { order: 'cad' }, fwCfg: [], drives: [], netdevs: [], nics: [], net: [], monitor: [],
    qmp: [], compatMonitors: [], mon: [], chardevs: [], snapshot: false, usb: false, objects: [], globals: [],
    trace: [], daemonize: false, noDefaults: false, warnings: [], smbios: {},
  };
  private displayGiven: DisplaySpec | undefined;
  private machineAccel: AccelSpec[] | undefined;
  private machineProps: Record<string, string> = {};
  private readonly pendingDrives: PendingDrive[] = [];
  private gdbWhere = '';
  private serialGiven = false;
  /** Where each chardev consumer came from, for the one-stdio rule (QEMU creation order). */
  private readonly stdioUsers: { readonly stage: number; readonly where: string; readonly spec: ChardevSpec }[] = [];
  private parallelGiven = false;
  private monitorGiven = false;
  /** A help/version request ends parsing, as QEMU exits on the spot. */
  done = false;

  constructor(private readonly supported: ReadonlySet<string>) {}

  /** Handles one option; throws ConfigError without the location prefix. */
  handle(name: string, arg: string, where: string): void {
    const o = this.o;
    switch (name) {
      case 'h': case 'help': o.showHelp = true; this.done = true; return;
      case 'version': o.showVersion = true; this.done = true; return;
      case 'm': o.memoryBytes = parseMemory(arg); return;
      case 'nographic': o.nographic = true; this.displayGiven = { type: 'none' }; return;
      case 'display': return this.display(arg);
      case 'serial': return this.serial(arg, where);
      case 'parallel': return this.parallel(arg, where);
      case 'accel': return this.accel(arg);
      // QEMU 7.2 implements -enable-kvm as "-machine accel=kvm".
      case 'enable-kvm': this.machineAccel = [{ name: 'kvm', given: 'kvm', props: {} }]; return;
      // QEMU 7.2 implements the deprecated -no-hpet as "-machine hpet=off".
      case 'no-hpet': return this.machine('hpet=off');
      case 'no-reboot': o.noReboot = true; return;
      case 'no-shutdown': o.noShutdown = true; return;
      case 'S': o.startStopped = true; return;
      case 'bios': o.bios = arg; return;
      case 'L': o.firmwareDirs.push(arg); return;
      case 'device': return this.device(arg);
      case 'd': return this.debugItems(arg);
      case 'D': o.logFile = arg; return;
      case 'name': return this.name(arg);
      case 'icount': return this.icount(arg);
      case 'smp': return this.smp(arg);
      case 'machine': case 'M': return this.machine(arg);
      case 'cpu':
        if (isHelpOption(arg)) return this.help({ topic: 'cpu' });
        if (arg === '') throw new ConfigError('-cpu option cannot be empty');
        o.cpu = arg;
        return;
      case 'rtc': return this.rtc(arg);
      case 'boot': return this.boot(arg);
      case 'fw_cfg': return this.fwCfg(arg);
      case 'smbios': return applySmbiosOption(o.smbios, arg);
      case 'uuid': return applyUuidOption(o.smbios, arg);
      case 'kernel': o.kernel = arg; return;
      case 'initrd': o.initrd = arg; return;
      case 'append': o.append = arg; return;
      case 'drive': this.pendingDrives.push({ where, kv: parseKeyValueList(arg) }); return;
      case 'hda': case 'hdb': case 'hdc': case 'hdd':
        return this.legacyDrive(where, arg, name.charCodeAt(2) - 0x61, 'disk');
      case 'cdrom': return this.legacyDrive(where, arg, 2, 'cdrom');
      case 'netdev': return this.netdev(arg);
      case 'nic': case 'net': return this.nic(name, arg);
      case 'monitor': case 'qmp': {
        this.monitorGiven = true;
        const spec = parseChardevCompat(arg, 'monitor');
        if (spec.backend === 'none') return;
        (name === 'monitor' ? o.monitor : o.qmp).push(spec);
        o.compatMonitors.push(spec);
        this.stdioUsers.push({ stage: STAGE_MONITOR, where, spec });
        return;
      }
      case 'mon': return this.mon(arg);
      case 'chardev': return this.chardev(arg, where);
      case 'loadvm': o.loadvm = arg; return;
      case 'snapshot': o.snapshot = true; return;
      case 'incoming': o.incoming = parseIncoming(arg); return;
      case 'gdb': return this.gdb(arg, where);
      case 's': return this.gdb('tcp::1234', where);
      case 'websocket': o.websocket = parseWebsocket(arg); return;
      case 'vnc': {
        const kv = parseKeyValueList(arg, 'display');
        const display = kv.get('display') ?? '';
        if (display !== 'none' && !display.includes(':')) throw new ConfigError('no vnc port specified');
        o.vnc = { display, options: kv };
        return;
      }
      case 'usb': o.usb = true; return;
      case 'vga':
        if (isHelpOption(arg)) return this.help({ topic: 'vga' });
        if (!(VGA_TYPES as readonly string[]).includes(arg)) throw new ConfigError(`unknown vga type: ${arg}`);
        o.vga = arg as VgaType;
        return;
      case 'k': o.keyboardLayout = arg; return;
      case 'object': return this.object(arg);
      case 'global': return this.global(arg);
      case 'trace': {
        const kv = parseKeyValueList(arg, 'enable');
        checkKeys(kv, ['enable', 'events', 'file']);
        const t: Mutable<TraceSpec> = {};
        for (const k of ['enable', 'events', 'file'] as const) {
          const v = kv.get(k);
          if (v !== undefined) t[k] = v;
        }
        o.trace.push(t);
        return;
      }
      case 'pidfile': o.pidfile = arg; return;
      case 'daemonize': o.daemonize = true; return;
      case 'watchdog': o.watchdog = arg; return;
      case 'nodefaults': o.noDefaults = true; return;
      default:
        throw new Error(`option table and handler disagree on -${name}`);
    }
  }

  /** A bare argument: QEMU's `drive_add(IF_DEFAULT, 0, FILE, "media=disk")`, i.e. `-hda`. */
  positional(arg: string): void {
    if (!this.supported.has('hda')) throw new ConfigError('disk images (-hda) are not supported yet');
    this.legacyDrive(arg, arg, 0, 'disk');
  }

  isSupported(gate: string): boolean {
    return this.supported.has(gate);
  }

  private help(req: HelpRequest): void {
    this.o.helpRequest = req;
    this.done = true;
  }

  private display(arg: string): void {
    if (isHelpOption(arg)) return this.help({ topic: 'display' });
    // QEMU's legacy `-display vnc=:0`.
    const kv = arg.startsWith('vnc=') ? parseKeyValueList(`vnc,${arg.slice(4)}`, 'type') : parseKeyValueList(arg, 'type');
    const type = kv.get('type') ?? '';
    const unexpected = (k: string): string => `Parameter '${k}' is unexpected`;
    if (type === 'none') {
      checkKeys(kv, DISPLAY_COMMON_KEYS, unexpected);
      this.displayGiven = { type: 'none' };
    } else if (type === 'curses' || type === 'tui') {
      checkKeys(kv, [...DISPLAY_COMMON_KEYS, 'charset'], unexpected);
      const charset = kv.get('charset');
      this.displayGiven = { type: 'tui', ...(charset !== undefined ? { charset } : {}) };
    } else if (DISPLAY_TYPES_NOT_YET.includes(type)) {
      throw new ConfigError(`display '${type}' is not supported yet (use none or curses)`);
    } else {
      throw new ConfigError(`Parameter 'type' does not accept value '${type}'`);
    }
    for (const k of ['full-screen', 'window-close', 'show-cursor'] as const) optBool(kv, k, false);
  }

  private serial(arg: string, where: string): void {
    this.serialGiven = true;
    if (this.o.serial.length >= MAX_SERIAL_PORTS) {
      // XXX: QEMU 7.2 accepts a fifth -serial and leaves it unconnected; older QEMU and pcvm refuse.
      throw new ConfigError('too many serial ports');
    }
    const spec = parseChardevCompat(arg, 'serial device');
    this.o.serial.push(spec);
    this.stdioUsers.push({ stage: STAGE_SERIAL, where, spec });
  }

  private parallel(arg: string, where: string): void {
    this.parallelGiven = true;
    if (this.o.parallel.length >= MAX_PARALLEL_PORTS) throw new ConfigError('too many parallel ports');
    const spec = parseChardevCompat(arg, 'parallel device');
    this.o.parallel.push(spec);
    this.stdioUsers.push({ stage: STAGE_PARALLEL, where, spec });
  }

  private accel(arg: string): void {
    const kv = parseKeyValueList(arg, 'accel');
    const given = kv.get('accel') ?? '';
    if (isHelpOption(given)) return this.help({ topic: 'accel' });
    this.o.accel.push(accelSpec(given, kv));
  }

  private device(arg: string): void {
    const kv = arg.startsWith('{') ? keyValueListFromJson(arg) : parseKeyValueList(arg, 'driver');
    const driver = kv.get('driver');
    if (driver === undefined) throw new ConfigError("Parameter 'driver' is missing");
    if (isHelpOption(driver)) return this.help({ topic: 'device' });
    const model = DEVICE_MODELS[driver];
    if (model === undefined) {
      if (DEVICE_MODELS_NOT_YET.includes(driver)) throw new ConfigError(`device '${driver}' is not supported yet`);
      throw new ConfigError(`'${driver}' is not a valid device model name`);
    }
    if (kv.helpRequested) return this.help({ topic: 'device', driver });
    const props: Record<string, string | number | boolean> = {};
    let id: string | undefined;
    let bus: string | undefined;
    for (const { key, value } of kv.entries) {
      if (key === 'driver') continue;
      if (key === 'id') { id = value; continue; }
      if (key === 'bus') { bus = value; continue; }
      const prop = model.props[key];
      if (prop === undefined) throw new ConfigError(`Property '${driver}.${key}' not found`);
      props[key] = prop.type === 'bool' ? parseBool(key, value) : prop.type === 'string' ? value : parsePropertyInt(key, value, prop.type);
    }
    this.o.devices.push({ driver, props, ...(id !== undefined ? { id } : {}), ...(bus !== undefined ? { bus } : {}) });
  }

  private debugItems(arg: string): void {
    if (isHelpOption(arg)) return this.help({ topic: 'd' });
    // QEMU keeps only the last -d (`log_mask = optarg`).
    this.o.debugItems = [];
    for (const item of arg.split(',')) {
      if (item.startsWith('trace:') && item.length > 6) {
        this.o.debugItems.push(item);
      } else if (LOG_ITEMS.some(([n]) => n === item)) {
        if (!this.o.debugItems.includes(item)) this.o.debugItems.push(item);
      } else {
        // XXX: QEMU prints the whole item list here; one line points at `-d help` instead.
        throw new ConfigError(`unknown log item '${item}' (use -d help for a list)`);
      }
    }
  }

  private name(arg: string): void {
    const kv = parseKeyValueList(arg, 'guest');
    checkKeys(kv, ['guest', 'process', 'debug-threads']);
    optBool(kv, 'debug-threads', false);
    const guest = kv.get('guest');
    const process = kv.get('process');
    if (guest !== undefined) this.o.name = guest;
    if (process !== undefined) this.o.processName = process;
  }

  private icount(arg: string): void {
    const kv = parseKeyValueList(arg, 'shift');
    checkKeys(kv, ['shift', 'align', 'sleep', 'rr', 'rrfile', 'rrsnapshot']);
    const sleep = optBool(kv, 'sleep', true);
    const align = optBool(kv, 'align', false);
    const rr = kv.get('rr');
    if (rr !== undefined && rr !== 'record' && rr !== 'replay') throw new ConfigError(`Invalid icount rr option: ${rr}`);
    const shift = kv.get('shift');
    if (shift === undefined) {
      if (align) throw new ConfigError('Please specify shift option when using align');
      // QEMU: without shift=, icount stays off.
      this.o.icount = undefined;
      return;
    }
    if (shift === 'auto') throw new ConfigError('shift=auto is not supported yet');
    const n = parseCInteger(shift);
    // QEMU's MAX_ICOUNT_SHIFT is 10 (one instruction per 1024 ns).
    if (n === undefined || n < 0n || n > 10n) throw new ConfigError('icount: Invalid shift value');
    if (align && !sleep) throw new ConfigError('align=on and sleep=off are incompatible');
    if (rr !== undefined) throw new ConfigError(`record/replay (rr=${rr}) is not supported yet`);
    this.o.icount = { shift: Number(n), sleep, align };
  }

  private smp(arg: string): void {
    const kv = parseKeyValueList(arg, 'cpus');
    const keys = ['cpus', 'maxcpus', 'sockets', 'dies', 'clusters', 'cores', 'threads', 'books', 'drawers'];
    checkKeys(kv, keys, (k) => `Parameter 'smp.${k}' is unexpected`);
    const n: Record<string, number> = {};
    for (const k of keys) {
      const v = kv.get(k);
      if (v === undefined) continue;
      const i = parseCInteger(v);
      if (i === undefined || i < 0n || i > 0xffffffffn) throw new ConfigError(`Parameter 'smp.${k}' expects integer`);
      n[k] = Number(i);
    }
    const topology = keys.slice(2).reduce((p, k) => p * (n[k] ?? 1), 1);
    const cpus = n['cpus'] ?? topology;
    const maxcpus = n['maxcpus'] ?? cpus;
    if (cpus !== 1 || maxcpus !== 1 || topology !== 1) {
      throw new ConfigError('only 1 CPU is supported yet');
    }
    this.o.smp = 1;
  }

  private machine(arg: string): void {
    const kv = parseKeyValueList(arg, 'type');
    const type = kv.get('type');
    if (kv.helpRequested || (type !== undefined && isHelpOption(type))) return this.help({ topic: 'machine' });
    if (type !== undefined) {
      if (type !== 'pc' && !MACHINE_PC_VERSIONED.test(type)) {
        if (MACHINES_NOT_YET.includes(type) || /^pc-q35-/.test(type)) throw new ConfigError(`machine type '${type}' is not supported yet`);
        throw new ConfigError('unsupported machine type (use -machine help to list supported machines)');
      }
      this.o.machine = { ...this.o.machine, type };
    }
    const shownType = this.o.machine.type;
    checkKeys(kv, MACHINE_PROPS, (k) => `Property '${shownType}-machine.${k}' not found`);
    // -machine options merge across repeats (QemuOpts merge_lists), later values winning.
    for (const { key, value } of kv.entries) {
      if (key === 'type') continue;
      if (key === 'accel') {
        this.machineAccel = value.split(':').map((a) => accelSpec(a, new KeyValueList([], false)));
        continue;
      }
      if (['usb', 'graphics', 'dump-guest-core', 'mem-merge', 'hpet', 'pit', 'pic', 'acpi', 'smbus', 'sata', 'i8042', 'suppress-vmdesc', 'nvdimm', 'hmat'].includes(key)) {
        parseBool(key, value);
      }
      this.machineProps[key] = value;
    }
    this.o.machine = { type: shownType, props: { ...this.machineProps } };
  }

  private rtc(arg: string): void {
    const kv = parseKeyValueList(arg);
    checkKeys(kv, ['base', 'clock', 'driftfix']);
    const base = kv.get('base');
    let rtc: Mutable<RtcSpec> = { ...this.o.rtc };
    if (base !== undefined) {
      if (base === 'utc' || base === 'localtime') {
        rtc = { ...rtc, base };
        delete rtc.date;
      } else if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2})?$/.test(base)) {
        rtc = { ...rtc, base: 'date', date: base };
      } else {
        throw new ConfigError("invalid datetime format; valid formats: '2006-06-17T16:01:21' or '2006-06-17'");
      }
    }
    const bad = (v: string): string => `invalid option value '${v}'`;
    rtc.clock = optEnum(kv, 'clock', ['host', 'rt', 'vm'] as const, bad) ?? rtc.clock;
    rtc.driftfix = optEnum(kv, 'driftfix', ['none', 'slew'] as const, bad) ?? rtc.driftfix;
    this.o.rtc = rtc;
  }

  private boot(arg: string): void {
    const kv = parseKeyValueList(arg, 'order');
    checkKeys(kv, ['order', 'once', 'menu', 'splash', 'splash-time', 'reboot-timeout', 'strict'], (k) => `Parameter 'boot.${k}' is unexpected`);
    const boot: Mutable<BootSpec> = { ...this.o.boot };
    for (const key of ['order', 'once'] as const) {
      const v = kv.get(key);
      if (v === undefined) continue;
      const seen = new Set<string>();
      for (const c of v) {
        if (c < 'a' || c > 'p') throw new ConfigError(`Invalid boot device '${c}'`);
        if (seen.has(c)) throw new ConfigError(`Boot device '${c}' was given twice`);
        seen.add(c);
      }
      boot[key] = v;
    }
    if (kv.has('menu')) boot.menu = optBool(kv, 'menu', false, 'boot.menu');
    if (kv.has('strict')) boot.strict = optBool(kv, 'strict', false, 'boot.strict');
    const splash = kv.get('splash');
    if (splash !== undefined) boot.splash = splash;
    for (const [key, field] of [['splash-time', 'splashTimeMs'], ['reboot-timeout', 'rebootTimeoutMs']] as const) {
      const v = kv.get(key);
      if (v === undefined) continue;
      const n = parseCInteger(v);
      if (n === undefined || n < -1n || n > 0xffffn) throw new ConfigError(`Parameter 'boot.${key}' expects integer`);
      boot[field] = Number(n);
    }
    this.o.boot = boot;
  }

  private fwCfg(arg: string): void {
    const kv = parseKeyValueList(arg, 'name');
    checkKeys(kv, ['name', 'file', 'string', 'gen_id']);
    const name = kv.get('name');
    const given = ['file', 'string', 'gen_id'].filter((k) => kv.has(k));
    if (name === undefined || name === '' || given.length !== 1) {
      throw new ConfigError('name, plus exactly one of file, string and gen_id, are needed');
    }
    // FW_CFG_MAX_FILE_PATH is 56 bytes including the NUL.
    if (name.length > 55) throw new ConfigError('name too long (max. 55 char)');
    if (kv.has('gen_id')) throw new ConfigError('gen_id is not supported yet');
    if (!name.startsWith('opt/')) {
      this.o.warnings.push(`-fw_cfg ${arg}: externally provided fw_cfg item names should be prefixed with "opt/"`);
    }
    const str = kv.get('string');
    this.o.fwCfg.push(str !== undefined ? { name, string: str } : { name, file: kv.get('file')! });
  }

  private legacyDrive(where: string, file: string, index: number, media: 'disk' | 'cdrom'): void {
    // QEMU's drive_add: the file name is taken literally (no comma escaping).
    const kv = new KeyValueList(
      [{ key: 'index', value: String(index) }, { key: 'media', value: media }, { key: 'file', value: file }],
      false,
    );
    this.pendingDrives.push({ where, kv });
  }

  private netdev(arg: string): void {
    const kv = parseKeyValueList(arg, 'type');
    const type = kv.get('type') ?? '';
    if (isHelpOption(type)) return this.help({ topic: 'netdev' });
    this.o.netdevs.push(parseNetdev(type, kv));
  }

  private nic(option: 'nic' | 'net', arg: string): void {
    const kv = parseKeyValueList(arg, 'type');
    const type = kv.get('type') ?? '';
    const types = option === 'nic' ? [...NETDEV_TYPES, 'none'] : [...NETDEV_TYPES, 'nic', 'none'];
    if (!types.includes(type)) throw new ConfigError(`Parameter 'type' does not accept value '${type}'`);
    if (type === 'user') for (const rule of kv.getAll('hostfwd')) parseHostForward(rule);
    (option === 'nic' ? this.o.nics : this.o.net).push({ type, options: kv });
  }

  private mon(arg: string): void {
    this.monitorGiven = true;
    const kv = parseKeyValueList(arg, 'chardev');
    checkKeys(kv, ['chardev', 'mode', 'pretty', 'id']);
    const chardev = kv.get('chardev');
    if (chardev === undefined) throw new ConfigError("Parameter 'chardev' is missing");
    const mode = optEnum(kv, 'mode', ['readline', 'control'] as const, (v) => `Parameter 'mode' does not accept value '${v}'`) ?? 'readline';
    this.o.mon.push({ chardev, mode, pretty: optBool(kv, 'pretty', false) });
  }

  private chardev(arg: string, where: string): void {
    const kv = parseKeyValueList(arg, 'backend');
    const backend = kv.get('backend') ?? '';
    if (isHelpOption(backend)) return this.help({ topic: 'chardev' });
    const id = kv.get('id');
    if (id === undefined) throw new ConfigError('chardev: no id specified');
    if (!(CHARDEV_BACKENDS as readonly string[]).includes(backend)) throw new ConfigError(`'${backend}' is not a valid char driver name`);
    if (this.o.chardevs.some((c) => c.id === id)) throw new ConfigError(`Duplicate ID '${id}' for chardev`);
    const spec = chardevFromOptions(backend, kv);
    this.o.chardevs.push({ ...spec, id });
    this.stdioUsers.push({ stage: STAGE_CHARDEV, where, spec });
  }

  private gdb(arg: string, where: string): void {
    let spec = parseChardevCompat(arg, 'gdbstub');
    if (spec.backend === 'none') {
      this.o.gdb = undefined;
      return;
    }
    // QEMU's gdbserver_start appends ",wait=off,nodelay=on,server=on" to a tcp: device.
    if (spec.backend === 'socket' && arg.startsWith('tcp:')) spec = { ...spec, server: true, wait: false, nodelay: true };
    this.o.gdb = spec;
    this.gdbWhere = where;
  }

  private object(arg: string): void {
    const kv = arg.startsWith('{') ? keyValueListFromJson(arg) : parseKeyValueList(arg, 'qom-type');
    const qomType = kv.get('qom-type') ?? '';
    if (!OBJECT_TYPES.includes(qomType)) throw new ConfigError(`Parameter 'qom-type' does not accept value '${qomType}'`);
    const id = kv.get('id');
    if (id === undefined) throw new ConfigError("Parameter 'id' is missing");
    const props: Record<string, string> = {};
    for (const { key, value } of kv.entries) if (key !== 'qom-type' && key !== 'id') props[key] = value;
    this.o.objects.push({ qomType, id, props });
  }

  private global(arg: string): void {
    // QEMU's qemu_global_option: DRIVER.PROP=VALUE (value taken literally), else QemuOpts.
    const short = /^([^.=]{1,63})\.([^=]{1,63})=/.exec(arg);
    if (short) {
      this.o.globals.push({ driver: short[1]!, property: short[2]!, value: arg.slice(short[0].length) });
      return;
    }
    const kv = parseKeyValueList(arg);
    checkKeys(kv, ['driver', 'property', 'value']);
    const driver = kv.get('driver');
    const property = kv.get('property');
    const value = kv.get('value');
    if (driver === undefined || property === undefined || value === undefined) {
      throw new ConfigError("options 'driver', 'property', and 'value' are required");
    }
    this.o.globals.push({ driver, property, value });
  }

  /** Defaults and rules that span options (QEMU's `qemu_create_default_devices` and friends). */
  finish(): CliOptions {
    const o = this.o;
    if (this.displayGiven) o.display = this.displayGiven;
    if (o.nographic && o.display.type === 'tui') {
      throw new ConfigError('-nographic cannot be used with -display curses (both need the terminal)');
    }
    if (this.machineAccel) {
      if (o.accel.length > 0) throw new ConfigError('The -accel and "-machine accel=" options are incompatible');
      o.accel = this.machineAccel;
    }
    if (o.accel.length === 0) o.accel = [{ name: 'tcg', given: 'tcg', props: {} }];
    this.resolveDefaultChardevs();
    this.checkStdioUsers();
    this.resolveDrives();
    return o;
  }

  private resolveDefaultChardevs(): void {
    const o = this.o;
    const defaultSerial = !this.serialGiven && !o.noDefaults;
    const defaultParallel = !this.parallelGiven && !o.noDefaults;
    const defaultMonitor = !this.monitorGiven && !o.noDefaults && !o.serial.some((s) => s.mux);
    const vc: ChardevSpec = { mux: false, backend: 'vc', cols: 80, rows: 24 };
    const add = (list: ChardevSpec[], stage: number, spec: ChardevSpec): void => {
      list.push(spec);
      this.stdioUsers.push({ stage, where: '-nographic', spec });
    };
    if (o.nographic) {
      if (defaultParallel) o.parallel.push({ mux: false, backend: 'null' });
      if (defaultSerial && defaultMonitor) {
        add(o.serial, STAGE_SERIAL, { mux: true, backend: 'stdio', signal: false });
      } else {
        if (defaultSerial) add(o.serial, STAGE_SERIAL, { mux: false, backend: 'stdio', signal: true });
        if (defaultMonitor) {
          const spec: ChardevSpec = { mux: false, backend: 'stdio', signal: true };
          add(o.monitor, STAGE_MONITOR, spec);
          o.compatMonitors.push(spec);
        }
      }
    } else {
      if (defaultSerial) o.serial.push(vc);
      if (defaultParallel) o.parallel.push(vc);
      if (defaultMonitor) {
        o.monitor.push(vc);
        o.compatMonitors.push(vc);
      }
    }
  }

  /** QEMU opens stdio once: a second user is an error, reported where QEMU reports it. */
  private checkStdioUsers(): void {
    const users = [...this.stdioUsers];
    if (this.o.gdb) users.push({ stage: STAGE_GDB, where: this.gdbWhere, spec: this.o.gdb });
    // Stable sort: QEMU creates chardevs and monitors, then serial, parallel, then the gdbstub.
    users.sort((a, b) => a.stage - b.stage);
    let seen = false;
    for (const u of users) {
      if (u.spec.backend !== 'stdio') continue;
      if (seen) throw new ConfigError(`${u.where}: cannot use stdio by multiple character devices`);
      seen = true;
    }
  }

  /** QEMU's `drive_new`: bus/unit from index, or the first free unit; conflicts are errors. */
  private resolveDrives(): void {
    const taken = new Set<string>();
    for (const { where, kv } of this.pendingDrives) {
      try {
        const drive = parseDrive(kv, taken);
        taken.add(`${drive.interface}/${drive.bus}/${drive.unit}`);
        this.o.drives.push(drive);
      } catch (e) {
        if (e instanceof ConfigError) throw new ConfigError(`${where}: ${e.message}`);
        throw e;
      }
    }
  }
}

function accelSpec(given: string, kv: KeyValueList): AccelSpec {
  const name: AccelName | undefined =
    given === 'tcg' ? 'tcg' : given === 'interp' ? 'interp' : given === 'jit' ? 'jit' : given === 'kvm' ? 'kvm' : undefined;
  if (name === undefined) {
    if (ACCELS_NOT_YET.includes(given)) throw new ConfigError(`accelerator ${given} is not supported yet`);
    throw new ConfigError(`invalid accelerator ${given}`);
  }
  const keys = name === 'kvm'
    ? ['accel', 'kernel-irqchip', 'kvm-shadow-mem', 'dirty-ring-size', 'notify-vmexit', 'notify-window']
    : ['accel', 'thread', 'tb-size', 'split-wx', 'one-insn-per-tb'];
  checkKeys(kv, keys, (k) => `Property '${name}-accel.${k}' not found`);
  const props: Record<string, string> = {};
  for (const { key, value } of kv.entries) {
    if (key === 'accel') continue;
    if (key === 'thread' && value !== 'single' && value !== 'multi') throw new ConfigError(`Invalid 'thread' setting ${value}`);
    if (key === 'tb-size' || key === 'dirty-ring-size' || key === 'notify-window') {
      // QOM's uint64 visitor words every failure the same way.
      const n = parseCInteger(value);
      if (n === undefined || n < 0n || n >= 1n << 64n) throw new ConfigError(`Parameter '${key}' expects uint64`);
    }
    if (key === 'kvm-shadow-mem') parseSize(key, value);
    if (key === 'split-wx' || key === 'one-insn-per-tb') parseBool(key, value);
    if (key === 'kernel-irqchip' && !['on', 'off', 'split'].includes(value)) throw new ConfigError(`Parameter 'kernel-irqchip' does not accept value '${value}'`);
    props[key] = value;
  }
  return { name, given, props };
}

/** `-m [size=]N[,slots=,maxmem=]`; a bare number is MiB (QEMU's "legacy suffix-less format"). */
function parseMemory(arg: string): number {
  const kv = parseKeyValueList(arg, 'size');
  checkKeys(kv, ['size', 'slots', 'maxmem']);
  if (kv.has('slots') || kv.has('maxmem')) throw new ConfigError('memory hotplug (slots=, maxmem=) is not supported yet');
  const text = kv.get('size');
  if (text === undefined) return DEFAULT_MEMORY_BYTES;
  // QEMU first parses the text as bytes (so `1.5` fails: a fraction needs a suffix), then
  // appends "M" when it ends in a digit.
  parseSizeBig('size', text);
  const bytes = parseSizeBig('size', /[0-9]$/.test(text) ? `${text}M` : text);
  // XXX: QEMU takes 0 as "the default size"; pcvm refuses it as a likely mistake.
  if (bytes === 0n) throw new ConfigError('memory size must be greater than 0');
  const aligned = ((bytes + RAM_ALIGN_BYTES - 1n) / RAM_ALIGN_BYTES) * RAM_ALIGN_BYTES;
  if (aligned > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfigError('ram size too large');
  return Number(aligned);
}

function parseIncoming(uri: string): IncomingSpec {
  if (uri === 'defer') return { kind: 'defer' };
  const colon = uri.indexOf(':');
  const scheme = colon < 0 ? uri : uri.slice(0, colon);
  const rest = uri.slice(colon + 1);
  switch (scheme) {
    case 'tcp': {
      const { host, port } = parseHostPort(rest.split(',')[0]!, 'address');
      return { kind: 'tcp', host, port };
    }
    case 'unix': return { kind: 'unix', path: rest };
    case 'exec': return { kind: 'exec', command: rest };
    case 'fd': return { kind: 'fd', fd: rest };
    case 'file': return { kind: 'file', path: rest };
    default: throw new ConfigError(`unknown migration protocol: ${uri}`);
  }
}

function parseWebsocket(arg: string): WebsocketSpec {
  const kv = parseKeyValueList(arg, 'addr');
  checkKeys(kv, ['addr', 'token']);
  const addr = kv.get('addr') ?? '';
  const m = /^(?:(\[[^\]]*\]|[^:]*):)?([0-9]+)$/.exec(addr);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new ConfigError(`invalid address '${addr}' (expected [HOST:]PORT)`);
  const host = m[1] === undefined ? undefined : m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  const token = kv.get('token');
  if (token === '') throw new ConfigError("Parameter 'token' must not be empty");
  return { port, ...(host ? { host } : {}), ...(token !== undefined ? { token } : {}) };
}

/**
 * Parses a qemu-system-x86_64 style command line (`argv` without the program name).
 *
 * Throws ConfigError with a one-line message in QEMU's wording, e.g. `-foo: invalid option`,
 * `-m: requires an argument`, `-kernel: not supported yet`. `supported` names the options
 * (without dash) the machine implements; it defaults to `SUPPORTED_NOW_OPTIONS`.
 */
export function parseCommandLine(argv: readonly string[], supported: ReadonlySet<string> = SUPPORTED_NOW_OPTIONS): CliOptions {
  const p = new CommandLineParser(supported);
  for (let i = 0; i < argv.length && !p.done; i++) {
    const word = argv[i]!;
    if (!word.startsWith('-')) {
      try {
        p.positional(word);
      } catch (e) {
        if (e instanceof ConfigError) throw new ConfigError(`${word}: ${e.message}`);
        throw e;
      }
      continue;
    }
    // QEMU's lookup_opt: "--name" is the same as "-name"; messages show what was typed.
    const name = word.startsWith('--') ? word.slice(2) : word.slice(1);
    const def = OPTION_TABLE.get(name);
    if (def === undefined) throw new ConfigError(`${word}: invalid option`);
    let arg = '';
    let where = word;
    if (def.arg) {
      if (i + 1 >= argv.length) throw new ConfigError(`${word}: requires an argument`);
      arg = argv[++i]!;
      where = `${word} ${arg}`;
    }
    if (def.gate !== undefined && !p.isSupported(def.gate)) throw new ConfigError(`${word}: not supported yet`);
    try {
      p.handle(name, arg, where);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`${where}: ${e.message}`);
      throw e;
    }
  }
  return p.finish();
}
