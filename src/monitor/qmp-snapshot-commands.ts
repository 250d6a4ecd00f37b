/**
 * QMP snapshot and migration commands (QEMU qapi/migration.json, qapi/job.json):
 * snapshot-save, snapshot-load, snapshot-delete (jobs: they return {} and report through
 * JOB_STATUS_CHANGE events and query-jobs), query-jobs, job-dismiss, migrate, migrate-incoming
 * and query-migrate. Disks are named as the -drive wiring names them (node name, else file).
 */
import { SnapshotError } from '../errors.js';
import type { BlockBackend } from '../block/block-backend.js';
import type { Machine } from '../machine/machine.js';
import { diskName, type DiskSelection } from '../snapshot/vm-snapshots.js';

type ArgType = 'string' | 'int' | 'bool' | 'any';

export interface QmpCommandSpec {
  args: Record<string, readonly [ArgType, boolean]>;
  run(m: Machine, args: Record<string, unknown>): unknown;
}

function stringList(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new SnapshotError(`Invalid parameter type for '${what}', expected: array of strings`);
  return v as string[];
}

function findDisk(m: Machine, name: string): BlockBackend {
  const d = m.blockBackends().find((b) => diskName(b) === name);
  if (!d) throw new SnapshotError(`No block device node '${name}'`);
  return d;
}

/** The disks a snapshot job names; resolved when the job runs, as QEMU does. */
function selection(m: Machine, devices: string[], vmstate?: string): DiskSelection {
  const sel: DiskSelection = { devices: devices.map((n) => findDisk(m, n)) };
  if (vmstate !== undefined) {
    const vm = findDisk(m, vmstate);
    if (!sel.devices!.includes(vm)) throw new SnapshotError(`vmstate block device '${vmstate}' does not exist in the device list`);
    sel.vmstate = vm;
  }
  return sel;
}

export const QMP_SNAPSHOT_COMMANDS: Record<string, QmpCommandSpec> = {
  'snapshot-save': {
    args: { 'job-id': ['string', false], tag: ['string', false], vmstate: ['string', false], devices: ['any', false] },
    run(m, a) {
      const devices = stringList(a['devices'], 'devices');
      m.snapshots.jobs.start(a['job-id'] as string, 'snapshot-save', () => {
        m.snapshots.save(a['tag'] as string, selection(m, devices, a['vmstate'] as string));
      });
      return {};
    },
  },
  'snapshot-load': {
    args: { 'job-id': ['string', false], tag: ['string', false], vmstate: ['string', false], devices: ['any', false] },
    run(m, a) {
      const devices = stringList(a['devices'], 'devices');
      m.snapshots.jobs.start(a['job-id'] as string, 'snapshot-load', () => {
        m.snapshots.load(a['tag'] as string, selection(m, devices, a['vmstate'] as string));
      });
      return {};
    },
  },
  'snapshot-delete': {
    args: { 'job-id': ['string', false], tag: ['string', false], devices: ['any', false] },
    run(m, a) {
      const devices = stringList(a['devices'], 'devices');
      m.snapshots.jobs.start(a['job-id'] as string, 'snapshot-delete', () => {
        m.snapshots.delete(a['tag'] as string, selection(m, devices));
      });
      return {};
    },
  },
  'query-jobs': { args: {}, run: (m) => m.snapshots.jobs.query() },
  'job-dismiss': { args: { id: ['string', false] }, run: (m, a) => (m.snapshots.jobs.dismiss(a['id'] as string), {}) },
  migrate: {
    args: { uri: ['string', false], detach: ['bool', true] },
    run: (m, a) => (m.snapshots.migrate(a['uri'] as string), {}),
  },
  'migrate-incoming': { args: { uri: ['string', false] }, run: (m, a) => (m.snapshots.migrateIncoming(a['uri'] as string), {}) },
  'query-migrate': {
    args: {},
    run(m) {
      const info = m.snapshots.migrationInfo();
      if (info.status === 'none') return {};
      if (info.status === 'failed') return { status: 'failed', 'error-desc': info.error };
      return { status: 'completed', 'total-time': info.totalTimeMs };
    },
  },
};
