/**
 * savevm, loadvm, delvm, `info snapshots` and migration to a file or a command, as QEMU
 * (migration/savevm.c save_snapshot/load_snapshot/delete_snapshot, 7.2) does them:
 *
 *  savevm: every writable disk must support internal snapshots; the VM state goes to the first
 *    writable snapshot-capable disk. Stop the VM, flush the disks (our block layer is
 *    synchronous, so a flush is the drain), save the machine state (before any disk is touched,
 *    so a blocked or failing save changes nothing), take the snapshot on every writable disk
 *    (replacing one of the same name), resume if it was running.
 *  loadvm: the snapshot must exist on every writable disk and carry VM state. The state is
 *    read and decoded first; then the VM stops, every component loads (rolled back if one
 *    refuses, see machine-state.ts), the disks revert, RAM is written, and the VM resumes if
 *    it was running — so a corrupt snapshot leaves the VM and its disks as they were.
 *  migrate file:PATH / exec:CMD: the same stream written to a file or a command's stdin; the
 *    source then waits in `postmigrate`. -incoming / migrate-incoming read it back.
 *
 * Messages are QEMU's, so that scripts written for QEMU read them.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { SnapshotError } from '../errors.js';
import { isSnapshotCapable, type BlockBackend, type SnapshotCapableBackend, type SnapshotInfo } from '../block/block-backend.js';
import type { Machine } from '../machine/machine.js';
import { applyVmState, loadVmState, saveVmState, stageVmState } from './machine-state.js';
import { formatSnapshotList } from './snapshot-list-format.js';
import { SnapshotJobs } from './snapshot-jobs.js';

/** Which disks a snapshot command works on (QMP snapshot-save names them; HMP takes all). */
export interface DiskSelection {
  /** The disks to snapshot; default every disk of the machine. */
  devices?: BlockBackend[];
  /** The disk for the VM state; default the first writable snapshot-capable one. */
  vmstate?: BlockBackend;
}

/** QMP query-migrate's view of the last outgoing or incoming migration. */
export interface MigrationInfo {
  status: 'none' | 'completed' | 'failed';
  totalTimeMs?: number;
  error?: string;
}

/** A migration URI pcvm handles. */
type MigrationTarget = { kind: 'file'; path: string } | { kind: 'exec'; command: string };

/** Output of a migration `exec:` command is capped at this (RAM is the bulk of it). */
const EXEC_MAX_BUFFER = 64 * 1024 * 1024 * 1024;

export function parseMigrationUri(uri: string): MigrationTarget {
  if (uri.startsWith('file:')) {
    const path = uri.slice(5);
    // XXX: QEMU 8.2's `file:PATH,offset=N` is not supported; a comma is taken as part of the name.
    if (path === '') throw new SnapshotError("Parameter 'uri' expects a valid migration protocol");
    return { kind: 'file', path };
  }
  if (uri.startsWith('exec:')) return { kind: 'exec', command: uri.slice(5) };
  if (/^(tcp|unix|fd|rdma|vsock):/.test(uri)) throw new SnapshotError(`migration URI '${uri}': only file: and exec: are supported`);
  throw new SnapshotError("Parameter 'uri' expects a valid migration protocol");
}

/** The name QEMU gives a snapshot saved without a tag: vm-YYYYMMDDHHMMSS in local time. */
function defaultSnapshotName(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `vm-${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
}

/** A disk's name in messages: its node name when the -drive wiring gives one, else its file. */
export function diskName(b: BlockBackend): string {
  const node = (b as { nodeName?: unknown }).nodeName;
  return typeof node === 'string' && node !== '' ? node : b.fileName;
}

function hasSnapshot(d: SnapshotCapableBackend, tag: string): boolean {
  return d.listSnapshots().some((s) => s.name === tag || s.id === tag);
}

export class VmSnapshots {
  /** QMP snapshot-save/-load/-delete jobs (query-jobs, JOB_STATUS_CHANGE). */
  readonly jobs = new SnapshotJobs();
  private migration: MigrationInfo = { status: 'none' };

  constructor(private readonly m: Machine) {}

  /** QEMU's bdrv_all_can_snapshot + bdrv_all_find_vmstate_bs. */
  private disks(sel: DiskSelection = {}): { writable: SnapshotCapableBackend[]; vmDisk: SnapshotCapableBackend } {
    const all = sel.devices ?? this.m.blockBackends();
    const writable: SnapshotCapableBackend[] = [];
    for (const d of all) {
      if (d.readOnly) continue;
      if (!isSnapshotCapable(d)) throw new SnapshotError(`Device '${diskName(d)}' is writable but does not support snapshots`);
      writable.push(d);
    }
    const vmDisk = sel.vmstate ?? writable[0];
    if (!vmDisk) throw new SnapshotError('no block device can store vmstate for snapshot');
    if (vmDisk.readOnly || !isSnapshotCapable(vmDisk)) throw new SnapshotError(`Device '${diskName(vmDisk)}' is writable but does not support snapshots`);
    if (!writable.includes(vmDisk)) writable.push(vmDisk);
    return { writable, vmDisk };
  }

  /** HMP `savevm [tag]` / QMP snapshot-save. */
  save(tag?: string, sel?: DiskSelection): SnapshotInfo {
    const { writable, vmDisk } = this.disks(sel);
    const name = tag && tag !== '' ? tag : defaultSnapshotName(new Date());
    const wasRunning = this.m.status().running;
    this.m.stop();
    try {
      for (const d of writable) d.flush();
      const vmState = saveVmState(this.m);
      const nowMs = Date.now();
      const info = {
        name,
        dateSec: Math.floor(nowMs / 1000),
        dateNsec: (nowMs % 1000) * 1e6,
        vmClockNs: Math.floor(this.m.clock.nowNs()),
        icount: this.m.clock.deterministic ? this.m.cpu.retired : -1,
      };
      let saved: SnapshotInfo | undefined;
      // The VM state disk first: its snapshot is the one loadvm needs.
      for (const d of [vmDisk, ...writable.filter((w) => w !== vmDisk)]) {
        const sn = d.createSnapshot(info, d === vmDisk ? vmState : new Uint8Array(0));
        if (d === vmDisk) saved = sn;
      }
      return saved!;
    } finally {
      if (wasRunning) this.m.cont();
    }
  }

  /** HMP `loadvm tag` / QMP snapshot-load / -loadvm. */
  load(tag: string, sel?: DiskSelection): void {
    const { writable, vmDisk } = this.disks(sel);
    if (!writable.every((d) => hasSnapshot(d, tag))) throw new SnapshotError(`Snapshot '${tag}' does not exist in one or more devices`);
    const info = vmDisk.listSnapshots().find((s) => s.name === tag || s.id === tag)!;
    if (info.vmStateSize === 0) throw new SnapshotError('This is a disk-only snapshot. Revert to it  offline using qemu-img');
    const staged = stageVmState(this.m, vmDisk.readVmState(tag));
    const wasRunning = this.m.status().running;
    this.m.stop();
    try {
      applyVmState(this.m, staged, () => {
        for (const d of writable) d.applySnapshot(tag);
      });
    } finally {
      if (wasRunning) this.m.cont();
    }
  }

  /** HMP `delvm tag` / QMP snapshot-delete: removes it from every disk that has it. */
  delete(tag: string, sel?: DiskSelection): void {
    for (const d of sel?.devices ?? this.m.blockBackends()) {
      if (d.readOnly || !isSnapshotCapable(d)) continue;
      if (hasSnapshot(d, tag)) d.deleteSnapshot(tag);
    }
  }

  /** HMP `info snapshots`. */
  info(): string {
    let vmDisk: SnapshotCapableBackend;
    let writable: SnapshotCapableBackend[];
    try {
      ({ writable, vmDisk } = this.disks());
    } catch (e) {
      if (e instanceof SnapshotError) return e.message;
      throw e;
    }
    const order = [vmDisk, ...writable.filter((d) => d !== vmDisk)];
    return formatSnapshotList(order.map((d) => ({ name: diskName(d), snapshots: d.listSnapshots() })));
  }

  /** HMP/QMP `migrate URI`: saves the state to a file or a command; the VM waits in postmigrate. */
  migrate(uri: string): void {
    const target = parseMigrationUri(uri);
    const start = performance.now();
    const wasRunning = this.m.status().running;
    this.m.stop();
    try {
      const bytes = saveVmState(this.m);
      if (target.kind === 'file') {
        writeFileSync(target.path, bytes);
      } else {
        const r = spawnSync('/bin/sh', ['-c', target.command], { input: bytes, stdio: ['pipe', 'ignore', 'inherit'] });
        // A command that exits without reading everything also makes the write fail (EPIPE):
        // its exit status is the more useful message.
        if (r.status !== null && r.status !== 0) throw new SnapshotError(`migration command exited with status ${r.status}`);
        if (r.error) throw new SnapshotError(`migration command failed: ${r.error.message}`);
        if (r.status !== 0) throw new SnapshotError(`migration command ended by signal ${r.signal}`);
      }
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.migration = { status: 'failed', error: msg };
      if (wasRunning) this.m.cont();
      throw e instanceof SnapshotError ? e : new SnapshotError(msg);
    }
    this.migration = { status: 'completed', totalTimeMs: Math.round(performance.now() - start) };
    this.m.enterPausedState('postmigrate');
  }

  /**
   * -incoming URI / migrate-incoming: loads the state the source sent. The caller decides
   * whether the VM then runs (QEMU: unless -S).
   */
  incoming(uri: string): void {
    const target = parseMigrationUri(uri);
    const start = performance.now();
    try {
      let bytes: Uint8Array;
      if (target.kind === 'file') {
        bytes = readFileSync(target.path);
      } else {
        const r = spawnSync('/bin/sh', ['-c', target.command], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: EXEC_MAX_BUFFER });
        if (r.error) throw new SnapshotError(`migration command failed: ${r.error.message}`);
        if (r.status !== 0) throw new SnapshotError(r.status === null ? `migration command ended by signal ${r.signal}` : `migration command exited with status ${r.status}`);
        bytes = r.stdout;
      }
      loadVmState(this.m, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.migration = { status: 'failed', error: msg };
      throw e instanceof SnapshotError ? e : new SnapshotError(msg);
    }
    this.migration = { status: 'completed', totalTimeMs: Math.round(performance.now() - start) };
  }

  /**
   * HMP migrate_incoming / QMP migrate-incoming / -incoming URI: the machine must be waiting in
   * `inmigrate`; after the load it runs, or stays paused under -S (QEMU's autostart).
   */
  migrateIncoming(uri: string): void {
    if (this.m.status().state !== 'inmigrate') throw new SnapshotError("'-incoming' was not specified on the command line");
    this.incoming(uri);
    if (this.m.config.startStopped) this.m.enterPausedState('paused');
    else this.m.cont();
  }

  /** QMP query-migrate. */
  migrationInfo(): MigrationInfo {
    return { ...this.migration };
  }
}
