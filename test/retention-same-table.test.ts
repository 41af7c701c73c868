import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load';
import { realNames } from '../activities/engine/counters';
import { quoteIdent } from '../core/identifiers';
import type { TaskResult } from '../workflows/types';
import { runTaskWorkflow } from './fixtures';
import { useTaskEnvironment } from './support';

/**
 * Two retention policies on one table written two ways (`jobs`, found on the search path, and
 * `app.jobs`): the later leaves the earlier's rows to it, as for one spelling, so the dry run counts
 * each row once, as the real run does; and `public.jobs` beside an `app.jobs` the search path finds
 * first is another table, which the later policy does not wait for.
 */
const env = useTaskEnvironment('retention_same_table');

beforeAll(async () => {
  // Connections the worker opens from now on find `jobs` in app first.
  await env.db.pool.query(`alter database ${quoteIdent(env.db.name)} set search_path = app, public`);
});

beforeEach(async () => {
  await env.db.pool.query(`drop schema if exists app cascade; drop table if exists public.jobs;
    create schema app;
    create table app.jobs (id int primary key, kind text not null, done_at timestamptz not null);
    create table public.jobs (id int primary key, kind text not null, done_at timestamptz not null);`);
});

function task(policies: Record<string, unknown>[]) {
  const text = JSON.stringify({ tasks: [{ id: 'retention', type: 'retention.enforce', config: { batch_size: 2, max_fraction: 1, policies } }] });
  return parseConfigText(text, 'test.yaml', {}).tasks[0]!;
}

/** Rows as `[id, kind, age in days]` into `table`. */
async function seed(table: string, rows: [number, string, number][]): Promise<void> {
  for (const [id, kind, age] of rows) await env.db.pool.query(`insert into ${table} values ($1, $2, now() - $3::int * interval '1 day')`, [id, kind, age]);
}

const all = async () => (await env.db.pool.query(`select 'app' as s, * from app.jobs union all select 'public', * from public.jobs order by 1, 2`)).rows;
const realSets = (r: TaskResult) => Object.fromEntries(Object.entries(r.sets).map(([name, counts]) => [name, realNames(counts)]));

async function dryThenReal(policies: Record<string, unknown>[]): Promise<TaskResult> {
  const before = await all();
  const preview = await runTaskWorkflow(env.temporal, task(policies), { dryRun: true });
  expect(await all()).toEqual(before);
  const real = await runTaskWorkflow(env.temporal, task(policies));
  expect(realNames(preview.counts)).toEqual(real.counts);
  expect(realSets(preview)).toEqual(real.sets);
  return real;
}

const rows: [number, string, number][] = [
  [1, 'debug', 40],
  [2, 'debug', 35],
  [3, 'debug', 10],
  [4, 'info', 40],
  [5, 'info', 10],
  [6, 'debug', 1],
];

describe('policies on one table under two spellings', () => {
  it('count each row once, for the first policy, in the dry run as in the real run', async () => {
    await seed('app.jobs', rows);
    await seed('public.jobs', rows);
    const real = await dryThenReal([
      { name: 'old', table: 'app.jobs', timestamp_column: 'done_at', older_than: '30d' },
      { name: 'debug', table: 'jobs', timestamp_column: 'done_at', older_than: '7d', where: { kind: 'debug' } },
    ]);
    expect(real.sets).toEqual({ old: { matched: 3, deleted: 3 }, debug: { matched: 1, deleted: 1 } });
    const left = await all();
    expect(left.filter((r) => r.s === 'app').map((r) => r.id)).toEqual([5, 6]);
    expect(left.filter((r) => r.s === 'public').map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('public.jobs and jobs (app.jobs on the search path) are two tables: each policy runs on its own', async () => {
    await seed('app.jobs', rows);
    await seed('public.jobs', rows);
    const real = await dryThenReal([
      { name: 'old', table: 'public.jobs', timestamp_column: 'done_at', older_than: '30d' },
      { name: 'debug', table: 'jobs', timestamp_column: 'done_at', older_than: '7d', where: { kind: 'debug' } },
    ]);
    expect(real.sets).toEqual({ old: { matched: 3, deleted: 3 }, debug: { matched: 3, deleted: 3 } });
    const left = await all();
    expect(left.filter((r) => r.s === 'app').map((r) => r.id)).toEqual([4, 5, 6]);
    expect(left.filter((r) => r.s === 'public').map((r) => r.id)).toEqual([3, 5, 6]);
  });
});
