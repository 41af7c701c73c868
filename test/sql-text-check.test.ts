import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load';
import { configWarnings } from '../config/warnings';
import { caretaker } from './cli';
import { createTestDatabase, type TestDatabase } from './support';

// `caretaker validate` and `caretaker check` on rows.rules SQL text: no Temporal, the test's own database.

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('sql_text_check');
  await db.pool.query(`
    create table jobs (id bigint primary key, state text not null, attempt int not null default 0, max_attempts int not null default 3,
                       locked_at timestamptz, run_at timestamptz not null default now());
    create function volatile_fn() returns int language sql volatile as 'select 1';`);
  process.env.DATABASE_URL = db.url;
  dir = mkdtempSync(join(tmpdir(), 'caretaker-sql-text-'));
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
function configWith(rules: object[]): string {
  const file = join(dir, `maintenance-${++files}.yaml`);
  const lines = ['tasks:', '  - id: jobs-maintenance', '    type: rows.rules', '    schedule: { every: 5m }', '    config:', '      rules:'];
  for (const rule of rules) lines.push(`        - ${JSON.stringify(rule)}`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const ok = { name: 'release-stale-locks', table: 'jobs', where: "locked_at < now() - interval '4 hours'", update: { locked_at: null } };

describe('rows.rules SQL text', () => {
  it('validate names the file, the line, the rule path, the fragment and what is allowed', async () => {
    const file = configWith([ok, { name: 'bad', table: 'jobs', where: 'id in (select id from jobs) and attempt < 3', delete: {} }]);
    const run = await caretaker('validate', '-f', file);
    expect(run.code).not.toBe(0);
    expect(run.err + run.out).toMatch(
      new RegExp(
        `${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:8: tasks\\[0\\]\\.config\\.rules\\[1\\]\\.where: expected a SQL condition: subqueries are not allowed.*"id in \\(select id from jobs\\)"; allowed: column names`,
      ),
    );
  });

  it('check lists every unknown column and volatile function with its fix, and passes once they are fixed', async () => {
    const bad = {
      name: 'requeue',
      table: 'jobs',
      where: 'atempt < max_attempts and clock_timestamp() > run_at',
      update: { state: 'retryable', attempt: 'attempt + volatile_fn()' },
    };
    const failing = await caretaker('check', '--json', '-f', configWith([ok, bad]));
    expect(failing.code).toBe(1);
    const report = JSON.parse(failing.out) as { databases: { tasks: { task: string; findings: { severity: string; message: string }[] }[] }[] };
    const findings = report.databases.flatMap((d) => d.tasks.flatMap((t) => t.findings.map((f) => `${f.severity}: ${f.message}`)));
    expect(findings).toEqual([
      expect.stringMatching(/^error: task jobs-maintenance: config\.rules\[1\] \(requeue\)\.where: column "atempt" .*did you mean "attempt"\?/),
      expect.stringMatching(/^error: .*\.where: function pg_catalog\.clock_timestamp\(\) is VOLATILE .*; write now\(\) \(the transaction's time\) instead$/),
      expect.stringMatching(/^error: .*\.update\.state: column "retryable" .*; for the text write 'retryable' \(SQL quotes\) or \{ value: retryable \}/),
      expect.stringMatching(
        /^error: .*\.update\.attempt: function public\.volatile_fn\(\) is VOLATILE .*mark it: alter function "public"\."volatile_fn"\(\) stable$/,
      ),
    ]);
    const fixed = { ...bad, where: 'attempt < max_attempts and now() > run_at', update: { state: "'retryable'", attempt: 'attempt + 1' } };
    const passing = await caretaker('check', '-f', configWith([ok, fixed]));
    expect(passing.out).toContain('jobs-maintenance (rows.rules): ok');
    expect(passing.code).toBe(0);
  });
});

describe('validate: rules that depend on an earlier rule', () => {
  const warningsFor = (rules: object[]) =>
    configWarnings(
      parseConfigText(JSON.stringify({ tasks: [{ id: 'chain', type: 'rows.rules', schedule: { every: '5m' }, config: { rules } }] }), 't.yaml', {}),
    );
  const dependence = (later: string, table: string, earlier: string) =>
    `tasks[0] (chain).config.rules[1] (${later}) reads ${table}, which rules[0] (${earlier}) changes first: the real run sees those changes, a dry run (each rule rolled back) cannot show them`;

  it('names a later rule that reads a table an earlier rule changes: its own table, the children it deletes, the archive it fills', () => {
    const deleteApps = { name: 'orphan-apps', table: 'apps', where: 'owner_id is null', delete: { children: [{ table: 'builds', column: 'app_id' }] } };
    expect(
      warningsFor([deleteApps, { name: 'tasks-of-missing-apps', table: 'tasks', missing_parent: { table: 'apps', column: 'app_id' }, report: {} }]),
    ).toEqual([dependence('tasks-of-missing-apps', 'apps', 'orphan-apps')]);
    expect(warningsFor([deleteApps, { name: 'old-builds', table: 'public.builds', where: 'true', report: {} }])).toEqual([
      dependence('old-builds', 'builds', 'orphan-apps'),
    ]);
    const archive = { name: 'archive-runs', table: 'runs', where: "state = 'done'", archive: { table: 'runs_archive' } };
    expect(warningsFor([archive, { name: 'trim-archive', table: 'runs_archive', where: 'true', delete: {} }])).toEqual([
      dependence('trim-archive', 'runs_archive', 'archive-runs'),
    ]);
    const branchDelete = {
      name: 'finish',
      table: 'jobs',
      where: 'true',
      cases: [{ when: 'done', delete: { children: [{ table: 'job_logs', column: 'job_id' }] } }, { report: {} }],
    };
    expect(warningsFor([branchDelete, { name: 'logs', table: 'job_logs', where: 'true', report: {} }])).toEqual([dependence('logs', 'job_logs', 'finish')]);
  });

  it('says nothing when the earlier rule only reports, or the tables differ', () => {
    expect(
      warningsFor([
        { name: 'look', table: 'apps', where: 'true', report: {} },
        { name: 'then', table: 'apps', where: 'true', delete: {} },
      ]),
    ).toEqual([]);
    expect(
      warningsFor([
        { name: 'a', table: 'apps', where: 'true', delete: {} },
        { name: 'b', table: 'tasks', where: 'true', delete: {} },
      ]),
    ).toEqual([]);
  });
});

describe('rows.rules SQL text on a related table', () => {
  it("check reads a relation's where against the related table's columns, and passes once fixed", async () => {
    await db.pool.query(
      'create table if not exists queues (id bigint primary key, name text not null); alter table jobs add column if not exists queue_id bigint',
    );
    const rule = (where: string) => ({ name: 'idle-queues', table: 'queues', unreferenced_by: [{ table: 'jobs', column: 'queue_id', where }], report: {} });
    const failing = await caretaker('check', '--json', '-f', configWith([rule("stat = 'running' and volatile_fn() > 0")]));
    expect(failing.code).toBe(1);
    const report = JSON.parse(failing.out) as { databases: { tasks: { findings: { severity: string; message: string }[] }[] }[] };
    const findings = report.databases.flatMap((d) => d.tasks.flatMap((t) => t.findings.map((f) => `${f.severity}: ${f.message}`)));
    // Both at once (a run stops at the first): the column against jobs, not queues, and the function.
    expect(findings).toEqual([
      expect.stringMatching(
        /^error: .*config\.rules\[0\] \(idle-queues\)\.unreferenced_by\[0\]\.where: column "stat" .*in table public\.jobs; did you mean "state"\?/,
      ),
      expect.stringMatching(/^error: .*\.unreferenced_by\[0\]\.where: function public\.volatile_fn\(\) is VOLATILE/),
    ]);
    const passing = await caretaker('check', '-f', configWith([rule("state = 'running'")]));
    expect(passing.out).toContain('jobs-maintenance (rows.rules): ok');
    expect(passing.code).toBe(0);
  });
});
