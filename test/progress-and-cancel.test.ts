import { isCancellation } from '@temporalio/workflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTaskInput } from '../config/task-input';
import { caretaker } from './cli';
import { LIVE_PROGRESS } from '../activities/engine/live-progress';
import { createTestDatabase, startTestWorker, type TestTemporal } from './support';
import { parseTask, PIPELINE_SCHEMA, PIPELINE_TASK_CONFIG } from './fixtures';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let temporal: TestTemporal;

beforeAll(async () => {
  db = await createTestDatabase('cancel');
  temporal = await startTestWorker({ default: db.url });
  process.env.TEMPORAL_ADDRESS = temporal.address;
  await db.pool.query(PIPELINE_SCHEMA);
  // Every updated row costs 20 ms, so the run is still going when the test looks at it.
  await db.pool.query(`
    create function app.slow_down() returns trigger language plpgsql as $$ begin perform pg_sleep(0.02); return new; end $$;
    create trigger slow before update on app.pipeline_jobs for each row execute function app.slow_down();
    insert into app.pipeline_jobs (kind, state, attempts, last_seen_at) select 'sync', 'running', 0, now() - interval '5 hours' from generate_series(1, 400);`);
});
afterAll(async () => {
  await temporal?.stop();
  await db?.drop();
});

describe('a running task', () => {
  it('shows its progress through `caretaker status`, and a cancel stops it at a batch boundary', async () => {
    const task = parseTask({ id: 'slow', config: { ...PIPELINE_TASK_CONFIG, batch_size: 2 }, timeouts: { heartbeat: '2s' } });
    const workflowId = `slow-${Date.now()}`;
    const handle = await temporal.client.workflow.start('runsCleanupStaleWorkflow', {
      taskQueue: temporal.taskQueue,
      workflowId,
      args: [buildTaskInput(task)],
    });

    // Progress: the workflow's phase from its query, the batches from the activity's checkpoint.
    await expect
      .poll(async () => JSON.parse((await caretaker('status', workflowId, '--json')).out).activities[0]?.checkpoint?.batches ?? 0, { timeout: 30_000 })
      .toBeGreaterThan(0);
    const status = JSON.parse((await caretaker('status', workflowId, '--json')).out);
    expect(status).toMatchObject({ status: 'RUNNING', progress: { phase: 'running', taskId: 'slow', type: 'runs.cleanup_stale' } });
    expect(status.activities[0]).toMatchObject({ activity: 'cleanupStaleRuns', checkpoint: { counts: { stale: expect.any(Number) } } });

    // Temporal Web's current details (the workflow metadata query) show the live counts too.
    await expect
      .poll(async () => JSON.stringify(await handle.query('__temporal_workflow_metadata')), { timeout: 30_000 })
      .toMatch(/RUNNING\*\* · \d+ batch\(es\) · stale=\d+ requeued=\d+ finalized=\d+ · ~\d+ rows\/s · elapsed \d+s/);

    expect((await caretaker('cancel', workflowId)).code).toBe(0);
    const outcome = await handle.result().then(
      () => 'completed',
      (err: Error & { cause?: Error }) => (isCancellation(err) || isCancellation(err.cause) ? 'cancelled' : err),
    );
    expect(outcome).toBe('cancelled');

    // Each batch is one transaction: a whole number of batches changed, and not all of them.
    const { rows } = await db.pool.query(`select count(*)::int as n from app.pipeline_jobs where state = 'pending'`);
    expect(rows[0].n % 2).toBe(0);
    expect(rows[0].n).toBeGreaterThan(0);
    expect(rows[0].n).toBeLessThan(400);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    // Live progress reached the workflow as signals, spaced and capped: the history stays bounded.
    const signals = (await handle.fetchHistory()).events!.filter((e) => e.workflowExecutionSignaledEventAttributes).length;
    expect(signals).toBeGreaterThanOrEqual(1);
    expect(signals).toBeLessThanOrEqual(LIVE_PROGRESS.maxPerRun);
  });
});
