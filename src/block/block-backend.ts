/**
 * The contract between a disk image format (raw, qcow2) and the devices that use it
 * (virtio-blk) or the snapshot code. Calls are synchronous: the emulator runs the guest on
 * one thread and a virtio request completes before the device raises its interrupt, as an
 * in-order device may.
 *
 * Offsets and lengths are in bytes; the device checks them against `sizeBytes` before it
 * calls, and a backend throws `BlockError` (never a bare host error) for anything it cannot
 * do, so the device can turn it into an I/O error status for the guest.
 */

/** A failed image operation; `message` is one line a user can act on. */
export class BlockError extends Error {
  override readonly name = 'BlockError';
}

export interface BlockBackend {
  /** Format name as `info block` shows it: 'raw', 'qcow2'. */
  readonly format: string;
  /** The file as the user named it. */
  readonly fileName: string;
  /** Virtual disk size in bytes (a multiple of 512). */
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  /** Fills `buf` from virtual offset `offset`; unallocated areas read as zeros (or the backing file). */
  read(offset: number, buf: Uint8Array): void;
  /** Writes `data` at virtual offset `offset`. Throws BlockError when read-only. */
  write(offset: number, data: Uint8Array): void;
  /** Makes everything written so far durable (fsync of the host file, metadata first). */
  flush(): void;
  /** Deallocates a range if the format can (optional: undefined when it cannot). */
  discard?(offset: number, length: number): void;
  /** Makes a range read as zeros. */
  writeZeroes?(offset: number, length: number): void;
  /** Flushes and closes the host file(s). Idempotent. */
  close(): void;
}

/**
 * Internal snapshots (qcow2 only): the snapshot table of the image, as `qemu-img snapshot -l`
 * lists it, plus the VM state stored in the image's vmstate area.
 */
export interface SnapshotInfo {
  /** Unique id string, QEMU numbers them "1", "2", … */
  readonly id: string;
  readonly name: string;
  /** VM state size in bytes (0 for a disk-only snapshot). */
  readonly vmStateSize: number;
  /** Host wall-clock time the snapshot was taken. */
  readonly dateSec: number;
  readonly dateNsec: number;
  /** Guest virtual clock at the snapshot, in ns. */
  readonly vmClockNs: number;
  /** Instruction count for -icount replay, or -1 when not recorded. */
  readonly icount: number;
}

export interface SnapshotCapableBackend extends BlockBackend {
  listSnapshots(): SnapshotInfo[];
  /**
   * Takes an internal snapshot of the disk's current contents named `name` (replacing an
   * existing one of that name as QEMU's savevm does) and stores `vmState` with it. Ordered so
   * that a crash at any point leaves a valid image (at worst with leaked clusters).
   */
  createSnapshot(info: Omit<SnapshotInfo, 'id' | 'vmStateSize'>, vmState: Uint8Array): SnapshotInfo;
  /** The VM state saved with snapshot `nameOrId`. */
  readVmState(nameOrId: string): Uint8Array;
  /** Reverts the disk to snapshot `nameOrId`. */
  applySnapshot(nameOrId: string): void;
  deleteSnapshot(nameOrId: string): void;
}

export function isSnapshotCapable(b: BlockBackend): b is SnapshotCapableBackend {
  return typeof (b as Partial<SnapshotCapableBackend>).createSnapshot === 'function';
}
