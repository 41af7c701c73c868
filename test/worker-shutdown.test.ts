import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowTypeFor, buildTaskInput } from '../config/task-input';
import type { TaskResult } from '../core/contract';
import { parseTask } from './fixtures';
import { createTestDatabase, startTestWorker, type TestDatabase } from './support';

// README: "Ctrl-C lets running batches finish, then stops everything." A worker that shuts down
// (Ctrl-C on npm start, SIGTERM to npm run worker) stops its running tasks at their next batch
// boundary, not after the shutdown grace; the next attempt resumes from the run ledger, exact.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('worker_shutdown');
  await db.pool.query(`
    create table runs (id bigint primary key, status text not null, completed_at timestamptz);
    insert into runs select g, 'completed', now() - interval '60 days' from generate_series(1, 300) g;
    insert into runs select g, 'running', null from generate_series(301, 320) g;`);
});
afterAll(async () => {
  await db?.drop();
});

const batches = async () => Number((await db.pool.query<{ n: string }>('select count(*) as n from caretaker.ledger')).rows[0]!.n);

describe('a worker that shuts down while a task runs', () => {
  it('stops it at the next batch boundary; the next attempt, on a new worker, resumes from the ledger with exact counts', async () => {
    // 30 batches of 10 rows, 150 ms apart: about 4.5 s, as long as the test worker's shutdown grace (5 s).
    const task = parseTask(
      {
        id: 'slow-expired',
        type: 'runs.cleanup_expired',
        config: { table: 'runs', max_fraction: 1, batch_size: 10, throttle: { pause_between_batches: '150ms' } },
        retry: { maximum_attempts: 3, initial_interval: '100ms' },
      },
      'worker-shutdown',
    );
    const first = await startTestWorker({ default: db.url }, { taskQueue: 'worker-shutdown' });
    const { workflowId } = await first.client.workflow.start(workflowTypeFor(task), {
      taskQueue: 'worker-shutdown',
      workflowId: `worker-shutdown-${Date.now()}`,
      args: [buildTaskInput(task)],
    });
    await expect.poll(batches, { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(3);

    const atShutdown = await batches();
    await first.stop();
    // At most the batch in flight committed after the shutdown began; with the grace alone the
    // task would have gone on for up to 5 s (about 30 batches).
    const afterStop = await batches();
    expect(afterStop - atShutdown).toBeLessThanOrEqual(1);
    expect(afterStop).toBeLessThan(30);
    expect(Number((await db.pool.query<{ n: string }>(`select count(*) as n from runs where status = 'completed'`)).rows[0]!.n)).toBe(300 - afterStop * 10);

    const second = await startTestWorker({ default: db.url }, { taskQueue: 'worker-shutdown' });
    try {
      const handle = second.client.workflow.getHandle(workflowId);
      const result: TaskResult = await handle.result();
      expect(result.status).toBe('completed');
      expect(result.counts.deleted).toBe(300);
      expect(await db.pool.query(`select id from runs order by id`).then((r) => r.rows.map((x: { id: string }) => Number(x.id)))).toEqual(
        Array.from({ length: 20 }, (_, i) => 301 + i),
      );
      // Attempt 1 stopped at the shutdown; attempt 2 did the rest.
      const attempts = await db.pool.query<{ attempt: number; n: string }>(
        'select attempt, count(*) as n from caretaker.ledger group by attempt order by attempt',
      );
      expect(attempts.rows.map((r) => r.attempt)).toEqual([1, 2]);
      expect(Number(attempts.rows[0]!.n)).toBe(afterStop);
    } finally {
      await second.stop();
    }
  });
});
