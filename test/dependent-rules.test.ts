import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load';
import { runTaskWorkflow, snapshot, taskFailure } from './fixtures';
import { caretaker } from './cli';
import { makeTree } from './examples/harness';
import { useTaskEnvironment } from './support';

/**
 * Rules that depend on each other (issue 16, item 4): rule 1 deletes apps whose directory is gone,
 * rule 2 cancels the active tasks of apps without a row. Each rule selects when it starts, after the
 * rules before it committed, so rule 2 also cancels the tasks of the app rule 1 deleted, whether its
 * keys are read ahead or walked. On ThesisApp's schema (test/examples/thesisapp.sql).
 */
const env = useTaskEnvironment('dependent_rules');
let root = '';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'caretaker-dependent-rules-'));
  // anthropic_claude/app2 has a row but no directory: the orphan app.
  await makeTree(root, { 'generated/apps/openai_gpt-4/app1/': {}, 'generated/apps/openai_gpt-4/app2/': {}, 'generated/apps/anthropic_claude/app1/': {} });
});
afterAll(() => rm(root, { recursive: true, force: true }));

beforeEach(async () => {
  await env.db.pool.query('drop table if exists analysis_tasks, generated_applications; drop type if exists analysis_status');
  await env.db.pool.query(await readFile(join(__dirname, 'examples', 'thesisapp.sql'), 'utf8'));
});

function task(config: Record<string, unknown>) {
  const rules = [
    {
      kind: 'missing_file',
      name: 'orphan apps',
      table: 'generated_applications',
      path_column: 'generated/apps/{model_slug}/app{app_number}',
      base_dir: root,
      action: 'delete',
    },
    {
      kind: 'missing_parent',
      name: 'orphan tasks',
      table: 'analysis_tasks',
      reference_column: ['target_model', 'target_app_number'],
      parent_table: 'generated_applications',
      parent_id_column: ['model_slug', 'app_number'],
      where: { status: ['PENDING', 'RUNNING'] },
      action: 'update',
      set: { status: 'CANCELLED', error_message: 'Target app no longer exists' },
    },
  ];
  const text = JSON.stringify({ tasks: [{ id: 'orphans', type: 'assets.detect_orphans', config: { batch_size: 2, max_fraction: 1, rules, ...config } }] });
  return parseConfigText(text, 'test.yaml', {}).tasks[0]!;
}

const tasks = () => snapshot(env.db.pool, 'analysis_tasks', 'id');
const apps = () => snapshot(env.db.pool, 'generated_applications', 'id');

describe('a rule that depends on an earlier rule of the task', () => {
  it.each([
    { name: 'read ahead (default)', config: {}, readAhead: 3 },
    { name: 'walked, read_ahead: 0', config: { read_ahead: 0 }, readAhead: 0 },
  ])('$name: the tasks of the app rule 1 deletes are cancelled too; no other row changes', async ({ config, readAhead }) => {
    const tasksBefore = await tasks();
    const appsBefore = await apps();

    const real = await runTaskWorkflow(env.temporal, task(config));
    expect(real.sets).toEqual({ 'orphan apps': { matched: 1, deleted: 1 }, 'orphan tasks': { matched: 3, updated: 3 } });
    expect(real.pace?.readAhead).toBe(readAhead);

    // Apps: only anthropic_claude/2 (no directory) is gone.
    expect(await apps()).toEqual(appsBefore.filter((a) => !(a.model_slug === 'anthropic_claude' && a.app_number === 2)));
    // Tasks: k01, k02 (ghost app) and k05 (the app rule 1 deleted) cancelled; every other row as it was.
    const cancelled = ['k01', 'k02', 'k05'];
    const after = await tasks();
    for (const [i, row] of tasksBefore.entries()) {
      if (cancelled.includes(row.task_id as string)) expect(after[i]).toEqual({ ...row, status: 'CANCELLED', error_message: 'Target app no longer exists' });
      else expect(after[i]).toEqual(row);
    }
  });

  it('a dry run judges each rule on the data as it is: it cannot show rule 2 depending on rule 1', async () => {
    const preview = await runTaskWorkflow(env.temporal, task({}), { dryRun: true });
    expect(preview.sets).toEqual({ 'orphan apps': { matched: 1, would_delete: 1 }, 'orphan tasks': { matched: 2, would_update: 2 } });
  });
});

/**
 * A later rule whose delete a foreign key refuses until an earlier rule cleared the references
 * (issue 18): job_logs.job_id references jobs with ON DELETE NO ACTION; rule 1 deletes the logs of
 * old done jobs, rule 2 archives those jobs. The real run works; a dry run rolls rule 1 back, so rule
 * 2 meets the logs and fails with 23503. validate compares the tables rules name and cannot see it;
 * caretaker check reads the foreign keys (pg_constraint) and names the pair.
 */
describe('a rule whose delete a foreign key refuses until an earlier rule ran', () => {
  const SCHEMA = `
    drop table if exists job_logs, jobs_archive, jobs;
    create table jobs (id bigint primary key, state text not null, finished_at timestamptz);
    create table jobs_archive (id bigint primary key, state text not null, finished_at timestamptz);
    create table job_logs (id bigint primary key, job_id bigint not null references jobs, line text not null);
    create index on job_logs (job_id);
    insert into jobs values (1, 'done', now() - interval '40 days'), (2, 'done', now() - interval '40 days'),
      (3, 'done', now() - interval '1 day'), (4, 'running', null), (5, 'running', null);
    insert into job_logs values (10, 1, 'a'), (11, 1, 'b'), (12, 3, 'c'), (13, 4, 'd');`;
  const OLD_DONE = "state = 'done' and finished_at < now() - interval '30 days'";
  const rules = [
    // Harmless pairs, as before: the later rules read jobs, which this rule updates first.
    { name: 'fail-stuck', table: 'jobs', where: "state = 'running' and id = 5", update: { state: "'failed'" } },
    {
      name: 'logs-of-old-done',
      table: 'job_logs',
      parent: { table: 'jobs', column: 'job_id' },
      where: OLD_DONE.replace(/(state|finished_at)/g, 'parent.$1'),
      delete: {},
    },
    { name: 'archive-done', table: 'jobs', where: OLD_DONE, archive: { table: 'jobs_archive' } },
  ];
  const config = { tasks: [{ id: 'jobs', type: 'rows.rules', schedule: { every: '1h' }, config: { max_fraction: 1, rules } }] };
  let file = '';

  beforeAll(async () => {
    file = join(root, 'jobs.yaml');
    await writeFile(file, JSON.stringify(config));
  });
  beforeEach(() => env.db.pool.query(SCHEMA));

  it('caretaker check names the pair (foreign key, NO ACTION); validate and check name the harmless pairs as before', async () => {
    process.env.DATABASE_URL = env.db.url;
    const harmless = (j: number, later: string) =>
      `tasks[0] (jobs).config.rules[${j}] (${later}) reads jobs, which rules[0] (fail-stuck) changes first: ` +
      'the real run sees those changes, a dry run (each rule rolled back) cannot show them';
    const validate = await caretaker('validate', '-f', file);
    expect(validate.out + validate.err).toContain(harmless(1, 'logs-of-old-done'));
    expect(validate.out + validate.err).toContain(harmless(2, 'archive-done'));

    const run = await caretaker('check', '--json', '-f', file);
    const report = JSON.parse(run.out) as { databases: { tasks: { findings: { severity: string; message: string }[] }[] }[] };
    expect(report.databases.flatMap((d) => d.tasks.flatMap((t) => t.findings.map((f) => `${f.severity}: ${f.message}`)))).toEqual([
      'warning: task jobs: config.rules[2] (archive-done) archives rows of jobs that job_logs references (foreign key job_logs_job_id_fkey, ' +
        'ON DELETE NO ACTION); rules[1] (logs-of-old-done) deletes job_logs rows first: a dry run (each rule rolled back) cannot show that, ' +
        'and fails with a foreign-key violation (23503) where a row of jobs is still referenced',
    ]);
    expect(run.code).toBe(0);
  });

  it('names no pair when the later rule deletes the referencing rows itself, or no earlier rule touches them', async () => {
    process.env.DATABASE_URL = env.db.url;
    const findings = async (r: object[]) => {
      await writeFile(file, JSON.stringify({ tasks: [{ ...config.tasks[0], config: { max_fraction: 1, rules: r } }] }));
      const run = await caretaker('check', '--json', '-f', file);
      const report = JSON.parse(run.out) as { databases: { tasks: { findings: { message: string }[] }[] }[] };
      return report.databases.flatMap((d) => d.tasks.flatMap((t) => t.findings.map((f) => f.message)));
    };
    const ownChildren = { name: 'delete-done', table: 'jobs', where: OLD_DONE, delete: { children: [{ table: 'job_logs', column: 'job_id' }] } };
    expect(await findings([rules[1]!, ownChildren])).toEqual([]);
    expect(await findings([rules[0]!, rules[2]!])).toEqual([]);
    await writeFile(file, JSON.stringify(config));
  });

  it('the dry run fails in rules[2] with the foreign-key violation and says what it cannot show; the real run archives the old done jobs', async () => {
    const task = parseConfigText(JSON.stringify(config), 'jobs.yaml', {}).tasks[0]!;
    const failure = await taskFailure(runTaskWorkflow(env.temporal, task, { dryRun: true }));
    expect(failure.message).toMatch(
      /^update or delete on table "jobs" violates foreign key constraint "job_logs_job_id_fkey" on table "job_logs" \(SQLSTATE 23503;/,
    );
    // ... and says what it cannot show, without claiming the real run succeeds.
    expect(failure.message).toMatch(
      /in a batch of archive-done from key "1"\) \(a dry run \(each rule rolled back\) cannot show rules\[1\] \(logs-of-old-done\) deleting job_logs rows first: see `caretaker check`\)$/,
    );
    const real = await runTaskWorkflow(env.temporal, task);
    expect(real.sets).toEqual({
      'fail-stuck': { matched: 1, updated: 1 },
      'logs-of-old-done': { matched: 2, deleted: 2 },
      'archive-done': { matched: 2, archived: 2 },
    });
    expect((await env.db.pool.query('select id from jobs_archive order by id')).rows).toEqual([{ id: '1' }, { id: '2' }]);
  });
});
