/**
 * The contract every emulated device keeps, so that the board can reset it and snapshots can
 * save and restore it without knowing what is inside.
 *
 * All guest-visible state of a device lives in one plain-data object (numbers, booleans,
 * strings, arrays of numbers, typed arrays). Collaborators (IRQ lines, the clock, back ends)
 * are injected and never saved. `reset()` is `loadState(default…State())`.
 */

export interface Device {
  /** Instance name as the monitor shows it, e.g. "serial0", "pic". */
  readonly id: string;
  /** Version of the state shape; bump it and add a migration when the shape changes. */
  readonly stateVersion: number;
  /** Back to power-on state. */
  reset(): void;
  /** A deep copy of all guest-visible state as plain data. */
  saveState(): unknown;
  /**
   * Replaces the state with `state`, which is untrusted: every field is validated (throwing
   * SnapshotError) before anything changes, then derived things (IRQ levels, timer
   * deadlines) are recomputed.
   */
  loadState(state: unknown, version: number): void;
  /**
   * Set (to the reason) while the device's state cannot be saved: savevm and migrate then fail
   * with QEMU's "State blocked by non-migratable device" instead of leaving state out.
   */
  readonly migrationBlocker?: string;
}
