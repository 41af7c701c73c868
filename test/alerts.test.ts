import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTaskInput, workflowTypeFor } from '../config/task-input';
import { isCancellation } from '@temporalio/workflow';
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { alertWorkflowId } from '../workflows/deliver-alerts';
import type { TaskConfig } from '../config/schema';
import { parseConfigText } from '../config/load';
import { useTaskEnvironment } from './support';

const env = useTaskEnvironment('alerts');

/** A webhook receiver: records each JSON body, answers with the next queued status (then 200; 503 while `refusing`). */
const received: { body: Record<string, unknown>; status: number; path: string }[] = [];
const answers: number[] = [];
let refusing = false;
let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const status = refusing ? 503 : (answers.shift() ?? 200);
      received.push({ body: JSON.parse(text) as Record<string, unknown>, status, path: req.url ?? '' });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/secret-token`;
  process.env.CARETAKER_TEST_ALERT_URL = url;
  process.env.CARETAKER_TEST_PAGER_URL = url.replace('/hooks/', '/pager/');
  await env.db.pool.query(`
    create table sessions (id bigserial primary key, seen_at timestamptz not null);
    create function slow_down() returns trigger language plpgsql as $$ begin perform pg_sleep(0.02); return old; end $$;`);
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});
beforeEach(async () => {
  received.length = 0;
  answers.length = 0;
  refusing = false;
  await env.db.pool.query('drop trigger if exists slow on sessions; truncate sessions');
});

const WEBHOOKS = [{ name: 'ops', format: 'slack', url_env: 'CARETAKER_TEST_ALERT_URL' }];

/** A retention task on `sessions`, parsed through the real config path with a global alerts block. */
function task(alerts: Record<string, unknown>, config: Record<string, unknown> = {}, taskAlerts?: unknown): TaskConfig {
  const text = JSON.stringify({
    alerts: { webhooks: WEBHOOKS, ...alerts },
    tasks: [
      {
        id: 'sessions',
        type: 'retention.enforce',
        retry: { maximum_attempts: 1 },
        timeouts: { heartbeat: '2s' },
        config: { policies: [{ table: 'sessions', timestamp_column: 'seen_at', older_than: '7d' }], batch_size: 2, ...config },
        ...(taskAlerts !== undefined && { alerts: taskAlerts }),
      },
    ],
  });
  return parseConfigText(text, 'test.yaml', {}).tasks[0]!;
}

let n = 0;
async function start(t: TaskConfig, dryRun = false) {
  const handle = await env.temporal.client.workflow.start(workflowTypeFor(t), {
    taskQueue: env.temporal.taskQueue,
    workflowId: `sessions-${++n}-${Date.now()}`,
    args: [buildTaskInput(t, { dryRun })],
  });
  // Alerts are delivered by a workflow of their own once the run ends: `result()` waits for both.
  const result = handle.result.bind(handle);
  return Object.assign(handle, { result: () => result().finally(() => alertsDelivered(handle)) });
}

/** Waits for the run's alert delivery workflow to end, if the run started one. */
async function alertsDelivered(handle: WorkflowHandle): Promise<void> {
  const { runId } = await handle.describe();
  const delivery = env.temporal.client.workflow.getHandle(alertWorkflowId(handle.workflowId, runId));
  await delivery.result().catch((err: unknown) => {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  });
}

async function seed(old: number, fresh: number): Promise<void> {
  await env.db.pool.query(`insert into sessions (seen_at) select now() - interval '30 days' from generate_series(1, $1::int)`, [old]);
  await env.db.pool.query(`insert into sessions (seen_at) select now() from generate_series(1, $1::int)`, [fresh]);
}

describe('alerts', () => {
  it('a failed run alerts its webhook with task, run, cause and UI link; a 500 is retried with the same JSON', async () => {
    answers.push(500);
    const t = task({}, { policies: [{ table: 'no_such_table', timestamp_column: 'seen_at', older_than: '7d' }] });
    const handle = await start(t);
    await expect(handle.result()).rejects.toThrow();
    const { runId } = await handle.describe();
    expect(received.map((r) => r.status)).toEqual([500, 200]);
    expect(received[1]!.body).toEqual(received[0]!.body);
    const link = `http://localhost:8233/namespaces/default/workflows/${handle.workflowId}/${runId}`;
    expect(received[0]!.body).toMatchObject({
      task: 'sessions',
      task_type: 'retention.enforce',
      outcome: 'failed',
      dry_run: false,
      workflow_id: handle.workflowId,
      run_id: runId,
      link,
      causes: [{ rule: 'failure', message: expect.stringContaining('no_such_table') }],
    });
    expect(received[0]!.body.text).toMatch(
      new RegExp(`^Caretaker: task sessions FAILED: run failed \\(ConfigError\\): .*no_such_table[^]*<${link.replace(/[.?]/g, '\\$&')}\\|`),
    );
    // The webhook's URL lives in the worker's environment only, never in the run's history.
    const raw = JSON.stringify(await handle.fetchHistory());
    const history = raw + [...raw.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString()).join('\n');
    expect(history).toContain('CARETAKER_TEST_ALERT_URL');
    expect(history).not.toContain('secret-token');
  });

  it('a refusal by a safety limit alerts as refusal, in a real run and in a dry run; the link uses alerts.ui_url', async () => {
    await seed(3, 1);
    const t = task({ ui_url: 'https://temporal.example.com/' }, { max_fraction: 0.5 });
    const real = await start(t);
    await expect(real.result()).rejects.toThrow('Workflow execution failed');
    const dry = await start(t, true);
    await expect(dry.result()).rejects.toThrow('Workflow execution failed'); // refused like the real run
    expect(received.map((r) => [r.body.workflow_id, r.body.outcome, r.body.dry_run, (r.body.causes as { rule: string }[]).map((c) => c.rule)])).toEqual([
      [real.workflowId, 'refused', false, ['refusal']],
      [dry.workflowId, 'refused', true, ['refusal']],
    ]);
    expect(received[0]!.body.link).toBe(`https://temporal.example.com/namespaces/default/workflows/${real.workflowId}/${(await real.describe()).runId}`);
    expect(received[0]!.body.cause).toMatch(/^refused by a safety limit: .*max_fraction/);
    expect(await env.db.pool.query('select count(*)::int as n from sessions').then((r) => r.rows[0].n)).toBe(4);
  });

  it('a cancelled run alerts with what it changed before it stopped', async () => {
    await seed(200, 0);
    await env.db.pool.query('create trigger slow before delete on sessions for each row execute function slow_down()');
    const handle = await start(task({}, { max_fraction: 1 }));
    await expect
      .poll(async () => ((await handle.describe()).raw.pendingActivities?.[0]?.heartbeatDetails ? 'beating' : 'not yet'), { timeout: 30_000 })
      .toBe('beating');
    await handle.cancel();
    expect(
      await handle.result().then(
        () => 'completed',
        (err: Error & { cause?: Error }) => (isCancellation(err) || isCancellation(err.cause) ? 'cancelled' : err),
      ),
    ).toBe('cancelled');
    const deleted = 200 - (await env.db.pool.query('select count(*)::int as n from sessions')).rows[0].n;
    expect(deleted).toBeGreaterThan(0);
    expect(received).toHaveLength(1);
    expect(received[0]!.body).toMatchObject({
      outcome: 'cancelled',
      rows_changed: deleted,
      tables: { 'public.sessions': { deleted } },
      causes: [{ rule: 'cancellation' }],
    });
  });

  it('outcome rules: more rows than rows_changed_above, and zero rows for zero_rows_runs runs in a row (once)', async () => {
    await seed(3, 2);
    const t = task({ rows_changed_above: 2, zero_rows_runs: 2 }, { max_fraction: 1 });
    const first = await start(t);
    expect(await first.result()).toMatchObject({ counts: { deleted: 3 } });
    expect(received.map((r) => r.body.causes)).toEqual([[{ rule: 'rows_changed_above', message: 'changed 3 rows, more than rows_changed_above 2' }]]);
    // Nothing left to delete: the second empty run in a row alerts, the first and third do not.
    for (let i = 0; i < 3; i++) expect(await (await start(t)).result()).toMatchObject({ counts: { deleted: 0 } });
    expect(received.map((r) => (r.body.causes as { rule: string }[]).map((c) => c.rule))).toEqual([['rows_changed_above'], ['zero_rows_runs']]);
    expect(received[1]!.body.cause).toBe('changed no rows in 2 completed runs in a row (zero_rows_runs 2)');
    // The streak is kept in the ledger schema of the task's database, one row per run.
    expect((await env.db.pool.query('select rows_changed::int from caretaker.run_outcomes order by finished_at')).rows.map((r) => r.rows_changed)).toEqual([
      3, 0, 0, 0,
    ]);
  });

  it('a retry sends only to the webhooks that have not taken the alert yet', async () => {
    answers.push(200, 500);
    const t = task(
      { webhooks: [...WEBHOOKS, { name: 'pager', format: 'json', url_env: 'CARETAKER_TEST_PAGER_URL' }] },
      { policies: [{ table: 'no_such_table', timestamp_column: 'seen_at', older_than: '7d' }] },
    );
    await expect((await start(t)).result()).rejects.toThrow();
    expect(received.map((r) => [r.path.split('/')[1], r.status])).toEqual([
      ['hooks', 200],
      ['pager', 500],
      ['pager', 200],
    ]);
    expect(received[2]!.body).not.toHaveProperty('text');
    expect(received[0]!.body.text).toEqual(expect.any(String));
  });

  it('a webhook that keeps failing never holds the run open: delivery goes on in its own workflow after the run ended', async () => {
    refusing = true;
    const t = task({}, { policies: [{ table: 'no_such_table', timestamp_column: 'seen_at', older_than: '7d' }] });
    const handle = await env.temporal.client.workflow.start(workflowTypeFor(t), {
      taskQueue: env.temporal.taskQueue,
      workflowId: `sessions-${++n}-${Date.now()}`,
      args: [buildTaskInput(t, { dryRun: false })],
    });
    // Inline delivery kept the run open through ten attempts (minutes); now it ends with its own outcome.
    await expect(handle.result()).rejects.toThrow('Workflow execution failed');
    const { runId } = await handle.describe();
    const delivery = env.temporal.client.workflow.getHandle(alertWorkflowId(handle.workflowId, runId));
    expect((await delivery.describe()).status.name).toBe('RUNNING');
    await expect.poll(() => received.length, { timeout: 30_000 }).toBeGreaterThan(0);
    refusing = false;
    expect(await delivery.result()).toMatchObject({ delivered: ['ops'], causes: [{ rule: 'failure' }] });
    expect(received.map((r) => r.status)).toEqual([...received.slice(0, -1).map(() => 503), 200]);
    expect(received.at(-1)!.body).toMatchObject({ workflow_id: handle.workflowId, run_id: runId, outcome: 'failed' });
  });

  it('a task can mute alerts (alerts: false) or replace global keys; a run that trips nothing sends nothing', async () => {
    await seed(1, 5);
    const muted = task({}, { policies: [{ table: 'no_such_table', timestamp_column: 'seen_at', older_than: '7d' }] }, false);
    expect(muted.alerts).toBeUndefined();
    await expect((await start(muted)).result()).rejects.toThrow();
    const quiet = task({ rows_changed_above: 0 }, { max_fraction: 1 }, { rows_changed_above: 10 });
    expect(quiet.alerts).toMatchObject({ rows_changed_above: 10, webhooks: WEBHOOKS });
    expect(await (await start(quiet)).result()).toMatchObject({ counts: { deleted: 1 } });
    expect(received).toEqual([]);
  });
});
