import { beforeEach, describe, expect, it } from 'vitest';
import { runTaskWorkflow, taskFailure } from './fixtures';
import { dryThenReal, expectFates, readmeTask, rowsOf, rulesTask } from './rows-rules-support';
import { useTaskEnvironment } from './support';

/**
 * `rows.rules` (issue 18, "Why"): one test per bullet, each on a small real schema with rows a
 * minute either side of every threshold, every row's fate checked (full row text), the dry run
 * equal to the real run. The configs are README's "Rules" section, as written there.
 */
const env = useTaskEnvironment('rows_rules');
const q = (sql: string) => env.db.pool.query(sql);

const JOBS = `
  drop table if exists jobs;
  create table jobs (
    id                  int primary key,
    queue               text not null default 'default',
    state               text not null,
    attempt             int not null default 0,
    max_attempts        int not null default 3,
    priority            int not null default 5,
    run_at              timestamptz not null default now() - interval '1 day',
    scheduled_at        timestamptz,
    locked_at           timestamptz,
    locked_by           text,
    heartbeat_at        timestamptz,
    cancel_requested_at timestamptz,
    finalized_at        timestamptz,
    payload             jsonb not null default '{}',
    tags                text[] not null default '{}',
    errors              jsonb[] not null default '{}',
    error_log           jsonb
  );`;

/** The database clock, to check that `now()` was written by the run (never the test's clock). */
const dbNow = async () => (await q('select now()::text as t')).rows[0].t as string;
const at = (iso: unknown) => Date.parse(String(iso));

describe('conditions between columns, on expressions, JSON and arrays', () => {
  beforeEach(async () => {
    await q(JOBS);
    await q(`insert into jobs (id, state, attempt, max_attempts, locked_at, payload, tags, run_at) values
      (1, 'failed',  3, 3, null, '{}', '{}', now() - interval '1 day'),            -- exhausted: deleted
      (2, 'failed',  2, 3, null, '{}', '{}', now() - interval '1 day'),            -- attempts left
      (3, 'errored', 5, 5, now(), '{}', '{}', now() - interval '1 day'),           -- locked
      (4, 'done',    3, 3, null, '{}', '{}', now() - interval '1 day'),            -- another state
      (5, 'errored', 1, 1, null, '{}', '{}', now() - interval '1 day'),            -- exhausted: deleted
      (6, 'failed',  4, 3, null, '{}', '{}', now() - interval '1 day'),            -- over its limit: deleted
      (7, 'running', 0, 3, now() - interval '1 hour', '{"kind":"import"}', '{urgent}', now() - interval '2 hours'),        -- reported
      (8, 'running', 0, 3, now() - interval '1 hour', '{"kind":"import"}', '{urgent}', now() - interval '59 minutes'),     -- run_at after locked_at
      (9, 'running', 0, 3, now() - interval '1 hour', '{"kind":"export"}', '{urgent}', now() - interval '2 hours'),        -- another kind
      (10, 'running', 0, 3, now() - interval '1 hour', '{"kind":"import"}', '{slow}', now() - interval '2 hours'),         -- no urgent tag
      (11, 'queued',  0, 3, null, '{"kind":"import"}', '{urgent}', now() - interval '2 hours')                            -- never locked: NULL`);
  });

  it('deletes exhausted unlocked jobs, reports suspicious imports, changes no other row', async () => {
    const before = await rowsOf(env.db.pool, 'jobs');
    const real = await dryThenReal(env.temporal, env.db.pool, readmeTask('failed-jobs', { batch_size: 2 }), { jobs: 'id' });
    expect(real.sets).toEqual({ 'delete-exhausted': { matched: 3, deleted: 3 }, 'suspicious-imports': { matched: 1, reported: 1 } });
    expect(real.details.filter((d) => d.action === 'report').map((d) => d.id)).toEqual(['7']);
    expectFates(before, await rowsOf(env.db.pool, 'jobs'), { gone: ['1', '5', '6'] });
  });
});

describe('a per-row limit and a conditional outcome', () => {
  beforeEach(async () => {
    await q(JOBS);
    await q(`insert into jobs (id, state, attempt, max_attempts, heartbeat_at, cancel_requested_at) values
      (21, 'running', 1, 3,  now() - interval '11 minutes', now() - interval '1 minute'),   -- cancel requested: cancelled
      (22, 'running', 1, 3,  now() - interval '11 minutes', null),                          -- attempts left: retryable
      (23, 'running', 3, 3,  now() - interval '11 minutes', null),                          -- its own limit reached: discarded
      (24, 'running', 1, 3,  now() - interval '9 minutes',  now() - interval '1 minute'),   -- heartbeat fresh
      (25, 'queued',  1, 3,  now() - interval '11 minutes', null),                          -- not running
      (26, 'running', 5, 10, now() - interval '11 minutes', now()),                         -- cancel wins over attempts left
      (27, 'running', 9, 10, now() - interval '11 minutes', null),                          -- a higher limit: retryable
      (28, 'running', 0, 3,  null, null)                                                    -- no heartbeat: NULL`);
  });

  it.each([{ read_ahead: 100_000 }, { read_ahead: 0 }])(
    'read_ahead $read_ahead: each row takes the first branch that holds; finalizing writes finalized_at = now()',
    async ({ read_ahead }) => {
      const before = await rowsOf(env.db.pool, 'jobs');
      const start = await dbNow();
      const real = await dryThenReal(env.temporal, env.db.pool, readmeTask('rescue-stuck', { batch_size: 2, read_ahead }), { jobs: 'id' });
      expect(real.sets).toEqual({ 'rescue-stuck': { matched: 5, cancelled: 2, requeued: 2, discarded: 1 } });
      const finalized = (v: unknown) => at(v) >= at(start);
      expectFates(before, await rowsOf(env.db.pool, 'jobs'), {
        changed: {
          21: { state: 'cancelled', finalized_at: finalized },
          22: { state: 'retryable', attempt: 2 },
          23: { state: 'discarded', finalized_at: finalized },
          26: { state: 'cancelled', finalized_at: finalized },
          27: { state: 'retryable', attempt: 10 },
        },
      });
      const outcomes = Object.fromEntries(real.details.map((d) => [d.id, d.outcome]));
      expect(outcomes).toEqual({ 21: 'cancelled', 22: 'requeued', 23: 'discarded', 26: 'cancelled', 27: 'requeued' });
    },
  );

  it('a dry run names each branch counter in the conditional (would_cancel, would_requeue, would_discard)', async () => {
    const dry = await runTaskWorkflow(env.temporal, readmeTask('rescue-stuck'), { dryRun: true });
    expect(dry.sets).toEqual({ 'rescue-stuck': { matched: 5, would_cancel: 2, would_requeue: 2, would_discard: 1 } });
  });

  it('a second run finds nothing: the rows it changed no longer match', async () => {
    await dryThenReal(env.temporal, env.db.pool, readmeTask('rescue-stuck'), { jobs: 'id' });
    const again = await dryThenReal(env.temporal, env.db.pool, readmeTask('rescue-stuck'), { jobs: 'id' });
    expect(again.sets).toEqual({ 'rescue-stuck': { matched: 0, cancelled: 0, requeued: 0, discarded: 0 } });
  });
});

describe('cases: a delete branch with children, a literal update that would change nothing, a report', () => {
  beforeEach(async () => {
    await q(`drop table if exists run_logs, runs;
      create table runs (id int primary key, state text not null, pinned boolean not null default false, note text, finished_at timestamptz);
      create table run_logs (id int primary key, run_id int not null references runs (id), line text);
      insert into runs values
        (1, 'done',    true,  null,   now() - interval '30 days 1 minute'),   -- pinned: note written
        (2, 'done',    true,  'kept', now() - interval '30 days 1 minute'),   -- pinned, note already there: left alone, not deleted
        (3, 'done',    false, null,   now() - interval '30 days 1 minute'),   -- deleted with its 2 logs
        (4, 'running', false, null,   now() - interval '31 days'),            -- reported
        (5, 'done',    false, null,   now() - interval '29 days 59 minutes'), -- too young
        (6, 'failed',  false, null,   now() - interval '40 days');            -- deleted with its log
      insert into run_logs values (1, 3, 'a'), (2, 3, 'b'), (3, 5, 'c'), (4, 6, 'd'), (5, 2, 'e')`);
  });

  const task = (config: Record<string, unknown> = {}) =>
    rulesTask({
      batch_size: 2,
      ...config,
      rules: [
        {
          name: 'tidy-runs',
          table: 'runs',
          where: "finished_at < now() - interval '30 days'",
          cases: [
            { when: 'pinned', update: { note: { value: 'kept' } } },
            { when: "state = any('{done,failed}')", delete: { children: [{ table: 'run_logs', column: 'run_id' }] } },
            { report: {} },
          ],
        },
      ],
    });

  it('each row takes its branch; children go with their parent; the dry runs say the same', async () => {
    const runs = await rowsOf(env.db.pool, 'runs');
    const logs = await rowsOf(env.db.pool, 'run_logs');
    const real = await dryThenReal(env.temporal, env.db.pool, task(), { runs: 'id', run_logs: 'id' });
    expect(real.sets).toEqual({ 'tidy-runs': { matched: 4, updated: 1, deleted: 2, reported: 1, children_deleted: 3 } });
    expectFates(runs, await rowsOf(env.db.pool, 'runs'), { gone: ['3', '6'], changed: { 1: { note: 'kept' } } });
    expectFates(logs, await rowsOf(env.db.pool, 'run_logs'), { gone: ['1', '2', '4'] });
  });

  it('a parent whose child row another transaction holds is skipped, with its children', async () => {
    const holder = await env.db.pool.connect();
    try {
      await holder.query('begin');
      await holder.query('select * from run_logs where id = 4 for update');
      const real = await runTaskWorkflow(env.temporal, task());
      expect(real.sets).toEqual({ 'tidy-runs': { matched: 4, updated: 1, deleted: 1, reported: 1, children_deleted: 2, skipped_for_locks: 1 } });
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    expect([...(await rowsOf(env.db.pool, 'runs')).keys()]).toEqual(['1', '2', '4', '5', '6']);
    expect([...(await rowsOf(env.db.pool, 'run_logs')).keys()]).toEqual(['3', '4', '5']);
  });

  it('max_fraction counts the rows the changing branches take (3 of 6 runs), not the reported ones', async () => {
    const failure = await taskFailure(runTaskWorkflow(env.temporal, task({ max_fraction: 0.4 })));
    expect(failure.type).toBe('SafetyLimitExceeded');
    expect(failure.message).toContain('tidy-runs: would change 3 of 6 rows of public.runs (50%), more than max_fraction 0.4');
  });
});

describe('an update without a status column (delayed_job)', () => {
  beforeEach(async () => {
    // delayed_job's table (its generator's migration): naive timestamps, UTC wall times written by Rails.
    // Here the wall times are Tokyo's and the rule says so: the session's TimeZone (UTC) alone would see them 9 hours ahead.
    await q(`drop table if exists delayed_jobs;
      create table delayed_jobs (
        id bigserial primary key, priority integer not null default 0, attempts integer not null default 0,
        handler text not null, last_error text, run_at timestamp, locked_at timestamp, failed_at timestamp,
        locked_by varchar, queue varchar, created_at timestamp, updated_at timestamp);
      insert into delayed_jobs (id, handler, run_at, locked_at, locked_by, failed_at, created_at, updated_at)
      select id, 'Job' || id, t - interval '5 hours', t - age, by, failed, t - interval '6 hours', t - interval '5 hours'
      from (values
        (31, interval '4 hours 1 minute', 'host:a pid:1', null::timestamp),    -- stale lock: released
        (32, interval '3 hours 59 minutes', 'host:a pid:2', null),            -- fresh lock
        (33, null, null, null),                                               -- not locked
        (34, interval '5 days', 'host:b pid:3', timezone('Asia/Tokyo', now()) - interval '5 days')  -- failed and locked: released
      ) v(id, age, by, failed), (select timezone('Asia/Tokyo', now()) as t) n`);
  });

  it('releases locks older than 4 hours in the configured zone; every other column stays', async () => {
    const before = await rowsOf(env.db.pool, 'delayed_jobs');
    const task = readmeTask('release-locks', { timestamps: { zone: 'Asia/Tokyo' } });
    const real = await dryThenReal(env.temporal, env.db.pool, task, { delayed_jobs: 'id' });
    expect(real.sets).toEqual({ 'release-stale-locks': { matched: 2, updated: 2 } });
    const released = { locked_at: null, locked_by: null };
    expectFates(before, await rowsOf(env.db.pool, 'delayed_jobs'), { changed: { 31: released, 34: released } });
  });

  it('without the zone, Tokyo wall times read as UTC are 9 hours ahead: only the 5-day-old lock is released', async () => {
    const before = await rowsOf(env.db.pool, 'delayed_jobs');
    const real = await dryThenReal(env.temporal, env.db.pool, readmeTask('release-locks', { timestamps: { zone: null } }), { delayed_jobs: 'id' });
    expect(real.sets).toEqual({ 'release-stale-locks': { matched: 1, updated: 1 } });
    expectFates(before, await rowsOf(env.db.pool, 'delayed_jobs'), { changed: { 34: { locked_at: null, locked_by: null } } });
  });
});

describe('assignments beyond literals', () => {
  beforeEach(async () => {
    await q(JOBS);
    await q(`insert into jobs (id, state, attempt, max_attempts, priority, locked_by, heartbeat_at, errors, error_log, tags, run_at) values
      (41, 'failed', 1, 3, 5, 'w1', null, '{}', null, '{}', now() - interval '2 days'),                                  -- re-queued
      (42, 'failed', 0, 3, 0, null, now() - interval '1 hour', array['{"error":"boom"}'::jsonb], '[{"error":"boom"}]', '{x}', now() - interval '3 days'),  -- re-queued
      (43, 'failed', 3, 3, 5, 'w1', null, '{}', null, '{}', now() - interval '2 days'),                                  -- no attempts left
      (44, 'queued', 0, 3, 5, null, null, '{}', null, '{}', now() - interval '2 days')                                   -- not failed`);
  });

  it('null, now(), increment, another column, an expression, array and JSON array appends, a literal; the age column stays', async () => {
    const before = await rowsOf(env.db.pool, 'jobs');
    const start = await dbNow();
    const real = await dryThenReal(env.temporal, env.db.pool, readmeTask('requeue-failed'), { jobs: 'id' });
    expect(real.sets).toEqual({ 'requeue-failed': { matched: 2, updated: 2 } });
    const after = await rowsOf(env.db.pool, 'jobs');
    const common = { state: 'queued', locked_by: null, queue: 'retries', heartbeat_at: (v: unknown) => at(v) >= at(start) };
    expectFates(before, after, {
      changed: {
        41: {
          ...common,
          attempt: 2,
          scheduled_at: before.get('41')!.run_at,
          priority: 4,
          errors: [{ error: 'requeued', attempt: 1 }],
          error_log: [{ error: 'requeued' }],
          tags: ['requeued'],
        },
        42: {
          ...common,
          attempt: 1,
          scheduled_at: before.get('42')!.run_at,
          priority: 0,
          errors: [{ error: 'boom' }, { error: 'requeued', attempt: 0 }],
          error_log: [{ error: 'boom' }, { error: 'requeued' }],
          tags: ['x', 'requeued'],
        },
      },
    });
    // run_at, the age column, is not listed: expectFates proved every unlisted column unchanged.
    expect(after.get('41')!.run_at).toEqual(before.get('41')!.run_at);
  });
});
