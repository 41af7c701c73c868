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
  controlServer,
  startWorkers,
  stopWorkers,
  uniqueTaskQueue,
  type ClusterWorker,
} from './support';

const SCHEMA = `
  create table fired (task text not null, at timestamptz not null default clock_timestamp());
  create function log_run(t text) returns int language sql as $$ insert into fired (task) values (t) returning 1 $$;`;

let db: ClusterTestDatabase;
let client: Client;
let workers: ClusterWorker[] = [];
let dir: string;
const taskQueue = uniqueTaskQueue('catchup');
const prefix = `catchup-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  db = await createTestDatabase('cluster_catchup');
  await db.pool.query(SCHEMA);
  client = await clusterClient();
  workers = await startWorkers(1, taskQueue, { DATABASE_URL: db.url });
  dir = mkdtempSync(join(tmpdir(), 'caretaker-cluster-catchup-'));
});
afterAll(async () => {
  await controlServer('start'); // in case the test failed while it was down
  await stopWorkers(workers);
  await client?.connection.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const SERVER_DOWN_PAST_FIRE_TIME_MS = 25_000;

describe('the server down across a fire time', () => {
  it('after the restart, the missed action runs when within catchup_window, and does not when outside it', async () => {
    const fireAt = Math.ceil((Date.now() + 30_000) / 1000) * 1000;
    const offset = `${(fireAt / 1000) % 3600}s`;
    const within = `${prefix}-within`; // catchup_window 10m > the downtime past the fire time
    const outside = `${prefix}-outside`; // catchup_window 10s (Temporal's minimum) < the downtime past it
    const task = (id: string, catchup: string) => ({
      id,
      type: 'procedure.execute',
      schedule: { every: { every: '1h', offset } },
      catchup_window: catchup,
      config: { allowlist: ['log_run'], calls: [{ name: 'log_run', args: [id] }] },
    });
    const file = join(dir, 'maintenance.yaml');
    writeFileSync(file, JSON.stringify({ task_queue: taskQueue, tasks: [task(within, '10m'), task(outside, '10s')] }));
    const sync = await caretaker('schedules', 'sync', '-f', file);
    expect(sync.code, sync.err).toBe(0);
    // A schedule starts counting at its scheduler's first workflow task: wait until both have
    // planned the fire time, so the downtime falls after that (else there is nothing to catch up).
    for (const id of [within, outside]) {
      await expect.poll(async () => (await client.schedule.getHandle(id).describe()).info.nextActionTimes[0]?.getTime(), { timeout: 30_000 }).toBe(fireAt);
    }

    await controlServer('stop');
    expect(Date.now(), 'the server stopped before the fire time').toBeLessThan(fireAt);
    // The scenario itself is a stretch of wall-clock time: down until well past the fire time plus the 10 s window.
    await new Promise((resolve) => setTimeout(resolve, fireAt + SERVER_DOWN_PAST_FIRE_TIME_MS - Date.now()));
    await controlServer('start');

    // The schedule outside its window counts the action as missed; the one within takes it.
    await expect
      .poll(async () => (await client.schedule.getHandle(outside).describe()).info.numActionsMissedCatchupWindow, { timeout: 120_000, interval: 500 })
      .toBe(1);
    await expect.poll(async () => (await client.schedule.getHandle(within).describe()).info.recentActions.length, { timeout: 120_000, interval: 500 }).toBe(1);
    const taken = (await client.schedule.getHandle(within).describe()).info.recentActions[0]!;
    const result = (await client.workflow.getHandle(taken.action.workflow.workflowId, taken.action.workflow.firstExecutionRunId).result()) as TaskResult;
    expect({ status: result.status, called: result.counts.called }).toEqual({ status: 'completed', called: 1 });
    expect(taken.scheduledAt.getTime()).toBe(fireAt);

    const missed = await client.schedule.getHandle(outside).describe();
    expect({ actions: missed.info.recentActions.length, missed: missed.info.numActionsMissedCatchupWindow }).toEqual({ actions: 0, missed: 1 });
    expect((await db.pool.query('select task from fired order by at')).rows).toEqual([{ task: within }]);
  });
});
