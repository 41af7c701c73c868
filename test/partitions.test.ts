import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { realNames } from '../activities/engine/counters';
import { useTaskEnvironment } from './support';
import { parseTask, runTaskWorkflow, snapshot, taskFailure } from './fixtures';

const env = useTaskEnvironment('partitions');

/**
 * `logs` is range-partitioned by day ranges relative to now: `logs_old` lies wholly past a 45-day
 * retention, `logs_edge` straddles the cutoff, `logs_new` is recent. `regions` is list-partitioned.
 */
const SCHEMA = `
  drop schema if exists app, archive cascade;
  create schema app; create schema archive;
  create table app.logs (id bigint not null, at timestamptz not null, msg text, primary key (id, at)) partition by range (at);
  create table app.logs_old partition of app.logs for values from ('-infinity') to ('${'$OLD'}');
  create table app.logs_edge partition of app.logs for values from ('${'$OLD'}') to ('${'$EDGE'}');
  create table app.logs_new partition of app.logs for values from ('${'$EDGE'}') to ('infinity');
  insert into app.logs select g, now() - interval '100 days' + g * interval '1 minute', 'old' from generate_series(1, 300) g;
  insert into app.logs values (1001, now() - interval '60 days', 'edge, expired'), (1002, now() - interval '50 days', 'edge, expired'),
    (1003, now() - interval '42 days', 'edge, kept'), (1004, now() - interval '1 day', 'new');
  create table app.regions (id bigint not null, region text not null, at timestamptz not null, primary key (id, region)) partition by list (region);
  create table app.regions_eu partition of app.regions for values in ('eu');
  create table app.regions_other partition of app.regions default;
  insert into app.regions values (1, 'eu', now() - interval '90 days'), (2, 'us', now() - interval '90 days'), (3, 'eu', now() - interval '1 day');`;

async function seed(withDefault = false): Promise<void> {
  const { rows } = await env.db.pool.query(`select (now() - interval '70 days')::text as old, (now() - interval '40 days')::text as edge`);
  await env.db.pool.query(SCHEMA.replaceAll('$OLD', rows[0].old).replaceAll('$EDGE', rows[0].edge));
  // pg_partman's layout keeps a default partition: DETACH cannot then be CONCURRENTLY.
  if (withDefault) await env.db.pool.query(`create table app.logs_default partition of app.logs default`);
}

const partitionsOf = async (parent: string) =>
  (
    await env.db.pool.query(`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = $1::regclass order by 1`, [parent])
  ).rows.map((r) => r.relname);

const logsPolicy = { name: 'logs', table: 'app.logs', id_column: ['id', 'at'], timestamp_column: 'at', older_than: '45d' };
const task = (policy: Record<string, unknown>, extra: Record<string, unknown> = {}, retry: Record<string, unknown> = { maximum_attempts: 1 }) =>
  parseTask({ id: 'partitions', type: 'retention.enforce', config: { policies: [policy], max_fraction: 1, ...extra }, retry });

/**
 * The first DROP of app.logs_old fails, as a lock_timeout would, after its DETACH committed. The
 * count lives in a sequence: nextval survives the rollback of the failing DROP.
 */
const FAIL_FIRST_DROP = `
  drop sequence if exists public.drops_of_logs_old;
  create sequence public.drops_of_logs_old;
  create or replace function public.fail_first_drop() returns event_trigger language plpgsql as $$
  begin
    if exists (select 1 from pg_event_trigger_dropped_objects() where object_identity = 'app.logs_old') then
      if nextval('public.drops_of_logs_old') = 1 then
        raise exception 'injected: lock timeout dropping app.logs_old' using errcode = 'lock_not_available';
      end if;
    end if;
  end $$;
  create event trigger fail_first_drop on sql_drop when tag in ('DROP TABLE') execute function public.fail_first_drop();`;

const count = async (sql: string) => Number((await env.db.pool.query(sql)).rows[0].n);
const pendingIntents = () => count(`select count(*) as n from caretaker.detached_partitions`);
const dropsTried = () => count(`select last_value as n from public.drops_of_logs_old`);
const standalone = async (name: string) =>
  (await env.db.pool.query(`select relispartition from pg_class where oid = to_regclass($1)`, [name])).rows[0]?.relispartition === false;

describe('partition-aware retention', () => {
  beforeEach(() => seed());

  it('drops the partition wholly past retention, deletes the boundary rows one by one, dry run reports the same', async () => {
    const before = await snapshot(env.db.pool, 'app.logs', 'id');
    const preview = await runTaskWorkflow(env.temporal, task(logsPolicy), { dryRun: true });
    expect(await snapshot(env.db.pool, 'app.logs', 'id')).toEqual(before);
    expect(await partitionsOf('app.logs')).toEqual(['logs_edge', 'logs_new', 'logs_old']);

    const real = await runTaskWorkflow(env.temporal, task(logsPolicy));
    expect(real.counts).toEqual({ matched: 302, deleted: 302, partitions_dropped: 1 });
    expect(real.counts).toEqual(realNames(preview.counts));
    expect(preview.counts).toMatchObject({ would_delete: 302, would_drop_partitions: 1 });
    expect(real.tables).toEqual({ 'app.logs': { deleted: 302 } });
    expect(real.details.find((d) => d.partition === 'app.logs_old')).toMatchObject({ rows: 300, action: 'drop' });
    // Rows that must stay, stay, unchanged; the old partition is gone, the others are still attached.
    expect(await snapshot(env.db.pool, 'app.logs', 'id')).toEqual(before.filter((r) => [1003, 1004].includes(Number(r.id))));
    expect(await partitionsOf('app.logs')).toEqual(['logs_edge', 'logs_new']);
    expect((await env.db.pool.query(`select to_regclass('app.logs_old') as t`)).rows[0].t).toBeNull();
  });

  it('with a default partition (pg_partman layout) detaches without CONCURRENTLY; archive moves the partition to a schema', async () => {
    await seed(true);
    const policy = { ...logsPolicy, partitions: { action: 'archive', archive_schema: 'archive' } };
    const preview = await runTaskWorkflow(env.temporal, task(policy), { dryRun: true });
    const real = await runTaskWorkflow(env.temporal, task(policy));
    expect(real.counts).toEqual({ matched: 302, deleted: 302, partitions_archived: 1 });
    expect(real.counts).toEqual(realNames(preview.counts));
    expect(await partitionsOf('app.logs')).toEqual(['logs_default', 'logs_edge', 'logs_new']);
    expect((await env.db.pool.query(`select count(*)::int as n, min(msg) as msg from archive.logs_old`)).rows[0]).toEqual({ n: 300, msg: 'old' });
  });

  it('goes row by row for a list-partitioned table and with partitions: { action: rows }', async () => {
    const regions = await runTaskWorkflow(env.temporal, task({ table: 'app.regions', id_column: ['id', 'region'], timestamp_column: 'at', older_than: '45d' }));
    expect(regions.counts).toEqual({ matched: 2, deleted: 2 });
    expect((await snapshot(env.db.pool, 'app.regions', 'id')).map((r) => Number(r.id))).toEqual([3]);

    const rows = await runTaskWorkflow(env.temporal, task({ ...logsPolicy, partitions: { action: 'rows' } }));
    expect(rows.counts).toEqual({ matched: 302, deleted: 302 });
    expect(await partitionsOf('app.logs')).toEqual(['logs_edge', 'logs_new', 'logs_old']);
  });

  it('counts partition rows against max_fraction before dropping anything', async () => {
    const refused = await runTaskWorkflow(env.temporal, task(logsPolicy, { max_fraction: 0.5 })).catch(
      (e: { cause?: { cause?: Error } }) => e.cause?.cause?.message,
    );
    expect(refused).toMatch(/logs: would delete 302 of 304 rows of app\.logs/);
    expect(await partitionsOf('app.logs')).toEqual(['logs_edge', 'logs_new', 'logs_old']);
  });

  describe('when the DROP fails after the DETACH committed', () => {
    beforeEach(() => env.db.pool.query(FAIL_FIRST_DROP));
    afterEach(() => env.db.pool.query('drop event trigger if exists fail_first_drop'));

    it("the activity's retry drops the detached partition and counts its rows; nothing else changes", async () => {
      const before = await snapshot(env.db.pool, 'app.logs', 'id');
      const regions = await snapshot(env.db.pool, 'app.regions', 'id');
      const real = await runTaskWorkflow(env.temporal, task(logsPolicy, {}, { maximum_attempts: 2, initial_interval: '100ms' }));
      expect(real.counts).toEqual({ matched: 302, deleted: 302, partitions_dropped: 1 });
      // Attempt 1 detached app.logs_old and failed on its DROP; attempt 2 dropped it.
      expect(await dropsTried()).toBe(2);
      expect(real.tables).toEqual({ 'app.logs': { deleted: 302 } });
      expect(real.details.find((d) => d.partition === 'app.logs_old')).toMatchObject({ rows: 300, action: 'drop' });
      expect(await snapshot(env.db.pool, 'app.logs', 'id')).toEqual(before.filter((r) => [1003, 1004].includes(Number(r.id))));
      expect(await snapshot(env.db.pool, 'app.regions', 'id')).toEqual(regions);
      expect(await partitionsOf('app.logs')).toEqual(['logs_edge', 'logs_new']);
      expect((await env.db.pool.query(`select to_regclass('app.logs_old') as t`)).rows[0].t).toBeNull();
      expect(await pendingIntents()).toBe(0);
    });

    it('a failed run leaves an intent: a dry run counts the detached partition, the next run drops it', async () => {
      const before = await snapshot(env.db.pool, 'app.logs', 'id');
      const failure = await taskFailure(runTaskWorkflow(env.temporal, task(logsPolicy)));
      expect(failure.message).toMatch(/injected: lock timeout/);
      expect(await standalone('app.logs_old')).toBe(true);
      expect(await partitionsOf('app.logs')).toEqual(['logs_edge', 'logs_new']);

      const preview = await runTaskWorkflow(env.temporal, task(logsPolicy), { dryRun: true });
      expect(preview.counts).toEqual({ matched: 302, would_delete: 302, would_drop_partitions: 1 });
      // The dry run dropped nothing and left the intent for the real run.
      expect(await count(`select count(*) as n from app.logs_old`)).toBe(300);
      expect(await pendingIntents()).toBe(1);

      const real = await runTaskWorkflow(env.temporal, task(logsPolicy));
      expect(real.counts).toEqual({ matched: 302, deleted: 302, partitions_dropped: 1 });
      expect(real.counts).toEqual(realNames(preview.counts));
      expect(real.details.find((d) => d.partition === 'app.logs_old')).toMatchObject({ rows: 300, action: 'drop' });
      expect(await snapshot(env.db.pool, 'app.logs', 'id')).toEqual(before.filter((r) => [1003, 1004].includes(Number(r.id))));
      expect(await partitionsOf('app.logs')).toEqual(['logs_edge', 'logs_new']);
      expect((await env.db.pool.query(`select to_regclass('app.logs_old') as t`)).rows[0].t).toBeNull();
      expect(await pendingIntents()).toBe(0);
    });
  });

  describe('when the run fails right after a DROP, before the next step', () => {
    // The partition's ledger entry fails once, as a worker lost at that moment would leave it.
    const FAIL_FIRST_RECORD = `
      drop sequence if exists public.partition_records;
      create sequence public.partition_records;
      create or replace function public.fail_first_partition_record() returns trigger language plpgsql as $$
      begin
        if new.effect::text like '%partitions_dropped%' then
          if nextval('public.partition_records') = 1 then
            raise exception 'injected: worker lost after dropping app.logs_old' using errcode = 'lock_not_available';
          end if;
        end if;
        return new;
      end $$;
      create trigger fail_first_partition_record before insert on caretaker.ledger for each row execute function public.fail_first_partition_record();`;
    beforeEach(async () => {
      // A real run that changes nothing creates the ledger the trigger goes on.
      await runTaskWorkflow(env.temporal, task({ ...logsPolicy, older_than: '1000d' }));
      await env.db.pool.query(FAIL_FIRST_RECORD);
    });
    afterEach(() => env.db.pool.query('drop trigger if exists fail_first_partition_record on caretaker.ledger'));

    it('the DROP and its ledger entry commit together: the retry drops the partition and counts its rows once', async () => {
      const before = await snapshot(env.db.pool, 'app.logs', 'id');
      const real = await runTaskWorkflow(env.temporal, task(logsPolicy, {}, { maximum_attempts: 2, initial_interval: '100ms' }));
      // Attempt 1's DROP rolled back with its failed ledger entry; attempt 2 dropped the partition and
      // recorded it. Had the DROP committed alone, attempt 2 would find no partition and count 2 rows.
      expect(await count(`select last_value as n from public.partition_records`)).toBe(2);
      expect(real.counts).toEqual({ matched: 302, deleted: 302, partitions_dropped: 1 });
      expect(real.details.find((d) => d.partition === 'app.logs_old')).toMatchObject({ rows: 300, action: 'drop' });
      expect(await snapshot(env.db.pool, 'app.logs', 'id')).toEqual(before.filter((r) => [1003, 1004].includes(Number(r.id))));
      expect(await partitionsOf('app.logs')).toEqual(['logs_edge', 'logs_new']);
      expect(await pendingIntents()).toBe(0);
    });
  });
});
