import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTaskInput, workflowTypeFor } from '../../config/task-input';
import type { TaskResult } from '../../workflows/types';
import { parseTask } from '../fixtures';
import {
  clusterClient,
  createTestDatabase,
  type ClusterTestDatabase,
  controlServer,
  startWorkers,
  stopWorkers,
  uniqueTaskQueue,
  workerByIdentity,
  type ClusterWorker,
} from './support';

// As test/ledger.test.ts: deletes are slowed by a statement trigger, so a run is caught mid-way;
// events reference runs (children go first, in the batch).
const SCHEMA = `
  drop schema if exists caretaker cascade;
  drop schema if exists crash cascade;
  create schema crash;
  create table crash.runs (id bigint primary key, state text not null, finished_at timestamptz);
  create table crash.events (id bigserial primary key, run_id bigint not null references crash.runs (id), body text);
  create function crash.slow() returns trigger language plpgsql as $$ begin perform pg_sleep(0.05); return null; end $$;
  create trigger slow before delete on crash.runs for each statement execute function crash.slow();
  insert into crash.runs select g, 'completed', now() - interval '90 days' from generate_series(1, 600) g;
  insert into crash.runs select g, 'completed', now() - interval '1 day' from generate_series(601, 800) g;
  insert into crash.events (run_id, body) select r, 'e' from generate_series(1, 800) r, generate_series(1, 3);`;

let db: ClusterTestDatabase;
let client: Client;
let workers: ClusterWorker[] = [];
const taskQueue = uniqueTaskQueue('durability');

beforeAll(async () => {
  db = await createTestDatabase('cluster_durability');
  client = await clusterClient();
  workers = await startWorkers(2, taskQueue, { DATABASE_URL: db.url });
});
afterAll(async () => {
  await stopWorkers(workers);
  await client?.connection.close();
  await db?.drop();
});
beforeEach(async () => {
  await db.pool.query(SCHEMA);
});

const task = (taskId: string) =>
  parseTask({
    id: taskId,
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

async function start(taskId: string) {
  const t = task(taskId);
  return client.workflow.start(workflowTypeFor(t), { taskQueue, workflowId: `${taskId}-${randomBytes(4).toString('hex')}`, args: [buildTaskInput(t)] });
}

const count = async (sql: string) => Number((await db.pool.query<{ n: string }>(sql)).rows[0]!.n);
const ledgerEntries = () => count(`select count(*) as n from caretaker.ledger`).catch(() => 0);

/** The result's counts are the rows actually gone, to the row: the 600 expired runs and their events. */
async function expectExactlyTheExpiredRowsGone(result: TaskResult) {
  expect(await count(`select 800 - count(*) as n from crash.runs`)).toBe(600);
  expect(await count(`select count(*) as n from crash.runs where id <= 600`)).toBe(0);
  expect(await count(`select 2400 - count(*) as n from crash.events`)).toBe(1800);
  expect(result.counts).toMatchObject({ deleted: 600, children_deleted: 1800 });
  expect(result.tables).toEqual({ 'crash.runs': { deleted: 600 }, 'crash.events': { deleted: 1800 } });
}

describe('a Temporal cluster on PostgreSQL', () => {
  it('SIGKILL of the worker running a multi-batch retention run: the other worker finishes it, the counts are exact', async () => {
    const handle = await start('killed');
    await expect.poll(ledgerEntries, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(3);
    const identity = (await handle.describe()).raw.pendingActivities?.[0]?.lastWorkerIdentity;
    const running = workerByIdentity(workers, identity);
    expect(running, `a worker of this test runs the activity (identity ${identity})`).toBeDefined();
    const exited = new Promise((resolve) => running!.child.once('exit', resolve));
    running!.child.kill('SIGKILL');
    await exited;
    expect(await count(`select 800 - count(*) as n from crash.runs`)).toBeLessThan(600);

    const result = (await handle.result()) as TaskResult;
    await expectExactlyTheExpiredRowsGone(result);
    const history = await handle.fetchHistory();
    const starts = (history.events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes] : []));
    const last = starts.at(-1)!;
    expect(last.attempt).toBeGreaterThan(1);
    expect(last.identity).not.toBe(identity); // the survivor did it
    workers = workers.filter((w) => w !== running);
    workers.push(...(await startWorkers(1, taskQueue, { DATABASE_URL: db.url })));
  });

  it('a restart of the Temporal server during a run: the run completes, and the same worker processes go on by themselves', async () => {
    const before = workers.map((w) => w.child.pid);
    const handle = await start('restarted');
    await expect.poll(ledgerEntries, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(3);
    await controlServer('restart');
    const result = (await handle.result()) as TaskResult;
    await expectExactlyTheExpiredRowsGone(result);

    // Reconnected, not respawned: the same processes, alive, take the next run to the end.
    expect(workers.map((w) => ({ pid: w.child.pid, exitCode: w.child.exitCode }))).toEqual(before.map((pid) => ({ pid, exitCode: null })));
    await db.pool.query(SCHEMA);
    const next = (await (await start('after-restart')).result()) as TaskResult;
    await expectExactlyTheExpiredRowsGone(next);
  });
});
