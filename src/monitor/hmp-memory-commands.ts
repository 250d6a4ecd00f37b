/**
 * HMP commands that look at guest memory and ports, with QEMU's syntax (hmp-commands.hx) and
 * output (monitor/hmp-cmds-target.c, monitor/hmp-cmds.c): `x` and `xp` dumps, `p`/`print`,
 * `i` and `o` port I/O, `memsave` and `pmemsave`. They reach the machine through
 * MachineControl (readVirtual, readPhysical, portRead, portWrite).
 *
 * The `i` format of x/xp disassembles (disasm/disassemble.ts) in the CPU's current mode, as
 * QEMU 7.2 does (target/i386 x86_disas_set_info: 64-bit with EFER.LMA and CS.L, 32-bit with
 * CS.D, else 16-bit); the size letter does not change it (QEMU 7.2 ignores it too).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Machine } from '../machine/machine.js';
import { ArgReader } from './hmp-args.js';
import { errnoText } from '../machine/errno-text.js';
import { LOG_ITEMS } from '../machine/log.js';
import { formatPrint, memoryDump } from './memory-dump.js';
import { disassembleListing, Mode } from './disasm/disassemble.js';
import { Ar, SegReg } from '../cpu/x86/state.js';

const EFER_LMA = 1 << 10;

/** The CPU's code size, which QEMU 7.2 disassembles `x/i` and `xp/i` in (HF_CS64 / HF_CS32). */
function disassemblyMode(m: Machine): Mode {
  const csAr = m.cpu.s.segAr[SegReg.CS]!;
  if (m.pagingRegisters().efer & EFER_LMA && csAr & Ar.L) return Mode.Long64;
  return csAr & Ar.DB ? Mode.Prot32 : Mode.Real16;
}

export interface MemoryCommand {
  name: string;
  aliases?: string[];
  args: string;
  help: string;
  run(m: Machine, r: ArgReader): string;
}

const TWO_53 = 2n ** 53n;

function physical(m: Machine, addr: bigint, len: number): Uint8Array | undefined {
  const a = BigInt.asUintN(64, addr);
  if (a + BigInt(len) > TWO_53) return undefined;
  return m.readPhysical(Number(a), len);
}

function dump(m: Machine, r: ArgReader, isPhysical: boolean): string {
  const spec = r.format();
  const addr = r.long();
  r.end();
  const read = isPhysical ? (a: bigint, l: number) => physical(m, a, l) : (a: bigint, l: number) => m.readVirtual(a, l);
  if (spec.format === 'i') return disassembleListing(addr, spec.count, disassemblyMode(m), read);
  return memoryDump(spec, addr, read);
}

/** QEMU's port width from a format size: 2 and 4 as given, anything else a byte access. */
function portWidth(size: number): 1 | 2 | 4 {
  return size === 2 || size === 4 ? size : 1;
}

/** Writes `size` bytes from `read` to `filename` in 1 KiB pieces, as qmp_memsave does. */
function saveMemory(filename: string, addr: bigint, size: number, read: (a: bigint, l: number) => Uint8Array | undefined, invalid: () => string): string {
  let fd: number;
  try {
    fd = openSync(filename, 'w');
  } catch (e) {
    return `Error: Could not open '${filename}': ${errnoText(e)}`;
  }
  try {
    let a = addr;
    for (let left = size; left > 0;) {
      const l = Math.min(left, 1024);
      const buf = read(a, l);
      if (!buf) return `Error: ${invalid()}`;
      if (writeSync(fd, buf) !== l) return 'Error: An IO error has occurred';
      a += BigInt(l);
      left -= l;
    }
  } catch {
    return 'Error: An IO error has occurred';
  } finally {
    closeSync(fd);
  }
  return '';
}

export const MEMORY_COMMANDS: MemoryCommand[] = [
  {
    name: 'log', args: 'item1[,...]', help: 'activate logging of the specified items',
    run(m, r) {
      const items = r.string();
      r.end();
      let list: string[];
      if (items === 'none') list = [];
      else {
        // qemu_str_to_log_mask: `all` or known names (and trace: patterns); any unknown → help line.
        list = [];
        for (const item of items.split(',')) {
          if (item === 'all') list.push(...LOG_ITEMS.map(([n]) => n));
          else if ((item.startsWith('trace:') && item.length > 6) || LOG_ITEMS.some(([n]) => n === item)) list.push(item);
          else return 'log item1[,...] -- activate logging of the specified items';
        }
      }
      return m.setLogItems(list) ? '' : 'Error: logging is not configurable in this machine';
    },
  },
  {
    name: 'logfile', args: 'filename', help: 'output logs to \'filename\'',
    run(m, r) {
      const file = r.string('filename');
      r.end();
      return m.setLogFile(file) ?? '';
    },
  },
  {
    name: 'x', args: '/fmt addr', help: 'virtual memory dump starting at \'addr\'',
    run: (m, r) => dump(m, r, false),
  },
  {
    name: 'xp', args: '/fmt addr', help: 'physical memory dump starting at \'addr\'',
    run: (m, r) => dump(m, r, true),
  },
  {
    name: 'print', aliases: ['p'], args: '/fmt expr', help: 'print expression value (use $reg for CPU register access)',
    run(m, r) {
      const spec = r.format();
      const val = r.long();
      r.end();
      return formatPrint(spec.format, val);
    },
  },
  {
    name: 'i', args: '/fmt addr', help: 'I/O port read',
    run(m, r) {
      const spec = r.format();
      let addr = Number(BigInt.asIntN(32, r.int()));
      if (r.optionalDot()) {
        // `.index` (QEMU's `index:i.`): written to the port first, then the next port is read.
        const index = Number(BigInt.asIntN(32, r.int()));
        m.portWrite(addr & 0xffff, 1, index & 0xff);
        addr++;
      }
      r.end();
      addr &= 0xffff;
      const width = portWidth(spec.size);
      const val = m.portRead(addr, width);
      const suffix = width === 1 ? 'b' : width === 2 ? 'w' : 'l';
      return `port${suffix}[0x${addr.toString(16).padStart(4, '0')}] = 0x${val.toString(16).padStart(spec.size * 2, '0')}`;
    },
  },
  {
    name: 'o', args: '/fmt addr value', help: 'I/O port write',
    run(m, r) {
      const spec = r.format();
      const addr = Number(BigInt.asIntN(32, r.int())) & 0xffff;
      const val = Number(BigInt.asUintN(32, r.int()));
      r.end();
      m.portWrite(addr, portWidth(spec.size), val);
      return '';
    },
  },
  {
    name: 'memsave', args: 'addr size file', help: 'save to disk virtual memory dump starting at \'addr\' of size \'size\'',
    run(m, r) {
      const addr = r.long();
      const size = Number(BigInt.asUintN(32, r.int()));
      const file = r.string();
      r.end();
      const invalid = () => `Invalid addr 0x${BigInt.asUintN(64, addr).toString(16).padStart(16, '0')}/size ${size} specified`;
      return saveMemory(file, addr, size, (a, l) => m.readVirtual(a, l), invalid);
    },
  },
  {
    name: 'pmemsave', args: 'addr size file', help: 'save to disk physical memory dump starting at \'addr\' of size \'size\'',
    run(m, r) {
      const addr = r.long();
      const size = Number(BigInt.asUintN(32, r.int()));
      const file = r.string();
      r.end();
      // QEMU's pmemsave does not check the read: what is not there reads as the bus's 0xff.
      const read = (a: bigint, l: number) => physical(m, a, l) ?? Uint8Array.from({ length: l }, (_, i) => physical(m, a + BigInt(i), 1)?.[0] ?? 0xff);
      return saveMemory(file, addr, size, read, () => '');
    },
  },
];
