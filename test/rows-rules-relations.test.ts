import { rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caretaker } from './cli';
import { beforeEach, describe, expect, it } from 'vitest';
import { runTaskWorkflow, taskFailure } from './fixtures';
import { dryThenReal, expectFates, readmeTask, rowsOf, rulesTask } from './rows-rules-support';
import { useTaskEnvironment } from './support';

/**
 * `rows.rules` relations (issue 18, "Why": unreferenced parents; rules that depend on each other):
 * `unreferenced_by` and `missing_parent` as conditions, on small real schemas, every row's fate checked.
 * The configs are README's "Rules" section, as written there.
 */
const env = useTaskEnvironment('rows_rules_relations');

describe('unreferenced parents', () => {
  beforeEach(async () => {
    await env.db.pool.query(`
      drop table if exists jobs, queues, scheduled, task_identifiers;
      create table queues (id int primary key, name text not null unique);
      create table jobs (id int primary key, queue_id int references queues (id), state text not null);
      -- referenced by name, without a foreign key (graphile-worker's task identifiers)
      create table task_identifiers (id int primary key, identifier text not null unique);
      create table scheduled (id int primary key, task_identifier text);
      insert into queues values (1, 'default'), (2, 'mailers'), (3, 'old'), (4, 'unused'), (5, 'empty');
      insert into jobs values (1, 1, 'running'), (2, 1, 'done'), (3, 2, 'queued'), (4, null, 'queued');
      insert into task_identifiers values (1, 'send_email'), (2, 'resize'), (3, 'import'), (4, 'gone');
      insert into scheduled values (1, 'send_email'), (2, 'import'), (3, null), (4, 'import');`);
  });

  it('deletes the parents no row references and keeps the referenced ones; the dry run says the same', async () => {
    const queues = await rowsOf(env.db.pool, 'queues');
    const ids = await rowsOf(env.db.pool, 'task_identifiers');
    const jobs = await rowsOf(env.db.pool, 'jobs');
    const real = await dryThenReal(env.temporal, env.db.pool, readmeTask('unused-parents', { batch_size: 2 }), {
      queues: 'id',
      task_identifiers: 'id',
      jobs: 'id',
      scheduled: 'id',
    });
    expect(real.sets).toEqual({ 'unused-queues': { matched: 3, deleted: 3 }, 'unused-identifiers': { matched: 2, deleted: 2 } });
    expectFates(queues, await rowsOf(env.db.pool, 'queues'), { gone: ['3', '4', '5'] });
    expectFates(ids, await rowsOf(env.db.pool, 'task_identifiers'), { gone: ['2', '4'] });
    expectFates(jobs, await rowsOf(env.db.pool, 'jobs'), {});
  });

  it('max_fraction counts over the table: 3 of 5 queues is refused at 0.5, before anything changes', async () => {
    const queues = await rowsOf(env.db.pool, 'queues');
    const failure = await taskFailure(runTaskWorkflow(env.temporal, readmeTask('unused-parents', { max_fraction: 0.5 })));
    expect(failure.type).toBe('SafetyLimitExceeded');
    expect(failure.message).toContain('unused-queues: would delete 3 of 5 rows of public.queues (60%), more than max_fraction 0.5');
    expect(await rowsOf(env.db.pool, 'queues')).toEqual(queues);
  });

  it('a parent referenced by a row inserted between the runs is kept', async () => {
    await env.db.pool.query(`insert into jobs values (5, 4, 'queued')`);
    const real = await runTaskWorkflow(env.temporal, readmeTask('unused-parents', { max_fraction: 1 }));
    expect(real.sets).toEqual({ 'unused-queues': { matched: 2, deleted: 2 }, 'unused-identifiers': { matched: 2, deleted: 2 } });
    expect([...(await rowsOf(env.db.pool, 'queues')).keys()]).toEqual(['1', '2', '4']);
  });

  it('archive: the unreferenced queues move to an archive table (the columns both tables have); the dry run says the same', async () => {
    await env.db.pool.query(`drop table if exists queues_archive;
      create table queues_archive (id int primary key, name text not null, archived_at timestamptz not null default now())`);
    const queues = await rowsOf(env.db.pool, 'queues');
    const rules = [{ name: 'archive-unused', table: 'queues', unreferenced_by: [{ table: 'jobs', column: 'queue_id' }], archive: { table: 'queues_archive' } }];
    const real = await dryThenReal(env.temporal, env.db.pool, rulesTask({ rules }), { queues: 'id', queues_archive: 'id' });
    expect(real.sets).toEqual({ 'archive-unused': { matched: 3, archived: 3 } });
    expectFates(queues, await rowsOf(env.db.pool, 'queues'), { gone: ['3', '4', '5'] });
    const archived = (await env.db.pool.query('select id, name from queues_archive order by id')).rows;
    expect(archived).toEqual([3, 4, 5].map((id) => ({ id, name: queues.get(String(id))!.name })));
  });
});

describe('a relation that is only read may be a view', () => {
  beforeEach(async () => {
    await env.db.pool.query(`
      drop view if exists queued_jobs; drop table if exists jobs, queues;
      create table queues (id int primary key, name text not null unique);
      create table jobs (id int primary key, queue_id int references queues (id), state text not null);
      create view queued_jobs as select * from jobs where state = 'queued';
      insert into queues values (1, 'default'), (2, 'mailers'), (3, 'old');
      insert into jobs values (1, 1, 'running'), (2, 1, 'done'), (3, 2, 'queued');`);
  });

  it('unreferenced_by a view (named without a schema) reads the rows the view shows; the dry runs say the same', async () => {
    const rules = [{ name: 'no-queued-jobs', table: 'queues', unreferenced_by: [{ table: 'queued_jobs', column: 'queue_id' }], report: {} }];
    const real = await dryThenReal(env.temporal, env.db.pool, rulesTask({ rules }), { queues: 'id', jobs: 'id' });
    expect(real.sets).toEqual({ 'no-queued-jobs': { matched: 2, reported: 2 } });
    expect(real.details.map((d) => d.id)).toEqual(['1', '3']);
  });

  it('pg_catalog views need no schema, as in SQL; an index is refused, naming what may stand there', async () => {
    // No backend has pid 1, 2 or 3 (other sessions' locks on this server cannot match): every queue misses.
    const rules = (table: string) => [{ name: 'no-lock', table: 'queues', missing_parent: { table, column: 'id', parent_column: 'pid' }, report: {} }];
    const real = await runTaskWorkflow(env.temporal, rulesTask({ rules: rules('pg_locks') }));
    expect(real.sets).toEqual({ 'no-lock': { matched: 3, reported: 3 } });
    const failure = await taskFailure(runTaskWorkflow(env.temporal, rulesTask({ rules: rules('queues_name_key') })));
    expect(failure.message).toMatch(
      /no-lock\)\.missing_parent: "queues_name_key" is an index \(public\.queues_name_key\); a relation a rule reads must be a table, view, materialized view or foreign table/,
    );
  });
});

describe('parent: the row a reference finds, readable as parent.<column>', () => {
  beforeEach(async () => {
    await env.db.pool.query(`
      drop view if exists queued_jobs; drop table if exists jobs_archive, jobs, queues;
      create table queues (id int primary key, name text not null, paused boolean not null);
      create table jobs (id int primary key, queue_id int references queues (id), state text not null);
      create table jobs_archive (id int primary key, note text not null);
      insert into queues values (1, 'default', false), (2, 'mailers', true);
      insert into jobs values (1, 1, 'queued'), (2, 2, 'queued'), (3, 2, 'done'), (4, null, 'queued');`);
  });

  it('archives the rows whose parent matches, with values read from it; the dry runs say the same', async () => {
    const rules = [
      {
        name: 'archive-paused',
        table: 'jobs',
        parent: { table: 'queues', column: 'queue_id' },
        where: "parent.paused and state = 'queued'",
        archive: { table: 'jobs_archive', columns: ['id'], values: { note: "'paused in ' || parent.name" } },
      },
    ];
    const real = await dryThenReal(env.temporal, env.db.pool, rulesTask({ rules }), { jobs: 'id', jobs_archive: 'id' });
    expect(real.sets).toEqual({ 'archive-paused': { matched: 1, archived: 1 } });
    expect((await env.db.pool.query('select id, note from jobs_archive')).rows).toEqual([{ id: 2, note: 'paused in mailers' }]);
  });

  it('refuses a parent_column that is not a unique key, and parent.<column> outside where and archive.values', async () => {
    const base = { name: 'r', table: 'jobs', archive: { table: 'jobs_archive', columns: ['id'], values: { note: "'x'" } } };
    const notUnique = await taskFailure(
      runTaskWorkflow(env.temporal, rulesTask({ rules: [{ ...base, parent: { table: 'queues', column: 'queue_id', parent_column: 'name' } }] })),
    );
    expect(notUnique.message).toMatch(/config\.rules\[0\] \(r\)\.parent: parent_column "name" is not a unique key of public\.queues/);
    const inUpdate = await taskFailure(
      runTaskWorkflow(
        env.temporal,
        rulesTask({ rules: [{ name: 'r', table: 'jobs', parent: { table: 'queues', column: 'queue_id' }, update: { state: 'parent.name' } }] }),
      ),
    );
    expect(inUpdate.message).toMatch(
      /"parent\.name" in "parent\.name": a column may be qualified only by its table's name \(jobs\); other tables are not readable here/,
    );
  });
});

describe('rules that depend on each other (ThesisApp, test/examples/thesisapp.sql)', () => {
  beforeEach(async () => {
    await env.db.pool.query('drop table if exists analysis_tasks, generated_applications, app_directories; drop type if exists analysis_status');
    await env.db.pool.query(await readFile(join(__dirname, 'examples', 'thesisapp.sql'), 'utf8'));
    // The directories on disk, as a table: anthropic_claude/2 has none (the orphan app).
    await env.db.pool.query(`create table app_directories (model_slug text, app_number int, primary key (model_slug, app_number));
      insert into app_directories values ('openai_gpt-4', 1), ('openai_gpt-4', 2), ('anthropic_claude', 1)`);
  });

  it.each([
    { name: 'read ahead (default)', config: {}, readAhead: 4 },
    { name: 'walked, read_ahead: 0', config: { read_ahead: 0 }, readAhead: 0 },
  ])('$name: rule 2 cancels the 3 tasks of missing apps, including the app rule 1 deleted', async ({ config, readAhead }) => {
    const tasks = await rowsOf(env.db.pool, 'analysis_tasks');
    const apps = await rowsOf(env.db.pool, 'generated_applications');
    const real = await runTaskWorkflow(env.temporal, readmeTask('orphans', { batch_size: 2, ...config }));
    expect(real.sets).toEqual({ 'orphan-apps': { matched: 1, deleted: 1 }, 'tasks-of-missing-apps': { matched: 3, updated: 3 } });
    expect(real.pace?.readAhead).toBe(readAhead);
    const idOf = (taskId: string) => [...tasks].find(([, r]) => r.task_id === taskId)![0];
    const cancelled = { status: 'CANCELLED', error_message: 'Target app no longer exists' };
    expectFates(apps, await rowsOf(env.db.pool, 'generated_applications'), { gone: ['4'] });
    expectFates(tasks, await rowsOf(env.db.pool, 'analysis_tasks'), {
      changed: { [idOf('k01')]: cancelled, [idOf('k02')]: cancelled, [idOf('k05')]: cancelled },
    });
  });

  it('a dry run judges each rule on the data as it is: it cannot show rule 2 depending on rule 1, and says so', async () => {
    const preview = await runTaskWorkflow(env.temporal, readmeTask('orphans'), { dryRun: true });
    expect(preview.sets).toEqual({ 'orphan-apps': { matched: 1, would_delete: 1 }, 'tasks-of-missing-apps': { matched: 2, would_update: 2 } });

    process.env.TEMPORAL_ADDRESS = env.temporal.address;
    const file = join(tmpdir(), `rows-rules-${Date.now()}.yaml`);
    writeFileSync(
      file,
      JSON.stringify({ task_queue: env.temporal.taskQueue, tasks: [{ id: 'orphans', type: 'rows.rules', config: readmeTask('orphans').rawConfig }] }),
    );
    const run = await caretaker('run', 'orphans', '--dry-run', '--wait', '-f', file);
    rmSync(file);
    expect(run.code).toBe(0);
    expect(run.out).toContain(
      'note: task orphans.config.rules[1] (tasks-of-missing-apps) reads generated_applications, which rules[0] (orphan-apps) changes first: ' +
        'the real run sees those changes, a dry run (each rule rolled back) cannot show them',
    );
  });
});

describe('a composite key on a schema-qualified table', () => {
  it('deletes expired sessions by (user_id, token), one row per batch, the dry runs saying the same', async () => {
    await env.db.pool.query(`drop schema if exists auth cascade; create schema auth;
      create table auth.sessions (user_id int not null, token text not null, expires_at timestamptz not null, data jsonb, primary key (user_id, token));
      insert into auth.sessions values
        (1, 'a', now() - interval '1 minute', '{}'), (1, 'b', now() + interval '1 minute', '{}'),
        (2, 'a', now() - interval '1 day', null), (3, 'z', now() - interval '1 minute', '{"keep": false}')`);
    const key = "user_id::text || '/' || token";
    const before = await rowsOf(env.db.pool, 'auth.sessions', key);
    const rules = [{ name: 'expired-sessions', table: 'auth.sessions', key: ['user_id', 'token'], where: 'expires_at < now()', delete: {} }];
    const real = await dryThenReal(env.temporal, env.db.pool, rulesTask({ rules, batch_size: 1, read_ahead: 0 }), { 'auth.sessions': key });
    expect(real.sets).toEqual({ 'expired-sessions': { matched: 3, deleted: 3 } });
    expect(real.details.map((d) => d.id)).toEqual([
      ['1', 'a'],
      ['2', 'a'],
      ['3', 'z'],
    ]);
    expectFates(before, await rowsOf(env.db.pool, 'auth.sessions', key), { gone: ['1/a', '2/a', '3/z'] });
  });
});
