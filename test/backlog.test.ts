import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildTaskInput, workflowTypeFor } from '../config/task-input';
import { loadConfigFile } from '../config/load';
import type { TaskConfig } from '../config/schema';
import { alertWorkflowId } from '../workflows/deliver-alerts';
import type { TaskResult } from '../workflows/types';
import { caretaker } from './cli';
import { insertJob, parseTask, PIPELINE_SCHEMA, PIPELINE_TASK_CONFIG } from './fixtures';
import { sample, spawnWorker, type SpawnedWorker } from './spawn-worker';
import { createTestDatabase, type TestDatabase } from './support';

/**
 * Backlog: the eligible rows a run leaves for the next one, and the age of the oldest. A retention
 * task whose max_rows_per_run is smaller than its eligible rows leaves exactly the rest, which SQL
 * counts in the table; a run that finishes leaves none. Seen in the result, `caretaker describe`,
 * the worker's metrics and the `backlog_above` alert.
 */
let db: TestDatabase;
let worker: SpawnedWorker;
let connection: Connection;
let client: Client;
let server: Server;
let dir: string;
let file: string;
let task: TaskConfig;
const alerts: Record<string, unknown>[] = [];

/** 10 rows past the 7-day retention, the oldest (highest id) 8d10h old; 3 fresh rows that must stay. */
const OLDEST_SECONDS = (8 * 24 + 10) * 3600;

beforeAll(async () => {
  db = await createTestDatabase('backlog');
  await db.pool.query(`
    create table sessions (id bigserial primary key, seen_at timestamptz not null);
    insert into sessions (seen_at) select now() - interval '8 days' - i * interval '1 hour' from generate_series(1, 10) i;
    insert into sessions (seen_at) select now() - interval '1 day' from generate_series(1, 3);`);
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      alerts.push(JSON.parse(text) as Record<string, unknown>);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  worker = await spawnWorker({ DATABASE_URL: db.url, CARETAKER_TEST_BACKLOG_URL: url });
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
  process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
  dir = mkdtempSync(join(tmpdir(), 'caretaker-backlog-'));
  file = join(dir, 'maintenance.yaml');
  const id = worker.taskQueue.replace('test-spawned-', 'backlog-');
  writeFileSync(
    file,
    JSON.stringify({
      task_queue: worker.taskQueue,
      alerts: { webhooks: [{ name: 'ops', format: 'json', url_env: 'CARETAKER_TEST_BACKLOG_URL' }], backlog_above: 5 },
      tasks: [
        {
          id,
          type: 'retention.enforce',
          schedule: { every: '24h' },
          config: {
            policies: [{ name: 'old sessions', table: 'sessions', timestamp_column: 'seen_at', older_than: '7d' }],
            batch_size: 2,
            max_rows_per_run: 4,
            max_fraction: 1,
          },
        },
      ],
    }),
  );
  task = (await loadConfigFile(file)).tasks[0]!;
  expect((await caretaker('schedules', 'sync', '-f', file)).code).toBe(0);
});
afterAll(async () => {
  await client?.schedule
    .getHandle(task.id)
    .delete()
    .catch(() => undefined);
  worker?.kill();
  await connection?.close();
  await new Promise((resolve) => server?.close(resolve));
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A run, and its alert delivery (a workflow of its own, when the run started one) waited for. */
async function run(dryRun: boolean): Promise<{ result: TaskResult; handle: WorkflowHandle }> {
  const handle = await client.workflow.start(workflowTypeFor(task), {
    taskQueue: worker.taskQueue,
    workflowId: `${task.id}-manual-${++n}`,
    args: [buildTaskInput(task, { dryRun })],
  });
  const result = (await handle.result()) as TaskResult;
  const { runId } = await handle.describe();
  await client.workflow
    .getHandle(alertWorkflowId(handle.workflowId, runId))
    .result()
    .catch((err: unknown) => {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    });
  return { result, handle };
}

/** What SQL says is left: eligible rows and the age of the oldest, in seconds. */
async function eligibleLeft(): Promise<{ rows: number; oldest: number | null }> {
  const { rows } = await db.pool.query<{ rows: number; oldest: number | null }>(
    `select count(*)::int as rows, floor(extract(epoch from now() - min(seen_at)))::int as oldest from sessions where seen_at < now() - interval '7 days'`,
  );
  return rows[0]!;
}

/** Ages by the database clock at two moments: equal to the minute, never by timing. */
const sameMinute = (a: number | undefined, b: number) => expect(Math.abs((a ?? -1e9) - b)).toBeLessThan(120);

const metrics = async () => (await worker.get('/metrics')).body;
const gauge = async (name: string) => sample(await metrics(), name, { task_id: task.id });

describe('backlog', () => {
  it('a run stopped by max_rows_per_run leaves exactly the eligible rows SQL still finds, the oldest of the seeded age; a dry run reports the same', async () => {
    const dry = await run(true);
    expect(dry.result.backlog).toMatchObject({ rows: 6, sets: { 'old sessions': { rows: 6 } } });
    expect((await eligibleLeft()).rows).toBe(10); // the dry run changed nothing

    const { result, handle } = await run(false);
    expect(result.counts).toMatchObject({ deleted: 4, stopped_at_max_rows_per_run: 1 });
    const left = await eligibleLeft();
    expect(left.rows).toBe(6);
    expect(result.backlog).toMatchObject({ rows: left.rows, sets: { 'old sessions': { rows: left.rows } } });
    expect(result.backlog!.oldest_age_seconds).toBe(result.backlog!.sets['old sessions']!.oldest_age_seconds);
    sameMinute(result.backlog!.oldest_age_seconds, left.oldest!);
    sameMinute(result.backlog!.oldest_age_seconds, OLDEST_SECONDS);
    expect(dry.result.backlog!.rows).toBe(result.backlog!.rows);
    sameMinute(dry.result.backlog!.oldest_age_seconds, OLDEST_SECONDS);

    // Metrics: the gauges of the last completed real run.
    await expect.poll(() => gauge('caretaker_backlog_rows'), { timeout: 30_000 }).toBe(6);
    sameMinute(await gauge('caretaker_backlog_oldest_age_seconds'), OLDEST_SECONDS);

    // The alert: 6 rows left is above backlog_above 5.
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      workflow_id: handle.workflowId,
      outcome: 'completed',
      backlog: { rows: 6 },
      causes: [{ rule: 'backlog_above', message: 'left 6 eligible rows for the next run (oldest 8d10h), more than backlog_above 5' }],
    });

    // describe: the last run's backlog, in words.
    await expect
      .poll(async () => JSON.parse((await caretaker('describe', task.id, '--json', '-f', file)).out).lastOutcome?.workflowId, { timeout: 30_000 })
      .toBe(handle.workflowId);
    expect((await caretaker('describe', task.id, '-f', file)).out).toContain('backlog: 6 rows, oldest 8d10h\n');
  });

  it('the next run leaves 2 (no alert at or below backlog_above); a run that finishes leaves 0, and the fresh rows are untouched', async () => {
    alerts.length = 0;
    const second = await run(false);
    expect(second.result.backlog).toMatchObject({ rows: 2 });
    const left = await eligibleLeft();
    expect(left.rows).toBe(2);
    sameMinute(second.result.backlog!.oldest_age_seconds, left.oldest!);
    await expect.poll(() => gauge('caretaker_backlog_rows'), { timeout: 30_000 }).toBe(2);
    expect(alerts).toEqual([]);

    const last = await run(false);
    expect(last.result.counts).toMatchObject({ deleted: 2 });
    expect(last.result.counts.stopped_at_max_rows_per_run).toBeUndefined();
    expect(last.result.backlog).toEqual({ rows: 0, sets: { 'old sessions': { rows: 0 } } });
    expect((await eligibleLeft()).rows).toBe(0);
    await expect.poll(() => gauge('caretaker_backlog_rows'), { timeout: 30_000 }).toBe(0);
    expect(await gauge('caretaker_backlog_oldest_age_seconds')).toBe(0);
    expect(alerts).toEqual([]);
    const fresh = await db.pool.query<{ id: string }>(`select id from sessions order by id`);
    expect(fresh.rows.map((r) => Number(r.id))).toEqual([11, 12, 13]);

    await expect
      .poll(async () => JSON.parse((await caretaker('describe', task.id, '--json', '-f', file)).out).lastOutcome?.workflowId, { timeout: 30_000 })
      .toBe(last.handle.workflowId);
    expect((await caretaker('describe', task.id, '-f', file)).out).toContain('backlog: 0 rows\n');
  });

  it('rows skipped for locks stay in the backlog, with the rows after where max_rows_per_run stopped the run', async () => {
    await db.pool.query(`
      create table orders (id bigint primary key, created_at timestamptz not null);
      create table order_lines (id bigserial primary key, order_id bigint not null references orders (id), sku text not null);
      insert into orders select g, now() - interval '100 days' from generate_series(1, 10) g;
      insert into orders values (11, now());
      insert into order_lines (order_id, sku) select g, 'sku-' || g from generate_series(1, 11) g;`);
    const orders = parseTask({
      id: `${task.id}-orders`,
      type: 'retention.enforce',
      config: {
        policies: [{ table: 'orders', timestamp_column: 'created_at', older_than: '30d', children: [{ table: 'order_lines', column: 'order_id' }] }],
        max_fraction: 1,
        batch_size: 4,
        max_rows_per_run: 8,
        sql: { lock_timeout: '1s' },
      },
    });
    // An application's transaction holds order 2's line: its order is skipped, and left for the next run.
    const holder = await db.pool.connect();
    try {
      await holder.query(`begin; select * from order_lines where order_id = 2 for update`);
      const result = (await client.workflow.execute(workflowTypeFor(orders), {
        taskQueue: worker.taskQueue,
        workflowId: `${orders.id}-${Date.now()}`,
        args: [buildTaskInput(orders)],
      })) as TaskResult;
      expect(result.counts).toMatchObject({ matched: 8, deleted: 7, skipped_for_locks: 1, stopped_at_max_rows_per_run: 1 });
      const left = await db.pool.query<{ id: string }>(`select id from orders where created_at < now() - interval '30 days' order by id`);
      expect(left.rows.map((r) => Number(r.id))).toEqual([2, 9, 10]);
      expect(result.backlog).toMatchObject({ rows: 3, sets: { orders: { rows: 3 } } });
      sameMinute(result.backlog!.oldest_age_seconds, 100 * 86_400);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    expect((await db.pool.query(`select count(*)::int as n from orders where id = 11`)).rows[0].n).toBe(1);
  });

  it('a backlog count that meets the lock timeout leaves the result without a backlog; the run completes with its work', async () => {
    await db.pool.query(`
      create table visits (id bigserial primary key, at timestamptz not null);
      create table clicks (id bigserial primary key, at timestamptz not null);
      insert into visits (at) select now() - interval '10 days' from generate_series(1, 5);
      insert into clicks (at) select now() - interval '10 days' from generate_series(1, 5);`);
    const both = parseTask({
      id: `${task.id}-both`,
      type: 'retention.enforce',
      config: {
        policies: ['visits', 'clicks'].map((table) => ({ table, timestamp_column: 'at', older_than: '7d' })),
        max_fraction: 1,
        batch_size: 3,
        max_rows_per_run: 3,
        sql: { lock_timeout: '1s' },
      },
      retry: { maximum_attempts: 1 },
    });
    // The run stops in `visits`; `clicks`, which it never reached, is locked by a migration when the backlog counts it.
    const migration = await db.pool.connect();
    try {
      await migration.query('begin; lock table clicks in access exclusive mode');
      const result = (await client.workflow.execute(workflowTypeFor(both), {
        taskQueue: worker.taskQueue,
        workflowId: `${both.id}-${Date.now()}`,
        args: [buildTaskInput(both)],
      })) as TaskResult;
      expect(result.status).toBe('completed');
      expect(result.counts).toMatchObject({ deleted: 3, stopped_at_max_rows_per_run: 1 });
      expect(result.backlog).toBeUndefined();
    } finally {
      await migration.query('rollback');
      migration.release();
    }
    expect((await db.pool.query(`select (select count(*)::int from visits) as visits, (select count(*)::int from clicks) as clicks`)).rows[0]).toEqual({
      visits: 2,
      clicks: 5,
    });
  });

  it("stale runs: the runs a capped run left, the oldest by the task's timestamp column", async () => {
    await db.pool.query(PIPELINE_SCHEMA);
    for (let i = 1; i <= 5; i++) await insertJob(db.pool, { state: 'running', age: `3 hours ${i * 10} minutes` });
    const fresh = await insertJob(db.pool, { state: 'running', age: '1 minute' });
    const stale = parseTask({ id: `${task.id}-stale`, config: { ...PIPELINE_TASK_CONFIG, max_rows_per_run: 2 } });
    const result = (await client.workflow.execute(workflowTypeFor(stale), {
      taskQueue: worker.taskQueue,
      workflowId: `${stale.id}-${Date.now()}`,
      args: [buildTaskInput(stale)],
    })) as TaskResult;
    expect(result.counts).toMatchObject({ stale: 2, requeued: 2, stopped_at_max_rows_per_run: 1 });
    const { rows } = await db.pool.query<{ job_id: string }>(
      `select job_id from app.pipeline_jobs where state = 'running' and last_seen_at < now() - interval '2 hours' order by job_id`,
    );
    expect(rows.map((r) => Number(r.job_id))).toEqual([3, 4, 5]);
    expect(result.backlog).toMatchObject({ rows: 3, sets: { 'app.pipeline_jobs': { rows: 3 } } });
    sameMinute(result.backlog!.oldest_age_seconds, (3 * 60 + 50) * 60);
    expect((await db.pool.query(`select state from app.pipeline_jobs where job_id = $1`, [fresh])).rows[0].state).toBe('running');
  });
});
