import { randomBytes } from 'node:crypto';
import type { PoolClient } from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { buildTaskInput, workflowTypeFor } from '../config/task-input';
import { OUTCOME_MEMO } from '../workflows/run-task';
import { parseTask, taskFailure } from './fixtures';
import { useTaskEnvironment } from './support';

// Runs (30% expired) and one event per run. The parent's delete waits in a statement trigger for an
// advisory lock the test may hold, so a batch is caught mid-way with its tables locked.
const SCHEMA = `
  drop schema if exists caretaker cascade;
  drop schema if exists swap cascade;
  create schema swap;
  create table swap.runs (id bigint primary key, state text not null, finished_at timestamptz);
  create table swap.events (id bigserial primary key, run_id bigint not null references swap.runs (id), body text);
  create function swap.held() returns trigger language plpgsql as $$
    begin perform pg_advisory_xact_lock_shared(4343); return null; end $$;
  create trigger held before delete on swap.runs for each statement execute function swap.held();
  insert into swap.runs select g, 'completed', now() - interval '90 days' from generate_series(1, 300) g;
  insert into swap.runs select g, 'completed', now() - interval '1 day' from generate_series(301, 1000) g;
  insert into swap.events (run_id, body) select g, 'e' from generate_series(1, 1000) g;`;

// What replaces a table mid-run: rows the old table's guard never saw, every one of them expired
// (or referencing an expired run), so max_fraction (0.5) would refuse them.
const NEW_RUNS = `create table swap.runs (id bigint primary key, state text not null, finished_at timestamptz);
  insert into swap.runs select g, 'completed', now() - interval '90 days' from generate_series(1, 500) g;`;
// New events reference the last expired runs, which a later batch would reach (and no batch near
// the swap has locked: the insert's foreign key check would wait for it).
const NEW_EVENTS = `insert into swap.events (run_id, body) select 281 + g % 20, 'new' from generate_series(1, 500) g;`;
/**
 * Each swap: its first statement waits for the batch held mid-way, the rest runs once that batch
 * committed. A child swap locks the parent first, as the run's batches do (they pick parents, then
 * lock children): the next batch then waits behind the swap instead of holding the parent while the
 * swap waits for it (a deadlock, seen under load).
 */
const SWAPS = [
  { table: 'runs', as: 'the parent table', first: 'alter table swap.runs rename to runs_old', rest: NEW_RUNS },
  {
    table: 'events',
    as: 'a child table',
    first: 'lock table swap.runs, swap.events in access exclusive mode; alter table swap.events drop constraint events_run_id_fkey',
    rest: `alter table swap.events rename to events_old;
      create table swap.events (id bigserial primary key, run_id bigint not null references swap.runs (id), body text); ${NEW_EVENTS}`,
  },
  {
    // The next batch's parent delete then fails on the old table's foreign key: the failure names the replacement.
    table: 'events',
    as: 'a child table, the old one still referencing the parent',
    first: 'lock table swap.runs, swap.events in access exclusive mode; alter table swap.events rename to events_old',
    rest: `create table swap.events (id bigserial primary key, run_id bigint not null, body text); ${NEW_EVENTS}`,
  },
] as const;

const env = useTaskEnvironment('table_swap');

beforeEach(async () => {
  await env.db.pool.query(SCHEMA);
});

const task = parseTask({
  id: 'swap',
  type: 'runs.cleanup_expired',
  config: {
    table: 'swap.runs',
    columns: { status: 'state', timestamp: 'finished_at' },
    children: [{ table: 'swap.events', column: 'run_id' }],
    batch_size: 20,
    max_fraction: 0.5,
    sql: { lock_timeout: '60s' },
  },
  retry: { maximum_attempts: 3, initial_interval: '100ms' },
});

const count = async (sql: string) => Number((await env.db.pool.query<{ n: string }>(sql)).rows[0]!.n);

/** Polls until some backend waits for a lock: the advisory lock `key`, or any lock when `pid` is given. */
async function untilWaiting(filter: { advisory: number } | { pid: number }) {
  const where = 'advisory' in filter ? `locktype = 'advisory' and objid = ${filter.advisory} and objsubid = 1` : `pid = ${filter.pid}`;
  await expect.poll(() => count(`select count(*) as n from pg_locks where not granted and ${where}`), { timeout: 60_000, interval: 50 }).toBe(1);
}

/**
 * Replaces a table while a batch of the run is held mid-way: the swap's first statement waits for
 * that batch, which then commits on the old table.
 */
async function swapWhileHeld(held: PoolClient, swap: (typeof SWAPS)[number]): Promise<void> {
  const swapper = await env.db.pool.connect();
  try {
    const pid = (await swapper.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    await swapper.query('begin');
    const first = swapper.query(swap.first);
    await untilWaiting({ pid });
    await held.query('select pg_advisory_unlock(4343)');
    await first;
    await swapper.query(swap.rest);
    await swapper.query('commit');
  } finally {
    swapper.release(true); // never back to the pool inside a transaction
  }
}

describe('a table replaced during a run', () => {
  it.each(SWAPS)('$as renamed away and replaced mid-run: the run stops, the new table is untouched, the counts are the old rows removed', async (swap) => {
    const name = swap.table;
    const held = await env.db.pool.connect();
    try {
      await held.query('select pg_advisory_lock(4343)');
      const handle = await env.temporal.client.workflow.start(workflowTypeFor(task), {
        taskQueue: env.temporal.taskQueue,
        workflowId: `swap-${name}-${randomBytes(4).toString('hex')}`,
        args: [buildTaskInput(task)],
      });
      await untilWaiting({ advisory: 4343 }); // the first batch, past the guard, holds its tables
      await swapWhileHeld(held, swap);

      const failure = await taskFailure(handle.result());
      expect(failure.type).toBe('TableReplaced');
      expect(failure.message).toMatch(
        new RegExp(`^swap\\.${name} was replaced during the run \\(oid \\d+ → \\d+\\); nothing more was changed; the next run checks the new table's guard`),
      );
      const fresh =
        name === 'runs' ? `select count(*) as n from swap.runs where id between 1 and 500` : `select count(*) as n from swap.events where body = 'new'`;
      expect(await count(fresh)).toBe(500);

      const oldRuns = name === 'runs' ? 'swap.runs_old' : 'swap.runs';
      const oldEvents = name === 'events' ? 'swap.events_old' : 'swap.events';
      const runsGone = await count(`select 1000 - count(*) as n from ${oldRuns}`);
      const eventsGone = await count(`select 1000 - count(*) as n from ${oldEvents}`);
      expect(runsGone).toBe(20); // the batch held when the table was swapped
      expect(eventsGone).toBe(20);
      const memo = (await handle.describe()).memo?.[OUTCOME_MEMO] as { outcome: string; counts: Record<string, number> };
      expect(memo).toMatchObject({ outcome: 'failed', counts: { deleted: runsGone, children_deleted: eventsGone } });
    } finally {
      await held.query('select pg_advisory_unlock_all()');
      held.release();
    }
  });
});
