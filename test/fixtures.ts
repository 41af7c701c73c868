import type { Pool } from 'pg';
import { parseConfigText } from '../config/load';
import type { TaskConfig } from '../config/schema';
import type { Catalog } from '../tasks';
import { WorkflowFailedError } from '@temporalio/client';
import { buildTaskInput, workflowTypeFor } from '../config/task-input';
import type { TaskResult } from '../workflows/types';
import type { TestTemporal } from './support';

/** A run table that shares no names with Caretaker's defaults. */
export const PIPELINE_SCHEMA = `
  create schema app;
  create table app.pipeline_jobs (
    job_id         bigint generated always as identity primary key,
    kind           text not null,
    state          text not null,
    attempts       integer not null default 0,
    failure_reason text,
    last_seen_at   timestamptz
  );`;

export const PIPELINE_TASK_CONFIG = {
  table: 'app.pipeline_jobs',
  columns: { id: 'job_id', status: 'state', timestamp: 'last_seen_at', retry_count: 'attempts', error: 'failure_reason', job_type: 'kind' },
  job_type_thresholds: { analysis: '1h' },
  batch_size: 2,
  // These small test tables are mostly stale runs; the guard itself is tested on its own.
  max_fraction: 1,
};

/** Inserts a job `age` ago (a PostgreSQL interval, relative to the database clock) and returns its id. */
export async function insertJob(pool: Pool, job: { kind?: string; state: string; attempts?: number; age: string | null }): Promise<string> {
  const { rows } = await pool.query<{ job_id: string }>(
    `insert into app.pipeline_jobs (kind, state, attempts, last_seen_at)
     values ($1, $2, $3, now() - $4::interval) returning job_id::text`,
    [job.kind ?? 'sync', job.state, job.attempts ?? 0, job.age],
  );
  return rows[0]!.job_id;
}

export async function snapshot(pool: Pool, table = 'app.pipeline_jobs', id = 'job_id'): Promise<Record<string, unknown>[]> {
  return (await pool.query(`select * from ${table} order by ${id}`)).rows as Record<string, unknown>[];
}

/** One task parsed through the real config path, so tests get the same defaults a user does; `catalog` for a plugin's types. */
export function parseTask(task: Record<string, unknown>, taskQueue = 'caretaker', catalog?: Catalog): TaskConfig {
  const text = JSON.stringify({ task_queue: taskQueue, tasks: [{ id: 'stale', type: 'runs.cleanup_stale', ...task }] });
  return parseConfigText(text, 'test.yaml', {}, catalog).tasks[0]!;
}

let runs = 0;

/** Runs a task's workflow to completion on the test worker, as a schedule or `caretaker run` would. */
export function runTaskWorkflow(temporal: TestTemporal, task: TaskConfig, opts: { dryRun?: boolean } = {}): Promise<TaskResult> {
  return temporal.client.workflow.execute(workflowTypeFor(task), {
    taskQueue: temporal.taskQueue,
    workflowId: `${task.id}-test-${++runs}-${Date.now()}`,
    args: [buildTaskInput(task, { dryRun: opts.dryRun })],
  });
}

/** The failure a task's activity raised, from a failed workflow. */
export async function taskFailure(run: Promise<unknown>): Promise<{ type?: string; message: string }> {
  const err = await run.then(
    () => {
      throw new Error('expected the run to fail');
    },
    (e: unknown) => e,
  );
  if (!(err instanceof WorkflowFailedError)) throw err;
  return err.cause?.cause as unknown as { type?: string; message: string };
}
