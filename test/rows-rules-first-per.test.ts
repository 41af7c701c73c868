import { beforeEach, describe, expect, it } from 'vitest';
import { realNames } from '../activities/engine/counters';
import { ConfigError } from '../config/load';
import type { TaskResult } from '../workflows/types';
import { runTaskWorkflow } from './fixtures';
import { rowsOf, rulesTask } from './rows-rules-support';
import { useTaskEnvironment } from './support';

/**
 * `first_per` with an action that removes the row: the first row of each group as the run starts is
 * the one acted on, in the real run as in its dry run, whatever the batch size. The rule always
 * reads its keys ahead: with more matching rows than read_ahead it takes the first read_ahead keys
 * and leaves the rest for the next run (a keyset walk would act on the next row of a group once the
 * batch before removed the first); read_ahead: 0 is refused at validate.
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

  it.each([1, 2, 100])(
    'batch size %i, more matching rows than read_ahead: the first read_ahead keys, the same in the dry run and the real run, the rest left for the next run',
    async (size) => {
      // Three groups' first rows match (1, 5, 7); read_ahead 2 takes 1 and 5. A walk would also take 2 and 3
      // (first of group a once 1 is gone), then 7.
      await env.db.pool.query(`insert into jobs values (7, 'c', 0), (8, 'c', 1)`);
      const task = rulesTask({
        batch_size: size,
        read_ahead: 2,
        max_fraction: 1,
        rules: [{ name: 'first', table: 'jobs', first_per: { columns: 'grp', order_by: ['priority'] }, delete: {} }],
      });
      const before = await rowsOf(env.db.pool, 'jobs');
      const preview = await runTaskWorkflow(env.temporal, task, { dryRun: true });
      expect(await rowsOf(env.db.pool, 'jobs')).toEqual(before);
      const real = await runTaskWorkflow(env.temporal, task);
      expect({ preview: picked(preview), real: picked(real) }).toEqual({ preview: ['1', '5'], real: ['1', '5'] });
      expect(realNames(preview.counts)).toEqual(real.counts);
      expect(real.sets.first).toEqual({ matched: 2, deleted: 2 });
      const left =
        /^first: more than read_ahead \(2\) rows match, and first_per acts only on the rows first in their group when the rule starts: this run takes the first 2 in key order, the rest wait for the next run$/;
      expect({ preview: preview.errors, real: real.errors }).toEqual({ preview: [expect.stringMatching(left)], real: [expect.stringMatching(left)] });
      // Every row but the two deleted is as it was.
      before.delete('1');
      before.delete('5');
      expect(await rowsOf(env.db.pool, 'jobs')).toEqual(before);
      // The next run: the first rows now are 2, 4 and 7; read_ahead 2 takes 2 and 4.
      const next = await runTaskWorkflow(env.temporal, task);
      expect(picked(next)).toEqual(['2', '4']);
      expect(await ids()).toEqual([3, 6, 7, 8]);
    },
  );
});

/** The problems validate names for a rows.rules config, or none. */
function refusedProblems(config: Record<string, unknown>): string[] {
  try {
    rulesTask(config);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('first_per with start_workflow', () => {
  it('is refused at validate, naming why (such a rule walks instead of reading ahead)', () => {
    const rule = { name: 'first', table: 'jobs', first_per: { columns: 'grp' } };
    expect(refusedProblems({ rules: [{ ...rule, start_workflow: { type: 'handleJob', task_queue: 'jobs', id_prefix: 'job-' } }] })).toEqual([
      expect.stringMatching(/tasks\[0\]\.config\.rules\[0\]\.first_per: expected first_per without start_workflow: .* makes the next row first$/),
    ]);
    expect(refusedProblems({ rules: [{ ...rule, delete: {} }] })).toEqual([]);
  });
});

describe('first_per with read_ahead: 0', () => {
  it('is refused at validate, naming why', () => {
    const refused = refusedProblems({ read_ahead: 0, rules: [{ name: 'first', table: 'jobs', first_per: { columns: 'grp' }, delete: {} }] });
    expect(refused).toEqual([
      expect.stringMatching(
        /tasks\[0\]\.config\.rules\[0\]\.first_per: expected read_ahead > 0 with first_per: read_ahead: 0 walks the rows in key order, and once a batch acts on the first row of a group the next row is first and would be acted on too$/,
      ),
    ]);
  });
});
