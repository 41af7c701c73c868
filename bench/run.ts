import { performance } from 'node:perf_hooks';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Client, Pool } from 'pg';
import { createActivities } from '../activities';
import { quoteIdent } from '../activities/sql/identifiers';
import { parseTask } from '../test/fixtures';
import { buildTaskInput } from '../client/task-input';
import { PoolRegistry } from '../worker/databases';

/**
 * `npm run bench`: what Caretaker's batching costs. Deletes the same expired runs (with three log
 * events each) once with the hand-written baseline, two DELETE statements in one transaction, and
 * then with runs.cleanup_expired at several batch sizes: the advisory lock, catalog checks,
 * max_fraction count, one transaction per batch and a heartbeat after each. Reported as ratios to
 * the baseline measured in the same run, best of REPEAT, on a fresh copy of the data each time.
 */
const ROWS = Number(process.env.BENCH_ROWS ?? 20_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const ADMIN = process.env.CARETAKER_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const NAME = `caretaker_bench_${process.pid}`;

const SEED = `
  drop table if exists events, runs;
  create table runs (id bigint primary key, status text not null, completed_at timestamptz);
  create table events (id bigserial primary key, run_id bigint not null references runs (id), msg text);
  create index events_run_id on events (run_id);
  insert into runs select g, case when g % 2 = 0 then 'completed' else 'running' end,
    now() - case when g % 4 = 0 then interval '60 days' else interval '1 day' end from generate_series(1, $1::int) g;
  insert into events (run_id, msg) select r.id, 'e' from runs r cross join generate_series(1, 3);
  analyze runs; analyze events;`;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

async function main(): Promise<void> {
  const admin = new Client({ connectionString: ADMIN });
  await admin.connect();
  await admin.query(`create database ${quoteIdent(NAME)}`);
  const url = new URL(ADMIN);
  url.pathname = `/${NAME}`;
  const pool = new Pool({ connectionString: url.toString() });
  const databases = new PoolRegistry(new Map([['default', url.toString()]]));
  const activities = createActivities({ databases });
  const seed = () => pool.query(SEED.replace('$1::int', String(ROWS)));
  try {
    const best = async (fn: () => Promise<unknown>) => {
      let min = Infinity;
      for (let i = 0; i < REPEAT; i++) {
        await seed();
        min = Math.min(min, await timed(fn));
      }
      return min;
    };
    const baseline = await best(async () => {
      const c = await pool.connect();
      try {
        await c.query('begin');
        await c.query(`delete from events e using runs r where e.run_id = r.id and r.status = 'completed' and r.completed_at < now() - interval '30 days'`);
        await c.query(`delete from runs where status = 'completed' and completed_at < now() - interval '30 days'`);
        await c.query('commit');
      } finally {
        c.release();
      }
    });
    const expired = ROWS / 4;
    console.log(`runs.cleanup_expired: ${expired} expired runs (+${expired * 3} events) of ${ROWS}; best of ${REPEAT}`);
    console.log(`  baseline (2 DELETE statements, 1 transaction)   ${baseline.toFixed(0).padStart(6)} ms   1.00x`);
    for (const batch of [100, 1000, 5000]) {
      const task = parseTask({ id: 'bench', type: 'runs.cleanup_expired', config: { table: 'runs', batch_size: batch, children: [{ table: 'events', column: 'run_id' }], details_limit: 0 } });
      const input = buildTaskInput(task);
      const ms = await best(() => new MockActivityEnvironment().run(activities.cleanupExpiredRuns, input as never));
      console.log(`  caretaker, batch_size ${String(batch).padEnd(5)}                    ${ms.toFixed(0).padStart(6)} ms   ${(ms / baseline).toFixed(2)}x`);
    }
  } finally {
    await pool.end();
    await databases.close();
    await admin.query(`drop database if exists ${quoteIdent(NAME)} with (force)`);
    await admin.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
