import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildTaskInput, workflowTypeFor } from '../config/task-input';
import type { TaskResult } from '../workflows/types';
import { parseTask } from './fixtures';
import { spawnWorker, type SpawnedWorker } from './spawn-worker';
import { createTestDatabase, startTestWorker, type TestDatabase } from './support';

const GATE = 4242;
let db: TestDatabase;
let worker: SpawnedWorker;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  db = await createTestDatabase('worker_health');
  // pass_gate waits for advisory lock GATE, which the test holds, then logs that it passed.
  await db.pool.query(`
    create table gate_log (id serial primary key, passed_at timestamptz not null default now());
    create procedure pass_gate() language plpgsql as $$
    begin perform pg_advisory_lock(${GATE}); perform pg_advisory_unlock(${GATE}); insert into gate_log default values; end $$;`);
  worker = await spawnWorker({ DATABASE_URL: db.url, CARETAKER_DB_ARCHIVE: 'postgres://postgres@127.0.0.1:1/nowhere', CARETAKER_SHUTDOWN_GRACE: '5m' });
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
});
afterAll(async () => {
  worker?.kill();
  await connection?.close();
  await db?.drop();
});

describe('worker health for orchestrators', () => {
  it('/healthz says alive while /readyz is 503 naming the database it cannot reach', async () => {
    expect((await worker.get('/healthz')).status).toBe(200);
    const ready = await worker.get('/readyz');
    expect(ready.status).toBe(503);
    const body = JSON.parse(ready.body) as { ready: boolean; checks: { name: string; ok: boolean; detail: string }[] };
    expect(body.ready).toBe(false);
    expect(body.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['database:archive']);
    expect(body.checks.find((c) => c.name === 'database:archive')!.detail).toMatch(/ECONNREFUSED/);
  });

  it('on SIGTERM stops being ready, lets the running activity finish within the grace time, exits 0, and the run completes once', async () => {
    const holder = new PgClient({ connectionString: db.url });
    await holder.connect();
    await holder.query('select pg_advisory_lock($1)', [GATE]);
    const task = parseTask({
      id: 'gate',
      type: 'procedure.execute',
      config: { allowlist: ['pass_gate'], calls: [{ name: 'pass_gate' }] },
      timeouts: { heartbeat: '10m' },
    });
    const handle = await client.workflow.start(workflowTypeFor(task), {
      taskQueue: worker.taskQueue,
      workflowId: `gate-${Date.now()}`,
      args: [buildTaskInput(task)],
    });
    try {
      // The activity is in flight: its call waits for the gate.
      const waiting = async () =>
        (await db.pool.query(`select count(*)::int as n from pg_locks where locktype = 'advisory' and objid = $1 and not granted`, [GATE])).rows[0].n;
      await expect.poll(waiting, { timeout: 60_000 }).toBe(1);

      worker.child.kill('SIGTERM');
      await expect
        .poll(
          async () => {
            const r = await worker.get('/readyz');
            return {
              status: r.status,
              worker: (JSON.parse(r.body) as { checks: { name: string; ok: boolean }[] }).checks.find((c) => c.name === 'worker')?.ok,
            };
          },
          { timeout: 30_000 },
        )
        .toEqual({ status: 503, worker: false });
      expect((await db.pool.query('select count(*)::int as n from gate_log')).rows[0].n).toBe(0);
    } finally {
      await holder.query('select pg_advisory_unlock($1)', [GATE]);
      await holder.end();
    }

    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain('caretaker worker: stopped');
    expect((await db.pool.query('select count(*)::int as n from gate_log')).rows[0].n).toBe(1);

    // Whatever the draining worker did not finish, another worker on the queue does.
    const successor = await startTestWorker({ default: db.url }, { taskQueue: worker.taskQueue });
    try {
      const result = (await handle.result()) as TaskResult;
      expect(result).toMatchObject({ status: 'completed', dryRun: false });
    } finally {
      await successor.stop();
    }
    const events = (await handle.fetchHistory()).events ?? [];
    const activity = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'executeProcedures');
    expect(activity).toHaveLength(1);
    expect(events.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt)).toEqual([1]);
    expect(events.filter((e) => e.activityTaskCompletedEventAttributes)).toHaveLength(1);
    expect((await db.pool.query('select count(*)::int as n from gate_log')).rows[0].n).toBe(1);
  });
});
