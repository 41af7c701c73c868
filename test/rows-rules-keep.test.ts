import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../config/load';
import { realNames } from '../activities/engine/counters';
import type { TaskResult } from '../workflows/types';
import { runTaskWorkflow, taskFailure } from './fixtures';
import { rulesTask } from './rows-rules-support';
import { useTaskEnvironment } from './support';

/**
 * rows.rules caps (`keep_newest`, `keep_total_size`) and `not_matched_by` (issue 18: what
 * retention.enforce needed, as rule fields anyone may write): the README's "debug rows after a
 * day, of the rest keep the newest N, never a row younger than a week", row by row.
 */
const env = useTaskEnvironment('rows_rules_keep');

beforeEach(async () => {
  await env.db.pool.query(`drop table if exists events cascade;
    create table events (id int primary key, level text not null, at timestamptz, bytes bigint not null default 1)`);
});

/** Rows as `[id, level, age in days or null]`, each `age` days before the database clock. */
async function seed(rows: [number, string, number | null][]): Promise<void> {
  for (const [id, level, age] of rows) await env.db.pool.query(`insert into events values ($1, $2, now() - $3::float8 * interval '1 day')`, [id, level, age]);
}

const ids = async () => (await env.db.pool.query<{ id: number }>('select id from events order by id')).rows.map((r) => r.id);
const picked = (r: TaskResult) => r.details.map((d) => `${String(d.set)}:${String(d.id)}`).sort();

const debug = { name: 'debug', table: 'events', match: { level: 'debug' }, older_than: { column: 'at', age: '1d' }, delete: {} };
const newest = (extra: Record<string, unknown> = {}) => ({
  name: 'newest-3',
  table: 'events',
  keep_newest: { count: 3, order_by: 'at' },
  older_than: { column: 'at', age: '7d' },
  delete: {},
  ...extra,
});

async function dryThenReal(rules: Record<string, unknown>[]): Promise<{ preview: TaskResult; real: TaskResult }> {
  const task = rulesTask({ batch_size: 2, rules });
  const before = await ids();
  const preview = await runTaskWorkflow(env.temporal, task, { dryRun: true });
  expect(await ids()).toEqual(before);
  const real = await runTaskWorkflow(env.temporal, task);
  return { preview, real };
}

describe('rows.rules: keep_newest, keep_total_size, not_matched_by', () => {
  // 1 and 2 old debug rows; 3 a fresh debug row; 4..9 info rows, 4 the oldest; 10 undated.
  beforeEach(() =>
    seed([
      [1, 'debug', 30],
      [2, 'debug', 20],
      [3, 'debug', 0.5],
      [4, 'info', 40],
      [5, 'info', 30],
      [6, 'info', 20],
      [7, 'info', 10],
      [8, 'info', 5],
      [9, 'info', 2],
      [10, 'info', null],
    ]),
  );

  it('the newest N are counted among what earlier rules leave; older_than then spares the young; the dry run says the same', async () => {
    const { preview, real } = await dryThenReal([debug, newest({ not_matched_by: ['debug'] })]);
    // debug takes 1 and 2. Of 3..9 (10 is undated: never counted) the newest three are 3, 9, 8; the rest, 4..7, are all older than 7 days and go.
    expect(await ids()).toEqual([3, 8, 9, 10]);
    expect(real.sets).toEqual({ debug: { matched: 2, deleted: 2 }, 'newest-3': { matched: 4, deleted: 4 } });
    expect(realNames(preview.counts)).toEqual(real.counts);
    expect(picked(preview)).toEqual(picked(real));
  });

  it('without not_matched_by the dry run counts the rows of an earlier rule again (the real run cannot)', async () => {
    const { preview, real } = await dryThenReal([debug, newest()]);
    // Real run: debug deletes 1, 2 first; then newest-3 keeps 3, 9, 8 and deletes 4..7, as above.
    expect(await ids()).toEqual([3, 8, 9, 10]);
    expect(real.sets['newest-3']).toEqual({ matched: 4, deleted: 4 });
    // The dry run rolled debug back: 1 and 2 are still there for newest-3, which counts them too.
    expect(realNames(preview.sets['newest-3']!)).toEqual({ matched: 6, deleted: 6 });
  });

  it('keep_total_size: the oldest rows of match until the rest fits, undated rows first', async () => {
    await env.db.pool.query(`update events set bytes = 10`);
    const { preview, real } = await dryThenReal([
      { name: 'info-fits-40', table: 'events', match: { level: 'info' }, keep_total_size: { max: 40, order_by: 'at', size_column: 'bytes' }, delete: {} },
    ]);
    // Info rows newest first: 9, 8, 7, 6 fit 40 bytes; 5, 4 and undated 10 go. Debug rows are not counted.
    expect(await ids()).toEqual([1, 2, 3, 6, 7, 8, 9]);
    expect(real.counts).toEqual({ matched: 3, deleted: 3 });
    expect(picked(preview)).toEqual(picked(real));
  });

  it('refuses not_matched_by on a rule of another table, naming both', async () => {
    await env.db.pool.query(`drop table if exists other; create table other (id int primary key, at timestamptz)`);
    const failure = await taskFailure(
      runTaskWorkflow(env.temporal, rulesTask({ rules: [{ ...debug, table: 'other', match: undefined }, newest({ not_matched_by: ['debug'] })] })),
    );
    expect(failure.message).toContain('config.rules[1] (newest-3).not_matched_by[0]: expected a rule on public.events, got "debug", a rule on public.other');
    expect(await ids()).toHaveLength(10);
  });
});

describe('rows.rules caps at validate', () => {
  const problems = (rules: Record<string, unknown>[]) => {
    try {
      parseConfigText(JSON.stringify({ tasks: [{ id: 'keep', type: 'rows.rules', config: { rules } }] }), 'maintenance.yaml', {});
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => p.replace(/^maintenance\.yaml(:\d+)?: /, ''));
      throw err;
    }
    return [];
  };

  it('names an unknown or later rule in not_matched_by, and a rule with both caps', () => {
    expect(problems([newest({ not_matched_by: ['debug'] }), debug])).toEqual([
      'tasks[0].config.rules[0].not_matched_by[0]: expected the name of an earlier rule of this task, got "debug"',
    ]);
    expect(problems([newest({ keep_total_size: { max: '1GiB', order_by: 'at' } })])).toEqual([
      'tasks[0].config.rules[0].keep_total_size: expected one of keep_newest and keep_total_size, got both',
    ]);
    expect(problems([{ name: 'only-a-cap', table: 'events', keep_newest: { count: 10, order_by: 'at' }, delete: {} }])).toEqual([]);
  });
});
