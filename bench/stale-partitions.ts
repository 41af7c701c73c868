import type { Stack } from './stack';
import { timed } from './stack';

/** 1% of the runs are stale: running, last updated 5 hours ago (the default threshold for running is 2h). */
export async function staleBench(stack: Stack, runs: number): Promise<{ rows: number; rawMs: number; caretakerMs: number; caretakerActivityMs: number }> {
  const seed = await stack.database('stale_seed');
  await seed.pool.query(`
    create table job_runs (id bigint primary key, status text not null, updated_at timestamptz not null);
    insert into job_runs select g,
      case when g % 100 = 0 then 'running' when g % 3 = 0 then 'running' else 'completed' end,
      now() - case when g % 100 = 0 then interval '5 hours' else interval '10 minutes' end
    from generate_series(1, ${Math.round(runs)}) g;`);
  await seed.pool.query('vacuum analyze job_runs');
  await stack.dropPool('stale_seed');
  const rawDb = await stack.database('stale_raw', 'stale_seed');
  const raw = await timed(
    async () =>
      (await rawDb.pool.query(`update job_runs set status = 'failed' where status = 'running' and updated_at < now() - interval '2 hours'`)).rowCount ?? 0,
  );
  await stack.dropDatabase('stale_raw');
  await stack.database('stale_caretaker', 'stale_seed');
  const ct = await stack.run('stale_caretaker', { type: 'runs.cleanup_stale', config: { table: 'job_runs', max_retries: 0, details_limit: 0 } });
  if (ct.result.counts.finalized !== raw.value)
    throw new Error(`bench: Caretaker finalized ${ct.result.counts.finalized} stale runs, the raw UPDATE ${raw.value}`);
  await stack.dropDatabase('stale_caretaker');
  await stack.dropDatabase('stale_seed');
  return { rows: raw.value, rawMs: raw.ms, caretakerMs: ct.ms, caretakerActivityMs: ct.activityMs };
}

/** A table partitioned by month-sized ranges; the oldest partition, wholly past retention, holds `rows` rows. */
export interface PartitionFigures {
  rows: number;
  deleteMs: number;
  /** The DELETE, then the VACUUM that makes the space reusable: the state a DROP leaves at once. */
  deleteVacuumMs: number;
  caretakerMs: number;
  caretakerActivityMs: number;
  sqlDropMs: number;
}

export async function partitionBench(stack: Stack, rows: number): Promise<PartitionFigures> {
  const seed = await stack.database('partition_seed');
  await seed.pool.query(`
    create table logs (id bigint not null, at timestamptz not null, msg text, primary key (id, at)) partition by range (at);
    create table logs_old partition of logs for values from ('-infinity') to ('${new Date(Date.now() - 60 * 86_400_000).toISOString()}');
    create table logs_recent partition of logs for values from ('${new Date(Date.now() - 60 * 86_400_000).toISOString()}') to ('infinity');
    insert into logs select g, now() - interval '90 days' + (g % 1000) * interval '1 second', 'old' from generate_series(1, ${Math.round(rows)}) g;
    insert into logs select g, now() - interval '1 day', 'recent' from generate_series(1, ${Math.round(rows / 10)}) g;`);
  await seed.pool.query('vacuum analyze logs');
  await stack.dropPool('partition_seed');
  const delDb = await stack.database('partition_delete', 'partition_seed');
  const del = await timed(async () => (await delDb.pool.query(`delete from logs where at < now() - interval '30 days'`)).rowCount ?? 0);
  const vacuum = await timed(() => delDb.pool.query('vacuum logs'));
  await stack.dropDatabase('partition_delete');
  // The mechanism alone, by hand: what the partition costs without the run around it.
  const dropDb = await stack.database('partition_drop', 'partition_seed');
  const drop = await timed(async () => {
    await dropDb.pool.query('alter table logs detach partition logs_old concurrently');
    await dropDb.pool.query('drop table logs_old');
  });
  await stack.dropDatabase('partition_drop');
  await stack.database('partition_caretaker', 'partition_seed');
  const policy = { table: 'logs', id_column: ['id', 'at'], timestamp_column: 'at', older_than: '30d' };
  const ct = await stack.run('partition_caretaker', { type: 'retention.enforce', config: { policies: [policy], max_fraction: 1 } });
  if (ct.result.counts.deleted !== del.value || ct.result.counts.partitions_dropped !== 1)
    throw new Error(`bench: partition retention reported ${JSON.stringify(ct.result.counts)}, the DELETE ${del.value}`);
  await stack.dropDatabase('partition_caretaker');
  await stack.dropDatabase('partition_seed');
  return { rows: del.value, deleteMs: del.ms, deleteVacuumMs: del.ms + vacuum.ms, caretakerMs: ct.ms, caretakerActivityMs: ct.activityMs, sqlDropMs: drop.ms };
}
