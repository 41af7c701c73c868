import { describe, expect, it } from 'vitest';
import { useTaskEnvironment } from './support';
import { parseTask, runTaskWorkflow, taskFailure } from './fixtures';

const env = useTaskEnvironment('dbtasks');

const vacuumTask = (config: Record<string, unknown>) => parseTask({ id: 'vacuum', type: 'db.vacuum', config });
const lastVacuum = async (table: string) =>
  (await env.db.pool.query(`select last_vacuum, last_analyze from pg_stat_user_tables where relname = $1`, [table])).rows[0] as {
    last_vacuum: Date | null;
    last_analyze: Date | null;
  };
const relfilenode = async (index: string) =>
  (await env.db.pool.query(`select relfilenode::int as n from pg_class where relname = $1`, [index])).rows[0].n as number;

describe('db.vacuum', () => {
  it('vacuums (and analyzes) the listed tables; a dry run only reports them', async () => {
    await env.db.pool.query(`
      create table events (id bigserial primary key, body text);
      create table untouched (id int);
      insert into events (body) select 'x' from generate_series(1, 2000);
      delete from events where id % 2 = 0;`);
    const preview = await runTaskWorkflow(env.temporal, vacuumTask({ tables: ['events'] }), { dryRun: true });
    expect(preview.counts).toMatchObject({ would_vacuum: 1 });
    expect(preview.details[0]).toMatchObject({ action: 'vacuum', table: 'public.events' });
    expect((await lastVacuum('events')).last_vacuum).toBeNull();

    const real = await runTaskWorkflow(env.temporal, vacuumTask({ tables: ['events'] }));
    expect(real.counts).toMatchObject({ vacuumed: 1, skipped: 0 });
    expect(await lastVacuum('events')).toMatchObject({ last_vacuum: expect.any(Date), last_analyze: expect.any(Date) });
    expect((await lastVacuum('untouched')).last_vacuum).toBeNull();
  });

  it('REINDEXes CONCURRENTLY only indexes above the bloat threshold, measured with pgstattuple', async () => {
    await env.db.pool.query(`
      create extension if not exists pgstattuple;
      create table bloated (id int primary key, v text);
      create index bloated_v on bloated (v);
      create table tidy (id int primary key);
      insert into bloated select g, md5(g::text) from generate_series(1, 40000) g;
      insert into tidy select g from generate_series(1, 40000) g;
      delete from bloated where id % 10 <> 0;`);
    await env.db.pool.query('vacuum bloated'); // not in the statement above: VACUUM refuses an (implicit) transaction
    const before = { pkey: await relfilenode('bloated_pkey'), v: await relfilenode('bloated_v'), tidy: await relfilenode('tidy_pkey') };
    const cfg = { tables: ['bloated', 'tidy'], reindex: { enabled: true, bloat_threshold: 0.5, min_size_bytes: 0 } };
    const preview = await runTaskWorkflow(env.temporal, vacuumTask(cfg), { dryRun: true });
    expect(await relfilenode('bloated_v')).toBe(before.v);
    const real = await runTaskWorkflow(env.temporal, vacuumTask(cfg));
    expect(
      real.details
        .filter((d) => d.action === 'reindex')
        .map((d) => d.index)
        .sort(),
    ).toEqual(['public.bloated_pkey', 'public.bloated_v']);
    expect(
      preview.details
        .filter((d) => d.action === 'reindex')
        .map((d) => d.index)
        .sort(),
    ).toEqual(['public.bloated_pkey', 'public.bloated_v']);
    expect(await relfilenode('bloated_v')).not.toBe(before.v);
    expect(await relfilenode('bloated_pkey')).not.toBe(before.pkey);
    expect(await relfilenode('tidy_pkey')).toBe(before.tidy);
  });

  it('says so when pgstattuple is missing instead of installing it', async () => {
    await env.db.pool.query('drop extension if exists pgstattuple');
    const result = await runTaskWorkflow(env.temporal, vacuumTask({ tables: ['tidy'], reindex: { enabled: true } }));
    expect(result.status).toBe('completed_with_errors');
    expect(result.errors).toEqual([expect.stringContaining('reindex skipped: the pgstattuple extension is not installed')]);
    expect((await env.db.pool.query(`select count(*)::int as n from pg_extension where extname = 'pgstattuple'`)).rows[0].n).toBe(0);
  });
});

describe('procedure.execute', () => {
  const task = (config: Record<string, unknown>) => parseTask({ id: 'proc', type: 'procedure.execute', config, retry: { maximum_attempts: 1 } });

  it('calls allowlisted functions and procedures with parameters; a dry run calls nothing', async () => {
    await env.db.pool.query(`
      create table sessions (id int, age_days int);
      insert into sessions values (1, 40), (2, 5), (3, 90);
      create function purge_sessions(days int) returns int language sql as $$ with d as (delete from sessions where age_days > days returning 1) select count(*)::int from d $$;
      create procedure touch_sessions(by_days int) language sql as $$ update sessions set age_days = age_days + by_days $$;`);
    const config = {
      allowlist: ['purge_sessions', 'public.touch_sessions'],
      calls: [
        { name: 'purge_sessions', args: [30] },
        { name: 'public.touch_sessions', args: [1] },
      ],
    };
    const preview = await runTaskWorkflow(env.temporal, task(config), { dryRun: true });
    expect(preview.counts).toEqual({ would_call: 2 });
    expect((await env.db.pool.query('select count(*)::int as n from sessions')).rows[0].n).toBe(3);

    const real = await runTaskWorkflow(env.temporal, task(config));
    expect(real.details.map((d) => [d.routine, d.kind, d.result])).toEqual([
      ['purge_sessions', 'function', 2],
      ['public.touch_sessions', 'procedure', null],
    ]);
    expect((await env.db.pool.query('select id, age_days from sessions')).rows).toEqual([{ id: 2, age_days: 6 }]);
  });

  it('refuses a call outside the allowlist at validation, and a missing routine without retrying', async () => {
    expect(() => task({ allowlist: ['a'], calls: [{ name: 'drop_everything' }] })).toThrow(
      'tasks[0].config.calls[0].name: expected one of the allowlist (a), got "drop_everything"',
    );
    const failure = await taskFailure(runTaskWorkflow(env.temporal, task({ allowlist: ['nope'], calls: [{ name: 'nope' }] })));
    expect(failure).toMatchObject({ type: 'ConfigError', message: 'task proc: config.calls[0].name: no function or procedure "nope" in this database' });
  });

  it('stops a call that runs past its timeout', async () => {
    await env.db.pool.query(`create function slow() returns int language sql as $$ select 1 from pg_sleep(5) $$`);
    const failure = await taskFailure(runTaskWorkflow(env.temporal, task({ allowlist: ['slow'], calls: [{ name: 'slow' }], timeout: '1s' })));
    expect(failure.message).toContain('canceling statement due to statement timeout');
  });
});
