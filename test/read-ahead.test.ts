import { beforeEach, describe, expect, it } from 'vitest';
import type { TaskResult } from '../workflows/types';
import { insertJob, parseTask, PIPELINE_SCHEMA, PIPELINE_TASK_CONFIG, runTaskWorkflow, snapshot, taskFailure } from './fixtures';
import { useTaskEnvironment } from './support';

/**
 * Sparse sets are read ahead in one pass before the first batch (activities/engine/read-ahead.ts);
 * with `read_ahead: 0`, or more matching rows than it allows, batches walk the key order as before.
 * Both ways must change exactly the same rows, and a dry run must report exactly those.
 */
const env = useTaskEnvironment('read_ahead');

beforeEach(async () => {
  await env.db.pool.query('drop schema if exists app cascade');
  await env.db.pool.query(PIPELINE_SCHEMA);
});

/** 7 stale runs among 16: stale by status and by job type, exhausted, fresh, terminal, never seen. */
async function seed(): Promise<string[]> {
  const pool = env.db.pool;
  const stale: string[] = [];
  for (let i = 0; i < 3; i++) {
    stale.push(await insertJob(pool, { state: 'running', age: '3 hours' }));
    await insertJob(pool, { state: 'running', age: '10 minutes' });
    await insertJob(pool, { state: 'completed', age: '10 days' });
  }
  stale.push(await insertJob(pool, { state: 'running', attempts: 3, age: '3 hours' }));
  stale.push(await insertJob(pool, { state: 'pending', attempts: 3, age: '2 hours' }));
  stale.push(await insertJob(pool, { state: 'submitted', age: '31 minutes' }));
  stale.push(await insertJob(pool, { kind: 'analysis', state: 'running', age: '61 minutes' }));
  await insertJob(pool, { kind: 'export', state: 'running', age: '61 minutes' });
  await insertJob(pool, { state: 'running', age: null });
  await insertJob(pool, { state: 'pending', age: '1 minute' });
  return stale;
}

function stale(config: Record<string, unknown>, opts: { dryRun?: boolean } = {}): Promise<TaskResult> {
  return runTaskWorkflow(env.temporal, parseTask({ config: { ...PIPELINE_TASK_CONFIG, ...config } }), opts);
}

/** What a run wrote, without the clock: which runs changed and to what. */
async function outcome(): Promise<unknown[]> {
  return (await env.db.pool.query(`select job_id::text, state, attempts, failure_reason from app.pipeline_jobs order by job_id`)).rows;
}

describe('read-ahead of a sparse set', () => {
  it.each([
    { name: 'read ahead (default)', config: {}, readAhead: 7 },
    { name: 'walked, read_ahead: 0', config: { read_ahead: 0 }, readAhead: 0 },
    { name: 'walked, more matches than read_ahead: 3', config: { read_ahead: 3 }, readAhead: 0 },
  ])('runs.cleanup_stale $name: the dry run reports the rows the real run changes; nothing else changes', async ({ config, readAhead }) => {
    const staleIds = await seed();
    const before = await snapshot(env.db.pool);

    const preview = await stale(config, { dryRun: true });
    expect(await snapshot(env.db.pool)).toEqual(before);
    expect(preview.counts).toMatchObject({ stale: 7, would_requeue: 5, would_finalize: 2 });
    expect(preview.pace?.readAhead).toBe(readAhead);

    const real = await stale(config);
    expect(real.counts).toMatchObject({ stale: 7, requeued: 5, finalized: 2 });
    expect(real.pace?.readAhead).toBe(readAhead);
    // batch_size 2: four batches for seven runs, none cut short by the end of the keys read ahead.
    expect(real.batches).toBe(4);
    expect((real.details as { id: string }[]).map((d) => d.id).sort()).toEqual([...staleIds].sort());
    const after = await snapshot(env.db.pool);
    for (const [i, row] of before.entries()) {
      if (staleIds.includes(String(row.job_id))) expect(after[i]).not.toEqual(row);
      else expect(after[i]).toEqual(row);
    }
  });

  it('changes the same rows whether it reads ahead or walks', async () => {
    await seed();
    await stale({});
    const readAhead = await outcome();
    await env.db.pool.query('drop schema app cascade');
    await env.db.pool.query(PIPELINE_SCHEMA);
    await seed();
    await stale({ read_ahead: 0 });
    expect(await outcome()).toEqual(readAhead);
  });

  it('skips a row locked by the application and fills the batch from the next keys', async () => {
    const staleIds = await seed();
    const app = await env.db.pool.connect();
    try {
      await app.query('begin');
      await app.query('select 1 from app.pipeline_jobs where job_id = $1 for update', [staleIds[0]]);
      const real = await stale({});
      expect(real.pace?.readAhead).toBe(7);
      // The locked run is skipped (skip locked) and the six others all change: three full batches of
      // two, then the empty one that finds the end. Without refilling, the first batch would come back
      // short (one run) and end the set there.
      expect(real.counts).toMatchObject({ stale: 6 });
      expect(real.batches).toBe(4);
    } finally {
      await app.query('rollback');
      app.release();
    }
    const locked = (await env.db.pool.query(`select state, attempts from app.pipeline_jobs where job_id = $1`, [staleIds[0]])).rows[0];
    expect(locked).toEqual({ state: 'running', attempts: 0 });
  });

  it("max_fraction counts the rows read ahead exactly: allowed at the limit, refused past it with the table's exact size", async () => {
    const pool = env.db.pool;
    // 1 of 30 stale: the table is counted only up to 3 rows (enough to prove 1 is under 0.5 of it).
    await insertJob(pool, { state: 'running', age: '3 hours' });
    for (let i = 0; i < 29; i++) await insertJob(pool, { state: 'completed', age: '1 day' });
    expect(await stale({ max_fraction: 0.5 }, { dryRun: true })).toMatchObject({ status: 'completed', counts: { stale: 1 }, pace: { readAhead: 1 } });
    await pool.query('truncate app.pipeline_jobs');
    // 5 of 10 stale: exactly max_fraction 0.5, allowed (not more than half).
    for (let i = 0; i < 5; i++) await insertJob(pool, { state: 'running', age: '3 hours' });
    for (let i = 0; i < 5; i++) await insertJob(pool, { state: 'completed', age: '1 day' });
    const allowed = await stale({ max_fraction: 0.5 }, { dryRun: true });
    expect(allowed).toMatchObject({ status: 'completed', counts: { stale: 5 } });
    expect(allowed.pace?.readAhead).toBe(5);
    // One more stale run: 6 of 11, refused before anything changes, with the table's exact size.
    await insertJob(pool, { state: 'running', age: '3 hours' });
    const before = await snapshot(pool);
    const refused = await taskFailure(stale({ max_fraction: 0.5 }));
    expect(refused.message).toMatch(/would update 6 of 11 rows of app\.pipeline_jobs \(55%\), more than max_fraction 0\.5/);
    expect(await snapshot(pool)).toEqual(before);
  });
});
