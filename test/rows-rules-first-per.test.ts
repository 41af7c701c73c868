import { beforeEach, describe, expect, it } from 'vitest';
import { realNames } from '../activities/engine/counters';
import type { TaskResult } from '../workflows/types';
import { runTaskWorkflow } from './fixtures';
import { rulesTask } from './rows-rules-support';
import { useTaskEnvironment } from './support';

/**
 * `first_per` with an action that removes the row: the first row of each group as the run starts is
 * the one acted on, in the real run as in its dry run, whatever the batch size, while the rows are
 * read ahead. (A keyset walk, `read_ahead: 0` or more matching rows than read_ahead, still acts on
 * the next row of a group once the batch before removed the first: the review's open finding.)
 */
const env = useTaskEnvironment('rows_rules_first_per');

beforeEach(async () => {
  await env.db.pool.query(`drop table if exists jobs cascade;
    create table jobs (id int primary key, grp text, priority int not null);
    insert into jobs values (1, 'a', 0), (2, 'a', 0), (3, 'a', 0), (4, 'b', 5), (5, 'b', 1), (6, null, 0);`);
});

const ids = async () => (await env.db.pool.query<{ id: number }>('select id from jobs order by id')).rows.map((r) => r.id);
const picked = (r: TaskResult) => r.details.map((d) => String(d.id)).sort();

describe('first_per with delete', () => {
  it.each([
    [1, 100_000],
    [2, 100_000],
    [100, 100_000],
  ])('batch size %i, read_ahead %i: the dry run reports the rows the real run deletes, one per group', async (size, readAhead) => {
    const task = rulesTask({
      batch_size: size,
      read_ahead: readAhead,
      max_fraction: 1,
      rules: [{ name: 'first', table: 'jobs', first_per: { columns: 'grp', order_by: ['priority'] }, delete: {} }],
    });
    const preview = await runTaskWorkflow(env.temporal, task, { dryRun: true });
    const real = await runTaskWorkflow(env.temporal, task);
    expect({ preview: picked(preview), real: picked(real) }).toEqual({ preview: ['1', '5'], real: ['1', '5'] });
    expect(realNames(preview.counts)).toEqual(real.counts);
    expect(await ids()).toEqual([2, 3, 4, 6]);
  });
});
