import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskResult } from '../../workflows/types';
import { caretaker } from '../cli';
import {
  clusterClient,
  createTestDatabase,
  type ClusterTestDatabase,
  startWorkers,
  stopWorkers,
  uniqueTaskQueue,
  workerByIdentity,
  type ClusterWorker,
} from './support';

// Every run of a task inserts one row, and holds the task for 300 ms while it does.
const SCHEMA = `
  create table fired (id bigserial primary key, task text not null, started_at timestamptz not null, finished_at timestamptz);
  create function log_run(t text) returns bigint language plpgsql as $$
    declare row_id bigint;
    begin
      insert into fired (task, started_at) values (t, clock_timestamp()) returning id into row_id;
      perform pg_sleep(0.3);
      update fired set finished_at = clock_timestamp() where id = row_id;
      return row_id;
    end $$;`;

const TASKS = 30;
let db: ClusterTestDatabase;
let client: Client;
let workers: ClusterWorker[] = [];
let dir: string;
const taskQueue = uniqueTaskQueue('schedules');
const prefix = `fire-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  db = await createTestDatabase('cluster_schedules');
  await db.pool.query(SCHEMA);
  client = await clusterClient();
  workers = await startWorkers(3, taskQueue, { DATABASE_URL: db.url });
  dir = mkdtempSync(join(tmpdir(), 'caretaker-cluster-sched-'));
});
afterAll(async () => {
  await stopWorkers(workers);
  await client?.connection.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('schedules on the cluster', () => {
  it(`schedules sync: ${TASKS} tasks due in the same minute fire on the cluster, 3 workers run each exactly once, none twice at once`, async () => {
    // Hourly, with the offset that makes the next fire time ~25 s from now: every schedule fires once in this test.
    const fireAt = Math.ceil((Date.now() + 25_000) / 1000) * 1000;
    const offset = `${(fireAt / 1000) % 3600}s`;
    const ids = Array.from({ length: TASKS }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}`);
    const file = join(dir, 'maintenance.yaml');
    const tasks = ids.map((id) => ({
      id,
      type: 'procedure.execute',
      schedule: { every: { every: '1h', offset } },
      overlap: 'skip',
      config: { allowlist: ['log_run'], calls: [{ name: 'log_run', args: [id] }] },
    }));
    writeFileSync(file, JSON.stringify({ task_queue: taskQueue, tasks }));

    const sync = await caretaker('schedules', 'sync', '-f', file);
    expect(sync.code, sync.err).toBe(0);
    expect(Date.now(), 'sync finished before the fire time (else the schedules wait an hour)').toBeLessThan(fireAt);

    await expect
      .poll(async () => Number((await db.pool.query('select count(*) as n from fired where finished_at is not null')).rows[0].n), {
        timeout: 120_000,
        interval: 500,
      })
      .toBe(TASKS);
    const runs = await Promise.all(
      ids.map(async (id) => {
        const schedule = await client.schedule.getHandle(id).describe();
        expect(schedule.info.recentActions, id).toHaveLength(1);
        const action = schedule.info.recentActions[0]!.action;
        const handle = client.workflow.getHandle(action.workflow.workflowId, action.workflow.firstExecutionRunId);
        const result = (await handle.result()) as TaskResult;
        const history = await handle.fetchHistory();
        const identity = history.events?.find((e) => e.activityTaskStartedEventAttributes)?.activityTaskStartedEventAttributes?.identity;
        return { id, status: result.status, called: result.counts.called, worker: workerByIdentity(workers, identity)?.child.pid };
      }),
    );
    expect(runs).toEqual(ids.map((id) => ({ id, status: 'completed', called: 1, worker: expect.any(Number) })));
    // Exactly one run per task, and no two of a task's runs overlapped in time.
    const { rows } = await db.pool.query<{ task: string; runs: string; overlapping: string }>(
      `select a.task, count(distinct a.id) as runs, count(b.id) as overlapping
         from fired a left join fired b on b.task = a.task and b.id <> a.id and tstzrange(b.started_at, b.finished_at) && tstzrange(a.started_at, a.finished_at)
        group by a.task order by a.task`,
    );
    expect(rows).toEqual(ids.map((task) => ({ task, runs: '1', overlapping: '0' })));
    const perWorker = new Map<number | undefined, number>();
    for (const r of runs) perWorker.set(r.worker, (perWorker.get(r.worker) ?? 0) + 1);
    console.log(`runs per worker: ${[...perWorker.values()].join(', ')}`);
  });
});
