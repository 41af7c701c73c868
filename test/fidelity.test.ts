import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { realNames } from '../activities/engine/counters';
import { caretaker } from './cli';
import { parseTask, runTaskWorkflow, taskFailure } from './fixtures';
import { useTaskEnvironment } from './support';

const env = useTaskEnvironment('fidelity');

// Real-world shapes: an ENUM status with upper-case labels, a RESTRICT and a CASCADE foreign
// key, an audit trigger, a trigger that raises, a non-unique column, a nullable column, a view.
beforeEach(async () => {
  await env.db.pool.query(
    `
    drop schema if exists f cascade;
    drop schema if exists caretaker cascade;
    create schema f;
    create type f.run_state as enum ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED');
    create table f.runs (id bigint primary key, state f.run_state not null, updated_at timestamptz, batch text, maybe bigint);
    create table f.steps (id bigserial primary key, run_id bigint not null references f.runs (id) on delete cascade);
    create table f.audit (id bigserial primary key, run_id bigint, what text);
    create function f.audit() returns trigger language plpgsql as $$
      begin insert into f.audit (run_id, what) values (old.id, tg_op); return old; end $$;
    create trigger audit before delete on f.runs for each row execute function f.audit();
    insert into f.runs select g, case when g <= 6 then 'RUNNING' else 'COMPLETED' end::f.run_state, now() - interval '100 days', 'b' || (g % 3), g from generate_series(1, 20) g;
    insert into f.steps (run_id) select g, from generate_series(1, 20) g, generate_series(1, 2);
    create view f.runs_view as select * from f.runs;`.replace('select g, from', 'select g from'),
  );
});

const count = async (sql: string) => Number((await env.db.pool.query<{ n: string }>(sql)).rows[0]!.n);
const retention = (config: Record<string, unknown>) =>
  parseTask({ id: 'retention', type: 'retention.enforce', config: { max_fraction: 1, ...config }, retry: { maximum_attempts: 3, initial_interval: '100ms' } });
const oldRuns = { table: 'f.runs', timestamp_column: 'updated_at', older_than: '30d', where: { state: 'COMPLETED' } };

async function attemptsOf(workflowIdPrefix: string): Promise<number> {
  for await (const wf of env.temporal.client.workflow.list({ query: `WorkflowId STARTS_WITH "${workflowIdPrefix}"` })) {
    const history = await env.temporal.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    return Math.max(...(history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0));
  }
  throw new Error('no workflow');
}

describe('a dry run executes and rolls back', () => {
  it('predicts cascades and rows written by triggers exactly as the real run does, and changes nothing', async () => {
    const preview = await runTaskWorkflow(env.temporal, retention({ policies: [oldRuns] }), { dryRun: true });
    expect(await count('select count(*) as n from f.audit')).toBe(0);
    expect(await count('select count(*) as n from f.steps')).toBe(40);
    expect(preview.tables).toEqual({ 'f.runs': { would_delete: 14 }, 'f.steps': { would_delete: 28 }, 'f.audit': { would_insert: 14 } });
    const real = await runTaskWorkflow(env.temporal, retention({ policies: [oldRuns] }));
    expect(real.tables).toEqual({ 'f.runs': { deleted: 14 }, 'f.steps': { deleted: 28 }, 'f.audit': { inserted: 14 } });
    expect(real.counts).toEqual(realNames(preview.counts));
    expect(real.sets).toEqual({ 'f.runs': { matched: 14, deleted: 14 } });
    expect(await count(`select count(*) as n from f.runs where state = 'RUNNING'`)).toBe(6);
  });

  it('fails where the real run fails: a status the ENUM does not have, without retrying (SQLSTATE 22)', async () => {
    const staleTask = (finalStatus: string) =>
      parseTask({
        id: 'enum-stale',
        type: 'runs.cleanup_stale',
        config: {
          table: 'f.runs',
          columns: { status: 'state' },
          thresholds: { RUNNING: '1h' },
          final_status: { RUNNING: finalStatus },
          max_retries: 0,
          max_fraction: 1,
        },
        retry: { maximum_attempts: 5, initial_interval: '100ms' },
      });
    const stale = staleTask('failed');
    const failure = await taskFailure(runTaskWorkflow(env.temporal, stale, { dryRun: true }));
    expect(failure.message).toContain('invalid input value for enum f.run_state: "failed" (SQLSTATE 22P02');
    expect(await attemptsOf('enum-stale')).toBe(1);
    expect(await count(`select count(*) as n from f.runs where state = 'RUNNING'`)).toBe(6);
    const fixed = await runTaskWorkflow(env.temporal, staleTask('FAILED'));
    expect(fixed.counts).toEqual({ stale: 6, requeued: 0, finalized: 6 });
  });

  it('fails where the real run fails: a foreign key that RESTRICTs and a trigger that raises', async () => {
    await env.db.pool.query(
      `create table f.invoices (id bigserial primary key, run_id bigint references f.runs (id) on delete restrict); insert into f.invoices (run_id) values (10)`,
    );
    const restrict = await taskFailure(runTaskWorkflow(env.temporal, retention({ policies: [oldRuns] }), { dryRun: true }));
    expect(restrict.message).toContain('violates foreign key constraint');
    await env.db.pool.query(`delete from f.invoices;
      create function f.refuse() returns trigger language plpgsql as $$ begin raise exception 'runs are kept for audit'; end $$;
      create trigger refuse before delete on f.runs for each row when (old.id = 12) execute function f.refuse();`);
    const raised = await taskFailure(runTaskWorkflow(env.temporal, retention({ policies: [oldRuns] }), { dryRun: true }));
    expect(raised.message).toContain('runs are kept for audit');
    expect(await count('select count(*) as n from f.runs')).toBe(20);
  });

  it('`caretaker run --dry-run --wait` exits non-zero when the real run would be refused or fail', async () => {
    process.env.TEMPORAL_ADDRESS = env.temporal.address;
    const file = join(tmpdir(), `fidelity-${Date.now()}.yaml`);
    const tasks = [
      { id: 'too-much', type: 'retention.enforce', database: 'default', config: { policies: [oldRuns] } },
      {
        id: 'enum',
        type: 'runs.cleanup_stale',
        config: {
          table: 'f.runs',
          columns: { status: 'state' },
          thresholds: { RUNNING: '1h' },
          final_status: { RUNNING: 'failed' },
          max_retries: 0,
          max_fraction: 1,
        },
        retry: { maximum_attempts: 1 },
      },
    ];
    writeFileSync(file, JSON.stringify({ task_queue: env.temporal.taskQueue, tasks }));
    const refused = await caretaker('run', 'too-much', '--dry-run', '--wait', '--json', '-f', file);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.out)).toMatchObject({
      failed: true,
      outcome: 'refused',
      dryRun: true,
      type: 'SafetyLimitExceeded',
      partial: { counts: { would_delete: 14 } },
    });
    const failed = await caretaker('run', 'enum', '--dry-run', '--wait', '--json', '-f', file);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.out).cause).toContain('invalid input value for enum');
  });
});

describe('found under attack', () => {
  it('refuses a key that is not unique, or can be NULL, naming the keys the table has', async () => {
    const notUnique = await taskFailure(runTaskWorkflow(env.temporal, retention({ policies: [{ ...oldRuns, id_column: 'batch' }] })));
    expect(notUnique).toMatchObject({ type: 'ConfigError' });
    expect(notUnique.message).toContain('id_column "batch" is not a unique key of f.runs; its keys are primary key (id)');
    await env.db.pool.query('create unique index on f.runs (maybe)');
    const nullable = await taskFailure(runTaskWorkflow(env.temporal, retention({ policies: [{ ...oldRuns, id_column: 'maybe' }] })));
    expect(nullable.message).toContain('column "maybe" of f.runs allows NULL; a key column must be NOT NULL');
    expect(await count('select count(*) as n from f.runs')).toBe(20);
  });

  it('says a view is a view, and refuses child tables without a foreign key unless told there is none', async () => {
    const view = await taskFailure(runTaskWorkflow(env.temporal, retention({ policies: [{ ...oldRuns, table: 'f.runs_view' }] })));
    expect(view.message).toContain('"f.runs_view" is a view (f.runs_view), not a table');
    const noFk = await taskFailure(
      runTaskWorkflow(env.temporal, retention({ policies: [{ ...oldRuns, children: [{ table: 'f.audit', column: 'run_id' }] }] })),
    );
    expect(noFk.message).toContain('f.audit (run_id) has no foreign key referencing f.runs (id)');
    const told = await runTaskWorkflow(
      env.temporal,
      retention({ policies: [{ ...oldRuns, children: [{ table: 'f.audit', column: 'run_id', no_foreign_key: true }] }] }),
    );
    expect(told.counts).toMatchObject({ deleted: 14 });
  });

  it('counts max_fraction per table across policies: two at 35% each are 70% of it', async () => {
    const half = (batch: string) => ({ ...oldRuns, name: batch, where: { batch } });
    const failure = await taskFailure(
      runTaskWorkflow(
        env.temporal,
        parseTask({ id: 'two', type: 'retention.enforce', config: { policies: [half('b1'), half('b2')] }, retry: { maximum_attempts: 1 } }),
      ),
    );
    expect(failure.type).toBe('SafetyLimitExceeded');
    expect(failure.message).toContain('b1, b2: would delete 14 of 20 rows of f.runs (70%)');
    expect(await count('select count(*) as n from f.runs')).toBe(20);
  });

  it('guards runs.cleanup_stale: no threshold under 5 minutes by default, and max_fraction of the table', async () => {
    expect(() =>
      parseTask({ id: 's', config: { table: 'f.runs', thresholds: { RUNNING: '1s' }, final_status: { RUNNING: 'FAILED' }, max_retries: 0 } }),
    ).toThrow('tasks[0].config.thresholds.RUNNING: expected at least 5m (a shorter threshold needs allow_short_thresholds: true), got 1s');
    await env.db.pool.query(`update f.runs set state = 'RUNNING'`);
    const stale = parseTask({
      id: 'all-stale',
      config: { table: 'f.runs', columns: { status: 'state' }, thresholds: { RUNNING: '1h' }, final_status: { RUNNING: 'FAILED' }, max_retries: 0 },
      retry: { maximum_attempts: 1 },
    });
    const failure = await taskFailure(runTaskWorkflow(env.temporal, stale));
    expect(failure.message).toContain('would update 20 of 20 rows of f.runs (100%), more than max_fraction 0.5');
    expect(await count(`select count(*) as n from f.runs where state = 'RUNNING'`)).toBe(20);
  });

  it('runs the max_fraction count under the task lock_timeout, not behind an ACCESS EXCLUSIVE lock', async () => {
    const holder = await env.db.pool.connect();
    try {
      await holder.query('begin; lock table f.runs in access exclusive mode');
      const failure = await taskFailure(
        runTaskWorkflow(
          env.temporal,
          parseTask({ id: 'locked', type: 'retention.enforce', config: { policies: [oldRuns], sql: { lock_timeout: '1s' } }, retry: { maximum_attempts: 1 } }),
        ),
      );
      expect(failure.message).toContain('canceling statement due to lock timeout (SQLSTATE 55P03');
    } finally {
      await holder.query('rollback');
      holder.release();
    }
  });

  it('bounds details by bytes, and says how many changed rows are not listed', async () => {
    await env.db.pool.query(`insert into f.runs select g, 'COMPLETED', now() - interval '100 days', 'big', g from generate_series(1000, 12999) g`);
    const result = await runTaskWorkflow(
      env.temporal,
      retention({ policies: [{ ...oldRuns, where: { batch: 'big' } }], details_limit: 10000, details_max_bytes: '64KiB', batch_size: 5000 }),
    );
    expect(result.counts.deleted).toBe(12000);
    expect(JSON.stringify(result.details).length).toBeLessThanOrEqual(64 * 1024);
    expect(result.details.length + result.detailsOmitted).toBe(12000);
    expect(result.detailsOmitted).toBeGreaterThan(0);
  });
});
