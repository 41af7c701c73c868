import type { Pool } from 'pg';
import type { Stack } from './stack';
import { timed } from './stack';

/**
 * Retention of `runs` with three `events` each: half the runs completed 60 days ago (expired),
 * the rest finished yesterday or are running. Expired and kept rows are interleaved, as in a
 * real table. Seeded once into a template database; every contender works on its own copy.
 */
export const RUNS_SCHEMA = `
  create table runs (id bigint primary key, status text not null, completed_at timestamptz);
  create table events (id bigserial primary key, run_id bigint not null references runs (id), msg text);`;

export async function seedRuns(pool: Pool, runs: number): Promise<void> {
  // The foreign key is added after the load: checked in one pass instead of row by row.
  await pool.query(RUNS_SCHEMA.replace(' references runs (id)', ''));
  await pool.query(
    `insert into runs select g, case when g % 2 = 0 then 'completed' when g % 4 = 1 then 'completed' else 'running' end,
       now() - case when g % 2 = 0 then interval '60 days' else interval '1 day' end from generate_series(1, $1::int) g`,
    [runs],
  );
  await pool.query(`insert into events (run_id, msg) select r.id, 'event' from runs r cross join generate_series(1, 3)`);
  await pool.query(`create index events_run_id on events (run_id)`);
  await pool.query(`alter table events add foreign key (run_id) references runs (id)`);
  await pool.query('vacuum analyze runs');
  await pool.query('vacuum analyze events');
}

const EXPIRED = `status = any('{completed,failed,cancelled,timed_out}'::text[]) and completed_at < now() - interval '30 days'`;

/** The hand-written baseline: one DELETE per table, one transaction. */
export async function bulkDelete(pool: Pool): Promise<number> {
  const c = await pool.connect();
  try {
    await c.query('begin');
    await c.query(`delete from events e using runs r where e.run_id = r.id and r.${EXPIRED.replace(' and ', ' and r.')}`);
    const { rowCount } = await c.query(`delete from runs where ${EXPIRED}`);
    await c.query('commit');
    return rowCount ?? 0;
  } finally {
    c.release();
  }
}

/** A plain node `pg` loop with the same batch SQL Caretaker runs: keyset select for update skip locked, children, parents, commit. */
export async function nodeLoop(pool: Pool, batch: number): Promise<{ rows: number; slowestMs: number }> {
  const c = await pool.connect();
  let cursor = 0;
  let rows = 0;
  let slowestMs = 0;
  try {
    for (;;) {
      const { ms, value: n } = await timed(async () => {
        await c.query('begin');
        const ids = (
          await c.query<{ id: string }>(`select id from runs t where ${EXPIRED} and id > $1 order by id limit $2 for update of t skip locked`, [cursor, batch])
        ).rows.map((r) => r.id);
        if (ids.length > 0) {
          await c.query(`delete from events t where t.run_id in (select id from runs where id = any($1::bigint[]) and ${EXPIRED})`, [ids]);
          await c.query(`delete from runs t where id = any($1::bigint[]) and ${EXPIRED}`, [ids]);
          cursor = Number(ids[ids.length - 1]);
        }
        await c.query('commit');
        return ids.length;
      });
      rows += n;
      slowestMs = Math.max(slowestMs, ms);
      if (n < batch) return { rows, slowestMs };
    }
  } finally {
    c.release();
  }
}

/** runs.cleanup_expired at its default settings (adaptive batches), through the worker. */
export function caretakerTask(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'runs.cleanup_expired', config: { table: 'runs', children: [{ table: 'events', column: 'run_id' }], ...extra } };
}

export interface RetentionFigures {
  rows: number;
  bulkMs: number;
  nodeLoopMs: number;
  nodeLoopBatch: number;
  caretakerMs: number;
  /** The activity alone (no workflow start, task dispatch or result). */
  caretakerActivityMs: number;
  /** Defaults but `max_fraction: 1`: no guard pass before the first batch. */
  unguardedMs: number;
  caretakerSlowestBatchMs: number;
  nodeLoopSlowestBatchMs: number;
  caretakerBatchSizes: Record<string, unknown>;
}

export async function retentionBench(stack: Stack, runs: number): Promise<RetentionFigures> {
  const seed = await stack.database('retention_seed');
  await seedRuns(seed.pool, runs);
  await stack.dropPool('retention_seed');

  const bulkDb = await stack.database('retention_bulk', 'retention_seed');
  const bulk = await timed(() => bulkDelete(bulkDb.pool));
  await stack.dropDatabase('retention_bulk');

  const ctDb = await stack.database('retention_caretaker', 'retention_seed');
  const ct = await stack.run('retention_caretaker', caretakerTask());
  if (ct.result.counts.deleted !== bulk.value) throw new Error(`bench: Caretaker deleted ${ct.result.counts.deleted} runs, the bulk DELETE ${bulk.value}`);
  void ctDb;
  await stack.dropDatabase('retention_caretaker');

  await stack.database('retention_unguarded', 'retention_seed');
  const unguarded = await stack.run('retention_unguarded', caretakerTask({ max_fraction: 1 }));
  if (unguarded.result.counts.deleted !== bulk.value)
    throw new Error(`bench: Caretaker (max_fraction 1) deleted ${unguarded.result.counts.deleted} runs, the bulk DELETE ${bulk.value}`);
  await stack.dropDatabase('retention_unguarded');

  // The loop uses the batch size Caretaker's controller settled on, so both run the same SQL in the same sizes.
  const pace = ct.result.pace!;
  const loopDb = await stack.database('retention_loop', 'retention_seed');
  const loop = await timed(() => nodeLoop(loopDb.pool, pace.batchSize.last));
  await stack.dropDatabase('retention_loop');
  await stack.dropDatabase('retention_seed');
  return {
    rows: bulk.value,
    bulkMs: bulk.ms,
    nodeLoopMs: loop.ms,
    nodeLoopBatch: pace.batchSize.last,
    caretakerMs: ct.ms,
    caretakerActivityMs: ct.activityMs,
    unguardedMs: unguarded.ms,
    caretakerSlowestBatchMs: pace.slowestBatchMs,
    nodeLoopSlowestBatchMs: loop.value.slowestMs,
    caretakerBatchSizes: pace.batchSize,
  };
}
