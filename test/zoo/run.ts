import { expect } from 'vitest';
import { dryName, realName } from '../../activities/engine/counters';
import type { Counts, TaskResult } from '../../workflows/types';
import { parseTask, runTaskWorkflow, taskFailure } from '../fixtures';
import type { TestDatabase, TestTemporal } from '../support';
import { comparable, diff, rowCounts, snapshotAll, type Changes, type Snapshot } from './snapshot';

/** A dry run's counts under the real run's names; a past-tense name in a dry run is flagged, so the comparison shows it. */
export const asReal = (counts: Counts): Counts =>
  Object.fromEntries(Object.entries(counts).map(([k, v]) => [dryName(k) !== k ? `${k} (past tense in a dry run)` : realName(k), v]));
const byName = (m: Record<string, Counts>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, asReal(v)]));
/** What a dry run must agree on with the real run: counts, per table, per set, and the rows it names. */
const report = (r: TaskResult, dry: boolean) => ({
  status: r.status,
  errors: r.errors,
  counts: dry ? asReal(r.counts) : r.counts,
  tables: dry ? byName(r.tables) : r.tables,
  sets: dry ? byName(r.sets) : r.sets,
  ids: r.details.map((d) => d.id),
});

export interface Env {
  readonly db: TestDatabase;
  readonly temporal: TestTemporal;
}
export interface Task {
  id: string;
  type: string;
  config: Record<string, unknown>;
}

const parse = (task: Task, extra: Record<string, unknown> = {}) =>
  parseTask({ id: task.id, type: task.type, config: { ...task.config, ...extra }, retry: { maximum_attempts: 1 } });

/**
 * The zoo's contract for one task: a dry run (execute, then read_only) changes no row of any
 * table; the real run changes exactly `expected` (every other row of every table, the other
 * schema's included, equals its snapshot); `tables` in the result counts exactly those rows; and
 * the executed dry run reports what the real run did, under its would_* names. `expected` may
 * read the snapshot taken before (e.g. the content of rows that move). Assertions are soft, so
 * one run shows every disagreement.
 */
export async function dryRunThenRun(
  env: Env,
  task: Task,
  expectedChanges: Changes | ((before: Snapshot) => Changes),
): Promise<{ dry: TaskResult; real: TaskResult; before: Snapshot; after: Snapshot }> {
  const pool = env.db.pool;
  const before = await snapshotAll(pool);
  const expected = typeof expectedChanges === 'function' ? expectedChanges(before) : expectedChanges;
  const dry = await runTaskWorkflow(env.temporal, parse(task), { dryRun: true });
  expect.soft(diff(before, await snapshotAll(pool)), 'rows changed by the dry run').toEqual({});
  const predicted = await runTaskWorkflow(env.temporal, parse(task, { dry_run_mode: 'read_only' }), { dryRun: true });
  expect.soft(diff(before, await snapshotAll(pool)), 'rows changed by the read_only dry run').toEqual({});

  const real = await runTaskWorkflow(env.temporal, parse(task));
  const after = await snapshotAll(pool);
  const rows = comparable(diff(before, after), expected, after.now);
  expect.soft(rows.actual, 'rows the real run changed').toEqual(rows.expected);
  expect.soft(real.tables, "the real run's `tables`").toEqual(rowCounts(expected));
  expect.soft(report(dry, true), 'dry run (execute) vs real run').toEqual(report(real, false));
  expect.soft(asReal(predicted.counts), 'dry run (read_only) counts vs real run').toEqual(real.counts);
  expect.soft(after.tables['shadow.job_runs'], 'shadow.job_runs').toEqual(before.tables['shadow.job_runs']);
  return { dry, real, before, after };
}

/** A run that must be refused before it changes anything: its failure, with every table unchanged. */
export async function refusal(env: Env, task: Task): Promise<{ type?: string; message: string }> {
  const before = await snapshotAll(env.db.pool);
  const failure = await taskFailure(runTaskWorkflow(env.temporal, parse(task)));
  expect(diff(before, await snapshotAll(env.db.pool))).toEqual({});
  return failure;
}
