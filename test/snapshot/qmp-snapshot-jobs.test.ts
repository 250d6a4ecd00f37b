/**
 * QMP snapshot-save / snapshot-load / snapshot-delete as jobs, with the event order and
 * query-jobs shape QEMU 7.2 produced for the same commands (created and running before the
 * {} reply; waiting, pending, concluded after it, or aborting and concluded with an error;
 * newest job first; job-dismiss → status null), and QMP migrate / migrate-incoming /
 * query-migrate with file: URIs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QmpSession } from '../../src/monitor/qmp.js';
import type { Machine } from '../../src/machine/machine.js';
import { runToExit, runUntil, ticksMachine } from './ticks-guest.js';
import { FakeSnapshotDisk } from './fake-snapshot-disk.js';

type Msg = Record<string, unknown>;

function session(m: Machine): { out: Msg[]; send(cmd: string, args?: Msg): void } {
  const out: Msg[] = [];
  const s = new QmpSession(m, (text) => out.push(JSON.parse(text) as Msg));
  s.start();
  s.receive('{"execute":"qmp_capabilities"}');
  out.length = 0;
  return { out, send: (cmd, args) => s.receive(JSON.stringify(args ? { execute: cmd, arguments: args } : { execute: cmd })) };
}

/** Messages with timestamps dropped, events as "EVENT id status". */
function shape(msgs: Msg[]): unknown[] {
  return msgs.map((m) => {
    if (m['event'] === 'JOB_STATUS_CHANGE') {
      const d = m['data'] as Msg;
      return `JOB ${String(d['id'])} ${String(d['status'])}`;
    }
    if ('event' in m) return String(m['event']);
    return m;
  });
}

const tick = () => new Promise((r) => setImmediate(r));

describe('QMP snapshot jobs', () => {
  it('snapshot-save then snapshot-load: QEMU\'s event sequence, query-jobs, job-dismiss', async () => {
    const { m } = ticksMachine();
    const disk = new FakeSnapshotDisk('disk0.qcow2', 65536, false, 'disk0');
    m.blockBackends = () => [disk];
    runUntil(m, 200_000);
    const atSave = m.cpu.retired;
    const q = session(m);
    q.send('snapshot-save', { 'job-id': 'j1', tag: 's1', vmstate: 'disk0', devices: ['disk0'] });
    expect(shape(q.out)).toEqual(['JOB j1 created', 'JOB j1 running', { return: {} }]);
    await tick();
    expect(shape(q.out.slice(3))).toEqual(['JOB j1 waiting', 'JOB j1 pending', 'JOB j1 concluded']);
    q.out.length = 0;
    q.send('query-jobs');
    expect(q.out).toEqual([{ return: [{ 'current-progress': 1, status: 'concluded', 'total-progress': 1, type: 'snapshot-save', id: 'j1' }] }]);
    q.out.length = 0;
    q.send('snapshot-save', { 'job-id': 'j1', tag: 's2', vmstate: 'disk0', devices: ['disk0'] });
    expect(q.out).toEqual([{ error: { class: 'GenericError', desc: "Job ID 'j1' already in use" } }]);
    q.out.length = 0;
    q.send('job-dismiss', { id: 'j1' });
    expect(shape(q.out)).toEqual(['JOB j1 null', { return: {} }]);
    q.out.length = 0;

    runUntil(m, 600_000);
    q.out.length = 0; // the RESUME and STOP of running it
    q.send('snapshot-load', { 'job-id': 'j2', tag: 's1', vmstate: 'disk0', devices: ['disk0'] });
    await tick();
    expect(shape(q.out)).toEqual(['JOB j2 created', 'JOB j2 running', { return: {} }, 'JOB j2 waiting', 'JOB j2 pending', 'JOB j2 concluded']);
    expect(m.cpu.retired).toBe(atSave);
  });

  it('a failing job aborts and concludes with the error in query-jobs; unknown disks and job ids', async () => {
    const { m } = ticksMachine();
    const disk = new FakeSnapshotDisk('disk0.qcow2', 65536, false, 'disk0');
    m.blockBackends = () => [disk];
    const q = session(m);
    q.send('snapshot-load', { 'job-id': 'j2', tag: 'nope', vmstate: 'disk0', devices: ['disk0'] });
    await tick();
    expect(shape(q.out)).toEqual(['JOB j2 created', 'JOB j2 running', { return: {} }, 'JOB j2 aborting', 'JOB j2 concluded']);
    q.out.length = 0;
    q.send('snapshot-delete', { 'job-id': 'j3', tag: 'x', devices: ['nodisk'] });
    await tick();
    q.out.length = 0;
    q.send('query-jobs');
    expect(q.out).toEqual([{ return: [
      { 'current-progress': 1, status: 'concluded', 'total-progress': 1, type: 'snapshot-delete', id: 'j3', error: "No block device node 'nodisk'" },
      { 'current-progress': 1, status: 'concluded', 'total-progress': 1, type: 'snapshot-load', id: 'j2', error: "Snapshot 'nope' does not exist in one or more devices" },
    ] }]);
    q.out.length = 0;
    q.send('snapshot-save', { 'job-id': '9bad', tag: 's', vmstate: 'disk0', devices: ['disk0'] });
    q.send('job-dismiss', { id: 'nojob' });
    expect(q.out).toEqual([
      { error: { class: 'GenericError', desc: "Invalid job ID '9bad'" } },
      { error: { class: 'GenericError', desc: 'Job not found' } },
    ]);
  });
});

describe('QMP migration to a file', () => {
  it('migrate file: leaves the source in postmigrate; migrate-incoming on a deferred machine resumes the run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-mig-'));
    const path = join(dir, 'state.bin');
    const ref = ticksMachine();
    runToExit(ref.m);

    const src = ticksMachine();
    runUntil(src.m, Math.floor(ref.m.cpu.retired * 0.5));
    const printed = src.serial.text();
    const qs = session(src.m);
    qs.send('query-migrate');
    qs.send('migrate', { uri: `file:${path}` });
    qs.send('query-status');
    qs.send('query-migrate');
    expect(qs.out[0]).toEqual({ return: {} });
    expect(qs.out[1]).toEqual({ return: {} });
    expect(qs.out[2]).toEqual({ return: { running: false, status: 'postmigrate' } });
    expect((qs.out[3] as { return: Msg }).return['status']).toBe('completed');
    qs.out.length = 0;
    qs.send('migrate', { uri: 'tcp:localhost:4444' });
    qs.send('migrate', { uri: 'bogus' });
    expect(qs.out).toEqual([
      { error: { class: 'GenericError', desc: "migration URI 'tcp:localhost:4444': only file: and exec: are supported" } },
      { error: { class: 'GenericError', desc: "Parameter 'uri' expects a valid migration protocol" } },
    ]);

    const dst = ticksMachine();
    const qd = session(dst.m);
    qd.send('migrate-incoming', { uri: `file:${path}` });
    expect(qd.out).toEqual([{ error: { class: 'GenericError', desc: "'-incoming' was not specified on the command line" } }]);
    qd.out.length = 0;
    dst.m.enterPausedState('inmigrate');
    qd.send('query-status');
    qd.send('migrate-incoming', { uri: `file:${join(dir, 'missing.bin')}` });
    expect(qd.out[0]).toEqual({ return: { running: false, status: 'inmigrate' } });
    expect((qd.out[1] as { error: Msg }).error['desc']).toMatch(/ENOENT/);
    qd.out.length = 0;
    qd.send('migrate-incoming', { uri: `file:${path}` });
    qd.send('query-status');
    expect(shape(qd.out)).toEqual(['RESUME', { return: {} }, { return: { running: true, status: 'running' } }]);
    dst.m.stop();
    expect(runToExit(dst.m)).toBe(33);
    expect(printed + dst.serial.text()).toBe(ref.serial.text());
    expect(dst.m.cpu.retired).toBe(ref.m.cpu.retired);
  });

  it('migrate exec: pipes the stream through a command, -incoming exec: reads it back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-mig-'));
    const path = join(dir, 'state.gz.bin');
    const src = ticksMachine();
    runUntil(src.m, 400_000);
    src.m.snapshots.migrate(`exec:cat > '${path}'`);
    expect(src.m.status().state).toBe('postmigrate');
    const dst = ticksMachine({ startStopped: true });
    dst.m.enterPausedState('inmigrate');
    dst.m.snapshots.migrateIncoming(`exec:cat '${path}'`);
    // -S: the machine waits, paused, with the source's state.
    expect(dst.m.status().state).toBe('paused');
    expect(dst.m.cpu.retired).toBe(src.m.cpu.retired);
    expect(() => src.m.snapshots.migrate('exec:exit 3')).toThrow('migration command exited with status 3');
  });
});
