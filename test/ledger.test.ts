import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { buildTaskInput, workflowTypeFor } from '../config/task-input';
import { OUTCOME_MEMO } from '../workflows/run-task';
import { workerEnv, workerNodeArgs } from '../worker/command';
import type { TaskResult } from '../workflows/types';
import { caretaker } from './cli';
import { parseTask } from './fixtures';
import { createTestDatabase, startTestWorker, type TestDatabase, type TestTemporal } from './support';

// A run table whose deletes are slow (a statement trigger sleeps), so a run is caught mid-way,
// and an event table that references it (no cascade: children go first, in the batch).
const SCHEMA = `
  drop schema if exists caretaker cascade;
  drop schema if exists crash cascade;
  create schema crash;
  create table crash.runs (id bigint primary key, state text not null, finished_at timestamptz);
  create table crash.events (id bigserial primary key, run_id bigint not null references crash.runs (id), body text);
  create function crash.slow() returns trigger language plpgsql as $$
    begin perform pg_advisory_xact_lock_shared(4242); perform pg_sleep(0.05); return null; end $$;
  create trigger slow before delete on crash.runs for each statement execute function crash.slow();
  insert into crash.runs select g, 'completed', now() - interval '90 days' from generate_series(1, 600) g;
  insert into crash.runs select g, 'completed', now() - interval '1 day' from generate_series(601, 800) g;
  insert into crash.events (run_id, body) select r, 'e' from generate_series(1, 800) r, generate_series(1, 3);`;

let db: TestDatabase;
let client: Client;
const workers: TestTemporal[] = [];

beforeAll(async () => {
  db = await createTestDatabase('ledger');
  client = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await client?.connection.close();
  await db?.drop();
});
beforeEach(async () => {
  await db.pool.query(SCHEMA);
});

const task = (extra: Record<string, unknown> = {}, taskId = 'crash') =>
  parseTask({
    id: taskId,
    type: 'runs.cleanup_expired',
    config: {
      table: 'crash.runs',
      columns: { status: 'state', timestamp: 'finished_at' },
      children: [{ table: 'crash.events', column: 'run_id' }],
      batch_size: 20,
      max_fraction: 1,
      ...extra,
    },
    timeouts: { heartbeat: '2s' },
    retry: { maximum_attempts: 10, initial_interval: '500ms', maximum_interval: '1s' },
  });

async function start(taskQueue: string, t = task()) {
  return client.workflow.start(workflowTypeFor(t), { taskQueue, workflowId: `${t.id}-${randomBytes(4).toString('hex')}`, args: [buildTaskInput(t)] });
}

const count = async (sql: string) => Number((await db.pool.query<{ n: string }>(sql)).rows[0]!.n);
const runsGone = () => count(`select 800 - count(*) as n from crash.runs`);
const eventsGone = () => count(`select 2400 - count(*) as n from crash.events`);
const ledgerEntries = () => count(`select count(*) as n from caretaker.ledger`).catch(() => 0);

/** The standalone worker in a process of its own, so it can be killed. */
function spawnWorker(taskQueue: string): ChildProcess {
  const child = spawn(process.execPath, workerNodeArgs(), {
    cwd: join(__dirname, '..'),
    env: workerEnv({
      ...process.env,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      CARETAKER_TASK_QUEUE: taskQueue,
      DATABASE_URL: db.url,
      CARETAKER_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    }),
    stdio: 'ignore',
  });
  return child;
}

/** The result's counts must be the rows actually gone, to the row. */
async function expectExact(result: TaskResult, expected: number) {
  expect(await runsGone()).toBe(expected);
  expect(await eventsGone()).toBe(expected * 3);
  expect(result.counts).toMatchObject({ deleted: expected, children_deleted: expected * 3 });
  expect(result.tables).toEqual({ 'crash.runs': { deleted: expected }, 'crash.events': { deleted: expected * 3 } });
}

describe('the run ledger', () => {
  it('after SIGKILL of the worker, another worker finishes the run and the counts equal the rows gone; max_rows_per_run holds across the crash', async () => {
    const taskQueue = `test-kill-${randomBytes(4).toString('hex')}`;
    const child = spawnWorker(taskQueue);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const handle = await start(taskQueue, task({ max_rows_per_run: 500 }));
    await expect.poll(ledgerEntries, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(4);
    child.kill('SIGKILL');
    await exited;
    const goneAtKill = await runsGone();
    expect(goneAtKill).toBeLessThan(500);

    workers.push(await startTestWorker({ default: db.url }, { taskQueue }));
    const result = (await handle.result()) as TaskResult;
    await expectExact(result, 500);
    expect(result.counts.stopped_at_max_rows_per_run).toBe(1);
    const attempts = await count(`select max(attempt) as n from caretaker.ledger`);
    expect(attempts).toBeGreaterThan(1);
  });

  it('after pg_terminate_backend of its connection, the worker lives on and the retry resumes exactly', async () => {
    const worker = await startTestWorker({ default: db.url });
    workers.push(worker);
    const handle = await start(worker.taskQueue, task({}, 'terminated'));
    await expect.poll(ledgerEntries, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(3);
    const killed = await count(`select count(pg_terminate_backend(pid)) as n from pg_stat_activity where application_name = 'caretaker:default:terminated'`);
    expect(killed).toBe(1);
    const result = (await handle.result()) as TaskResult;
    await expectExact(result, 600);
    expect(await count(`select max(attempt) as n from caretaker.ledger`)).toBe(2);
  });

  it('a zombie attempt that commits after the server gave up on it is counted, exactly once', async () => {
    const worker = await startTestWorker({ default: db.url });
    workers.push(worker);
    const handle = await start(worker.taskQueue, task({ sql: { lock_timeout: '60s' } }, 'zombie'));
    await expect.poll(ledgerEntries, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(2);
    // Freeze attempt 1 inside a batch: its delete trigger waits for this lock.
    const blocker = await db.pool.connect();
    try {
      await blocker.query('select pg_advisory_lock(4242)');
      await expect.poll(async () => (await handle.describe()).raw.pendingActivities?.[0]?.attempt ?? 0, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
      await blocker.query('select pg_advisory_unlock(4242)');
    } finally {
      blocker.release();
    }
    const result = (await handle.result()) as TaskResult;
    await expectExact(result, 600);
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
  });

  it('lives in the schema the worker names for that database', async () => {
    const worker = await startTestWorker(
      { default: db.url },
      { settings: { idleInTransactionTimeout: 60_000, ledgerSchemas: { byName: new Map([['default', 'ops_ledger']]) } } },
    );
    workers.push(worker);
    const result = (await (await start(worker.taskQueue, task({ batch_size: 200 }, 'named'))).result()) as TaskResult;
    expect(result.counts.deleted).toBe(600);
    // Three full batches, then the empty one that finds the policy exhausted.
    expect(await count(`select count(*) as n from ops_ledger.ledger`)).toBe(4);
    expect(await count(`select count(*) as n from pg_namespace where nspname = 'caretaker'`)).toBe(0);
    await db.pool.query('drop schema ops_ledger cascade');
  });

  // max_fraction when a later rule starts is over the table's size at the run's start, which the first
  // batch records in the ledger: a retry after a crash in rule 1 checks rule 2 against the same 800 rows,
  // not the 500 left (with them, 400 changed would be 80% and refused).
  it("a retry checks a later rule's max_fraction against the table's size at the run's start, from the ledger", async () => {
    await db.pool.query(`
      create table crash.jobs (id bigint primary key, parent_id bigint, finished_at timestamptz not null);
      create trigger slow before delete on crash.jobs for each statement execute function crash.slow();
      insert into crash.jobs select g, null, now() - interval '90 days' from generate_series(1, 300) g;
      insert into crash.jobs select g, g - 300, now() from generate_series(301, 400) g;
      insert into crash.jobs select g, null, now() from generate_series(401, 800) g;`);
    const rules = parseTask({
      id: 'rules-crash',
      type: 'rows.rules',
      config: {
        batch_size: 10,
        max_fraction: 0.5,
        rules: [
          { name: 'old-jobs', table: 'crash.jobs', where: "finished_at < now() - interval '30 days'", delete: {} },
          { name: 'orphaned-jobs', table: 'crash.jobs', missing_parent: { table: 'crash.jobs', column: 'parent_id', parent_column: 'id' }, delete: {} },
        ],
      },
      timeouts: { heartbeat: '2s' },
      retry: { maximum_attempts: 10, initial_interval: '500ms', maximum_interval: '1s' },
    });
    const worker = await startTestWorker({ default: db.url });
    workers.push(worker);
    const handle = await start(worker.taskQueue, rules);
    await expect.poll(ledgerEntries, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(3);
    const killed = await count(`select count(pg_terminate_backend(pid)) as n from pg_stat_activity where application_name = 'caretaker:default:rules-crash'`);
    expect(killed).toBe(1);
    // Killed within rule 1: its retry resumes there and reaches rule 2's check.
    expect(await count(`select 800 - count(*) as n from crash.jobs`)).toBeLessThan(300);
    const result = (await handle.result()) as TaskResult;
    expect(result.status).toBe('completed');
    expect(result.sets).toEqual({ 'old-jobs': { matched: 300, deleted: 300 }, 'orphaned-jobs': { matched: 100, deleted: 100 } });
    expect(await count(`select count(*) as n from crash.jobs`)).toBe(400);
    expect(await count(`select max(attempt) as n from caretaker.ledger`)).toBe(2);
  });

  it('a cancelled run reports what it changed, in its memo and through `caretaker status`', async () => {
    const worker = await startTestWorker({ default: db.url });
    workers.push(worker);
    const handle = await start(worker.taskQueue, task({}, 'cancelled'));
    await expect.poll(ledgerEntries, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(3);
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    const gone = await runsGone();
    expect(gone).toBeGreaterThan(0);
    expect(gone).toBeLessThan(600);
    const memo = (await handle.describe()).memo?.[OUTCOME_MEMO] as { outcome: string; counts: Record<string, number> };
    expect(memo).toMatchObject({ outcome: 'cancelled', counts: { deleted: gone, children_deleted: gone * 3 } });
    process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
    const status = await caretaker('status', handle.workflowId, '--json');
    expect(JSON.parse(status.out)).toMatchObject({ status: 'CANCELLED', outcome: { outcome: 'cancelled', counts: { deleted: gone } } });
  });
});
