/**
 * The human monitor (HMP): QEMU's command names and output formats, over MachineControl.
 * This is the core set every front end needs; the monitor issue grows it (x/xp, info mtree,
 * savevm…). Unknown commands answer as QEMU does: `unknown command: 'foo'`.
 */
import type { Machine } from '../machine/machine.js';
import { formatRegisters } from './info-registers.js';
import type { HmpSession } from './hmp-session.js';
import { formatInfoPci } from './info-pci.js';
import { ArgReader, HmpArgError } from './hmp-args.js';
import { MEMORY_COMMANDS } from './hmp-memory-commands.js';
import { formatInfoMem, formatInfoTlb } from './info-mem.js';
import { formatInfoMtree } from './info-mtree.js';
import { hmpGdbserver } from './hmp-gdbserver.js';
import { formatInfoBlock } from '../machine/virtio-board.js';
import { SNAPSHOT_COMMANDS } from './hmp-snapshot-commands.js';
import { DEVICE_COMMANDS } from './hmp-device-commands.js';
import { QKEYCODE_QNUM } from '../../devices/input/key-names.js';
import { formatInfoQtree } from './info-qtree.js';
import { machineQtree } from '../machine/qtree.js';

export const HMP_PROMPT = '(qemu) ';

interface Command {
  name: string;
  aliases?: string[];
  args: string;
  help: string;
  run(m: Machine, args: string[], session?: HmpSession, rest?: string, typedName?: string): string;
}

/** An entry page-table reader over MachineControl.readPhysical (unassigned reads as 0). */
function entryReader(m: Machine) {
  return (addr: number, bytes: 4 | 8): [number, number] => {
    const b = m.readPhysical(addr, bytes);
    if (!b) return [0, 0];
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return [dv.getUint32(0, true), bytes === 8 ? dv.getUint32(4, true) : 0];
  };
}

/** `info` topics: `args` is the argument synopsis `help` prints (QEMU's .params). */
const INFO: Record<string, { args?: string; help: string; run(m: Machine, session?: HmpSession): string }> = {
  status: {
    help: 'show the current VM status (running|paused)',
    run(m) {
      const st = m.status();
      if (st.state === 'running') return 'VM status: running';
      if (st.state === 'paused') return 'VM status: paused';
      return `VM status: paused (${st.state})`;
    },
  },
  // QEMU 7.2 heads the dump with the CPU's index after an empty line.
  registers: { help: 'show the cpu registers', run: (m) => `\nCPU#0\n${formatRegisters(m.cpu)}` },
  cpus: { help: 'show infos for each CPU', run: () => `* CPU #0: thread_id=${process.pid}` },
  pic: { help: 'show PIC state', run: (m) => m.pic.infoPic() },
  lapic: { help: 'show local apic state', run: (m) => m.infoLapic() },
  ioapic: { help: 'show io apic state', run: (m) => m.infoIoapic() },
  pci: { help: 'show PCI info', run: (m) => formatInfoPci(m.queryPci()) },
  block: { help: 'show info of one block device or all block devices', run: (m) => formatInfoBlock(m.queryBlock()) },
  network: { help: 'show the network state', run: (m) => m.infoNetwork() },
  irq: {
    help: 'show the interrupts statistics (if available)',
    run(m) {
      const lines = ['IRQ statistics for isa-i8259:'];
      m.pic.irqCounts().forEach((n, i) => {
        if (n > 0) lines.push(`${String(i).padStart(2)}: ${n}`);
      });
      return lines.join('\n');
    },
  },
  version: { help: 'show the version of QEMU', run: (m) => m.version },
  name: { help: 'show the current VM name', run: (m) => (m.config.name ? m.config.name : '') },
  accel: { help: 'show accelerator info', run: (m) => `accelerator: ${m.accel.name}` },
  mem: { help: 'show the active virtual memory mappings', run: (m) => formatInfoMem(m.pagingRegisters(), entryReader(m)) },
  qtree: { help: 'show device tree', run: (m) => formatInfoQtree(machineQtree(m)) },
  mtree: {
    help: 'show memory tree',
    run(m) {
      const map = m.memoryMap();
      return formatInfoMtree(map.memory, map.io);
    },
  },
  tlb: { help: 'show virtual to physical memory mappings', run: (m) => formatInfoTlb(m.pagingRegisters(), entryReader(m)) },
  snapshots: { help: 'show the currently saved VM snapshots', run: (m) => m.snapshots.info() },
  chardev: { help: 'show the character devices', run: (m) => m.chardevs.format() },
  // Every line of the table ends in a newline; the session adds the last one itself.
  usernet: { help: 'show user network stack connection states', run: (m) => m.virtio.infoUsernet().replace(/\n$/, '') },
  history: {
    help: 'show the command line history',
    run: (_m, session) => (session?.commandHistory ?? []).map((line, i) => `${i}: '${line}'`).join('\n'),
  },
};

/** QEMU's help_cmd_dump_one for `info` topics: `info NAME ARGS -- HELP`, sorted by name. */
function infoTopics(): string {
  return Object.keys(INFO).sort().map((k) => `info ${k} ${INFO[k]!.args ?? ''} -- ${INFO[k]!.help}`).join('\n');
}

/** `name|alias ARGS -- HELP` (help_cmd_dump_one). */
function helpLine(c: Command): string {
  return `${[c.name, ...(c.aliases ?? [])].join('|')} ${c.args} -- ${c.help}`;
}

const COMMANDS: Command[] = [
  {
    name: 'help', aliases: ['?'], args: '[cmd]', help: 'show the help',
    run(m, args) {
      const name = args[0];
      // As QEMU's help_cmd: every command sorted by name, then the `info` topics sorted.
      if (!name) return [...COMMANDS].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(helpLine).join('\n') + '\n' + infoTopics();
      // `help CMD`: that command's line (`help info`: the info topics), as QEMU's help_cmd.
      if (name === 'info') return infoTopics();
      const cmd = COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
      return cmd ? helpLine(cmd) : `unknown command: '${name}'`;
    },
  },
  {
    name: 'info', args: '[subcommand]', help: 'show various information about the system state',
    run(m, args, session) {
      const sub = args[0];
      if (!sub) return infoTopics();
      const entry = Object.hasOwn(INFO, sub) ? INFO[sub] : undefined;
      if (!entry) return `Error: unknown info subcommand '${sub}'`;
      return entry.run(m, session);
    },
  },
  { name: 'stop', aliases: ['s'], args: '', help: 'stop emulation', run: (m) => (m.stop(), '') },
  { name: 'cont', aliases: ['c'], args: '', help: 'resume emulation', run: (m) => (m.cont(), '') },
  { name: 'system_reset', args: '', help: 'reset the system', run: (m) => (m.reset(), '') },
  { name: 'system_powerdown', args: '', help: 'send system power down event', run: (m) => (m.powerdown(), '') },
  { name: 'nmi', args: '', help: 'inject an NMI', run: (m) => (m.cpu.injectNmi(), m.kick(), '') },
  { name: 'quit', aliases: ['q'], args: '', help: 'quit the emulator', run: (m) => (m.quit(), '') },
  {
    name: 'gdbserver', args: '[device]', help: "start gdbserver on given device (default 'tcp::1234'), stop with 'none'",
    run: (m, args) => hmpGdbserver(m, args[0]),
  },
  // Commands with QEMU's typed arguments: a syntax error prints QEMU's message and its hint.
  ...[...MEMORY_COMMANDS, ...SNAPSHOT_COMMANDS, ...DEVICE_COMMANDS].map((c): Command => ({
    name: c.name, aliases: c.aliases, args: c.args, help: c.help,
    run(m, _args, _session, rest = '', typed = c.name) {
      try {
        return c.run(m, new ArgReader(rest, m, c.name));
      } catch (e) {
        if (!(e instanceof HmpArgError)) throw e;
        // The hint names the command as typed (QEMU prints the line up to its arguments).
        return `${e.message}\nTry "help ${typed}" for more information`;
      }
    },
  })),
];

/** Runs one HMP command line; returns its output (without the trailing prompt). */
export function runHmpCommand(m: Machine, line: string, session?: HmpSession): string {
  const words = line.trim().split(/\s+/).filter((w) => w.length > 0);
  if (words.length === 0) return '';
  // QEMU's command name ends at a space or '/', so that `x/4x 0x100` works too.
  const nameMatch = /^[^\s/]+/.exec(line.trimStart());
  const name = nameMatch ? nameMatch[0] : words[0]!;
  const rest = line.trimStart().slice(name.length);
  const args = rest.trim().split(/\s+/).filter((w) => w.length > 0);
  const cmd = COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
  if (!cmd) return `unknown command: '${name}'`;
  try {
    return cmd.run(m, args, session, rest, name);
  } catch (e) {
    // A failing command never takes the monitor (or pcvm) down.
    return `Error: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/**
 * Completions for the last word of a partly typed line, as QEMU's monitor_find_completion:
 * command names; `info` topics; command names after `help`; QEMU key names after `sendkey`
 * (the part after the last '-', returned with what precedes it). Each candidate is the whole
 * last word, sorted.
 */
export function hmpCompletions(before: string): string[] {
  const words = before.trimStart().split(/\s+/);
  const word = words[words.length - 1] ?? '';
  const commandNames = () => COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]).filter((n) => n !== '?');
  if (words.length <= 1) return commandNames().filter((n) => n.startsWith(word)).sort();
  if (words.length !== 2) return [];
  if (words[0] === 'info') return Object.keys(INFO).filter((n) => n.startsWith(word)).sort();
  if (words[0] === 'help' || words[0] === '?') return commandNames().filter((n) => n.startsWith(word)).sort();
  if (words[0] === 'sendkey') {
    const head = word.slice(0, word.lastIndexOf('-') + 1);
    const key = word.slice(head.length);
    return [...QKEYCODE_QNUM.keys()].filter((k) => k.startsWith(key) && k !== 'unmapped').sort().map((k) => head + k);
  }
  return [];
}

export function hmpBanner(version: string): string {
  return `pcvm ${version} monitor - type 'help' for more information`;
}
