import { randomBytes } from 'node:crypto';
import { Client, Connection, type WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildTaskInput, workflowTypeFor } from '../config/task-input';
import { OUTCOME_MEMO } from '../workflows/run-task';
import { parseTask } from './fixtures';
import { spawnWorker, type SpawnedWorker } from './spawn-worker';
import { createTestDatabase, startTestWorker, type TestDatabase, type TestTemporal } from './support';

// 600 expired runs with three events each. Deleting a run past id 100 waits for an advisory lock
// the test holds, so the run commits five batches of 20 and is then caught inside its sixth.
const SCHEMA = `
  create schema frozen;
  create table frozen.runs (id bigint primary key, state text not null, finished_at timestamptz);
  create table frozen.events (id bigserial primary key, run_id bigint not null references frozen.runs (id), body text);
  create function frozen.held() returns trigger language plpgsql as $$
    begin perform pg_advisory_xact_lock_shared(4444); return old; end $$;
  create trigger held before delete on frozen.runs for each row when (old.id > 100) execute function frozen.held();
  insert into frozen.runs select g, 'completed', now() - interval '90 days' from generate_series(1, 600) g;
  insert into frozen.runs select g, 'completed', now() - interval '1 day' from generate_series(601, 800) g;
  insert into frozen.events (run_id, body) select r, 'e' from generate_series(1, 800) r, generate_series(1, 3);`;

let db: TestDatabase;
let client: Client;
let zombie: SpawnedWorker | undefined;
let other: TestTemporal | undefined;

beforeAll(async () => {
  db = await createTestDatabase('frozen_worker');
  await db.pool.query(SCHEMA);
  client = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
});
afterAll(async () => {
  zombie?.kill(); // SIGKILL ends a stopped process too
  await other?.stop();
  await client?.connection.close();
  await db?.drop();
});

const task = parseTask({
  id: 'frozen',
  type: 'runs.cleanup_expired',
  config: {
    table: 'frozen.runs',
    columns: { status: 'state', timestamp: 'finished_at' },
    children: [{ table: 'frozen.events', column: 'run_id' }],
    batch_size: 20,
    max_fraction: 1,
    sql: { lock_timeout: '10m', statement_timeout: '10m' },
  },
  timeouts: { heartbeat: '2s' },
  retry: { maximum_attempts: 2, initial_interval: '100ms' },
});

const count = async (sql: string) => Number((await db.pool.query<{ n: string }>(sql)).rows[0]!.n);

describe('a worker frozen mid-batch (SIGSTOP) past its heartbeat timeout', () => {
  it('leaves the failed run with counts equal to the rows gone, even when it wakes after the run ended', { timeout: 240_000 }, async () => {
    zombie = await spawnWorker({ DATABASE_URL: db.url });
    const blocker = await db.pool.connect();
    try {
      await blocker.query('select pg_advisory_lock(4444)');
      const handle = await client.workflow.start(workflowTypeFor(task), {
        taskQueue: zombie.taskQueue,
        workflowId: `frozen-${randomBytes(4).toString('hex')}`,
        args: [buildTaskInput(task)],
      });
      // The worker's sixth batch waits inside its transaction, its first five committed.
      await expect
        .poll(() => count(`select count(*) as n from pg_locks where locktype = 'advisory' and objid = 4444 and objsubid = 1 and not granted`), {
          timeout: 60_000,
          interval: 50,
        })
        .toBe(1);
      // Draining first, so the frozen worker holds no poll the server could hand the retry (or the
      // workflow's ledger read) to; its batch goes on, then it freezes.
      zombie.child.kill('SIGTERM');
      await expect.poll(async () => (await zombie!.get('/readyz')).status, { timeout: 30_000, interval: 50 }).not.toBe(200);
      process.kill(zombie.child.pid!, 'SIGSTOP');
      // The retry runs on another worker: it waits for the frozen attempt's task lock, then the run fails.
      other = await startTestWorker({ default: db.url }, { taskQueue: zombie.taskQueue });
      const failure = await handle.result().then(
        () => undefined,
        (err: unknown) => err as WorkflowFailedError,
      );
      // The retry waited for the frozen attempt's task lock until lock_timeout, heartbeating: its heartbeat timeout did not cut it short.
      expect((failure?.cause?.cause as Error | undefined)?.message).toMatch(/lock timeout/);
      const memo = (await handle.describe()).memo?.[OUTCOME_MEMO] as { outcome: string; counts: Record<string, number> };
      expect(memo.outcome).toBe('failed');

      // The worker wakes and its batch's statements go through; then it finishes draining and exits.
      process.kill(zombie.child.pid!, 'SIGCONT');
      await blocker.query('select pg_advisory_unlock(4444)');
      await zombie.exited;

      const runsGone = await count(`select 800 - count(*) as n from frozen.runs`);
      const eventsGone = await count(`select 2400 - count(*) as n from frozen.events`);
      expect(runsGone).toBe(100);
      expect(memo.counts).toMatchObject({ deleted: runsGone, children_deleted: eventsGone });
      const recorded = await count(`select coalesce(sum((effect->'counts'->>'deleted')::int), 0) as n from caretaker.ledger`);
      expect(recorded).toBe(runsGone);
    } finally {
      await blocker.query('select pg_advisory_unlock_all()').catch(() => undefined);
      blocker.release();
    }
  });
});
