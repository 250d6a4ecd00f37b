/**
 * An in-memory disk with internal snapshots, keeping the SnapshotCapableBackend contract
 * (src/block/block-backend.ts) for tests of savevm/loadvm before the qcow2 driver is wired in:
 * a snapshot copies the contents and keeps the VM state beside them; ids count up from 1.
 */
import { BlockError, type BlockBackend, type SnapshotCapableBackend, type SnapshotInfo } from '../../src/block/block-backend.js';

export class FakeSnapshotDisk implements SnapshotCapableBackend {
  readonly format = 'qcow2';
  readonly data: Uint8Array;
  private readonly snaps: { info: SnapshotInfo; data: Uint8Array; vmState: Uint8Array }[] = [];
  private nextId = 1;
  flushes = 0;

  constructor(readonly fileName: string, readonly sizeBytes = 1024 * 1024, readonly readOnly = false, readonly nodeName?: string) {
    this.data = new Uint8Array(sizeBytes);
  }

  read(offset: number, buf: Uint8Array): void {
    buf.set(this.data.subarray(offset, offset + buf.length));
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new BlockError('read-only');
    this.data.set(data, offset);
  }

  flush(): void {
    this.flushes++;
  }

  close(): void {}

  listSnapshots(): SnapshotInfo[] {
    return this.snaps.map((s) => s.info);
  }

  private find(nameOrId: string) {
    const s = this.snaps.find((x) => x.info.id === nameOrId) ?? this.snaps.find((x) => x.info.name === nameOrId);
    if (!s) throw new BlockError(`snapshot '${nameOrId}' not found`);
    return s;
  }

  createSnapshot(info: Omit<SnapshotInfo, 'id' | 'vmStateSize'>, vmState: Uint8Array): SnapshotInfo {
    const old = this.snaps.findIndex((x) => x.info.name === info.name);
    if (old >= 0) this.snaps.splice(old, 1);
    const full: SnapshotInfo = { ...info, id: String(this.nextId++), vmStateSize: vmState.length };
    this.snaps.push({ info: full, data: this.data.slice(), vmState: vmState.slice() });
    return full;
  }

  readVmState(nameOrId: string): Uint8Array {
    return this.find(nameOrId).vmState.slice();
  }

  applySnapshot(nameOrId: string): void {
    this.data.set(this.find(nameOrId).data);
  }

  deleteSnapshot(nameOrId: string): void {
    this.snaps.splice(this.snaps.indexOf(this.find(nameOrId)), 1);
  }
}

/** A writable disk without internal snapshots (a raw image). */
export class FakeRawDisk implements BlockBackend {
  readonly format = 'raw';
  constructor(readonly fileName: string, readonly sizeBytes = 65536, readonly readOnly = false) {}
  read(): void {}
  write(): void {}
  flush(): void {}
  close(): void {}
}
