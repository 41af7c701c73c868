import { realNames } from '../activities/engine/counters';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTaskInput } from '../config/task-input';
import type { TaskResult } from '../workflows/types';
import { createTestDatabase, startTestWorker, type TestTemporal } from './support';
import { insertJob, parseTask, PIPELINE_SCHEMA, PIPELINE_TASK_CONFIG, snapshot } from './fixtures';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let temporal: TestTemporal;
let runCount = 0;

beforeAll(async () => {
  db = await createTestDatabase('stale');
  temporal = await startTestWorker({ default: db.url });
});
afterAll(async () => {
  await temporal?.stop();
  await db?.drop();
});
beforeEach(async () => {
  await db.pool.query('drop schema if exists app cascade');
  await db.pool.query(PIPELINE_SCHEMA);
});

function run(config: Record<string, unknown>, opts: { dryRun?: boolean; taskId?: string } = {}): Promise<TaskResult> {
  const task = parseTask({ id: opts.taskId ?? 'stale', config, retry: { maximum_attempts: 2, initial_interval: '100ms' } });
  return temporal.client.workflow.execute('runsCleanupStaleWorkflow', {
    taskQueue: temporal.taskQueue,
    workflowId: `stale-test-${++runCount}-${Date.now()}`,
    args: [buildTaskInput(task, { dryRun: opts.dryRun })],
  });
}

/** Rows of every kind: stale by status, stale by job type, fresh, terminal, never seen. */
async function seed() {
  const pool = db.pool;
  return {
    staleRunning: await insertJob(pool, { state: 'running', age: '3 hours' }),
    exhaustedRunning: await insertJob(pool, { state: 'running', attempts: 3, age: '3 hours' }),
    exhaustedPending: await insertJob(pool, { state: 'pending', attempts: 3, age: '2 hours' }),
    staleSubmitted: await insertJob(pool, { state: 'submitted', age: '31 minutes' }),
    staleAnalysis: await insertJob(pool, { kind: 'analysis', state: 'running', age: '61 minutes' }),
    freshRunning: await insertJob(pool, { state: 'running', age: '1 hour 59 minutes' }),
    freshExport: await insertJob(pool, { kind: 'export', state: 'running', age: '61 minutes' }),
    oldCompleted: await insertJob(pool, { state: 'completed', age: '10 days' }),
    neverSeen: await insertJob(pool, { state: 'running', age: null }),
  };
}

describe('runs.cleanup_stale', () => {
  it('dry run reports exactly the rows the real run changes, and changes nothing', async () => {
    const ids = await seed();
    const before = await snapshot(db.pool);

    const preview = await run(PIPELINE_TASK_CONFIG, { dryRun: true });
    expect(await snapshot(db.pool)).toEqual(before);
    expect(preview).toMatchObject({ status: 'completed', dryRun: true, counts: { stale: 5, would_requeue: 3, would_finalize: 2 } });

    const real = await run(PIPELINE_TASK_CONFIG);
    expect(real.counts).toEqual(realNames(preview.counts));
    expect(real.details).toEqual(preview.details.map((d) => ({ ...d, elapsed_minutes: expect.any(Number) })));

    const after = await snapshot(db.pool);
    const changed = after.filter((row, i) => JSON.stringify(row) !== JSON.stringify(before[i])).map((r) => String(r.job_id));
    expect(changed.sort()).toEqual(preview.details.map((d) => d.id).sort());
    expect(changed.sort()).toEqual([ids.staleRunning, ids.exhaustedRunning, ids.exhaustedPending, ids.staleSubmitted, ids.staleAnalysis].sort());
  });

  it('re-queues while retries remain, then fails running and cancels pending with a reason', async () => {
    const ids = await seed();
    const before = new Map((await snapshot(db.pool)).map((r) => [String(r.job_id), r]));
    const result = await run(PIPELINE_TASK_CONFIG);
    expect(result.batches).toBeGreaterThanOrEqual(3); // batch_size 2, five stale rows

    const rows = new Map((await snapshot(db.pool)).map((r) => [String(r.job_id), r]));
    expect(rows.get(ids.staleRunning)).toMatchObject({ state: 'pending', attempts: 1, failure_reason: null });
    expect(rows.get(ids.staleSubmitted)).toMatchObject({ state: 'pending', attempts: 1 });
    expect(rows.get(ids.staleAnalysis)).toMatchObject({ state: 'pending', attempts: 1 });
    expect(rows.get(ids.exhaustedRunning)).toMatchObject({ state: 'failed', attempts: 3 });
    expect(rows.get(ids.exhaustedRunning)!.failure_reason).toMatch(
      /^Stale: running for 3h \(limit 2h\); retries exhausted \(3\/3\); marked failed by Caretaker task stale$/,
    );
    expect(rows.get(ids.exhaustedPending)).toMatchObject({ state: 'cancelled' });
    // A re-queued run's clock restarts, so it is not stale again at once.
    const { rows: requeued } = await db.pool.query(
      `select count(*)::int as n from app.pipeline_jobs where state = 'pending' and last_seen_at > now() - interval '1 minute'`,
    );
    expect(requeued[0].n).toBe(3);
    // Rows that must not change did not.
    for (const id of [ids.freshRunning, ids.freshExport, ids.oldCompleted, ids.neverSeen]) expect(rows.get(id)).toEqual(before.get(id));

    const again = await run(PIPELINE_TASK_CONFIG);
    expect(again.counts).toEqual({ stale: 0, requeued: 0, finalized: 0 });
  });

  it('details report the retry count written, also where requeue_set and final_set assign the counter', async () => {
    const ids = await seed();
    const cfg = { ...PIPELINE_TASK_CONFIG, requeue_set: { attempts: { increment: 2 } }, final_set: { failed: { attempts: 0 } } };
    const preview = await run(cfg, { dryRun: true });
    const real = await run(cfg);
    const rows = new Map((await snapshot(db.pool)).map((r) => [String(r.job_id), r]));
    const reported = (result: TaskResult) => new Map(result.details.map((d) => [d.id, d.retry_count]));
    // Each changed row's counter is what its detail says, in the dry run and the real run alike.
    for (const id of [ids.staleRunning, ids.staleSubmitted, ids.staleAnalysis, ids.exhaustedRunning, ids.exhaustedPending]) {
      expect(reported(real).get(id)).toBe(rows.get(id)!.attempts);
      expect(reported(preview).get(id)).toBe(rows.get(id)!.attempts);
    }
    expect(rows.get(ids.staleRunning)).toMatchObject({ state: 'pending', attempts: 2 });
    expect(rows.get(ids.exhaustedRunning)).toMatchObject({ state: 'failed', attempts: 0 });
    expect(rows.get(ids.exhaustedPending)).toMatchObject({ state: 'cancelled', attempts: 3 });
  });

  it('never treats a run with a fresh heartbeat as stale (liveness column)', async () => {
    await db.pool.query('alter table app.pipeline_jobs add column heartbeat_at timestamptz');
    const alive = await insertJob(db.pool, { state: 'running', age: '5 hours' });
    const dead = await insertJob(db.pool, { state: 'running', age: '5 hours' });
    const silent = await insertJob(db.pool, { state: 'running', age: '5 hours' });
    await db.pool.query(`update app.pipeline_jobs set heartbeat_at = now() - interval '30 seconds' where job_id = $1`, [alive]);
    await db.pool.query(`update app.pipeline_jobs set heartbeat_at = now() - interval '20 minutes' where job_id = $1`, [dead]);
    const cfg = { ...PIPELINE_TASK_CONFIG, columns: { ...PIPELINE_TASK_CONFIG.columns, heartbeat: 'heartbeat_at' }, heartbeat_timeout: '5m' };
    const preview = await run(cfg, { dryRun: true });
    const result = await run(cfg);
    expect(result.details.map((d) => d.id).sort()).toEqual([dead, silent].sort());
    expect(preview.details.map((d) => d.id)).toEqual(result.details.map((d) => d.id));
    expect((await snapshot(db.pool)).find((r) => String(r.job_id) === alive)).toMatchObject({ state: 'running', attempts: 0 });
  });

  it('fails fast, without retrying, when a configured column does not exist', async () => {
    const err = await run({ ...PIPELINE_TASK_CONFIG, columns: { ...PIPELINE_TASK_CONFIG.columns, error: 'no_such_column' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause?.cause as { type?: string; message?: string; nonRetryable?: boolean };
    expect(cause.type).toBe('ConfigError');
    expect(cause.message).toMatch(/column "no_such_column" does not exist in table app\.pipeline_jobs \(columns: job_id, kind, state/);
  });

  it('fails fast when the table does not exist, and never builds SQL from the name', async () => {
    const err = await run({ ...PIPELINE_TASK_CONFIG, table: 'app.missing' }).catch((e: unknown) => e);
    expect(((err as WorkflowFailedError).cause?.cause as Error).message).toMatch(/table "app\.missing" does not exist in schema "app"/);
  });

  it('of two concurrent runs of one task, the second is skipped as already running', async () => {
    const ids = await seed();
    // Hold the table so the first run blocks inside its batch while it holds the task lock.
    const blocker = await db.pool.connect();
    await blocker.query('begin');
    await blocker.query('lock table app.pipeline_jobs in access exclusive mode');
    const cfg = { ...PIPELINE_TASK_CONFIG, sql: { lock_timeout: '1m' } };
    const first = run(cfg, { taskId: 'contended' });
    // Wait until the first run's advisory lock is visible, then start the second. pg_locks covers
    // every database of the server: count this database's only (other test files hold theirs).
    const advisoryLocks = `select count(*)::int as n from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())`;
    await expect.poll(async () => (await db.pool.query(advisoryLocks)).rows[0].n, { timeout: 30_000 }).toBe(1);
    const second = await run(cfg, { taskId: 'contended' });
    expect(second).toMatchObject({ status: 'skipped', reason: 'already running', counts: {} });
    await blocker.query('commit');
    blocker.release();
    const firstResult = await first;
    expect(firstResult.counts.stale).toBe(5);
    expect((await snapshot(db.pool)).find((r) => String(r.job_id) === ids.staleRunning)).toMatchObject({ attempts: 1 });
  });
});
