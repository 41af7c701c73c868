import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleLiveness } from '../activities/health/checks';
import { createTestDatabase, startTestWorker, type TestTemporal } from './support';
import { parseTask, runTaskWorkflow } from './fixtures';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let temporal: TestTemporal;
let server: Server;
const received: unknown[] = [];

beforeAll(async () => {
  db = await createTestDatabase('health');
  temporal = await startTestWorker({ default: db.url });
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // The worker runs in this process: the webhook's URL is named in config and read from here.
  process.env.HEALTH_TEST_WEBHOOK_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  await db.pool.query(`
    create table jobs (id serial primary key, status text not null, updated_at timestamptz not null);
    insert into jobs (status, updated_at) select 'pending', now() from generate_series(1, 4);
    insert into jobs (status, updated_at) select 'running', now() from generate_series(1, 2);
    insert into jobs (status, updated_at) values ('failed', now() - interval '10 minutes'), ('failed', now() - interval '3 hours');
    create table churn (id int) with (autovacuum_enabled = false);
    insert into churn select generate_series(1, 2000);`);
  const c = await db.pool.connect();
  await c.query('delete from churn where id > 500');
  await c.query('select pg_stat_force_next_flush()');
  c.release();
});
afterAll(async () => {
  server?.close();
  await temporal?.stop();
  await db?.drop();
});

const task = (config: Record<string, unknown>) => parseTask({ id: 'health', type: 'health.report', config });
const base = {
  queues: [{ table: 'jobs', statuses: ['pending', 'running'], depth: { warn: 5, critical: 100 } }],
  errors: [{ table: 'jobs', timestamp_column: 'updated_at', window: '1h', count: { warn: 1, critical: 5 } }],
  dead_tuple_ratio: { warn: 0.2, critical: 0.5 },
  schedule_liveness: false,
};

describe('health.report', () => {
  it('grades every check and alerts the webhook with a Slack-compatible body', async () => {
    const sleeper = await db.pool.connect();
    const sleeping = sleeper.query('select pg_sleep(30)').catch(() => undefined);
    await expect
      .poll(
        async () =>
          (await db.pool.query(`select count(*)::int as n from pg_stat_activity where query like 'select pg_sleep(30)%' and state = 'active'`)).rows[0].n,
      )
      .toBe(1);
    try {
      const result = await runTaskWorkflow(
        temporal,
        task({
          ...base,
          redis: { url: 'redis://127.0.0.1:6379' },
          disk: [
            { path: '/', min_free_percent: { warn: 100.1, critical: 0 } },
            { path: '/no/such/dir', min_free_percent: {} },
          ],
          long_queries_seconds: { warn: 0, critical: 3600 },
          webhook: { url_env: 'HEALTH_TEST_WEBHOOK_URL', notify_on: 'warn' },
        }),
      );
      const by = (check: string, target?: string) => result.details.find((d) => d.check === check && (target === undefined || d.target === target));
      expect(by('database')).toMatchObject({ status: 'ok' });
      expect(by('redis')).toMatchObject({ status: 'ok', message: 'PING -> PONG' });
      expect(by('queue_depth')).toMatchObject({ target: 'public.jobs', status: 'warn', value: 6, message: 'pending=4 running=2' });
      expect(by('recent_errors')).toMatchObject({ status: 'warn', value: 1 });
      expect(by('long_queries')).toMatchObject({ status: 'warn', value: 1 });
      expect(by('dead_tuples', 'public.churn')).toMatchObject({ status: 'critical', value: 0.75 });
      expect(by('disk', '/')).toMatchObject({ status: 'warn' });
      expect(by('disk', '/no/such/dir')).toMatchObject({ status: 'critical', message: 'cannot stat: ENOENT' });
      expect(result.reason).toBe('overall critical');
      expect(result.details[0]!.status).toBe('critical');

      expect(received).toHaveLength(1);
      const alert = received[0] as { text: string; status: string; checks: unknown[] };
      expect(alert.status).toBe('critical');
      expect(alert.text).toMatch(/^Caretaker health \(health\): CRITICAL\n/);
      expect(alert.text).toContain('• CRITICAL dead_tuples public.churn: 1500 dead of 2000 tuples');
      expect(alert.checks).not.toContainEqual(expect.objectContaining({ status: 'ok' }));
    } finally {
      await db.pool.query(`select pg_cancel_backend(pid) from pg_stat_activity where query like 'select pg_sleep(30)%'`);
      await sleeping;
      sleeper.release();
    }
  });

  it('reports an unreachable Redis as critical, and a dry run sends no webhook', async () => {
    received.length = 0;
    const result = await runTaskWorkflow(temporal, task({ ...base, redis: { url: 'redis://127.0.0.1:1' }, webhook: { url_env: 'HEALTH_TEST_WEBHOOK_URL' } }), {
      dryRun: true,
    });
    expect(result.details.find((d) => d.check === 'redis')).toMatchObject({ status: 'critical', message: expect.stringMatching(/^unreachable: /) });
    expect(received).toHaveLength(0);
  });

  it('flags a Caretaker schedule that has not fired for more than the allowed intervals', async () => {
    const scheduleId = `${temporal.taskQueue}-liveness`;
    await temporal.client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '1h' }] },
      action: { type: 'startWorkflow', workflowType: 'healthReportWorkflow', taskQueue: temporal.taskQueue },
      memo: { caretaker: { managed: true, taskQueue: temporal.taskQueue } },
    });
    try {
      // Schedule listing is eventually consistent (visibility): wait until the new one shows.
      await expect
        .poll(async () => (await scheduleLiveness(temporal.client, 2)).find((c) => c.target === scheduleId), { timeout: 30_000 })
        .toMatchObject({ status: 'ok' });
      const later = await scheduleLiveness(temporal.client, 2, Date.now() + 3 * 3_600_000);
      expect(later.find((c) => c.target === scheduleId)).toMatchObject({ status: 'warn', message: expect.stringContaining('(expected every 3600s)') });
    } finally {
      await temporal.client.schedule.getHandle(scheduleId).delete();
    }
  });
});
