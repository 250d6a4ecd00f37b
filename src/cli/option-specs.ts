/**
 * The parsed command line: `CliOptions` and the spec types of the options that have no module
 * of their own (display, accelerators, devices, machine, rtc, boot, monitors, ...). Character
 * devices, drives and network back ends are in chardev-spec.ts, drive-spec.ts, netdev-spec.ts.
 */

import type { ChardevSpec, NamedChardevSpec } from './chardev-spec.js';
import type { DriveSpec } from './drive-spec.js';
import type { KeyValueList } from './keyval.js';
import type { NetdevSpec, NicSpec } from './netdev-spec.js';
import type { SmbiosConfig } from '../machine/smbios/smbios-tables.js';

/** `-display`: pcvm's `tui` is QEMU's `curses` (a text console in the terminal). */
export interface DisplaySpec {
  readonly type: 'none' | 'tui';
  /** `-display curses,charset=CP850`: the guest's code page for the text screen. */
  readonly charset?: string;
  /** No -display or -nographic was given: the TUI when stdout is a terminal, else none (display.ts). */
  readonly implicit?: boolean;
}

/** Accelerators: QEMU's name, or pcvm's own engine names. */
/** `tcg` and `jit` are the JIT (QEMU's TCG translates too); `interp` the reference interpreter alone. */
export type AccelName = 'tcg' | 'jit' | 'interp' | 'kvm';

/** One `-accel` (or `-machine accel=`, `-enable-kvm`); several are tried in order. */
export interface AccelSpec {
  /** `tcg` (QEMU's name, alias `interp`: the software interpreter), `jit`, or `kvm`. */
  readonly name: AccelName;
  /** The name as typed (`interp` stays visible to the caller). */
  readonly given: string;
  /** Validated accelerator properties (`thread=single`, `tb-size=…`). */
  readonly props: Readonly<Record<string, string>>;
}

/** `-device DRIVER,prop=value,...`: props are parsed per the model's QEMU types. */
export interface DeviceSpec {
  readonly driver: string;
  readonly id?: string;
  readonly bus?: string;
  /** Only the properties given; the machine applies the model's defaults. */
  readonly props: Readonly<Record<string, string | number | boolean>>;
}

/** `-icount shift=N[,sleep=on|off][,align=on|off]`: one instruction = 2^shift ns. */
export interface IcountSpec {
  readonly shift: number;
  readonly sleep: boolean;
  readonly align: boolean;
}

/** `-machine [type=]NAME[,prop=value,...]`. */
export interface MachineSpec {
  /** `pc` or a `pc-i440fx-X.Y` version (pcvm treats all as its one PC). */
  readonly type: string;
  readonly props: Readonly<Record<string, string>>;
}

/** `-rtc base=utc|localtime|DATE,clock=host|rt|vm,driftfix=none|slew`. */
export interface RtcSpec {
  readonly base: 'utc' | 'localtime' | 'date';
  /** With base=date: `2006-06-17T16:01:21` or `2006-06-17`, in UTC. */
  readonly date?: string;
  readonly clock: 'host' | 'rt' | 'vm';
  readonly driftfix: 'none' | 'slew';
}

/** `-boot [order=]drives[,once=drives][,menu=on|off][,...]`; drive letters a..p. */
export interface BootSpec {
  readonly order: string;
  readonly once?: string;
  readonly menu?: boolean;
  readonly splash?: string;
  readonly splashTimeMs?: number;
  readonly rebootTimeoutMs?: number;
  readonly strict?: boolean;
}

/** `-fw_cfg [name=]NAME,string=STR` or `...,file=PATH` (gen_id= is not supported). */
export type FwCfgSpec = { readonly name: string } & ({ readonly string: string } | { readonly file: string });

/** `-vga` types of qemu-system-x86_64. */
export type VgaType = 'std' | 'cirrus' | 'vmware' | 'qxl' | 'xenfb' | 'tcx' | 'cg3' | 'virtio' | 'none';

/** `-mon [chardev=]ID[,mode=readline|control][,pretty=on|off]`. */
export interface MonSpec {
  readonly chardev: string;
  readonly mode: 'readline' | 'control';
  readonly pretty: boolean;
}

/** `-incoming URI` (QEMU's migration URIs). */
export type IncomingSpec =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'exec'; readonly command: string }
  | { readonly kind: 'fd'; readonly fd: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'defer' };

/** `-websocket [HOST:]PORT[,token=SECRET]` (pcvm's own: the browser console). */
export interface WebsocketSpec {
  /** Absent: the caller's default (loopback). */
  readonly host?: string;
  readonly port: number;
  readonly token?: string;
}

/** `-object TYPE,id=ID,...`. */
export interface ObjectSpec {
  readonly qomType: string;
  readonly id: string;
  readonly props: Readonly<Record<string, string>>;
}

/** `-global DRIVER.PROP=VALUE` or `-global driver=D,property=P,value=V`. */
export interface GlobalSpec {
  readonly driver: string;
  readonly property: string;
  readonly value: string;
}

/** `-trace [[enable=]PATTERN][,events=FILE][,file=FILE]`. */
export interface TraceSpec {
  readonly enable?: string;
  readonly events?: string;
  readonly file?: string;
}

/** `-vnc DISPLAY[,options]`. */
export interface VncSpec {
  readonly display: string;
  readonly options: KeyValueList;
}

/** A `help` argument (`-d help`, `-machine help`, `-device isa-debug-exit,help`): print a list. */
export interface HelpRequest {
  readonly topic: 'd' | 'machine' | 'cpu' | 'accel' | 'display' | 'device' | 'netdev' | 'chardev' | 'vga';
  /** `-device DRIVER,help`: the model whose properties to list. */
  readonly driver?: string;
}

/**
 * Everything the command line asks for. Defaults are QEMU's: 128 MiB, one CPU, machine `pc`,
 * accelerator `tcg`, and QEMU's default serial/monitor wiring (`-nographic` puts COM1 and the
 * monitor on stdio, muxed; otherwise both go to a virtual console of the display).
 */
export interface CliOptions {
  /** Guest RAM (`-m`), rounded up to 8 KiB as QEMU does. */
  memoryBytes: number;
  /** `-nographic`: no display; serial and monitor on stdio. */
  nographic: boolean;
  /** The display, after `-nographic` (none) or the default (`tui`, pcvm's window). */
  display: DisplaySpec;
  /** COM1..COM4 in order (`none` keeps a slot empty); defaults resolved. */
  serial: ChardevSpec[];
  /** LPT1..LPT3 (`-parallel`); defaults resolved like QEMU's. */
  parallel: ChardevSpec[];
  /** Accelerators to try in order; `[tcg]` by default. */
  accel: AccelSpec[];
  /** `-no-reboot`: a guest reset exits instead. */
  noReboot: boolean;
  /** `-no-shutdown`: a guest power-off stops the VM instead of exiting. */
  noShutdown: boolean;
  /** `-S`: do not start the CPU (wait for the monitor's `cont`). */
  startStopped: boolean;
  /** `-bios FILE`. */
  bios?: string;
  /** `-L DIR` (accepted; pcvm finds its firmware itself). */
  firmwareDirs: string[];
  devices: DeviceSpec[];
  /** `-d` items in order (QEMU names, `trace:PATTERN` kept as is). */
  debugItems: string[];
  /** `-D FILE`: where `-d` output goes (default stderr). */
  logFile?: string;
  /** `-h`/`-help`: print `helpText()` and exit 0. Parsing stops there, as in QEMU. */
  showHelp: boolean;
  /** `-version`: print `versionText()` and exit 0. */
  showVersion: boolean;
  /** A `help` argument: print `topicHelpText(helpRequest)` and exit 0. */
  helpRequest?: HelpRequest;
  /** `-name [guest=]NAME`. */
  name?: string;
  /** `-name ...,process=NAME`. */
  processName?: string;
  /** `-icount`: absent = real time (QEMU: no shift given = icount off). */
  icount?: IcountSpec;
  /** CPUs (`-smp`); only 1 is supported. */
  smp: number;
  machine: MachineSpec;
  /** `-cpu MODEL[,features]` as given. */
  cpu?: string;
  rtc: RtcSpec;
  boot: BootSpec;
  fwCfg: FwCfgSpec[];
  kernel?: string;
  initrd?: string;
  append?: string;
  /** All drives (`-drive`, `-hdX`, `-cdrom`, bare image) with bus/unit resolved. */
  drives: DriveSpec[];
  netdevs: NetdevSpec[];
  nics: NicSpec[];
  /** Legacy `-net` options. */
  net: NicSpec[];
  /** Human monitors (`-monitor DEV`, QEMU's default included); `none` removes them. */
  monitor: ChardevSpec[];
  /** QMP monitors (`-qmp DEV`). */
  qmp: ChardevSpec[];
  /**
   * Every `-monitor`/`-qmp` spec (the same objects) in QEMU's creation order — the command
   * line, then the default monitor: its index is the N of QEMU's `compat_monitorN` label.
   */
  compatMonitors: ChardevSpec[];
  mon: MonSpec[];
  /** `-chardev` definitions, referred to by id. */
  chardevs: NamedChardevSpec[];
  loadvm?: string;
  /** `-snapshot`: writes go to a temporary overlay. */
  snapshot: boolean;
  incoming?: IncomingSpec;
  /** `-gdb DEV` / `-s`; `tcp:` forces server=on, wait=off, nodelay=on as QEMU does. */
  gdb?: ChardevSpec;
  websocket?: WebsocketSpec;
  vnc?: VncSpec;
  usb: boolean;
  vga?: VgaType;
  /** `-k LANG`. */
  keyboardLayout?: string;
  objects: ObjectSpec[];
  globals: GlobalSpec[];
  trace: TraceSpec[];
  pidfile?: string;
  daemonize: boolean;
  /** `-watchdog MODEL` (removed from QEMU 7.2; kept for old scripts). */
  watchdog?: string;
  /** `-nodefaults`: no default serial, parallel, monitor, VGA. */
  noDefaults: boolean;
  /** Warnings QEMU would print (`pcvm: warning: ...`); parsing went on. */
  warnings: string[];
  /** `-smbios type=0|1,…` and `-uuid` (smbios-spec.ts). */
  smbios: SmbiosConfig;
}
