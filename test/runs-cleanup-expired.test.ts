import { beforeEach, describe, expect, it } from 'vitest';
import type { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { useTaskEnvironment } from './support';
import { parseTask, runTaskWorkflow, snapshot, taskFailure } from './fixtures';

const env = useTaskEnvironment('expired');

// UUID ids (a cursor that is not a number) and a foreign key without cascade: deleting a run
// before its events fails, so the test fails unless children go first, in the same transaction.
beforeEach(async () => {
  await env.db.pool.query(`
    drop schema if exists ops cascade;
    create schema ops;
    create table ops.task_history (task_id uuid primary key default gen_random_uuid(), phase text not null, finished_at timestamptz);
    create table ops.task_events (event_id bigserial primary key, task_ref uuid not null references ops.task_history (task_id), note text);`);
});

async function insertRun(phase: string, age: string | null, events = 2): Promise<string> {
  const { rows } = await env.db.pool.query<{ task_id: string }>(
    `insert into ops.task_history (phase, finished_at) values ($1, now() - $2::interval) returning task_id`,
    [phase, age],
  );
  const id = rows[0]!.task_id;
  await env.db.pool.query(`insert into ops.task_events (task_ref, note) select $1, 'e' || g from generate_series(1, $2::int) g`, [id, events]);
  return id;
}

const config = (extra: Record<string, unknown> = {}) => ({
  table: 'ops.task_history',
  columns: { id: 'task_id', status: 'phase', timestamp: 'finished_at' },
  children: [{ table: 'ops.task_events', column: 'task_ref' }],
  batch_size: 2,
  ...extra,
});
const task = (extra: Record<string, unknown> = {}) => parseTask({ id: 'expired', type: 'gc.cleanup', config: config(extra), retry: { maximum_attempts: 1 } });

async function seed() {
  const expired = [
    await insertRun('completed', '40 days'),
    await insertRun('failed', '35 days'),
    await insertRun('cancelled', '31 days'),
    await insertRun('timed_out', '60 days'),
  ];
  const kept = [
    await insertRun('running', '90 days'),
    await insertRun('pending', '40 days'),
    await insertRun('completed', '10 days'),
    await insertRun('completed', '29 days 23 hours'),
    await insertRun('failed', null),
  ];
  for (let i = 0; i < 6; i++) kept.push(await insertRun('completed', '1 day', 0));
  return { expired, kept };
}

describe('runs.cleanup_expired', () => {
  it('dry run lists exactly the runs the real run deletes, and deletes nothing', async () => {
    const { expired } = await seed();
    const before = { runs: await snapshot(env.db.pool, 'ops.task_history', 'task_id'), events: await snapshot(env.db.pool, 'ops.task_events', 'event_id') };
    const preview = await runTaskWorkflow(env.temporal, task(), { dryRun: true });
    expect({ runs: await snapshot(env.db.pool, 'ops.task_history', 'task_id'), events: await snapshot(env.db.pool, 'ops.task_events', 'event_id') }).toEqual(
      before,
    );
    expect(preview.counts).toEqual({ matched: 4, would_delete: 4, would_delete_children: 8 });
    expect(preview.tables).toEqual({ 'ops.task_history': { would_delete: 4 }, 'ops.task_events': { would_delete: 8 } });
    expect(preview.details.map((d) => d.id).sort()).toEqual([...expired].sort());

    const real = await runTaskWorkflow(env.temporal, task());
    expect(real.counts).toEqual({ matched: 4, deleted: 4, children_deleted: 8 });
    expect(real.tables).toEqual({ 'ops.task_history': { deleted: 4 }, 'ops.task_events': { deleted: 8 } });
    expect(real.details.map((d) => d.id)).toEqual(preview.details.map((d) => d.id));
  });

  it('deletes only terminal runs past retention, with their events; everything else is untouched', async () => {
    const { expired, kept } = await seed();
    const keptBefore = (await snapshot(env.db.pool, 'ops.task_history', 'task_id')).filter((r) => kept.includes(String(r.task_id)));
    const eventsKept = (await snapshot(env.db.pool, 'ops.task_events', 'event_id')).filter((e) => kept.includes(String(e.task_ref)));
    await runTaskWorkflow(env.temporal, task());
    expect(await snapshot(env.db.pool, 'ops.task_history', 'task_id')).toEqual(keptBefore);
    expect(await snapshot(env.db.pool, 'ops.task_events', 'event_id')).toEqual(eventsKept);
    const { rows } = await env.db.pool.query(`select count(*)::int as n from ops.task_history where task_id = any($1::uuid[])`, [expired]);
    expect(rows[0].n).toBe(0);
  });

  it('refuses, before deleting anything, a run that would delete more than max_fraction of the table', async () => {
    for (let i = 0; i < 4; i++) await insertRun('completed', '100 days');
    await insertRun('running', '1 hour');
    const before = await snapshot(env.db.pool, 'ops.task_history', 'task_id');
    const failure = await taskFailure(runTaskWorkflow(env.temporal, task()));
    expect(failure.type).toBe('SafetyLimitExceeded');
    // Child rows count too: the events of those runs are 80% of the event table.
    expect(failure.message).toBe(
      [
        "expired runs: would delete 4 of 5 rows of ops.task_history (80%), more than max_fraction 0.5; if that is intended, set max_fraction: 0.8 (or higher) in this task's config",
        "expired runs: would delete 8 of 10 rows of ops.task_events (80%), more than max_fraction 0.5; if that is intended, set max_fraction: 0.8 (or higher) in this task's config",
      ].join('\n'),
    );
    expect(await snapshot(env.db.pool, 'ops.task_history', 'task_id')).toEqual(before);

    // The dry run fails the same way (Temporal shows both as Failed), with what it would delete.
    const preview = await runTaskWorkflow(env.temporal, task(), { dryRun: true }).then(
      () => expect.fail('expected the dry run to be refused'),
      (e: WorkflowFailedError) => e.cause as ApplicationFailure,
    );
    expect(preview).toMatchObject({ type: 'SafetyLimitExceeded', message: expect.stringContaining('would delete 4 of 5 rows') });
    expect(preview.details?.[0]).toMatchObject({ dryRun: true, tables: { 'ops.task_history': { would_delete: 4 } } });

    const allowed = await runTaskWorkflow(env.temporal, task({ max_fraction: 0.8 }));
    expect(allowed.counts.deleted).toBe(4);
  });

  it('refuses when the child rows alone are over max_fraction: a third of the runs holding most of the events', async () => {
    await insertRun('completed', '100 days', 10);
    await insertRun('running', '1 hour', 1);
    await insertRun('completed', '1 day', 1);
    // A child row that references no run at all is in the total, never in the matching rows.
    await env.db.pool.query(
      `alter table ops.task_events alter column task_ref drop not null; insert into ops.task_events (task_ref, note) values (null, 'loose')`,
    );
    const failure = await taskFailure(runTaskWorkflow(env.temporal, task()));
    expect(failure.message).toBe(
      "expired runs: would delete 10 of 13 rows of ops.task_events (77%), more than max_fraction 0.5; if that is intended, set max_fraction: 0.77 (or higher) in this task's config",
    );
    expect(Number((await env.db.pool.query('select count(*) as n from ops.task_events')).rows[0].n)).toBe(13);
  });

  it('stops at max_rows_per_run and leaves the rest for the next run', async () => {
    const { expired } = await seed();
    const first = await runTaskWorkflow(env.temporal, task({ max_rows_per_run: 3 }));
    expect(first.counts).toMatchObject({ deleted: 3, stopped_at_max_rows_per_run: 1 });
    const second = await runTaskWorkflow(env.temporal, task({ max_rows_per_run: 3 }));
    expect(second.counts).toMatchObject({ deleted: 1 });
    expect([...first.details, ...second.details].map((d) => d.id).sort()).toEqual([...expired].sort());
  });

  it('refuses retention below one day unless allow_short_retention is set', () => {
    expect(() => task({ retention_days: 0.5 })).toThrow(
      'tasks[0].config.retention_days: expected retention_days >= 1 (below one day needs allow_short_retention: true), got 0.5',
    );
    expect(task({ retention_days: 0.5, allow_short_retention: true }).config.retention_days).toBe(0.5);
  });
});
