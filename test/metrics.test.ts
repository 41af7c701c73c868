import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildTaskInput, workflowTypeFor } from '../config/task-input';
import type { TaskResult } from '../workflows/types';
import { parseTask } from './fixtures';
import { sample, spawnWorker, type SpawnedWorker } from './spawn-worker';
import { createTestDatabase, type TestDatabase } from './support';

let db: TestDatabase;
let worker: SpawnedWorker;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  db = await createTestDatabase('metrics');
  // 7 events past retention (of 10), and their 14 children cascade with them.
  await db.pool.query(`
    create table events (id bigserial primary key, created_at timestamptz not null);
    create table event_tags (id bigserial primary key, event_id bigint not null references events on delete cascade, tag text);
    insert into events (created_at) select now() - interval '40 days' from generate_series(1, 7);
    insert into events (created_at) select now() - interval '1 day' from generate_series(1, 3);
    insert into event_tags (event_id, tag) select id, t from events, (values ('a'), ('b')) v(t);`);
  worker = await spawnWorker({ DATABASE_URL: db.url });
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
});
afterAll(async () => {
  worker?.kill();
  await connection?.close();
  await db?.drop();
});

const task = parseTask({
  id: 'purge-events',
  type: 'retention.enforce',
  config: { policies: [{ table: 'events', timestamp_column: 'created_at', older_than: '30d' }], batch_size: 3, max_fraction: 1 },
});

async function run(dryRun: boolean): Promise<{ result: TaskResult; startedAt: Date; closedAt: Date }> {
  const handle = await client.workflow.start(workflowTypeFor(task), {
    taskQueue: worker.taskQueue,
    workflowId: `purge-events-${dryRun ? 'dry' : 'real'}-${Date.now()}`,
    args: [buildTaskInput(task, { dryRun })],
  });
  const result = (await handle.result()) as TaskResult;
  const d = await handle.describe();
  return { result, startedAt: d.startTime, closedAt: d.closeTime! };
}

const count = async (table: string) => Number((await db.pool.query(`select count(*) from ${table}`)).rows[0].count);

describe('the worker metrics endpoint', () => {
  it('serves /healthz, and /readyz once the worker polls, Temporal answers and the database does', async () => {
    expect(await worker.get('/healthz')).toEqual({ status: 200, body: '{"status":"alive"}\n' });
    const ready = await worker.get('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({
      ready: true,
      checks: [
        { name: 'worker', ok: true, detail: 'RUNNING' },
        { name: 'temporal', ok: true },
        { name: 'database:default', ok: true, detail: 'select 1 ok' },
      ],
    });
    expect((await worker.get('/nope')).status).toBe(404);
  });

  it('after a dry run and a real run, carries the rows, runs, durations and last success they produced, next to the SDK metrics', async () => {
    const before = { events: await count('events'), tags: await count('event_tags') };
    const dry = await run(true);
    const real = await run(false);
    const deleted = { events: before.events - (await count('events')), tags: before.tags - (await count('event_tags')) };
    expect(deleted).toEqual({ events: 7, tags: 14 });
    expect(real.result.tables).toEqual({ 'public.events': { deleted: 7 }, 'public.event_tags': { deleted: 14 } });

    // The workflow records its metrics before it completes; poll only for the exporter's read.
    const text = async () => (await worker.get('/metrics')).body;
    await expect.poll(async () => sample(await text(), 'caretaker_runs_total', { task_id: 'purge-events', dry_run: 'false' }), { timeout: 30_000 }).toBe(1);
    const metrics = await text();
    const id = { task_id: 'purge-events' };
    expect(sample(metrics, 'caretaker_rows_changed_total', { ...id, table: 'public.events', action: 'deleted' })).toBe(deleted.events);
    expect(sample(metrics, 'caretaker_rows_changed_total', { ...id, table: 'public.event_tags', action: 'deleted' })).toBe(deleted.tags);
    // A dry run changes nothing, so it adds no rows; it counts as a run of its own.
    expect(sample(metrics, 'caretaker_rows_changed_total', id)).toBe(deleted.events + deleted.tags);
    expect(sample(metrics, 'caretaker_runs_total', { ...id, task_type: 'retention.enforce', outcome: 'completed', dry_run: 'true' })).toBe(1);
    expect(sample(metrics, 'caretaker_runs_total', { ...id, task_type: 'retention.enforce', outcome: 'completed', dry_run: 'false' })).toBe(1);
    expect(sample(metrics, 'caretaker_run_duration_seconds_count', { ...id, dry_run: 'false' })).toBe(1);
    const seconds = sample(metrics, 'caretaker_run_duration_seconds_sum', { ...id, dry_run: 'false' })!;
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual((real.closedAt.getTime() - real.startedAt.getTime()) / 1000);
    const lastSuccess = sample(metrics, 'caretaker_last_success_timestamp_seconds', id)!;
    expect(lastSuccess).toBeGreaterThanOrEqual(real.startedAt.getTime() / 1000);
    expect(lastSuccess).toBeLessThanOrEqual(real.closedAt.getTime() / 1000);
    // One observation per batch of the engine's loop, in both runs.
    expect(sample(metrics, 'caretaker_batch_duration_seconds_count', { ...id, dry_run: 'false' })).toBe(real.result.batches);
    expect(sample(metrics, 'caretaker_batch_duration_seconds_count', { ...id, dry_run: 'true' })).toBe(dry.result.batches);
    // The SDK's own runtime metrics come through the same endpoint.
    expect(sample(metrics, 'temporal_workflow_completed_total', { task_queue: worker.taskQueue })).toBe(2);
    expect(metrics).toMatch(/^temporal_activity_execution_latency_count\{/m);

    // Every series the Grafana dashboard queries exists under that name (those that need a failure or an alert aside).
    const dashboard = readFileSync(join(__dirname, '..', 'deploy', 'grafana', 'caretaker.json'), 'utf8');
    const queried = new Set([...dashboard.matchAll(/\b((?:caretaker|temporal)_[a-z_]+)\b/g)].map((m) => m[1]!));
    const onlyAfterAFailureOrAlert = [
      'caretaker_alerts_sent_total',
      'temporal_activity_execution_failed_total',
      'temporal_workflow_task_execution_failed_total',
    ];
    const exported = new Set([...metrics.matchAll(/^([a-z_]+)[{ ]/gm)].map((m) => m[1]!));
    expect([...queried].filter((name) => !exported.has(name) && !onlyAfterAFailureOrAlert.includes(name))).toEqual([]);
    expect(queried.size).toBeGreaterThan(8);
  });
});
