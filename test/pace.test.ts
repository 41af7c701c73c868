import { defaultPayloadConverter } from '@temporalio/common';
import { Client } from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { buildTaskInput } from '../config/task-input';
import type { BatchCheckpoint, TaskResult } from '../workflows/types';
import { useTaskEnvironment } from './support';
import { parseTask, runTaskWorkflow, snapshot } from './fixtures';

const env = useTaskEnvironment('pace');

/** 3,000 runs, every third completed 60 days ago (1,000 expired), three events each. */
beforeEach(async () => {
  await env.db.pool.query(`
    drop table if exists events, runs;
    create table runs (id bigint primary key, status text not null, completed_at timestamptz);
    create table events (id bigserial primary key, run_id bigint not null references runs (id), msg text);
    create index on events (run_id);
    insert into runs select g, case when g % 3 = 0 then 'completed' else 'running' end,
      now() - case when g % 3 = 0 then interval '60 days' else interval '1 day' end from generate_series(1, 3000) g;
    insert into events (run_id, msg) select r.id, 'e' from runs r cross join generate_series(1, 3);`);
});

const task = (config: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  parseTask({
    id: 'pace',
    type: 'runs.cleanup_expired',
    config: { table: 'runs', children: [{ table: 'events', column: 'run_id' }], details_limit: 0, max_fraction: 1, ...config },
    retry: { maximum_attempts: 1 },
    ...extra,
  });

async function survivors() {
  return { runs: await snapshot(env.db.pool, 'runs', 'id'), events: await snapshot(env.db.pool, 'events', 'id') };
}
const kept = (before: Awaited<ReturnType<typeof survivors>>) => ({
  runs: before.runs.filter((r) => Number(r.id) % 3 !== 0),
  events: before.events.filter((e) => Number(e.run_id) % 3 !== 0),
});

describe('adaptive batches', () => {
  it('an adaptive batch size deletes exactly the expired rows and stays within its bounds', async () => {
    const before = await survivors();
    const result = await runTaskWorkflow(env.temporal, task({ batch_size: { start: 50, min: 20, max: 400 } }));
    expect(result.counts).toEqual({ matched: 1000, deleted: 1000, children_deleted: 3000 });
    expect(await survivors()).toEqual(kept(before));
    const sizes = result.pace!.batchSize;
    expect(sizes).toMatchObject({ adaptive: true, first: 50 });
    expect(sizes.smallest).toBeGreaterThanOrEqual(20);
    expect(sizes.largest).toBeLessThanOrEqual(400);
    // Every batch but the last two (the short one and the empty one) was full at its size.
    expect(result.batches).toBeGreaterThanOrEqual(Math.ceil(1000 / 400) + 1);
  });
});

describe('throttle', () => {
  it('pauses between batches and the run still completes with exact counts', async () => {
    const before = await survivors();
    const result = await runTaskWorkflow(env.temporal, task({ batch_size: 100, throttle: { pause_between_batches: '1ms' } }));
    expect(result.counts).toEqual({ matched: 1000, deleted: 1000, children_deleted: 3000 });
    expect(await survivors()).toEqual(kept(before));
    // Ten full batches and the empty one that ends the unit; a pause before each but the first.
    expect(result.batches).toBe(11);
    expect(result.pace!.throttle.reasons).toEqual({ pause_between_batches: 10 });
  });

  it('nice_ratio sleeps after each batch in proportion to its time, and the run still completes with exact counts', async () => {
    const before = await survivors();
    const result = await runTaskWorkflow(env.temporal, task({ batch_size: 100, throttle: { nice_ratio: 0.5 } }));
    expect(result.counts).toEqual({ matched: 1000, deleted: 1000, children_deleted: 3000 });
    expect(await survivors()).toEqual(kept(before));
    expect(result.batches).toBe(11);
    expect(result.pace!.throttle.reasons).toEqual({ nice_ratio: 10 });
    expect(result.pace!.throttle.waitedMs).toBeGreaterThan(0);
    expect(() => parseTask({ type: 'runs.cleanup_expired', config: { table: 'runs', throttle: { nice_ratio: -1 } } })).toThrow('nice_ratio');
  });

  it('waits while the database is busy (active sessions), says so in its checkpoint, and resumes when it calms', async () => {
    const before = await survivors();
    // Three other sessions busy in this database: over max_active_connections 2.
    const busy = await Promise.all(
      [1, 2, 3].map(async () => {
        const c = new Client({ connectionString: env.db.url });
        await c.connect();
        const pid = (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
        const running = c.query('select pg_sleep(600)').catch(() => undefined);
        return { c, pid, running };
      }),
    );
    const t = task(
      { batch_size: 250, throttle: { max_active_connections: 2, check_interval: '50ms', max_check_interval: '200ms' } },
      { timeouts: { heartbeat: '2s' } },
    );
    const handle = await env.temporal.client.workflow.start('runsCleanupExpiredWorkflow', {
      taskQueue: env.temporal.taskQueue,
      workflowId: `pace-busy-${Date.now()}`,
      args: [buildTaskInput(t)],
    });
    const checkpoint = async (): Promise<BatchCheckpoint | undefined> => {
      const payload = (await handle.describe()).raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
      return payload ? defaultPayloadConverter.fromPayload<BatchCheckpoint>(payload) : undefined;
    };
    await expect.poll(async () => (await checkpoint())?.pace?.waiting, { timeout: 30_000 }).toBe('active_connections');
    // Nothing was deleted while it waited.
    expect((await env.db.pool.query('select count(*)::int as n from runs')).rows[0].n).toBe(3000);

    await env.db.pool.query('select pg_cancel_backend(pid) from unnest($1::int[]) pid', [busy.map((b) => b.pid)]);
    await Promise.all(busy.map(async (b) => (await b.running, await b.c.end())));
    const result: TaskResult = await handle.result();
    expect(result.counts).toEqual({ matched: 1000, deleted: 1000, children_deleted: 3000 });
    expect(await survivors()).toEqual(kept(before));
    expect(result.pace!.throttle.reasons.active_connections).toBeGreaterThanOrEqual(1);
    expect(result.pace!.throttle.pauses).toBe(result.pace!.throttle.reasons.active_connections);
  });
});
