import type { PoolClient } from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { realNames } from '../activities/engine/counters';
import { parseTask, runTaskWorkflow, snapshot, taskFailure } from './fixtures';
import { useTaskEnvironment } from './support';

const env = useTaskEnvironment('locked_children');

// Ten old orders (ids 1-10) with three lines each, and two recent ones (11, 12) that must stay.
beforeEach(async () => {
  await env.db.pool.query(`
    drop schema if exists app cascade;
    drop schema if exists caretaker cascade;
    create schema app;
    create table app.orders (id bigint primary key, created_at timestamptz not null);
    create table app.order_lines (id bigserial primary key, order_id bigint not null references app.orders (id), sku text not null);
    insert into app.orders select g, now() - case when g <= 10 then interval '100 days' else interval '1 day' end from generate_series(1, 12) g;
    insert into app.order_lines (order_id, sku) select g, 'sku-' || g || '-' || l from generate_series(1, 12) g, generate_series(1, 3) l;`);
});

let holder: PoolClient | undefined;
afterEach(async () => {
  await holder?.query('rollback');
  holder?.release();
  holder = undefined;
});

/** A second connection holding a transaction open, as an application would. */
async function hold(sql: string): Promise<void> {
  holder = await env.db.pool.connect();
  await holder.query('begin');
  await holder.query(sql);
}

const task = () =>
  parseTask({
    id: 'orders-retention',
    type: 'retention.enforce',
    config: {
      policies: [{ table: 'app.orders', timestamp_column: 'created_at', older_than: '30d', children: [{ table: 'app.order_lines', column: 'order_id' }] }],
      max_fraction: 1,
      batch_size: 4,
      sql: { lock_timeout: '1s' },
    },
    retry: { maximum_attempts: 2, initial_interval: '100ms' },
  });

const ids = async (sql: string) => (await env.db.pool.query<{ id: string }>(sql)).rows.map((r) => Number(r.id));

describe('a child row another transaction holds', () => {
  it('skips its parent (and all its children) and deletes every other eligible parent; the dry run says the same', async () => {
    const recent = await snapshot(env.db.pool, `(select l.* from app.order_lines l where order_id > 10) s`, 'id');
    const order4 = await snapshot(env.db.pool, `(select l.* from app.order_lines l where order_id = 4) s`, 'id');
    await hold(`select * from app.order_lines where order_id = 4 order by id limit 1 for update`);

    const preview = await runTaskWorkflow(env.temporal, task(), { dryRun: true });
    const real = await runTaskWorkflow(env.temporal, task());
    expect(real.counts).toEqual({ matched: 10, deleted: 9, children_deleted: 27, skipped_for_locks: 1 });
    expect(realNames(preview.counts)).toEqual(real.counts);
    expect(real.details.map((d) => d.id)).not.toContain('4');
    // The batch with order 4 first tried a plain delete of its children, which met the held line and
    // was rolled back; PostgreSQL's counters keep those attempted deletes, the run's tables do not.
    expect(real.tables).toEqual({ 'app.orders': { deleted: 9 }, 'app.order_lines': { deleted: 27 } });

    expect(await ids('select id from app.orders order by id')).toEqual([4, 11, 12]);
    expect(await snapshot(env.db.pool, `(select l.* from app.order_lines l where order_id = 4) s`, 'id')).toEqual(order4);
    expect(await snapshot(env.db.pool, `(select l.* from app.order_lines l where order_id > 10) s`, 'id')).toEqual(recent);
    expect(await ids('select count(*) as id from app.order_lines')).toEqual([3 + 6]);

    // Once the lock is gone, the next run takes the parent it left.
    await holder!.query('rollback');
    const next = await runTaskWorkflow(env.temporal, task());
    expect(next.counts).toEqual({ matched: 1, deleted: 1, children_deleted: 3 });
    expect(await ids('select id from app.orders order by id')).toEqual([11, 12]);
  });

  it('names the child table when the whole table is locked past lock_timeout', async () => {
    const before = await snapshot(env.db.pool, 'app.orders', 'id');
    await hold('lock table app.order_lines in access exclusive mode');
    const failure = await taskFailure(runTaskWorkflow(env.temporal, task()));
    expect(failure.message).toContain('canceling statement due to lock timeout (SQLSTATE 55P03; table app.order_lines');
    expect(await snapshot(env.db.pool, 'app.orders', 'id')).toEqual(before);
  });
});
