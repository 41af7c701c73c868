import { beforeEach, describe, expect, it } from 'vitest';
import { useTaskEnvironment } from './support';
import { parseTask, runTaskWorkflow, snapshot } from './fixtures';

const env = useTaskEnvironment('statuscounts');

describe('status.reset', () => {
  beforeEach(async () => {
    await env.db.pool.query(`
      drop table if exists analysis_plans, jobs;
      create table jobs (id int primary key, status text not null);
      create table analysis_plans (plan_id int primary key, status text not null, job_id int, updated_at timestamptz not null default now());
      insert into jobs values (1, 'running'), (2, 'failed'), (3, 'completed'), (4, 'pending');
      insert into analysis_plans (plan_id, status, job_id, updated_at) values
        (10, 'PENDING', 1, now() - interval '1 hour'),   -- job running: keep
        (11, 'PENDING', 2, now() - interval '1 hour'),   -- job failed: reset
        (12, 'PENDING', 3, now() - interval '1 hour'),   -- job completed: reset
        (13, 'PENDING', 99, now() - interval '1 hour'),  -- job gone: reset
        (14, 'PENDING', null, now() - interval '1 hour'),-- no job: reset
        (15, 'PENDING', 4, now() - interval '1 hour'),   -- job pending: keep
        (16, 'PENDING', 2, now() - interval '1 minute'), -- too recent for min_age: keep
        (17, 'DRAFT', 2, now() - interval '1 hour'),     -- other status: keep
        (18, 'APPROVED', 3, now() - interval '1 hour'),
        (19, 'APPROVED', 3, now() - interval '1 hour'),
        (20, 'APPROVED', 3, now() - interval '1 hour');`);
  });

  const task = () =>
    parseTask({
      id: 'plans',
      type: 'status.reset',
      config: {
        table: 'analysis_plans',
        columns: { id: 'plan_id', timestamp: 'updated_at' },
        from_status: 'PENDING',
        to_status: 'DRAFT',
        min_age: '10m',
        jobs: { table: 'jobs', running_statuses: ['running', 'pending'] },
        batch_size: 2,
      },
    });

  it('resets exactly the rows whose job is not running; dry run reports the same rows', async () => {
    const before = await snapshot(env.db.pool, 'analysis_plans', 'plan_id');
    const preview = await runTaskWorkflow(env.temporal, task(), { dryRun: true });
    expect(await snapshot(env.db.pool, 'analysis_plans', 'plan_id')).toEqual(before);
    const real = await runTaskWorkflow(env.temporal, task());
    expect(real.details.map((d) => Number(d.id))).toEqual([11, 12, 13, 14]);
    expect(preview.details).toEqual(real.details);

    const after = await snapshot(env.db.pool, 'analysis_plans', 'plan_id');
    for (const row of after) {
      const old = before.find((b) => b.plan_id === row.plan_id)!;
      if ([11, 12, 13, 14].includes(row.plan_id as number)) expect(row).toEqual({ ...old, status: 'DRAFT' });
      else expect(row).toEqual(old);
    }
  });
});

describe('counts.rebuild', () => {
  beforeEach(async () => {
    await env.db.pool.query(`
      drop table if exists album_files, albums;
      create table albums (id bigint primary key, file_count int);
      create table album_files (id bigserial primary key, album_id bigint not null references albums (id), deleted boolean not null default false);
      insert into albums values (1, 3), (2, 5), (3, 0), (4, null), (5, 1), (6, 2);
      insert into album_files (album_id, deleted) values
        (1, false), (1, false), (1, false),            -- 3 = 3: correct
        (2, false), (2, false), (2, true),             -- 2 live, recorded 5: drift
        (4, false),                                    -- 1 live, recorded null: drift
        (5, true),                                     -- 0 live, recorded 1: drift
        (6, false), (6, false);                        -- 2 = 2: correct`);
  });

  const task = () =>
    parseTask({
      id: 'counts',
      type: 'counts.rebuild',
      config: {
        counters: [
          {
            name: 'album files',
            table: 'albums',
            count_column: 'file_count',
            child_table: 'album_files',
            child_column: 'album_id',
            child_where: { deleted: false },
          },
        ],
        batch_size: 4,
      },
    });

  it('reports drift in dry run without fixing, then fixes exactly the drifted counters', async () => {
    const before = await snapshot(env.db.pool, 'albums', 'id');
    const preview = await runTaskWorkflow(env.temporal, task(), { dryRun: true });
    expect(await snapshot(env.db.pool, 'albums', 'id')).toEqual(before);
    expect(preview.counts).toEqual({ checked: 6, drifted: 3, would_fix: 3 });
    expect(preview.details).toEqual([
      { counter: 'album files', id: '2', recorded: 5, actual: 2 },
      { counter: 'album files', id: '4', recorded: null, actual: 1 },
      { counter: 'album files', id: '5', recorded: 1, actual: 0 },
    ]);
    const real = await runTaskWorkflow(env.temporal, task());
    expect(real.counts).toEqual({ checked: 6, drifted: 3, fixed: 3 });
    expect(await snapshot(env.db.pool, 'albums', 'id')).toEqual([
      { id: '1', file_count: 3 },
      { id: '2', file_count: 2 },
      { id: '3', file_count: 0 },
      { id: '4', file_count: 1 },
      { id: '5', file_count: 0 },
      { id: '6', file_count: 2 },
    ]);
    expect((await runTaskWorkflow(env.temporal, task())).counts).toEqual({ checked: 6, drifted: 0, fixed: 0 });
  });
});
