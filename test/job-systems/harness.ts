import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { expect } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfigText } from '../../config/load';
import type { TaskConfig } from '../../config/schema';
import type { Counts, TaskResult } from '../../core/contract';
import { runTaskWorkflow } from '../fixtures';
import type { TestDatabase, TestTemporal } from '../support';
import { asReal } from '../zoo/run';
import { comparable, diff, rowCounts, snapshotAll, type Changes, type Snapshot } from '../zoo/snapshot';

/**
 * The job-system zoo: real job systems' tables (`<system>.sql`, from their own migrations, with a
 * seed one minute either side of every threshold) and their own cleanup and rescue rules as
 * Caretaker configs (`<system>.yaml`, type rows.rules). See test/job-systems-*.test.ts.
 */

const file = (name: string) => join(__dirname, name);

/** Empties schema public and loads the system's tables and seed. */
export async function loadSystem(pool: Pool, system: string): Promise<void> {
  await pool.query('drop schema public cascade; create schema public');
  await pool.query(readFileSync(file(`${system}.sql`), 'utf8'));
}

/** The system's config file as written, through the real loader (so it validates as a user's would). */
export function loadConfigFile(system: string) {
  const name = `${system}.yaml`;
  return parseConfigText(readFileSync(file(name), 'utf8'), `test/job-systems/${name}`, {});
}

/**
 * One task of the system's config file, with test-only settings merged into its config: the seeds
 * are small and mostly rows at a threshold, so `max_fraction: 1` unless the test says otherwise;
 * one attempt, so a failure shows at once.
 */
export function systemTask(system: string, id: string, config: Record<string, unknown> = {}): TaskConfig {
  const raw = parseYaml(readFileSync(file(`${system}.yaml`), 'utf8')) as { tasks: { id: string; config: Record<string, unknown> }[] };
  const task = raw.tasks.find((t) => t.id === id);
  if (!task) throw new Error(`no task ${id} in ${system}.yaml`);
  const text = JSON.stringify({ tasks: [{ ...task, retry: { maximum_attempts: 1 }, config: { max_fraction: 1, ...task.config, ...config } }] });
  return parseConfigText(text, `${system}.yaml#${id}`, {}).tasks[0]!;
}

export interface Env {
  readonly db: TestDatabase;
  readonly temporal: TestTemporal;
}

const byName = (m: Record<string, Counts>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, asReal(v)]));
const ids = (r: TaskResult, rules: Set<string>) => r.details.filter((d) => rules.has(String(d.set))).map((d) => `${String(d.set)}:${String(d.id)}`);

export interface Expectation {
  /** Every change the real run makes, by table (every other row of every table must stay as it was). */
  changes: Changes;
  /** Each rule's counts in the real run. */
  sets: Record<string, Counts>;
  /** The real run's per-table counts, when they are not those of `changes` (a row one rule inserts and a later rule updates counts twice). */
  tables?: Record<string, Counts>;
  /**
   * Rules that read what an earlier rule of the task changes: a dry run rolls each rule back, so it
   * judges them on the data as it is (rules-spec, "Dependencies between rules"). Their dry-run
   * counts, under the real run's names.
   */
  dryRunOfDependents?: Record<string, Counts>;
}

/**
 * A dry run (executed, then read_only) changes no row; the real run makes exactly `changes`, counts
 * them per table and per rule as expected; the executed dry run reports the real run's counts,
 * per-table counts and rows for every rule that depends on no earlier rule, and the stated counts
 * for those that do.
 */
export async function dryRunThenRun(env: Env, task: TaskConfig, expected: Expectation): Promise<{ dry: TaskResult; real: TaskResult; before: Snapshot }> {
  const pool = env.db.pool;
  const before = await snapshotAll(pool);
  const dry = await runTaskWorkflow(env.temporal, task, { dryRun: true });
  expect.soft(diff(before, await snapshotAll(pool)), 'rows changed by the dry run').toEqual({});
  const readOnly = { ...task, config: { ...task.config, dry_run_mode: 'read_only' } } as TaskConfig;
  const predicted = await runTaskWorkflow(env.temporal, readOnly, { dryRun: true });
  expect.soft(diff(before, await snapshotAll(pool)), 'rows changed by the read_only dry run').toEqual({});

  const real = await runTaskWorkflow(env.temporal, task);
  const after = await snapshotAll(pool);
  const rows = comparable(diff(before, after), expected.changes, after.now);
  expect.soft(rows.actual, 'rows the real run changed').toEqual(rows.expected);
  expect.soft(real.status, 'real run status').toBe('completed');
  expect.soft(real.sets, "the real run's sets").toEqual(expected.sets);
  expect.soft(real.tables, "the real run's tables").toEqual(expected.tables ?? rowCounts(expected.changes));

  const dependents = expected.dryRunOfDependents ?? {};
  const independent = new Set(Object.keys(real.sets).filter((s) => !(s in dependents)));
  const pick = (sets: Record<string, Counts>, names: Iterable<string>) => Object.fromEntries([...names].map((n) => [n, sets[n]]));
  expect.soft(pick(byName(dry.sets), independent), 'dry run (execute) vs real run, rules that depend on no earlier rule').toEqual(pick(real.sets, independent));
  expect.soft(ids(dry, independent), 'rows the dry run names vs the real run').toEqual(ids(real, independent));
  expect.soft(pick(byName(dry.sets), Object.keys(dependents)), 'dry run of the rules that depend on an earlier rule').toEqual(dependents);
  expect.soft(pick(byName(predicted.sets), Object.keys(dry.sets)), 'dry run (read_only) vs dry run (execute)').toEqual(byName(dry.sets));
  if (Object.keys(dependents).length === 0) expect.soft(byName(dry.tables), 'dry run tables vs real run').toEqual(real.tables);
  return { dry, real, before };
}

/** The changes `sql` makes to the seed (run in one transaction on one connection, then kept): the peer's rule written by hand. */
export async function changesOf(pool: Pool, sql: string): Promise<Changes> {
  const before = await snapshotAll(pool);
  await pool.query(`begin; ${sql}; commit`);
  return diff(before, await snapshotAll(pool));
}
