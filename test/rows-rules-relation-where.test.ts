import { beforeEach, describe, expect, it } from 'vitest';
import { runTaskWorkflow, taskFailure } from './fixtures';
import { dryThenReal, expectFates, rowsOf, rulesTask } from './rows-rules-support';
import { useTaskEnvironment } from './support';

/**
 * `rows.rules` relations with a `where` over the related table ("the job is missing or not
 * running"; "no unfinished job uses the queue") and `null_is_missing`: every row's fate checked,
 * the dry runs equal to the real run.
 */
const env = useTaskEnvironment('rows_rules_relation_where');

describe('missing_parent with where', () => {
  beforeEach(async () => {
    await env.db.pool.query(`
      drop table if exists plans, jobs;
      create table jobs (id int primary key, status text not null);
      create table plans (id int primary key, status text not null, job_id int);
      insert into jobs values (1, 'running'), (2, 'failed'), (3, 'pending'), (4, 'completed');
      insert into plans values
        (10, 'PENDING', 1),    -- job running: keep
        (11, 'PENDING', 2),    -- job failed: reset
        (12, 'PENDING', 3),    -- job pending: keep
        (13, 'PENDING', 4),    -- job completed: reset
        (14, 'PENDING', 99),   -- job gone: reset
        (15, 'PENDING', null), -- no job: reset only with null_is_missing
        (16, 'DRAFT', 2);      -- other status: keep`);
  });

  const rule = (extra: Record<string, unknown> = {}) => ({
    name: 'stuck-plans',
    table: 'plans',
    where: "status = 'PENDING'",
    missing_parent: { table: 'jobs', column: 'job_id', where: "status in ('pending', 'running')", ...extra },
    update: { status: "'DRAFT'" },
    counter: 'reset',
  });

  it('a parent counts only when its where holds: rows whose job is missing or not running are reset', async () => {
    const plans = await rowsOf(env.db.pool, 'plans');
    const jobs = await rowsOf(env.db.pool, 'jobs');
    const real = await dryThenReal(env.temporal, env.db.pool, rulesTask({ rules: [rule()], batch_size: 2 }), { plans: 'id', jobs: 'id' });
    expect(real.sets).toEqual({ 'stuck-plans': { matched: 3, reset: 3 } });
    expectFates(plans, await rowsOf(env.db.pool, 'plans'), { changed: { 11: { status: 'DRAFT' }, 13: { status: 'DRAFT' }, 14: { status: 'DRAFT' } } });
    expectFates(jobs, await rowsOf(env.db.pool, 'jobs'), {});
  });

  it('null_is_missing: a row whose reference is NULL counts as missing its parent too', async () => {
    const plans = await rowsOf(env.db.pool, 'plans');
    const real = await dryThenReal(env.temporal, env.db.pool, rulesTask({ rules: [rule({ null_is_missing: true })] }), { plans: 'id', jobs: 'id' });
    expect(real.sets).toEqual({ 'stuck-plans': { matched: 4, reset: 4 } });
    const reset = { status: 'DRAFT' };
    expectFates(plans, await rowsOf(env.db.pool, 'plans'), { changed: { 11: reset, 13: reset, 14: reset, 15: reset } });
  });

  it("the where reads the parent's columns only, checked before anything changes", async () => {
    const plans = await rowsOf(env.db.pool, 'plans');
    const bad = { ...rule(), missing_parent: { table: 'jobs', column: 'job_id', where: "state = 'running'" } };
    const failure = await taskFailure(runTaskWorkflow(env.temporal, rulesTask({ rules: [bad] })));
    expect(failure.message).toMatch(
      /missing_parent\.where: column "state" in "state = 'running'" does not exist in table public\.jobs; did you mean "status"\?/,
    );
    expect(await rowsOf(env.db.pool, 'plans')).toEqual(plans);
  });
});

describe('unreferenced_by with where', () => {
  beforeEach(async () => {
    await env.db.pool.query(`
      drop table if exists jobs, queues;
      create table queues (id int primary key, name text not null);
      create table jobs (id int primary key, queue_id int references queues (id), finished_at timestamptz);
      insert into queues values (1, 'busy'), (2, 'done'), (3, 'empty'), (4, 'mixed');
      insert into jobs values (1, 1, null), (2, 2, now()), (3, 4, now()), (4, 4, null), (5, null, null);`);
  });

  it('a referencing row counts only when its where holds: queues with no unfinished job are deleted', async () => {
    const queues = await rowsOf(env.db.pool, 'queues');
    const rules = [
      { name: 'idle-queues', table: 'queues', unreferenced_by: [{ table: 'jobs', column: 'queue_id', where: 'finished_at is null' }], report: {} },
    ];
    const real = await dryThenReal(env.temporal, env.db.pool, rulesTask({ rules }), { queues: 'id', jobs: 'id' });
    expect(real.sets).toEqual({ 'idle-queues': { matched: 2, reported: 2 } });
    expect(real.details.map((d) => d.id).sort()).toEqual(['2', '3']);
    expectFates(queues, await rowsOf(env.db.pool, 'queues'), {});
  });
});
