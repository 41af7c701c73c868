import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../config/load';
import { caretaker } from './cli';
import { dryThenReal, expectFates, rowsOf, rulesTask } from './rows-rules-support';
import { useTaskEnvironment } from './support';

/**
 * `rows.rules` conditions without SQL text (issue 18; what the presets are made of): `match`
 * (equalities) and `older_than` (an exact age or calendar days, a naive column read in its own
 * `timestamps.columns` zone, which SQL text cannot do). Every row's fate checked, dry runs equal
 * to the real run.
 */
const env = useTaskEnvironment('rows_rules_structured');

describe('older_than', () => {
  beforeEach(async () => {
    // Wall times of New York in a naive column: read in the server's zone (UTC here), every row
    // would look hours older than it is.
    await env.db.pool.query(`
      drop table if exists visits;
      create table visits (id int primary key, seen_local timestamp not null, seen_at timestamptz not null);
      insert into visits values
        (1, (now() - interval '2 hours 1 minute') at time zone 'America/New_York', now() - interval '2 days 1 minute'),
        (2, (now() - interval '1 hour 59 minutes') at time zone 'America/New_York', now() - interval '1 day 23 hours 59 minutes'),
        (3, (now() - interval '10 minutes') at time zone 'America/New_York', now());`);
  });

  it('reads a naive column in its timestamps.columns zone: only the row a minute past 2h goes', async () => {
    const before = await rowsOf(env.db.pool, 'visits');
    const rule = { name: 'old-visits', table: 'visits', older_than: { column: 'seen_local', age: '2h' }, delete: {} };
    const config = { rules: [rule], timestamps: { columns: { seen_local: 'America/New_York' } } };
    const real = await dryThenReal(env.temporal, env.db.pool, rulesTask(config), { visits: 'id' });
    expect(real.sets).toEqual({ 'old-visits': { matched: 1, deleted: 1 } });
    expectFates(before, await rowsOf(env.db.pool, 'visits'), { gone: ['1'] });
  });

  it('days: calendar days, a minute either side', async () => {
    const before = await rowsOf(env.db.pool, 'visits');
    const rule = { name: 'two-days', table: 'visits', older_than: { column: 'seen_at', days: 2 }, report: {} };
    const real = await dryThenReal(env.temporal, env.db.pool, rulesTask({ rules: [rule] }), { visits: 'id' });
    expect(real.sets).toEqual({ 'two-days': { matched: 1, reported: 1 } });
    expect(real.details.map((d) => d.id)).toEqual(['1']);
    expectFates(before, await rowsOf(env.db.pool, 'visits'), {});
  });

  it('takes exactly one of age and days', () => {
    const rule = (older_than: object) => ({ name: 'r', table: 'visits', older_than, report: {} });
    expect(() => rulesTask({ rules: [rule({ column: 'seen_at', age: '1h', days: 1 })] })).toThrow(ConfigError);
    expect(() => rulesTask({ rules: [rule({ column: 'seen_at' })] })).toThrow(/expected exactly one of age \(a duration, e\.g\. 4h\) or days \(a number\)/);
  });
});

describe('match', () => {
  beforeEach(async () => {
    await env.db.pool.query(`
      drop table if exists jobs;
      create table jobs (id int primary key, state text not null, locked boolean not null, queue text, meta jsonb not null default '{}');
      insert into jobs values
        (1, 'failed', false, null, '{"kind": "mail"}'),   -- every equality holds
        (2, 'errored', false, null, '{"kind": "mail"}'),  -- the other listed state
        (3, 'failed', true, null, '{"kind": "mail"}'),    -- locked
        (4, 'failed', false, 'q1', '{"kind": "mail"}'),   -- queue not null
        (5, 'failed', false, null, '{"kind": "sms"}'),    -- other JSON value
        (6, 'running', false, null, '{"kind": "mail"}');  -- other state`);
  });

  it('equalities, a list, null and a JSON path; match: {} is every row', async () => {
    const before = await rowsOf(env.db.pool, 'jobs');
    const rule = {
      name: 'dead-mail',
      table: 'jobs',
      match: { state: ['failed', 'errored'], locked: false, queue: null, "meta->>'kind'": 'mail' },
      delete: {},
    };
    const real = await dryThenReal(env.temporal, env.db.pool, rulesTask({ rules: [rule] }), { jobs: 'id' });
    expect(real.sets).toEqual({ 'dead-mail': { matched: 2, deleted: 2 } });
    expectFates(before, await rowsOf(env.db.pool, 'jobs'), { gone: ['1', '2'] });
    const every = await dryThenReal(env.temporal, env.db.pool, rulesTask({ rules: [{ name: 'all', table: 'jobs', match: {}, report: {} }] }), { jobs: 'id' });
    expect(every.sets).toEqual({ all: { matched: 4, reported: 4 } });
  });
});

describe('caretaker tasks rows.rules', () => {
  it('lists the structured conditions, the relation fields and start_workflow', async () => {
    const run = await caretaker('tasks', 'rows.rules');
    expect(run.code).toBe(0);
    for (const field of [
      'rules[].match',
      'rules[].older_than.column',
      'rules[].older_than.age',
      'rules[].older_than.days',
      'rules[].missing_parent.where',
      'rules[].missing_parent.null_is_missing',
      'rules[].unreferenced_by[].where',
      'rules[].start_workflow.type',
      'rules[].start_workflow.id_prefix',
      'rules[].start_workflow.execution_timeout',
    ])
      expect(run.out).toMatch(new RegExp(`^  ${field.replace(/[.[\]]/g, '\\$&')} `, 'm'));
  });
});
