import { beforeEach, describe, expect, it } from 'vitest';
import { runTaskWorkflow, taskFailure } from './fixtures';
import { dryThenReal, expectFates, rowsOf, rulesTask } from './rows-rules-support';
import { useTaskEnvironment } from './support';

/**
 * rows.rules `update` targets a JSON path (`"meta->>'reason'"`, `"meta->'a'->>'b'"`) as well as a
 * column: written with jsonb_set, so the column's other keys stay and missing parents are created;
 * in a branch of `cases` too. The dry runs report the rows the real run changes, and rows the rule
 * does not pick keep every byte.
 */
const env = useTaskEnvironment('rows_rules_json_update');
const q = (sql: string) => env.db.pool.query(sql);

describe('rows.rules update: JSON path targets', () => {
  beforeEach(async () => {
    await q(`
      drop table if exists docs, owners;
      create table owners (id int primary key);
      insert into owners values (1);
      create table docs (id int primary key, owner_id int, status text not null, meta jsonb, note text);
      insert into docs values
        (1, 1, 'live', '{"keep": 1}', null),                  -- owner exists
        (2, 9, 'live', '{"keep": 2, "reason": "old"}', null), -- owner gone: reason replaced, keep stays
        (3, 9, 'live', null, null),                           -- owner gone, no meta yet
        (4, null, 'live', '{"keep": 4}', null),               -- no owner: no reference
        (5, 9, 'draft', '{"retries": "2"}', null),            -- owner gone, draft: the cases rule
        (6, 9, 'draft', '{"retries": 0}', null);`);
  });

  it('writes the paths with jsonb_set: other keys stay, parents are created; dry runs equal the real run', async () => {
    const before = await rowsOf(env.db.pool, 'docs');
    const task = rulesTask({
      rules: [
        {
          name: 'ownerless',
          table: 'docs',
          match: { status: 'live' },
          missing_parent: { table: 'owners', column: 'owner_id' },
          update: { "meta->>'reason'": { value: 'owner gone' }, "meta->'by'->>'task'": "'caretaker'", "meta->>'count'": 1, note: "meta->>'keep'" },
        },
        {
          name: 'ownerless drafts',
          table: 'docs',
          match: { status: 'draft' },
          missing_parent: { table: 'owners', column: 'owner_id' },
          cases: [
            {
              when: "coalesce((meta->>'retries')::int, 0) < 1",
              counter: 'retried',
              update: { "meta->>'retries'": "coalesce((meta->>'retries')::int, 0) + 1" },
            },
            { counter: 'given_up', update: { status: { value: 'dead' }, "meta->>'retries'": null } },
          ],
        },
      ],
    });
    const real = await dryThenReal(env.temporal, env.db.pool, task, { docs: 'id' });
    expect(real.sets).toEqual({ ownerless: { matched: 2, updated: 2 }, 'ownerless drafts': { matched: 2, retried: 1, given_up: 1 } });
    expectFates(before, await rowsOf(env.db.pool, 'docs'), {
      changed: {
        '2': { meta: { keep: 2, reason: 'owner gone', by: { task: 'caretaker' }, count: 1 }, note: '2' },
        '3': { meta: { reason: 'owner gone', by: { task: 'caretaker' }, count: 1 } },
        '5': { status: 'dead', meta: { retries: null } },
        '6': { meta: { retries: 1 } },
      },
    });
  });

  it('refuses a JSON path into a column that is not json or jsonb, naming it', async () => {
    const before = await rowsOf(env.db.pool, 'docs');
    const task = rulesTask({ rules: [{ name: 'bad', table: 'docs', match: { status: 'live' }, update: { "note->>'x'": 1 } }] });
    const failure = await taskFailure(runTaskWorkflow(env.temporal, task));
    expect(failure.message).toMatch(/config\.rules\[0\] \(bad\)\.update\.note->>'x': a JSON path needs a json or jsonb column, but public\.docs\.note is text/);
    expect(await rowsOf(env.db.pool, 'docs')).toEqual(before);
  });

  it("refuses a JSON path into the rule's key at load, as it refuses the key itself", () => {
    expect(() => rulesTask({ rules: [{ name: 'k', table: 'docs', key: 'meta', where: 'true', update: { "meta->>'a'": 1 } }] })).toThrow(
      /expected columns other than the rule's key \(meta->>'a'\)/,
    );
  });
});
