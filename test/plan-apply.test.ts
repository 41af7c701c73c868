import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { buildTaskInput, workflowTypeFor } from '../config/task-input';
import type { TaskConfig } from '../config/schema';
import { workerEnv, workerNodeArgs } from '../worker/command';
import type { PlanDirective, TaskResult } from '../workflows/types';
import { realNames } from '../activities/engine/counters';
import { MASKED, SAMPLE_ROW_CHARS } from '../activities/engine/plan-sample';
import { insertJob, parseTask, PIPELINE_SCHEMA, PIPELINE_TASK_CONFIG, snapshot, taskFailure } from './fixtures';
import { startTestWorker, type TestTemporal, useTaskEnvironment } from './support';

/**
 * Plan → approve → apply, the activities' part (issue 19): a task's activity run with `plan` in its
 * input records the keys of the rows it would change, then applies exactly those that still match.
 */
const env = useTaskEnvironment('plan_apply');
const workers: TestTemporal[] = [];
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
});

beforeEach(async () => {
  await env.db.pool.query(`
    drop schema if exists caretaker cascade;
    drop schema if exists shop cascade;
    create schema shop;
    create table shop.sessions (id int primary key, seen_at timestamptz not null, api_token text, note text, meta jsonb);`);
});

let runs = 0;
/** Runs a task's workflow with `plan` set directly in its input, as the approval workflow calls the activity. */
function runPlanned(task: TaskConfig, plan: PlanDirective, temporal = env.temporal): Promise<TaskResult> {
  return temporal.client.workflow.execute(workflowTypeFor(task), {
    taskQueue: temporal.taskQueue,
    workflowId: `${task.id}-plan-${++runs}-${randomBytes(3).toString('hex')}`,
    args: [{ ...buildTaskInput(task), plan }],
  });
}
const record = (task: TaskConfig, planId = `p${++runs}`) => runPlanned(task, { phase: 'record', planId });
const apply = (task: TaskConfig, planId: string, maxDrift = 0) => runPlanned(task, { phase: 'apply', planId, maxDrift });

const retention = (extra: Record<string, unknown> = {}) =>
  parseTask({
    id: 'sessions',
    type: 'retention.enforce',
    config: {
      policies: [{ name: 'old sessions', table: 'shop.sessions', timestamp_column: 'seen_at', older_than: '7d' }],
      batch_size: 2,
      max_fraction: 1,
      ...extra,
    },
    retry: { maximum_attempts: 1 },
  });

/** Sessions `days` old, ids from `from`. */
async function seed(from: number, count: number, days: number) {
  await env.db.pool.query(
    `insert into shop.sessions select g, now() - $3::int * interval '1 day', 'tok-' || g, repeat('x', 300), jsonb_build_object('password', 'pw' || g, 'page', g)
     from generate_series($1::int, $1::int + $2::int - 1) g`,
    [from, count, days],
  );
}
const ids = async () => (await env.db.pool.query<{ id: number }>(`select id from shop.sessions order by id`)).rows.map((r) => r.id);
const plannedKeys = async (planId: string) =>
  (await env.db.pool.query<{ key: string[] }>(`select key from caretaker.plan_keys where plan_id = $1 order by unit, seq`, [planId])).rows.map((r) => r.key);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('plan record', () => {
  it('is a dry run that stores the keys it would change (not in history) and a masked, bounded sample', async () => {
    await seed(1, 7, 30);
    await seed(100, 3, 1);
    const before = await snapshot(env.db.pool, 'shop.sessions', 'id');
    const preview = await env.temporal.client.workflow.execute(workflowTypeFor(retention()), {
      taskQueue: env.temporal.taskQueue,
      workflowId: `sessions-dry-${++runs}`,
      args: [buildTaskInput(retention(), { dryRun: true })],
    });
    const plan = await record(retention(), 'first');
    expect(await snapshot(env.db.pool, 'shop.sessions', 'id')).toEqual(before);
    // The same counts as an ordinary dry run, under the dry run's names.
    expect(plan.dryRun).toBe(true);
    expect(plan.counts).toEqual(preview.counts);
    expect(plan.tables).toEqual(preview.tables);
    expect(plan.sets).toEqual(preview.sets);
    expect(plan.counts.would_delete).toBe(7);
    expect(plan.plan).toMatchObject({ planId: 'first', keys: 7 });
    expect(plan.plan!.keysDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(await plannedKeys('first')).toEqual(range(1, 7).map((id) => [String(id)]));
    const sample = plan.plan!.sample['old sessions']!;
    expect(sample.map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    expect(sample[0]).toMatchObject({ api_token: MASKED, meta: { password: MASKED, page: 1 } });
    expect(String(sample[0]!.note).length).toBeLessThan(260);
    expect(String(sample[0]!.note)).toContain('(300 characters)');
  });

  it('bounds a sampled row of a wide table', async () => {
    const columns = range(1, 30).map((i) => `c${i}`);
    await env.db.pool.query(`create table shop.wide (id int primary key, seen_at timestamptz not null, ${columns.map((c) => `${c} text`).join(', ')});
      insert into shop.wide select g, now() - interval '30 days', ${columns.map(() => `repeat('w', 150)`).join(', ')} from generate_series(1, 2) g`);
    const wide = parseTask({
      id: 'wide',
      type: 'retention.enforce',
      config: { policies: [{ name: 'wide', table: 'shop.wide', timestamp_column: 'seen_at', older_than: '7d' }], max_fraction: 1 },
      retry: { maximum_attempts: 1 },
    });
    const sample = (await record(wide)).plan!.sample.wide!;
    expect(sample).toHaveLength(2);
    expect(JSON.stringify(sample[0]).length).toBeLessThanOrEqual(SAMPLE_ROW_CHARS + 40);
    expect(sample[0]).toMatchObject({ id: 1, c1: 'w'.repeat(150) });
    expect(sample[0]!['…']).toMatch(/^\d+ more columns$/);
  });

  it('gives the same digest for the same keys and another for other keys', async () => {
    await seed(1, 5, 30);
    const a = await record(retention());
    const b = await record(retention());
    expect(b.plan!.keysDigest).toBe(a.plan!.keysDigest);
    await seed(6, 1, 30);
    const c = await record(retention());
    expect(c.plan!.keys).toBe(6);
    expect(c.plan!.keysDigest).not.toBe(a.plan!.keysDigest);
    await env.db.pool.query(
      `delete from shop.sessions where id = 6; update shop.sessions set seen_at = now() where id = 5; insert into shop.sessions values (7, now() - interval '30 days')`,
    );
    const d = await record(retention());
    expect(d.plan!.keys).toBe(5);
    expect(d.plan!.keysDigest).not.toBe(a.plan!.keysDigest);
  });

  it('prunes plans older than 30 days, with their keys, when it records one', async () => {
    await seed(1, 2, 30);
    const old = await record(retention());
    await env.db.pool.query(`update caretaker.plans set recorded_at = now() - interval '31 days' where plan_id = $1`, [old.plan!.planId]);
    const kept = await record(retention());
    const plans = await env.db.pool.query<{ plan_id: string }>(`select plan_id from caretaker.plans order by plan_id`);
    expect(plans.rows.map((r) => r.plan_id)).toEqual([kept.plan!.planId]);
    expect(await plannedKeys(old.plan!.planId)).toEqual([]);
    expect(await plannedKeys(kept.plan!.planId)).toHaveLength(2);
  });
});

describe('plan apply', () => {
  it('changes exactly the planned rows; rows that began to match after planning are untouched', async () => {
    await seed(1, 7, 30);
    await seed(100, 3, 1);
    const plan = await record(retention());
    await seed(50, 4, 30);
    const result = await apply(retention(), plan.plan!.planId);
    expect(await ids()).toEqual([...range(50, 53), ...range(100, 102)]);
    expect(result.counts).toMatchObject({ deleted: 7, drifted: 0 });
    expect(result.sets['old sessions']).toMatchObject({ deleted: 7, drifted: 0 });
    expect(realNames(plan.counts)).toMatchObject({ deleted: result.counts.deleted });
    // What the apply left is what matches now: the rows that began to match after planning.
    expect(result.backlog?.rows).toBe(4);
    // An applied plan's keys are forgotten.
    expect(await plannedKeys(plan.plan!.planId)).toEqual([]);
  });

  it('applies a plan over a composite key of a uuid and a timestamp', async () => {
    await env.db.pool.query(`create table shop.visits (site uuid not null, at timestamptz not null, note text, primary key (site, at));
      insert into shop.visits select ('00000000-0000-0000-0000-00000000000' || g)::uuid, now() - g * interval '10 days', 'v' || g from generate_series(1, 6) g`);
    const visits = parseTask({
      id: 'visits',
      type: 'retention.enforce',
      config: {
        policies: [{ name: 'old visits', table: 'shop.visits', id_column: ['site', 'at'], timestamp_column: 'at', older_than: '25d' }],
        batch_size: 2,
        max_fraction: 1,
      },
      retry: { maximum_attempts: 1 },
    });
    const plan = await record(visits);
    expect(plan.plan!.keys).toBe(4);
    await env.db.pool.query(`update shop.visits set at = now() where note = 'v3'`);
    const result = await apply(visits, plan.plan!.planId, 0.25);
    expect(result.counts).toMatchObject({ deleted: 3, drifted: 1 });
    const notes = (await env.db.pool.query<{ note: string }>(`select note from shop.visits order by note`)).rows.map((r) => r.note);
    expect(notes).toEqual(['v1', 'v2', 'v3']);
  });

  it('leaves a planned row another transaction holds for the next run: skipped for locks, not drifted', async () => {
    await seed(1, 4, 30);
    const plan = await record(retention());
    const holder = await env.db.pool.connect();
    try {
      await holder.query('begin');
      await holder.query('select * from shop.sessions where id = 2 for update');
      const result = await apply(retention(), plan.plan!.planId);
      expect(result.counts).toMatchObject({ deleted: 3, drifted: 0, skipped_for_locks: 1 });
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    expect(await ids()).toEqual([2]);
  });

  it('skips and counts planned rows that no longer match, under max_drift', async () => {
    await seed(1, 10, 30);
    const plan = await record(retention());
    await env.db.pool.query(`update shop.sessions set seen_at = now() where id in (3, 8)`);
    const result = await apply(retention(), plan.plan!.planId, 0.2);
    expect(await ids()).toEqual([3, 8]);
    expect(result.counts).toMatchObject({ deleted: 8, drifted: 2 });
    expect(result.sets['old sessions']).toMatchObject({ deleted: 8, drifted: 2 });
  });

  it('refuses before changing anything when more than max_drift of the plan drifted', async () => {
    await seed(1, 10, 30);
    const plan = await record(retention());
    await env.db.pool.query(`update shop.sessions set seen_at = now() where id in (1, 9); delete from shop.sessions where id = 10`);
    const before = await snapshot(env.db.pool, 'shop.sessions', 'id');
    const failure = await taskFailure(apply(retention(), plan.plan!.planId, 0.2));
    expect(failure.type).toBe('PlanDrifted');
    expect(failure.message).toContain('3 of 10 planned rows (30%) no longer match');
    expect(failure.message).toContain('plan again');
    expect(await snapshot(env.db.pool, 'shop.sessions', 'id')).toEqual(before);
    expect(Number((await env.db.pool.query(`select count(*) as n from caretaker.ledger`)).rows[0].n)).toBe(0);
  });

  it('refuses a plan it does not know, or one made for other policies', async () => {
    await seed(1, 3, 30);
    expect(await taskFailure(apply(retention(), 'never-recorded'))).toMatchObject({ type: 'PlanNotFound' });
    const plan = await record(retention());
    const renamed = parseTask({
      id: 'sessions',
      type: 'retention.enforce',
      config: { policies: [{ name: 'stale sessions', table: 'shop.sessions', timestamp_column: 'seen_at', older_than: '7d' }], max_fraction: 1 },
      retry: { maximum_attempts: 1 },
    });
    const failure = await taskFailure(apply(renamed, plan.plan!.planId));
    expect(failure).toMatchObject({ type: 'PlanNotFound' });
    expect(failure.message).toContain('plan again');
    expect(await ids()).toEqual([1, 2, 3]);
  });
});

describe('row tasks other than retention', () => {
  it('runs.cleanup_stale: applies its decisions to the planned runs only', async () => {
    await env.db.pool.query(`drop schema if exists app cascade; ${PIPELINE_SCHEMA}`);
    const stale = [await insertJob(env.db.pool, { state: 'running', age: '2 hours' }), await insertJob(env.db.pool, { state: 'running', age: '3 hours' })];
    const finishes = await insertJob(env.db.pool, { state: 'running', age: '4 hours' });
    const fresh = await insertJob(env.db.pool, { state: 'running', age: '1 minute' });
    const task = parseTask({ config: PIPELINE_TASK_CONFIG, retry: { maximum_attempts: 1 } });
    const plan = await record(task);
    expect(plan.plan!.keys).toBe(3);
    // After planning: one planned run finishes on its own, one new run becomes stale.
    await env.db.pool.query(`update app.pipeline_jobs set state = 'completed' where job_id = $1`, [finishes]);
    const late = await insertJob(env.db.pool, { state: 'running', age: '5 hours' });
    const result = await apply(task, plan.plan!.planId, 0.5);
    expect(result.counts).toMatchObject({ stale: 2, requeued: 2, drifted: 1 });
    const states = Object.fromEntries(
      (await snapshot(env.db.pool)).map((r) => [String(r.job_id), `${String(r.state)}/${String(r.attempts)}`] as [string, string]),
    );
    expect(states).toEqual({
      [stale[0]!]: 'pending/1',
      [stale[1]!]: 'pending/1',
      [finishes]: 'completed/0',
      [fresh]: 'running/0',
      [late]: 'running/0',
    });
  });

  it('rows.rules: a rule with cases plans and applies; each planned row takes the branch it takes when applied', async () => {
    await env.db.pool.query(`drop table if exists public.job_logs, public.jobs;
      create table jobs (id int primary key, state text not null, attempts int not null, max_attempts int not null);
      create table job_logs (id int primary key, job_id int not null references jobs (id));
      insert into jobs values (1, 'stuck', 0, 3), (2, 'stuck', 3, 3), (3, 'stuck', 1, 3), (4, 'done', 0, 3), (5, 'stuck', 5, 5);
      insert into job_logs values (1, 2), (2, 4);`);
    const rule = {
      name: 'stuck jobs',
      table: 'jobs',
      where: "state = 'stuck'",
      cases: [
        { when: 'attempts < max_attempts', update: { state: { value: 'queued' }, attempts: 'attempts + 1' } },
        { delete: { children: [{ table: 'job_logs', column: 'job_id' }] } },
      ],
    };
    const task = parseTask({ id: 'jobs', type: 'rows.rules', config: { rules: [rule], max_fraction: 1 }, retry: { maximum_attempts: 1 } });
    const plan = await record(task);
    expect(plan.plan!.keys).toBe(4);
    expect(plan.plan!.sample['stuck jobs']!.map((r) => r.id)).toEqual([1, 2, 3, 5]);
    expect(plan.counts).toMatchObject({ would_update: 2, would_delete: 2, would_delete_children: 1 });
    // After planning: a planned job finishes on its own, a new one gets stuck.
    await env.db.pool.query(`update jobs set state = 'done' where id = 3; insert into jobs values (6, 'stuck', 0, 3)`);
    const result = await apply(task, plan.plan!.planId, 0.5);
    expect(result.counts).toMatchObject({ updated: 1, deleted: 2, children_deleted: 1, drifted: 1 });
    const jobs = (await env.db.pool.query<{ id: number; state: string; attempts: number }>(`select * from jobs order by id`)).rows;
    expect(jobs.map((j) => `${j.id}:${j.state}/${j.attempts}`)).toEqual(['1:queued/1', '3:done/1', '4:done/0', '6:stuck/0']);
    expect((await env.db.pool.query(`select id from job_logs order by id`)).rows).toEqual([{ id: 2 }]);
  });

  it('an orphan rule plans and applies; a rule that is not rows by key refuses approval, naming the task type', async () => {
    await env.db.pool.query(`drop table if exists public.apps, public.tasks;
      create table apps (id int primary key, path text);
      insert into apps values (1, 'a'), (2, 'b');
      create table tasks (id int primary key, app_id int, status text not null, secret_token text);
      insert into tasks values (10, 1, 'pending', 's1'), (11, 99, 'pending', 's2'), (12, 98, 'running', 's3'), (13, 97, 'completed', 's4');`);
    const rule = {
      kind: 'missing_parent',
      name: 'orphan tasks',
      table: 'tasks',
      reference_column: 'app_id',
      parent_table: 'apps',
      where: { status: ['pending', 'running'] },
      action: 'update',
      set: { status: 'cancelled' },
    };
    const orphans = (rules: unknown[]) =>
      parseTask({ id: 'orphans', type: 'assets.detect_orphans', config: { rules, max_fraction: 1 }, retry: { maximum_attempts: 1 } });
    const plan = await record(orphans([rule]));
    expect(plan.plan!.keys).toBe(2);
    expect(plan.plan!.sample['orphan tasks']!.map((r) => r.secret_token)).toEqual([MASKED, MASKED]);
    await env.db.pool.query(`insert into tasks values (14, 96, 'pending', 's5')`);
    const result = await apply(orphans([rule]), plan.plan!.planId);
    expect(result.counts).toMatchObject({ updated: 2, drifted: 0 });
    const statuses = (await env.db.pool.query<{ id: number; status: string }>(`select id, status from tasks order by id`)).rows.map(
      (r) => `${r.id}:${r.status}`,
    );
    expect(statuses).toEqual(['10:pending', '11:cancelled', '12:cancelled', '13:completed', '14:pending']);

    const files = { kind: 'missing_file', name: 'orphan apps', table: 'apps', path_column: 'path', base_dir: '/tmp', action: 'delete' };
    const refused = await taskFailure(record(orphans([rule, files])));
    expect(refused.type).toBe('PlanNotSupported');
    expect(refused.message).toContain('assets.detect_orphans cannot run with approval');
    expect(refused.message).toContain('"orphan apps"');
  });
});

// A run table whose deletes are slow (a statement trigger sleeps), so a run is caught mid-way by a SIGKILL.
const CRASH_SCHEMA = `
  drop schema if exists crash cascade;
  create schema crash;
  create table crash.runs (id bigint primary key, state text not null, finished_at timestamptz);
  create table crash.events (id bigserial primary key, run_id bigint not null references crash.runs (id), body text);
  create function crash.slow() returns trigger language plpgsql as $$ begin perform pg_sleep(0.05); return null; end $$;
  create trigger slow before delete on crash.runs for each statement execute function crash.slow();
  insert into crash.runs select g, 'completed', now() - interval '90 days' from generate_series(1, 400) g;
  insert into crash.events (run_id, body) select r, 'e' from generate_series(1, 400) r, generate_series(1, 3);`;

const crashTask = () =>
  parseTask({
    id: 'crash',
    type: 'runs.cleanup_expired',
    config: {
      table: 'crash.runs',
      columns: { status: 'state', timestamp: 'finished_at' },
      children: [{ table: 'crash.events', column: 'run_id' }],
      batch_size: 20,
      max_fraction: 1,
    },
    timeouts: { heartbeat: '2s' },
    retry: { maximum_attempts: 10, initial_interval: '500ms', maximum_interval: '1s' },
  });

const count = async (sql: string) => Number((await env.db.pool.query<{ n: string }>(sql)).rows[0]!.n);

/**
 * Starts the task's workflow with `plan` on a standalone worker process, SIGKILLs that worker once
 * `progress` reaches `atLeast`, and lets an in-process worker on the same task queue retry the activity.
 */
async function killedMidway(task: TaskConfig, plan: PlanDirective, progress: () => Promise<number>, atLeast: number): Promise<TaskResult> {
  const taskQueue = `test-plan-kill-${randomBytes(4).toString('hex')}`;
  const child = spawn(process.execPath, workerNodeArgs(), {
    cwd: join(__dirname, '..'),
    env: workerEnv({
      ...process.env,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      CARETAKER_TASK_QUEUE: taskQueue,
      DATABASE_URL: env.db.url,
      CARETAKER_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    }),
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const handle = await env.temporal.client.workflow.start(workflowTypeFor(task), {
      taskQueue,
      workflowId: `crash-${plan.phase}-${randomBytes(4).toString('hex')}`,
      args: [{ ...buildTaskInput(task), plan }],
    });
    await expect.poll(progress, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(atLeast);
    child.kill('SIGKILL');
    await exited;
    workers.push(await startTestWorker({ default: env.db.url }, { taskQueue }));
    return (await handle.result()) as TaskResult;
  } finally {
    child.kill('SIGKILL');
  }
}

describe('a worker SIGKILLed', () => {
  it('while applying: counts exact after the retry, the planned rows that still match, drift counted once', async () => {
    await env.db.pool.query(CRASH_SCHEMA);
    const task = crashTask();
    const plan = await record(task);
    expect(plan.plan!.keys).toBe(400);
    // After planning: 10 planned runs stop matching (spread over the plan), 50 new runs begin to match.
    await env.db.pool.query(`update crash.runs set state = 'running' where id % 40 = 0;
      insert into crash.runs select g, 'completed', now() - interval '90 days' from generate_series(401, 450) g`);

    const directive: PlanDirective = { phase: 'apply', planId: plan.plan!.planId, maxDrift: 0.05 };
    const result = await killedMidway(task, directive, () => count(`select count(*) as n from caretaker.ledger`), 4);
    const left = (await env.db.pool.query<{ id: string }>(`select id from crash.runs order by id`)).rows.map((r) => Number(r.id));
    expect(left).toEqual([...range(1, 10).map((i) => i * 40), ...range(401, 450)]);
    expect(await count(`select count(*) as n from crash.events`)).toBe(10 * 3);
    expect(result.counts).toMatchObject({ deleted: 390, children_deleted: 390 * 3, drifted: 10 });
    expect(result.tables).toEqual({ 'crash.runs': { deleted: 390 }, 'crash.events': { deleted: 390 * 3 } });
    expect(await count(`select max(attempt) as n from caretaker.ledger`)).toBeGreaterThan(1);
  });

  it('while recording: the retry records each key once, with the digest of an undisturbed record', async () => {
    await env.db.pool.query(CRASH_SCHEMA);
    const task = crashTask();
    const before = await snapshot(env.db.pool, 'crash.runs', 'id');
    const killed = await killedMidway(
      task,
      { phase: 'record', planId: 'killed' },
      () => count(`select count(*) as n from caretaker.plan_keys`).catch(() => 0),
      60,
    );
    expect(await snapshot(env.db.pool, 'crash.runs', 'id')).toEqual(before);
    expect(killed.plan!.keys).toBe(400);
    expect(await plannedKeys('killed')).toEqual(range(1, 400).map((id) => [String(id)]));
    expect(killed.counts).toMatchObject({ would_delete: 400, would_delete_children: 1200 });
    expect(killed.plan!.keysDigest).toBe((await record(task)).plan!.keysDigest);
  });
});
