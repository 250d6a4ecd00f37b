/**
 * HMP commands that act on the machine's devices and CPUs, with QEMU's syntax
 * (hmp-commands.hx) and wording (monitor/hmp-cmds.c, ui/ui-hmp-cmds.c, block/monitor/
 * block-hmp-cmds.c): `sendkey`, `cpu`, `commit`.
 */
import { QKEYCODE_QNUM } from '../../devices/input/key-names.js';
import type { MemoryCommand } from './hmp-memory-commands.js';

/** The qnums `sendkey 0x..` accepts: those of QEMU's named keys (others map to no key). */
const KNOWN_QNUMS = new Set([...QKEYCODE_QNUM.values()].filter((q) => q !== 0));

/**
 * `sendkey` keys as hmp_sendkey parses them: names joined by '-', each a QKeyCode name, a
 * number in C syntax starting with 0x, or `<` for `less`. Returns the qnums, or the part that
 * is not a key.
 */
export function parseSendkeyKeys(keys: string): number[] | { invalid: string } {
  const out: number[] = [];
  for (let part of keys.split('-')) {
    if (part === '<') part = 'less';
    if (part.startsWith('0x')) {
      if (!/^0x[0-9a-fA-F]+$/.test(part)) return { invalid: part };
      const n = parseInt(part.slice(2), 16);
      out.push(KNOWN_QNUMS.has(n) ? n : 0);
      continue;
    }
    const q = QKEYCODE_QNUM.get(part);
    if (q === undefined) return { invalid: part };
    out.push(q);
  }
  return out;
}

export const DEVICE_COMMANDS: MemoryCommand[] = [
  {
    name: 'sendkey', args: 'keys [hold_ms]', help: "send keys to the VM (e.g. 'sendkey ctrl-alt-f1', default hold time=100 ms)",
    run(m, r) {
      const keys = r.string();
      const hold = r.atEnd() ? undefined : Number(BigInt.asIntN(32, r.int()));
      r.end();
      const parsed = parseSendkeyKeys(keys);
      if (!Array.isArray(parsed)) return `invalid parameter: ${parsed.invalid}`;
      const err = m.sendKeys(parsed, hold);
      return err ? `Error: ${err}` : '';
    },
  },
  {
    name: 'cpu', args: 'index', help: 'set the default CPU',
    run(_m, r) {
      const index = r.int();
      r.end();
      // One CPU: index 0 is already the monitor's CPU (monitor_set_cpu).
      return index === 0n ? '' : 'invalid CPU index';
    },
  },
  {
    name: 'commit', args: 'device|all', help: 'commit changes to the disk images (if -snapshot is used) or backing files',
    run(_m, r) {
      const device = r.string('block device name');
      r.end();
      // No drive is attached to the machine yet: `all` has nothing to do, any name is unknown.
      return device === 'all' ? '' : `Device '${device}' not found`;
    },
  },
];
