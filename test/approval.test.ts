import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load';
import { scheduleOptionsFor } from '../client/schedule-options';
import { APPROVAL_MEMO, APPROVAL_UPDATE, type ApprovalDecision, type ApprovalMemo } from '../core/approval';
import { OUTCOME, ROWS_CHANGED } from '../core/search-attributes';
import type { TaskResult } from '../workflows/types';
import { caretaker } from './cli';
import { progressLine } from '../client/run-progress';
import { createTestDatabase, startTestWorker, type TestDatabase, type TestTemporal } from './support';

let db: TestDatabase;
let temporal: TestTemporal;
let dir: string;
let file: string;

const POLICY = { policies: [{ table: 'events', timestamp_column: 'created_at', older_than: '7d' }], batch_size: 2 };

/** The config file the CLI loads; `change` rewrites one task's config (a config change after planning). */
function writeConfig(change: Record<string, unknown> = {}): void {
  const tasks = [
    { id: 'purge', type: 'retention.enforce', config: POLICY, approval: { required: true, timeout: '1h' } },
    { id: 'purge-short', type: 'retention.enforce', config: POLICY, approval: { required: true, timeout: '2s' } },
    { id: 'purge-first', type: 'retention.enforce', config: POLICY, approval: { when: { first_run: true } } },
    { id: 'purge-many', type: 'retention.enforce', config: POLICY, approval: { when: { rows_above: 100 } } },
    { id: 'purge-share', type: 'retention.enforce', config: POLICY, approval: { when: { fraction_above: 0.2 } } },
    {
      id: 'purge-alerted',
      type: 'retention.enforce',
      config: POLICY,
      approval: { required: true },
      alerts: { webhooks: [{ name: 'ops', format: 'json', url_env: 'CARETAKER_TEST_APPROVAL_HOOK' }] },
    },
    { id: 'purge-changed', type: 'retention.enforce', config: POLICY, approval: { when: { config_changed: true } } },
  ].map((t) => (t.id in change ? { ...t, config: { ...t.config, ...(change[t.id] as object) } } : t));
  writeFileSync(file, JSON.stringify({ task_queue: temporal.taskQueue, tasks }));
}

/** A webhook receiver: each JSON body it took. */
const alerts: Record<string, unknown>[] = [];
let receiver: Server;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      alerts.push(JSON.parse(text) as Record<string, unknown>);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  process.env.CARETAKER_TEST_APPROVAL_HOOK = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  db = await createTestDatabase('approval');
  await db.pool.query('create table events (id bigserial primary key, created_at timestamptz not null)');
  temporal = await startTestWorker({ default: db.url });
  process.env.TEMPORAL_ADDRESS = temporal.address;
  dir = mkdtempSync(join(tmpdir(), 'caretaker-approval-'));
  file = join(dir, 'maintenance.yaml');
  writeConfig();
});
afterAll(async () => {
  await new Promise((resolve) => receiver?.close(resolve));
  await temporal?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let oldIds: string[];
let keptRows: unknown[];
beforeEach(async () => {
  writeConfig();
  await db.pool.query('truncate events');
  oldIds = (
    await db.pool.query<{ id: string }>(
      `insert into events (created_at) select now() - interval '10 days' - g * interval '1 hour' from generate_series(1, 3) g returning id::text`,
    )
  ).rows.map((r) => r.id);
  await db.pool.query(`insert into events (created_at) select now() - interval '1 day' - g * interval '1 hour' from generate_series(1, 4) g`);
  keptRows = await recentRows();
});

async function recentRows(): Promise<unknown[]> {
  return (await db.pool.query(`select * from events where created_at > now() - interval '7 days' order by id`)).rows;
}
async function ids(): Promise<string[]> {
  return (await db.pool.query<{ id: string }>('select id::text from events order by id')).rows.map((r) => r.id);
}

/** Starts a real run of a task through the CLI, as a person would. */
async function start(taskId: string): Promise<WorkflowHandle> {
  const started = await caretaker('run', taskId, '--json', '-f', file);
  expect(started.code, started.err).toBe(0);
  return temporal.client.workflow.getHandle((JSON.parse(started.out) as { workflowId: string }).workflowId);
}

/** The run's approval memo once it says `state` (the workflow records it when it gets there). */
async function planOf(handle: WorkflowHandle, state: ApprovalMemo['state'] = 'awaiting'): Promise<ApprovalMemo> {
  for (;;) {
    const memo = (await handle.describe()).memo?.[APPROVAL_MEMO] as ApprovalMemo | undefined;
    if (memo?.state === state) return memo;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function outcomeOf(handle: WorkflowHandle): Promise<string | undefined> {
  return (await handle.describe()).typedSearchAttributes.get(OUTCOME);
}

/** The decisions recorded in the run's history (the accepted updates' arguments). */
async function decisionsInHistory(handle: WorkflowHandle): Promise<ApprovalDecision[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const data = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads?.[0]?.data;
    return data ? [JSON.parse(Buffer.from(data).toString()) as ApprovalDecision] : [];
  });
}

describe('plan → approve → apply', () => {
  it('waits with the plan before changing anything; approve applies it, with the approver and note in history and memo', async () => {
    const handle = await start('purge');
    const plan = await planOf(handle);
    expect(plan).toMatchObject({ rows: 3, tables: { 'public.events': { would_delete: 3 } }, reasons: [expect.stringContaining('required')] });
    expect(await ids()).toHaveLength(7); // nothing changed while it waits
    expect(await outcomeOf(handle)).toBe('awaiting_approval');

    const plans = async () =>
      (JSON.parse((await caretaker('plans', '--json', '-f', file)).out) as { workflowId: string; rows: number; approve: string }[]).find(
        (p) => p.workflowId === handle.workflowId,
      );
    await expect.poll(plans, { timeout: 20_000 }).toMatchObject({ rows: 3, approve: `caretaker approve ${handle.workflowId}` });
    // `run --wait` and `status` say what the run waits for, not "waiting for a worker".
    expect(progressLine(await handle.describe())).toMatch(
      new RegExp(`^awaiting approval: plan .*: caretaker approve ${handle.workflowId}.*; elapsed \\d+m\\d\\ds$`),
    );

    const status = await caretaker('status', handle.workflowId, '-f', file);
    expect(status.out).toContain('phase: awaiting_approval');
    expect(status.out).toContain(`caretaker approve ${handle.workflowId}`);
    const approved = await caretaker('approve', handle.workflowId, '--as', 'alice', '--note', 'checked the 3 rows', '-f', file);
    expect(approved.code, approved.err).toBe(0);
    const result = (await handle.result()) as TaskResult;
    expect(result).toMatchObject({ status: 'completed', dryRun: false, counts: { deleted: 3 } });
    expect(await ids()).not.toEqual(expect.arrayContaining(oldIds));
    expect(await recentRows()).toEqual(keptRows); // rows that must stay did not change
    expect(await outcomeOf(handle)).toBe('completed');
    expect(await planOf(handle, 'approved')).toMatchObject({ decidedBy: 'alice', note: 'checked the 3 rows' });
    expect(await decisionsInHistory(handle)).toEqual([expect.objectContaining({ decision: 'approve', by: 'alice', note: 'checked the 3 rows' })]);

    // A second decision on a run that is no longer waiting is refused.
    expect((await caretaker('reject', handle.workflowId, '--note', 'too late', '-f', file)).code).toBe(2);
  });

  it('reject ends the run as rejected and changes nothing; a rejection needs a note', async () => {
    const handle = await start('purge');
    await planOf(handle);
    const noNote = await caretaker('reject', handle.workflowId, '-f', file);
    expect(noNote.code).toBe(2);
    expect(noNote.err).toContain('--note');
    const rejected = await caretaker('reject', handle.workflowId, '--as', 'bob', '--note', 'rule looks wrong', '-f', file);
    expect(rejected.code, rejected.err).toBe(0);
    const result = (await handle.result()) as TaskResult;
    expect(result).toMatchObject({ status: 'skipped', dryRun: false, reason: 'rejected by bob: rule looks wrong', counts: {}, tables: {} });
    expect((await handle.describe()).typedSearchAttributes.get(ROWS_CHANGED)).toBe(0);
    expect(await ids()).toHaveLength(7);
    expect(await outcomeOf(handle)).toBe('rejected');
    expect(await planOf(handle, 'rejected')).toMatchObject({ decidedBy: 'bob', note: 'rule looks wrong' });
    expect(await decisionsInHistory(handle)).toEqual([expect.objectContaining({ decision: 'reject', by: 'bob' })]);
  });

  it('a plan nobody decides expires after its timeout and changes nothing', async () => {
    const handle = await start('purge-short');
    const result = (await handle.result()) as TaskResult;
    expect(result).toMatchObject({ status: 'skipped', reason: expect.stringContaining('expired') });
    expect(await ids()).toHaveLength(7);
    expect(await outcomeOf(handle)).toBe('expired');
    expect((await caretaker('approve', handle.workflowId, '-f', file)).code).toBe(2);
  });

  it("approving is refused when the task's config changed since the plan (CLI and the run's own validator)", async () => {
    const handle = await start('purge');
    const plan = await planOf(handle);
    writeConfig({ purge: { batch_size: 3 } });
    const refused = await caretaker('approve', handle.workflowId, '--as', 'carol', '-f', file);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('changed since the plan was made');
    // The run checks the digest itself too: an update that bypasses the CLI's check is refused.
    const update = handle.executeUpdate(APPROVAL_UPDATE, {
      args: [{ decision: 'approve', by: 'carol', configDigest: 'another-digest', planId: plan.planId } satisfies ApprovalDecision],
    });
    const failure = await update.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(((failure as WorkflowUpdateFailedError).cause as Error).message).toMatch(/config changed since this plan was made/);
    expect(await ids()).toHaveLength(7);
    expect(await planOf(handle)).toMatchObject({ state: 'awaiting' }); // still waiting: plan again by rejecting
    expect((await caretaker('reject', handle.workflowId, '--as', 'carol', '--note', 'config changed', '-f', file)).code).toBe(0);
    expect(await handle.result()).toMatchObject({ status: 'skipped' });
    expect(await ids()).toHaveLength(7);
  });

  it('a worker restart while a plan waits changes nothing: a new worker applies it after approval', async () => {
    const waiting = await start('purge');
    await planOf(waiting);
    await temporal.stop();
    temporal = await startTestWorker({ default: db.url }, { taskQueue: temporal.taskQueue });
    const handle = temporal.client.workflow.getHandle(waiting.workflowId);
    expect(await ids()).toHaveLength(7);
    expect((await caretaker('approve', handle.workflowId, '--as', 'dave', '-f', file)).code).toBe(0);
    expect(await handle.result()).toMatchObject({ status: 'completed', counts: { deleted: 3 } });
    expect(await ids()).not.toEqual(expect.arrayContaining(oldIds));
    expect(await recentRows()).toEqual(keptRows);
  });

  it('when: first_run waits on the first run only; rows_above under its limit applies without waiting', async () => {
    const first = await start('purge-first');
    expect((await planOf(first)).reasons).toEqual([expect.stringContaining('first_run')]);
    expect((await caretaker('approve', first.workflowId, '-f', file)).code).toBe(0);
    expect(await first.result()).toMatchObject({ status: 'completed', counts: { deleted: 3 } });

    await db.pool.query(`insert into events (created_at) values (now() - interval '9 days')`);
    const second = await start('purge-first');
    expect(await second.result()).toMatchObject({ status: 'completed', counts: { deleted: 1 } });
    expect(await planOf(second, 'not_needed')).toMatchObject({ rows: 1, reasons: [] });

    await db.pool.query(`insert into events (created_at) values (now() - interval '9 days')`);
    const few = await start('purge-many');
    expect(await few.result()).toMatchObject({ status: 'completed', counts: { deleted: 1 } });
    expect(await recentRows()).toEqual(keptRows);
  });

  it('when: fraction_above compares with the table size; config_changed waits again after the config changed', async () => {
    const share = await start('purge-share');
    expect((await planOf(share)).reasons).toEqual([expect.stringMatching(/fraction_above 0.2: the plan changes 3 of ~7 rows of public.events/)]);
    expect((await caretaker('reject', share.workflowId, '--note', 'not now', '-f', file)).code).toBe(0);
    await share.result();

    const first = await start('purge-changed');
    expect((await planOf(first)).reasons).toEqual([expect.stringContaining('config_changed')]); // never applied: unknown counts as changed
    expect((await caretaker('approve', first.workflowId, '-f', file)).code).toBe(0);
    expect(await first.result()).toMatchObject({ status: 'completed', counts: { deleted: 3 } });

    await db.pool.query(`insert into events (created_at) values (now() - interval '9 days')`);
    const same = await start('purge-changed');
    expect(await same.result()).toMatchObject({ status: 'completed', counts: { deleted: 1 } });

    await db.pool.query(`insert into events (created_at) values (now() - interval '9 days')`);
    writeConfig({ 'purge-changed': { batch_size: 5 } });
    const changed = await start('purge-changed');
    expect((await planOf(changed)).reasons).toEqual([expect.stringContaining('config_changed')]);
    expect((await caretaker('approve', changed.workflowId, '-f', file)).code).toBe(0);
    expect(await changed.result()).toMatchObject({ status: 'completed', counts: { deleted: 1 } });
    expect(await recentRows()).toEqual(keptRows);
  });

  it("a waiting plan alerts the task's webhooks with its counts and the commands; history lists the run as awaiting_approval", async () => {
    const handle = await start('purge-alerted');
    const plan = await planOf(handle);
    const { runId } = await handle.describe();
    // The alert is a child the run starts after it records the plan: the server creates it shortly after.
    const alert = temporal.client.workflow.getHandle(`${handle.workflowId}/approval/${runId}/1`);
    const started = async () => (await alert.describe().catch(() => undefined)) !== undefined;
    await expect.poll(started, { timeout: 20_000 }).toBe(true);
    await alert.result();
    expect(alerts.at(-1)).toMatchObject({
      task: 'purge-alerted',
      outcome: 'awaiting_approval',
      cause: expect.stringContaining(`caretaker approve ${handle.workflowId}`),
    });
    expect(alerts.at(-1)!.cause).toContain('public.events: would_delete=3');
    expect(plan.rows).toBe(3);
    // Visibility follows the run's search attributes shortly after they change.
    const listed = async () =>
      (JSON.parse((await caretaker('history', 'purge-alerted', '--json', '-f', file)).out) as { workflowId: string; outcome: string }[]).find(
        (r) => r.workflowId === handle.workflowId,
      )?.outcome;
    await expect.poll(listed, { timeout: 20_000 }).toBe('awaiting_approval');
    expect((await caretaker('reject', handle.workflowId, '--note', 'alert seen', '-f', file)).code).toBe(0);
    await handle.result();
    expect((await handle.describe()).memo?.caretakerOutcome).toMatchObject({ outcome: 'rejected', counts: {} });
  });

  it('a dry run of a task with approval is a plain dry run: it does not wait', async () => {
    const started = await caretaker('run', 'purge', '--dry-run', '--json', '-f', file);
    const handle = temporal.client.workflow.getHandle((JSON.parse(started.out) as { workflowId: string }).workflowId);
    expect(await handle.result()).toMatchObject({ status: 'completed', dryRun: true, counts: { would_delete: 3 } });
    expect((await handle.describe()).memo?.[APPROVAL_MEMO]).toBeUndefined();
  });
});

describe('approval config', () => {
  const parse = (task: Record<string, unknown>, global?: unknown) =>
    parseConfigText(
      JSON.stringify({ ...(global !== undefined && { approval: global }), tasks: [{ id: 't', type: 'retention.enforce', config: POLICY, ...task }] }),
      't.yaml',
      {},
    );

  it('takes required or when, with timeout and max_drift defaults; a task replaces the global block, false turns it off', () => {
    expect(parse({ approval: { required: true } }).tasks[0]!.approval).toEqual({ required: true, timeout: 86_400_000, max_drift: 0.01 });
    expect(parse({}, { when: { rows_above: 10 }, timeout: '2h', max_drift: '5%' }).tasks[0]!.approval).toEqual({
      when: { rows_above: 10 },
      timeout: 7_200_000,
      max_drift: 0.05,
    });
    expect(parse({ approval: { required: true } }, { when: { rows_above: 10 } }).tasks[0]!.approval).toMatchObject({ required: true });
    expect(parse({ approval: false }, { required: true }).tasks[0]!.approval).toBeUndefined();
  });

  it('names what it expected for bad blocks', () => {
    expect(() => parse({ approval: {} })).toThrow(/expected required: true or when:/);
    expect(() => parse({ approval: { required: true, when: { first_run: true } } })).toThrow(/either required: true .* or when/);
    expect(() => parse({ approval: { when: {} } })).toThrow(/at least one of rows_above/);
    expect(() => parse({ approval: { required: true, max_drift: '150%' } })).toThrow(/expected a share of the plan like "1%"/);
    expect(() => parse({ approval: { required: true, timeout: 'soon' } })).toThrow(/expected a duration/);
    expect(() => parse({ approval: { when: { rows_abov: 3 } } })).toThrow(/rows_abov/);
  });

  it('a schedule of a task with approval skips fires while a plan waits, and its runs may last the wait', () => {
    const task = parse({ schedule: { every: '1h' }, overlap: 'buffer_one', approval: { required: true, timeout: '24h' } }).tasks[0]!;
    const options = scheduleOptionsFor(task, 'q');
    expect(options.policies?.overlap).toBe('SKIP');
    expect(options.action.workflowExecutionTimeout).toBe(2 * task.timeouts.run + 86_400_000);
    const plain = parse({ schedule: { every: '1h' }, overlap: 'buffer_one' }).tasks[0]!;
    expect(scheduleOptionsFor(plain, 'q').policies?.overlap).toBe('BUFFER_ONE');
  });
});

describe("README's Approval section", () => {
  it('its first-run example validates as written: the global when applies to one task, the other requires approval', () => {
    const readme = readFileSync('README.md', 'utf8');
    const start = readme.indexOf('# maintenance.yaml: the first run of purge-sessions');
    expect(start).toBeGreaterThan(0);
    const cfg = parseConfigText(readme.slice(start, readme.indexOf('```', start)), 'maintenance.yaml', {});
    expect(cfg.tasks.map((t) => [t.id, t.approval])).toEqual([
      ['purge-sessions', { when: { first_run: true, config_changed: true }, timeout: 86_400_000, max_drift: 0.01 }],
      ['purge-audit', { required: true, timeout: 86_400_000, max_drift: 0.01 }],
    ]);
  });
});
