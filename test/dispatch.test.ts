import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestWorker, type TestTemporal } from './support';
import { parseTask, runTaskWorkflow, snapshot } from './fixtures';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let temporal: TestTemporal;
const started: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase('dispatch');
  temporal = await startTestWorker({ default: db.url });
});
afterAll(async () => {
  await Promise.all(
    started.map((id) =>
      temporal.client.workflow
        .getHandle(id)
        .terminate('test cleanup')
        .catch(() => undefined),
    ),
  );
  await temporal?.stop();
  await db?.drop();
});

describe('sync.trigger', () => {
  it('starts one workflow per matching row and skips rows whose workflow is still running', async () => {
    await db.pool.query(`
      create table sharepoint_sync_configs (id int primary key, frequency text not null, enabled boolean not null);
      insert into sharepoint_sync_configs values (1, 'hourly', true), (2, 'hourly', true), (3, 'hourly', false), (4, 'daily', true);`);
    // Nobody polls this queue, so the started runs stay running.
    const prefix = `${temporal.taskQueue}-sp-`;
    const task = parseTask({
      id: 'sp-hourly',
      type: 'sharepoint.scheduled_sync',
      config: {
        table: 'sharepoint_sync_configs',
        frequency: 'hourly',
        where: { enabled: true },
        workflow: { type: 'sharePointSync', task_queue: `${temporal.taskQueue}-app`, id_prefix: prefix },
      },
    });
    expect(task.type).toBe('sync.trigger');

    const preview = await runTaskWorkflow(temporal, task, { dryRun: true });
    expect(preview.details.map((d) => d.id)).toEqual(['1', '2']);
    await expect(temporal.client.workflow.getHandle(`${prefix}1`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

    const first = await runTaskWorkflow(temporal, task);
    started.push(`${prefix}1`, `${prefix}2`);
    expect(first.counts).toEqual({ matched: 2, started: 2, already_running: 0 });
    const run = await temporal.client.workflow.getHandle(`${prefix}2`).describe();
    expect(run).toMatchObject({ type: 'sharePointSync', taskQueue: `${temporal.taskQueue}-app`, status: { name: 'RUNNING' } });

    const second = await runTaskWorkflow(temporal, task);
    expect(second.counts).toEqual({ matched: 2, started: 0, already_running: 2 });
    await expect(temporal.client.workflow.getHandle(`${prefix}3`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });
});

describe('extraction.queue_orphans', () => {
  it('re-queues rows pending past the threshold, by status, and leaves the rest alone', async () => {
    await db.pool.query(`
      create table assets (id int primary key, status text not null, updated_at timestamptz not null);
      insert into assets values
        (1, 'pending', now() - interval '2 hours'), (2, 'pending', now() - interval '40 minutes'),
        (3, 'pending', now() - interval '5 minutes'), (4, 'ready', now() - interval '2 hours'),
        (5, 'ready', now()), (6, 'ready', now());`);
    const before = await snapshot(db.pool, 'assets', 'id');
    const task = parseTask({ id: 'queue', type: 'extraction.queue_pending', config: { table: 'assets', older_than: '30m', requeue_status: 'queued' } });
    const preview = await runTaskWorkflow(temporal, task, { dryRun: true });
    expect(await snapshot(db.pool, 'assets', 'id')).toEqual(before);
    const real = await runTaskWorkflow(temporal, task);
    expect(real.details.map((d) => d.id)).toEqual(['1', '2']);
    expect(preview.details).toEqual(real.details);
    const after = await snapshot(db.pool, 'assets', 'id');
    expect(after.filter((r) => [1, 2].includes(r.id as number)).map((r) => r.status)).toEqual(['queued', 'queued']);
    expect(after.filter((r) => ![1, 2].includes(r.id as number))).toEqual(before.filter((r) => ![1, 2].includes(r.id as number)));
    const { rows } = await db.pool.query(`select count(*)::int as n from assets where id in (1, 2) and updated_at > now() - interval '1 minute'`);
    expect(rows[0].n).toBe(2);
  });

  it('or starts the configured workflow per orphan', async () => {
    await db.pool.query(`update assets set status = 'pending', updated_at = now() - interval '3 hours' where id = 4`);
    const prefix = `${temporal.taskQueue}-extract-`;
    const task = parseTask({
      id: 'queue-wf',
      type: 'extraction.queue_orphans',
      config: { table: 'assets', older_than: '30m', workflow: { type: 'extractAsset', task_queue: `${temporal.taskQueue}-app`, id_prefix: prefix } },
    });
    const result = await runTaskWorkflow(temporal, task);
    started.push(`${prefix}4`);
    expect(result.counts).toMatchObject({ matched: 1, started: 1 });
    expect(await temporal.client.workflow.getHandle(`${prefix}4`).describe()).toMatchObject({ type: 'extractAsset' });
  });
});
