import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load';
import { realNames } from '../activities/engine/counters';
import type { TaskResult } from '../workflows/types';
import { runTaskWorkflow } from './fixtures';
import { useTaskEnvironment } from './support';

/**
 * Which rows retention.enforce counts (issue 16, items 5 and 6): `max_total_size` counts every row,
 * undated ones as the oldest; a row two policies of one task both match is counted once, by the first,
 * in the dry run as in the real run.
 */
const env = useTaskEnvironment('retention_rows');
const GiB = 2 ** 30;

beforeEach(async () => {
  await env.db.pool.query(`drop schema if exists shop cascade;
    create schema shop;
    create table shop.blobs (id int primary key, kind text not null, used_at timestamptz, bytes bigint not null);`);
});

function task(policies: Record<string, unknown>[]) {
  const text = JSON.stringify({ tasks: [{ id: 'retention', type: 'retention.enforce', config: { batch_size: 2, max_fraction: 1, policies } }] });
  return parseConfigText(text, 'test.yaml', {}).tasks[0]!;
}

/** Rows as `[id, kind, age in days or null, bytes]`, each `age` days before the database clock. */
async function seed(rows: [number, string, number | null, number][]): Promise<void> {
  for (const [id, kind, age, bytes] of rows) {
    await env.db.pool.query(`insert into shop.blobs values ($1, $2, now() - $3::int * interval '1 day', $4)`, [id, kind, age, bytes]);
  }
}

const all = async () => (await env.db.pool.query(`select * from shop.blobs order by id`)).rows as { id: number; archived_at?: Date | null }[];
const realSets = (r: TaskResult) => Object.fromEntries(Object.entries(r.sets).map(([name, counts]) => [name, realNames(counts)]));
const picked = (r: TaskResult) => (r.details as { set: string; id: string }[]).map((d) => `${d.set}:${d.id}`).sort();

/** Dry run, then real run: the dry run changes nothing and reports the counts and rows the real run changes; only those rows are gone. */
async function dryThenReal(policies: Record<string, unknown>[], gone: number[]): Promise<TaskResult> {
  const before = await all();
  const preview = await runTaskWorkflow(env.temporal, task(policies), { dryRun: true });
  expect(await all()).toEqual(before);
  const real = await runTaskWorkflow(env.temporal, task(policies));
  expect(realNames(preview.counts)).toEqual(real.counts);
  expect(realSets(preview)).toEqual(real.sets);
  expect(picked(preview)).toEqual(picked(real));
  expect(await all()).toEqual(before.filter((row) => !gone.includes(row.id)));
  return real;
}

describe('max_total_size', () => {
  // Ten dated GiB (id 1 newest .. id 10 oldest), two undated half GiB (11, 12), and an undated GiB the policy's where leaves out.
  beforeEach(() =>
    seed([
      ...Array.from({ length: 10 }, (_, i): [number, string, number, number] => [i + 1, 'cache', i + 1, GiB]),
      [11, 'cache', null, GiB / 2],
      [12, 'cache', null, GiB / 2],
      [13, 'pinned', null, GiB],
    ]),
  );
  const policy = (cap: string) => ({ table: 'shop.blobs', timestamp_column: 'used_at', max_total_size: cap, size_column: 'bytes', where: { kind: 'cache' } });

  it('counts undated rows in the total and deletes them first, the lower key first', async () => {
    // 11 GiB in scope under a 10.6 GiB cap: only undated row 11 goes (dated rows alone, 10 GiB, fit).
    const real = await dryThenReal([policy('10.6GiB')], [11]);
    expect(real.counts).toMatchObject({ matched: 1, deleted: 1 });
  });

  it('then the oldest dated rows until the rest fits', async () => {
    // Under 9.5 GiB: both undated rows, then the oldest dated one (10): 9 GiB left.
    const real = await dryThenReal([policy('9.5GiB')], [10, 11, 12]);
    expect(real.counts).toMatchObject({ matched: 3, deleted: 3 });
    const left = (await env.db.pool.query(`select sum(bytes)::bigint as n from shop.blobs where kind = 'cache'`)).rows[0].n;
    expect(Number(left)).toBe(9 * GiB);
  });
});

describe('two policies of one task that match the same rows', () => {
  it('count each row once, for the first policy: the dry run reports the rows the real run deletes', async () => {
    // 1, 2 are old debug rows (both policies), 3 recent debug (second only), 4 old info (first only), 5 and 6 neither.
    await seed([
      [1, 'debug', 40, 1],
      [2, 'debug', 35, 1],
      [3, 'debug', 10, 1],
      [4, 'info', 40, 1],
      [5, 'info', 10, 1],
      [6, 'debug', 1, 1],
    ]);
    const real = await dryThenReal(
      [
        { name: 'old', table: 'shop.blobs', timestamp_column: 'used_at', older_than: '30d' },
        { name: 'debug', table: 'shop.blobs', timestamp_column: 'used_at', older_than: '7d', where: { kind: 'debug' } },
      ],
      [1, 2, 3, 4],
    );
    expect(real.sets).toEqual({ old: { matched: 3, deleted: 3 }, debug: { matched: 1, deleted: 1 } });
  });

  it('a cap after another policy counts only the rows that policy leaves', async () => {
    // Debug rows 3 and 5 go first; of 1, 2, 4 the cap keeps the newest two (4, 2) and deletes 1.
    await seed([
      [1, 'info', 5, 1],
      [2, 'info', 4, 1],
      [3, 'debug', 3, 1],
      [4, 'info', 2, 1],
      [5, 'debug', 2, 1],
    ]);
    const real = await dryThenReal(
      [
        { name: 'debug', table: 'shop.blobs', timestamp_column: 'used_at', older_than: '1d', where: { kind: 'debug' } },
        { name: 'newest two', table: 'shop.blobs', timestamp_column: 'used_at', keep_newest: 2 },
      ],
      [1, 3, 5],
    );
    expect(real.sets).toEqual({ debug: { matched: 2, deleted: 2 }, 'newest two': { matched: 1, deleted: 1 } });
  });

  it('two marks of the same column mark a row once', async () => {
    await env.db.pool.query(`alter table shop.blobs add column archived_at timestamptz`);
    await seed([
      [1, 'debug', 40, 1],
      [2, 'debug', 10, 1],
      [3, 'info', 40, 1],
      [4, 'info', 1, 1],
    ]);
    const before = await all();
    const policies = [
      { name: 'old', table: 'shop.blobs', timestamp_column: 'used_at', older_than: '30d', action: 'mark', mark: { column: 'archived_at' } },
      {
        name: 'debug',
        table: 'shop.blobs',
        timestamp_column: 'used_at',
        older_than: '7d',
        where: { kind: 'debug' },
        action: 'mark',
        mark: { column: 'archived_at' },
      },
    ];
    const preview = await runTaskWorkflow(env.temporal, task(policies), { dryRun: true });
    const real = await runTaskWorkflow(env.temporal, task(policies));
    expect(real.sets).toEqual({ old: { matched: 2, marked: 2 }, debug: { matched: 1, marked: 1 } });
    expect(realSets(preview)).toEqual(real.sets);
    expect(picked(preview)).toEqual(picked(real));
    const after = await all();
    expect(after.filter((r) => r.archived_at !== null).map((r) => r.id)).toEqual([1, 2, 3]);
    expect(after[3]).toEqual(before[3]);
  });
});
