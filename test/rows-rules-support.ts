import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { parse } from 'yaml';
import { expect } from 'vitest';
import { realNames } from '../activities/engine/counters';
import { parseConfigText } from '../config/load';
import type { TaskConfig } from '../config/schema';
import type { Counts, TaskResult } from '../workflows/types';
import { runTaskWorkflow } from './fixtures';
import type { TestTemporal } from './support';

/** A `rows.rules` task through the real config path. */
export function rulesTask(config: Record<string, unknown>, id = 'rules'): TaskConfig {
  const text = JSON.stringify({ tasks: [{ id, type: 'rows.rules', config: { max_fraction: 1, ...config } }] });
  return parseConfigText(text, 'test.yaml', {}).tasks[0]!;
}

/** The YAML block of README's "Rules" section, as a reader copies it. */
export function readmeRulesText(): string {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const start = readme.indexOf('# rules.yaml');
  expect(start).toBeGreaterThan(0);
  return readme.slice(start, readme.indexOf('```', start));
}

/** A task of README's "Rules" section, its config with `overrides` (small test tables: max_fraction 1 unless it says). */
export function readmeTask(id: string, overrides: Record<string, unknown> = {}): TaskConfig {
  const tasks = (parse(readmeRulesText()) as { tasks: { id: string; config: Record<string, unknown> }[] }).tasks;
  const task = tasks.find((t) => t.id === id);
  expect(task, `README task ${id}`).toBeDefined();
  return rulesTask({ ...task!.config, ...overrides }, id);
}

/** Every row of a table (its full text, so any change to any column shows), by key. */
export async function rowsOf(pool: Pool, table: string, key = 'id'): Promise<Map<string, Record<string, unknown>>> {
  const { rows } = await pool.query<{ k: string; row: Record<string, unknown> }>(
    `select ${key}::text as k, to_jsonb(t) as row from ${table} t order by ${key}`,
  );
  return new Map(rows.map((r) => [r.k, r.row]));
}

const setsOf = (r: TaskResult): Record<string, Counts> => Object.fromEntries(Object.entries(r.sets).map(([k, v]) => [k, realNames(v)]));
const detailKeys = (r: TaskResult) =>
  r.details.map((d) => `${String(d.set)}|${JSON.stringify(d.id)}|${String(d.action)}|${String(d.outcome ?? '')}`).sort((a, b) => a.localeCompare(b));

/**
 * Runs the task as a dry run in both modes (executed and rolled back; read only), which must
 * change nothing, then for real, and checks that each dry run reported the same counts and rows as
 * the real run changed. Returns the real run's result.
 */
export async function dryThenReal(temporal: TestTemporal, pool: Pool, task: TaskConfig, tables: Record<string, string>): Promise<TaskResult> {
  const snapshot = () => Promise.all(Object.entries(tables).map(([t, k]) => rowsOf(pool, t, k)));
  const before = await snapshot();
  const dryRuns: TaskResult[] = [];
  for (const mode of ['execute', 'read_only']) {
    const dry = await runTaskWorkflow(temporal, { ...task, config: { ...task.config, dry_run_mode: mode } }, { dryRun: true });
    expect(dry.status).toBe('completed');
    expect(await snapshot()).toEqual(before);
    dryRuns.push(dry);
  }
  const real = await runTaskWorkflow(temporal, task);
  expect(real.status).toBe('completed');
  for (const dry of dryRuns) {
    expect(setsOf(dry)).toEqual(real.sets);
    expect(realNames(dry.counts)).toEqual(real.counts);
    expect(detailKeys(dry)).toEqual(detailKeys(real));
  }
  return real;
}

/**
 * Every row's fate: `gone` rows were deleted, `changed` rows equal their old text with the given
 * columns replaced (a function checks a column's new value), and every other row is unchanged.
 */
export function expectFates(
  before: Map<string, Record<string, unknown>>,
  after: Map<string, Record<string, unknown>>,
  fates: { gone?: string[]; changed?: Record<string, Record<string, unknown>> },
): void {
  for (const [k, row] of before) {
    if (fates.gone?.includes(k)) {
      expect(after.has(k), `row ${k} deleted`).toBe(false);
      continue;
    }
    const change = fates.changed?.[k];
    const now = after.get(k);
    expect(now, `row ${k} kept`).toBeDefined();
    if (!change) {
      expect(now, `row ${k} unchanged`).toEqual(row);
      continue;
    }
    for (const [column, value] of Object.entries(change)) {
      if (typeof value === 'function')
        expect((value as (v: unknown, old: unknown) => boolean)(now![column], row[column]), `row ${k}.${column}: ${JSON.stringify(now![column])}`).toBe(true);
      else expect(now![column], `row ${k}.${column}`).toEqual(value);
    }
    const rest = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([c]) => !(c in change)));
    expect(rest(now!), `row ${k}: other columns unchanged`).toEqual(rest(row));
  }
  expect(
    [...after.keys()].filter((k) => !before.has(k)),
    'no new rows',
  ).toEqual([]);
}
