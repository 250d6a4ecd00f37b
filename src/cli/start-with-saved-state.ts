/**
 * `-incoming URI` and `-loadvm TAG`: what a machine does with a saved state before its guest
 * first runs, shared by the `pcvm` command and the library's Machine so that both mean the
 * same (QEMU's qemu_init → qmp_x_exit_preconfig: -loadvm loads the snapshot, then the VM
 * starts; -incoming waits in `inmigrate` and the VM runs once the stream is in, or stays
 * paused under -S, or keeps waiting for migrate-incoming with `defer`).
 */
import { SnapshotError } from '../errors.js';
import type { Machine } from '../machine/machine.js';
import type { CliOptions } from './options.js';

/**
 * Restores what `-incoming`/`-loadvm` name and starts the machine (unless -S or `-incoming
 * defer` keep it waiting). A state that does not load throws a SnapshotError whose message
 * is the CLI's (QEMU ends with status 1 there); the guest has not run then.
 */
export function startWithSavedState(machine: Machine, opts: Pick<CliOptions, 'incoming' | 'loadvm'>): void {
  const inc = opts.incoming;
  if (inc) {
    machine.enterPausedState('inmigrate');
    if (inc.kind === 'file' || inc.kind === 'exec') {
      try {
        // Runs the VM afterwards (or leaves it paused under -S).
        machine.snapshots.migrateIncoming(inc.kind === 'file' ? `file:${inc.path}` : `exec:${inc.command}`);
      } catch (e) {
        throw new SnapshotError(`load of migration failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return;
  }
  if (opts.loadvm !== undefined) {
    try {
      machine.snapshots.load(opts.loadvm);
    } catch (e) {
      throw e instanceof SnapshotError ? e : new SnapshotError(e instanceof Error ? e.message : String(e));
    }
  }
  machine.start();
}
