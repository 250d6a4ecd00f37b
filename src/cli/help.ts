/**
 * Help and version text, laid out like `qemu-system-x86_64 -h` (qemu-options.hx): a usage
 * line, then option groups with the syntax at the left margin and the description indented.
 * Options that parse but are not implemented yet say so, per the caller's `supported` set.
 * Also the lists printed for `help` arguments (`-d help`, `-machine help`, ...).
 */

import { DEVICE_MODELS, LOG_ITEMS, SUPPORTED_NOW_OPTIONS, type HelpRequest } from './options.js';
import { cpuModelHelp } from '../cpu/x86/cpu-model.js';

interface HelpEntry {
  /** The option name looked up in `supported`; undefined = always available. */
  readonly gate?: string;
  readonly syntax: string;
  readonly lines: readonly string[];
}

const GROUPS: readonly (readonly [title: string, entries: readonly HelpEntry[]])[] = [
  ['Standard options', [
    { syntax: '-h or -help', lines: ['display this help and exit'] },
    { syntax: '-version', lines: ['display version information and exit'] },
    { gate: 'machine', syntax: '-machine [type=]name[,prop[=value][,...]]', lines: [
      "selects emulated machine: pc or pc-i440fx-X.Y ('-machine help' for list)",
      'property accel=accel1[:accel2[:...]] selects accelerator',
    ] },
    { gate: 'machine', syntax: '-M name', lines: ['same as -machine name'] },
    { gate: 'cpu', syntax: '-cpu cpu', lines: ["select CPU ('-cpu help' for list)"] },
    { gate: 'accel', syntax: '-accel [accel=]accelerator[,prop[=value][,...]]', lines: [
      "select accelerator: tcg (alias interp: the interpreter), jit or kvm; use 'help' for a list",
      'thread=single|multi, tb-size=n, split-wx=on|off (accepted for tcg/jit)',
      'several -accel options are tried in order',
    ] },
    { gate: 'enable-kvm', syntax: '-enable-kvm', lines: ['enable KVM (same as -machine accel=kvm)'] },
    { gate: 'smp', syntax: '-smp [[cpus=]n][,maxcpus=n][,sockets=n][,cores=n][,threads=n]', lines: [
      'set the number of CPUs (only 1 is supported yet)',
    ] },
    { gate: 'm', syntax: '-m [size=]megs', lines: [
      'configure guest RAM size (default 128 MiB); a bare number is MiB,',
      'optional suffix k, M, G, T (e.g. -m 1G); rounded up to 8 KiB',
    ] },
    { gate: 'boot', syntax: '-boot [order=drives][,once=drives][,menu=on|off]', lines: [
      "      [,splash=sp_name][,splash-time=ms][,reboot-timeout=ms][,strict=on|off]",
      "'drives': floppy (a), hard disk (c), CD-ROM (d), network (n)",
    ] },
    { gate: 'name', syntax: '-name string1[,process=string2][,debug-threads=on|off]', lines: [
      'set the name of the guest',
    ] },
    { gate: 'device', syntax: '-device driver[,prop[=value][,...]]', lines: [
      "add device driver; prop=value set driver properties ('-device help' for list)",
    ] },
    { gate: 'global', syntax: '-global driver.property=value', lines: ['set a global default for a driver property'] },
    { gate: 'k', syntax: '-k language', lines: ["use keyboard layout (for example 'fr' for French)"] },
    { gate: 'usb', syntax: '-usb', lines: ['enable on-board USB host controller'] },
    { gate: 'nodefaults', syntax: '-nodefaults', lines: ["don't create default devices"] },
  ]],
  ['Block device options', [
    { gate: 'hda', syntax: '-hda/-hdb file', lines: ["use 'file' as hard disk 0/1 image"] },
    { gate: 'hdc', syntax: '-hdc/-hdd file', lines: ["use 'file' as hard disk 2/3 image"] },
    { gate: 'cdrom', syntax: '-cdrom file', lines: ["use 'file' as CD-ROM image (cdrom is ide1 master)"] },
    { gate: 'drive', syntax: '-drive [file=file][,if=type][,bus=n][,unit=m][,media=d][,index=i]', lines: [
      '       [,cache=writethrough|writeback|none|directsync|unsafe][,format=f]',
      '       [,snapshot=on|off][,readonly=on|off][,id=name]',
      "use 'file' as a drive image (',,' puts a comma in a file name)",
    ] },
    { gate: 'snapshot', syntax: '-snapshot', lines: ['write to temporary files instead of disk image files'] },
  ]],
  ['Display options', [
    { gate: 'display', syntax: '-display curses[,charset=<encoding>]', lines: ['text-mode display in the terminal (alias: tui)'] },
    { gate: 'display', syntax: '-display none', lines: ['no display (the guest still has a video card)'] },
    { gate: 'nographic', syntax: '-nographic', lines: ['disable graphical output and redirect serial I/Os to console'] },
    { gate: 'vga', syntax: '-vga [std|cirrus|vmware|qxl|xenfb|tcx|cg3|virtio|none]', lines: ['select video card type'] },
    { gate: 'vnc', syntax: '-vnc <display>', lines: ['start a VNC server on display'] },
    { gate: 'websocket', syntax: '-websocket [host:]port[,token=secret]', lines: [
      'serve the console over WebSocket (pcvm extension)',
    ] },
  ]],
  ['i386 target only', [
    { gate: 'fw_cfg', syntax: '-fw_cfg [name=]<name>,file=<file>', lines: ['add named fw_cfg entry with contents from file'] },
    { gate: 'fw_cfg', syntax: '-fw_cfg [name=]<name>,string=<str>', lines: ['add named fw_cfg entry with contents from string'] },
    { gate: 'uuid', syntax: '-uuid %08x-%04x-%04x-%04x-%012x', lines: ['specify machine UUID'] },
    { gate: 'smbios', syntax: '-smbios type=0[,vendor=str][,version=str][,date=str][,release=%d.%d]', lines: ['       [,uefi=on|off]', 'specify SMBIOS type 0 fields (direct kernel boot)'] },
    { gate: 'smbios', syntax: '-smbios type=1[,manufacturer=str][,product=str][,version=str][,serial=str]', lines: ['       [,uuid=uuid][,sku=str][,family=str]', 'specify SMBIOS type 1 fields (direct kernel boot)'] },
  ]],
  ['Network options', [
    { gate: 'netdev', syntax: '-netdev user,id=str[,net=addr[/mask]][,host=addr][,restrict=on|off]', lines: [
      '       [,hostfwd=rule][,guestfwd=rule][,dns=addr][,hostname=host]',
      'configure a user mode network backend with ID \'str\'',
      "hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport (repeatable)",
    ] },
    { gate: 'netdev', syntax: '-netdev socket,id=str[,listen=[host]:port][,connect=host:port]', lines: [
      'configure a network backend to connect to another network using a socket',
    ] },
    { gate: 'nic', syntax: '-nic [user|socket][,option][,...][mac=macaddr][,model=mn]', lines: [
      'initialize an on-board / default host NIC and a network backend (-nic none: no NIC)',
    ] },
    { gate: 'net', syntax: '-net nic[,macaddr=mac][,model=type] | -net user|socket[,...]', lines: [
      'legacy option to configure or create an on-board NIC and its backend',
    ] },
  ]],
  ['Character device options', [
    { gate: 'chardev', syntax: '-chardev backend,id=id[,mux=on|off][,logfile=PATH]', lines: [
      'backends: null, socket, udp, vc, ringbuf, file, pipe, pty, stdio, serial, parallel',
    ] },
  ]],
  ['Linux/Multiboot boot specific', [
    { gate: 'kernel', syntax: '-kernel bzImage', lines: ["use 'bzImage' as kernel image"] },
    { gate: 'append', syntax: '-append cmdline', lines: ["use 'cmdline' as kernel command line"] },
    { gate: 'initrd', syntax: '-initrd file', lines: ["use 'file' as initial ram disk"] },
  ]],
  ['Debug/Expert options', [
    { gate: 'serial', syntax: '-serial dev', lines: [
      "redirect the serial port to char device 'dev' (up to 4: COM1..COM4):",
      'stdio, null, none, vc, file:PATH, mon:stdio, pty, tcp:[host]:port[,server=on,wait=off],',
      'telnet:..., unix:PATH[,server=on], chardev:ID',
    ] },
    { gate: 'parallel', syntax: '-parallel dev', lines: ["redirect the parallel port to char device 'dev'"] },
    { gate: 'monitor', syntax: '-monitor dev', lines: ["redirect the monitor to char device 'dev'"] },
    { gate: 'qmp', syntax: '-qmp dev', lines: ['like -monitor but opens in \'control\' mode'] },
    { gate: 'mon', syntax: '-mon [chardev=]name[,mode=readline|control][,pretty=on|off]', lines: [] },
    { gate: 'pidfile', syntax: '-pidfile file', lines: ['write PID to \'file\''] },
    { gate: 'S', syntax: '-S', lines: ['freeze CPU at startup (use \'c\' to start execution)'] },
    { gate: 'gdb', syntax: '-gdb dev', lines: ['accept gdb connection on \'dev\''] },
    { gate: 'gdb', syntax: '-s', lines: ['shorthand for -gdb tcp::1234'] },
    { gate: 'd', syntax: '-d item1,...', lines: ["enable logging of specified items (use '-d help' for a list of log items)"] },
    { gate: 'D', syntax: '-D logfile', lines: ['output log to logfile (default stderr)'] },
    { gate: 'L', syntax: '-L path', lines: ['set the directory for the BIOS, VGA BIOS and keymaps (ignored)'] },
    { gate: 'bios', syntax: '-bios file', lines: ["set the filename for the BIOS"] },
    { gate: 'no-reboot', syntax: '-no-reboot', lines: ['exit instead of rebooting'] },
    { gate: 'no-shutdown', syntax: '-no-shutdown', lines: ['stop before shutdown'] },
    { gate: 'loadvm', syntax: '-loadvm tag', lines: ['start right away with a saved state (loadvm in monitor)'] },
    { gate: 'daemonize', syntax: '-daemonize', lines: ['daemonize QEMU after initializing'] },
    { gate: 'rtc', syntax: '-rtc [base=utc|localtime|<datetime>][,clock=host|rt|vm][,driftfix=none|slew]', lines: [
      'set the RTC base and clock',
    ] },
    { gate: 'icount', syntax: '-icount [shift=N][,align=on|off][,sleep=on|off]', lines: [
      'enable virtual instruction counter with 2^N clock ticks per instruction',
      '(a deterministic virtual clock; shift=auto is not supported yet)',
    ] },
    { gate: 'watchdog', syntax: '-watchdog model', lines: ['enable virtual hardware watchdog'] },
    { gate: 'incoming', syntax: '-incoming tcp:[host]:port | unix:socketpath | exec:cmdline | defer', lines: [
      'prepare for incoming migration',
    ] },
    { gate: 'object', syntax: '-object TYPENAME[,PROP1=VALUE1,...]', lines: ['create a new object of type TYPENAME'] },
    { gate: 'trace', syntax: '-trace [[enable=]<pattern>][,events=<file>][,file=<file>]', lines: ['specify tracing options'] },
  ]],
];

/** The text for `-h`. Options outside `supported` are marked "(not supported yet)". */
export function helpText(supported: ReadonlySet<string> = SUPPORTED_NOW_OPTIONS): string {
  const out: string[] = [
    'usage: pcvm [options] [disk_image]',
    '',
    "'disk_image' is a raw hard disk image for IDE hard disk 0",
    '',
  ];
  for (const [title, entries] of GROUPS) {
    out.push(`${title}:`);
    for (const e of entries) {
      const later = e.gate !== undefined && !supported.has(e.gate);
      const lines = later ? [...e.lines, '(not supported yet)'] : [...e.lines];
      // QEMU's layout: descriptions start at column 16, on the option's line when it fits.
      if (e.syntax.length < 16 && lines.length > 0) {
        out.push(`${e.syntax.padEnd(16)}${lines.shift()!}`);
      } else {
        out.push(e.syntax);
      }
      for (const l of lines) out.push(`${''.padEnd(16)}${l}`);
    }
    out.push('');
  }
  out.push('During emulation, the following keys are useful:');
  out.push('ctrl-a x        exit emulation (with -nographic or -serial mon:stdio)');
  out.push('ctrl-a c        switch between console and monitor');
  out.push('ctrl-a h        print the other ctrl-a keys');
  out.push('');
  out.push('Options start with - or -- (QEMU syntax); sub-options are key=value lists where');
  out.push("',,' is a literal comma.");
  return out.join('\n') + '\n';
}

/** The text for `-version`. */
export function versionText(version: string): string {
  return `pcvm emulator version ${version}\nA PC emulator with qemu-system-x86_64's command line\n`;
}

/** CPU models listed by `-cpu help` (src/cpu/x86/cpu-model.ts). */
const CPU_MODELS = cpuModelHelp();

/** The list printed for a `help` argument (`-d help`, `-machine help`, ...). */
export function topicHelpText(req: HelpRequest): string {
  const table = (rows: readonly (readonly [string, string])[], width: number): string[] =>
    rows.map(([n, d]) => `${n.padEnd(width)} ${d}`);
  let lines: string[];
  switch (req.topic) {
    case 'd':
      lines = ['Log items (comma separated):', ...table(LOG_ITEMS, 15), 'trace:PATTERN   enable trace events'];
      break;
    case 'machine':
      lines = [
        'Supported machines are:',
        'pc                   Standard PC (i440FX + PIIX, 1996) (default)',
        'pc-i440fx-X.Y        Standard PC (i440FX + PIIX, 1996), any QEMU version (same machine)',
      ];
      break;
    case 'cpu':
      lines = ['Available CPUs:', ...table(CPU_MODELS.map(([n, d]) => [`x86 ${n}`, d] as const), 20)];
      break;
    case 'accel':
      lines = ['Accelerators supported in pcvm:', 'tcg (alias interp)', 'jit', 'kvm'];
      break;
    case 'display':
      lines = ['Available display backend types:', 'none', 'curses (alias tui)'];
      break;
    case 'vga':
      lines = ['Available video card types:', 'std', 'cirrus', 'vmware', 'qxl', 'xenfb', 'tcx', 'cg3', 'virtio', 'none'];
      break;
    case 'netdev':
      lines = ['Available netdev backend types:', 'user', 'socket'];
      break;
    case 'chardev':
      lines = ['Available chardev backend types:', 'null', 'socket', 'udp', 'vc', 'ringbuf', 'file', 'pipe', 'pty', 'stdio', 'serial', 'parallel'];
      break;
    case 'device': {
      const model = req.driver !== undefined ? DEVICE_MODELS[req.driver] : undefined;
      if (req.driver !== undefined && model !== undefined) {
        lines = [`${req.driver} options:`];
        for (const [name, p] of Object.entries(model.props)) {
          lines.push(`  ${`${name}=<${p.type}>`.padEnd(22)} -  (default: ${p.dflt})`);
        }
      } else {
        lines = ['Misc devices:'];
        for (const [name, m] of Object.entries(DEVICE_MODELS)) lines.push(`name "${name}", bus ISA-bus, desc "${m.description}"`);
      }
      break;
    }
  }
  return lines.join('\n') + '\n';
}
