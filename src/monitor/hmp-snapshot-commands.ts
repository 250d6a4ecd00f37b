/**
 * HMP snapshot and migration commands with QEMU's syntax (hmp-commands.hx) and messages:
 * `savevm [tag]`, `loadvm tag`, `delvm tag`, `migrate [-d] uri`, `migrate_incoming uri`. They
 * go through the machine's VmSnapshots (src/snapshot/vm-snapshots.ts); a failure prints
 * `Error: <QEMU's message>`.
 */
import type { Machine } from '../machine/machine.js';
import type { ArgReader } from './hmp-args.js';
import type { MemoryCommand } from './hmp-memory-commands.js';

/** Runs `fn`; an exception becomes QEMU's `Error: …` line. */
function attempt(fn: () => void): string {
  try {
    fn();
    return '';
  } catch (e) {
    return `Error: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function tag(r: ArgReader): string {
  const t = r.string();
  r.end();
  return t;
}

export const SNAPSHOT_COMMANDS: MemoryCommand[] = [
  {
    name: 'savevm', args: '[tag]', help: 'save a VM snapshot. If no tag is provided, a new snapshot is created',
    run(m: Machine, r: ArgReader) {
      const t = r.atEnd() ? undefined : r.string();
      r.end();
      return attempt(() => m.snapshots.save(t));
    },
  },
  { name: 'loadvm', args: 'tag', help: 'restore a VM snapshot from its tag', run: (m, r) => { const t = tag(r); return attempt(() => m.snapshots.load(t)); } },
  { name: 'delvm', args: 'tag', help: 'delete a VM snapshot from its tag', run: (m, r) => { const t = tag(r); return attempt(() => m.snapshots.delete(t)); } },
  {
    name: 'migrate', args: '[-d] uri', help: 'migrate to URI (using -d to not wait for completion)',
    run(m, r) {
      // -d: the migration is synchronous here, so there is nothing to wait for either way.
      while (!r.atEnd() && /^-[dbir]\b/.test(r.text.slice(r.pos))) r.pos += 2;
      const uri = tag(r);
      return attempt(() => m.snapshots.migrate(uri));
    },
  },
  {
    name: 'migrate_incoming', args: 'uri', help: 'Continue an incoming migration from an -incoming defer',
    run: (m, r) => { const uri = tag(r); return attempt(() => m.snapshots.migrateIncoming(uri)); },
  },
];
