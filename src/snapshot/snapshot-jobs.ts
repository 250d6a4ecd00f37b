/**
 * QMP's job model (QEMU qapi/job.json, job.c) for snapshot-save, snapshot-load and
 * snapshot-delete: a job is created and starts running when the command is accepted, does its
 * work after the command's reply, then goes waiting → pending → concluded (or aborting →
 * concluded with an error) and stays until `job-dismiss` (QEMU creates these jobs with
 * JOB_MANUAL_DISMISS). Every transition is a JOB_STATUS_CHANGE event.
 */
import { EventEmitter } from 'node:events';

export type JobStatus = 'created' | 'running' | 'waiting' | 'pending' | 'aborting' | 'concluded' | 'null';
export type JobType = 'snapshot-save' | 'snapshot-load' | 'snapshot-delete';

/** One entry of QMP query-jobs (JobInfo). */
export interface JobInfo {
  'current-progress': number;
  status: JobStatus;
  'total-progress': number;
  type: JobType;
  id: string;
  error?: string;
}

/** A job request the registry refuses; `message` is QEMU's. */
export class JobError extends Error {
  override readonly name = 'JobError';
}

interface Job {
  id: string;
  type: JobType;
  status: JobStatus;
  error?: string;
}

/** QEMU's id_wellformed: a letter, then letters, digits, '-', '.', '_'. */
const JOB_ID = /^[A-Za-z][A-Za-z0-9._-]*$/;

export class SnapshotJobs extends EventEmitter {
  /** Newest first, as query-jobs lists them. */
  private readonly jobs: Job[] = [];

  /**
   * Creates job `id` and runs `work` after the current call stack (after the QMP reply), as
   * QEMU runs the job in a bottom half. An exception from `work` becomes the job's error.
   */
  start(id: string, type: JobType, work: () => void): void {
    if (!JOB_ID.test(id)) throw new JobError(`Invalid job ID '${id}'`);
    if (this.jobs.some((j) => j.id === id)) throw new JobError(`Job ID '${id}' already in use`);
    const job: Job = { id, type, status: 'created' };
    this.jobs.unshift(job);
    this.transition(job, 'created');
    this.transition(job, 'running');
    setImmediate(() => {
      try {
        work();
        this.transition(job, 'waiting');
        this.transition(job, 'pending');
      } catch (e) {
        job.error = e instanceof Error ? e.message : String(e);
        this.transition(job, 'aborting');
      }
      this.transition(job, 'concluded');
    });
  }

  /** QMP query-jobs. */
  query(): JobInfo[] {
    return this.jobs.map((j) => {
      const done = j.status === 'concluded' ? 1 : 0;
      const info: JobInfo = { 'current-progress': done, status: j.status, 'total-progress': 1, type: j.type, id: j.id };
      if (j.error !== undefined) info.error = j.error;
      return info;
    });
  }

  /** QMP job-dismiss: removes a concluded job. */
  dismiss(id: string): void {
    const i = this.jobs.findIndex((j) => j.id === id);
    if (i < 0) throw new JobError('Job not found');
    const job = this.jobs[i]!;
    if (job.status !== 'concluded') throw new JobError(`Job '${id}' in state '${job.status}' cannot accept command verb 'dismiss'`);
    this.jobs.splice(i, 1);
    this.transition(job, 'null');
  }

  /** Resolves when job `id` has concluded (tests, -loadvm-like callers). */
  whenConcluded(id: string): Promise<JobInfo | undefined> {
    const find = () => this.query().find((j) => j.id === id);
    const now = find();
    if (!now || now.status === 'concluded') return Promise.resolve(now);
    return new Promise((resolve) => {
      const on = (jobId: string, status: JobStatus) => {
        if (jobId !== id || status !== 'concluded') return;
        this.off('status', on);
        resolve(find());
      };
      this.on('status', on);
    });
  }

  private transition(job: Job, status: JobStatus): void {
    job.status = status;
    this.emit('status', job.id, status);
  }
}
