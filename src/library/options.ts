/**
 * The library's typed options and the command line they stand for. Every option is a CLI
 * option (same name, same syntax, same defaults); `buildCommandLine` spells them out so that
 * the CLI's own parser (src/cli/options.ts) and builder (src/cli/machine-from-options.ts)
 * decide what they mean. Nothing is interpreted here.
 */

export interface MachineOptions {
  /** `-m`: a number is MiB (QEMU's default unit); a string is taken as written ("1G", "size=512M"). */
  memory?: number | string;
  /** `-kernel`, `-initrd`, `-append`: direct kernel boot (Linux or multiboot). */
  kernel?: string;
  initrd?: string;
  append?: string;
  /** `-bios FILE` (default: the built-in demo firmware). */
  bios?: string;
  /** `-cpu MODEL`. */
  cpu?: string;
  /** `-accel NAME[,prop=…]` (default tcg, the interpreter). */
  accel?: string;
  /** `-icount`: a number is `shift=N` (deterministic time); a string is the full option. */
  icount?: number | string;
  /** `-drive` specs, each exactly as on the command line. */
  drives?: string[];
  /** `-netdev` specs. */
  netdevs?: string[];
  /** `-device` specs (e.g. `isa-debug-exit,iobase=0xf4,iosize=0x04`). */
  devices?: string[];
  /**
   * `-serial` specs for COM2 onwards. COM1 is always the library's: captured for
   * `waitForSerial` and fed by `writeSerial`.
   */
  serial?: string[];
  /** `-fw_cfg` specs. */
  fwCfg?: string[];
  /** `-rtc` spec (e.g. `base=2020-01-01`). */
  rtc?: string;
  /** `-name`. */
  name?: string;
  /** `-S`: build stopped; `cont()` (or gdb) starts the guest. */
  startStopped?: boolean;
  /** `-no-reboot`: a guest reset ends the VM. */
  noReboot?: boolean;
  /** `-no-shutdown`: a guest power-off pauses the VM instead of ending it. */
  noShutdown?: boolean;
  /** `-gdb DEV`; `true` is `-s` (tcp::1234); `'tcp::0'` lets the system choose (see `gdbPort`). */
  gdb?: string | boolean;
  /** `-d ITEMS` and `-D FILE`: QEMU's debug log. */
  debug?: string;
  logFile?: string;
  /** Where log lines go when `logFile` is not given (default: stderr). */
  log?: (line: string) => void;
  /** Further command-line options, verbatim (anything the fields above do not cover). */
  args?: string[];
}

/** The `pcvm` command line equivalent to `o` (without the program name). */
export function buildCommandLine(o: MachineOptions): string[] {
  const argv: string[] = ['-display', 'none', '-serial', 'null'];
  const opt = (name: string, value: string | undefined) => {
    if (value !== undefined) argv.push(name, value);
  };
  const flag = (name: string, on: boolean | undefined) => {
    if (on) argv.push(name);
  };
  opt('-m', o.memory === undefined ? undefined : typeof o.memory === 'number' ? `${o.memory}M` : o.memory);
  opt('-kernel', o.kernel);
  opt('-initrd', o.initrd);
  opt('-append', o.append);
  opt('-bios', o.bios);
  opt('-cpu', o.cpu);
  opt('-accel', o.accel);
  opt('-icount', o.icount === undefined ? undefined : typeof o.icount === 'number' ? `shift=${o.icount}` : o.icount);
  for (const d of o.drives ?? []) opt('-drive', d);
  for (const n of o.netdevs ?? []) opt('-netdev', n);
  for (const d of o.devices ?? []) opt('-device', d);
  for (const s of o.serial ?? []) opt('-serial', s);
  for (const f of o.fwCfg ?? []) opt('-fw_cfg', f);
  opt('-rtc', o.rtc);
  opt('-name', o.name);
  flag('-S', o.startStopped);
  flag('-no-reboot', o.noReboot);
  flag('-no-shutdown', o.noShutdown);
  if (o.gdb === true) argv.push('-s');
  else if (typeof o.gdb === 'string') opt('-gdb', o.gdb);
  opt('-d', o.debug);
  opt('-D', o.logFile);
  argv.push(...(o.args ?? []));
  return argv;
}
