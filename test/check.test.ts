import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent } from '../activities/sql/identifiers';
import { caretaker } from './cli';
import { createTestDatabase, type TestDatabase } from './support';

// `caretaker check` needs no Temporal: it reads the config, then the test's own database.
const SCHEMA = `
  create table events (id bigint primary key, created_at timestamptz not null);
  create index on events (created_at);
  insert into events select i, now() - i * interval '1 hour' from generate_series(1, 100) i;
  create table audit_entries (id bigint primary key, created_at timestamptz not null);
  create table orders (id bigint primary key, placed_at timestamptz not null);
  create index on orders (placed_at);
  create table order_items (id bigint primary key, order_id bigint not null references orders (id));
  create table big_log (id bigint primary key, logged_at timestamptz not null);
  insert into big_log select i, now() from generate_series(1, 150000) i;
  create table sessions (id bigint primary key, seen_at timestamp not null);
  analyze;`;

const retention = (id: string, table: string, column: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'retention.enforce',
  schedule: { every: '1h' },
  config: { policies: [{ table, timestamp_column: column, older_than: '30d', ...extra }] },
});
const events = retention('purge-events', 'events', 'created_at');
const orders = retention('purge-orders', 'orders', 'placed_at', { children: [{ table: 'order_items', column: 'order_id' }] });

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('check');
  await db.pool.query(SCHEMA);
  // Sessions read naive timestamps in UTC unless a test says otherwise, whatever the server's default.
  await db.pool.query(`alter database ${quoteIdent(db.name)} set timezone = 'UTC'`);
  process.env.DATABASE_URL = db.url;
  dir = mkdtempSync(join(tmpdir(), 'caretaker-check-'));
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
function configWith(...tasks: object[]): string {
  const file = join(dir, `maintenance-${++files}.yaml`);
  writeFileSync(file, JSON.stringify({ tasks }));
  return file;
}

interface Report {
  errors: number;
  warnings: number;
  databases: {
    database: string;
    findings: { severity: string; message: string }[];
    tasks: { task: string; findings: { severity: string; message: string }[] }[];
  }[];
}

async function checkJson(file: string): Promise<{ code: number; report: Report }> {
  const run = await caretaker('check', '--json', '-f', file);
  return { code: run.code, report: JSON.parse(run.out) as Report };
}

const messages = (report: Report, task: string) =>
  report.databases.flatMap((d) => d.tasks.filter((t) => t.task === task).flatMap((t) => t.findings.map((f) => `${f.severity}: ${f.message}`)));

describe('caretaker check', () => {
  it('passes a config that matches the database (exit 0, no findings)', async () => {
    const run = await caretaker('check', '-f', configWith(events));
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toContain('purge-events (retention.enforce): ok');
    expect(run.out).toContain('0 error(s), 0 warning(s)');
    // Nothing changed: every row is still there, and no ledger schema was created.
    const after = await db.pool.query<{ n: string; ledger: string | null }>(`select count(*) as n, to_regnamespace('caretaker')::text as ledger from events`);
    expect(after.rows[0]).toEqual({ n: '100', ledger: null });
  });

  it('--database checks only that database; a database the environment does not name is an error', async () => {
    const elsewhere = { ...retention('purge-elsewhere', 'events', 'created_at'), database: 'reporting' };
    const file = configWith(events, elsewhere);
    const all = await checkJson(file);
    expect(all.code).toBe(1);
    expect(all.report.databases.find((d) => d.database === 'reporting')!.findings.map((f) => f.message)).toEqual([
      expect.stringContaining('database "reporting" is not configured on this worker (known: default); set CARETAKER_DB_REPORTING=postgres://...'),
    ]);
    const only = await caretaker('check', '--json', '--database', 'default', '-f', file);
    expect(only.code).toBe(0);
    expect((JSON.parse(only.out) as Report).databases.map((d) => d.database)).toEqual(['default']);
  });

  it('fails on a renamed column, naming the task, the table, the column and the likely new name (exit 1)', async () => {
    await db.pool.query('alter table audit_entries rename column created_at to created_on');
    const file = configWith(events, retention('purge-audit', 'audit_entries', 'created_at'));
    const run = await caretaker('check', '-f', file);
    expect(run.code).toBe(1);
    expect(run.out).toContain('purge-audit (retention.enforce): FAILED');
    expect(run.out).toMatch(
      /task purge-audit: config\.policies\[0\]: column "created_at" does not exist in table public\.audit_entries; did you mean "created_on"\?/,
    );
    expect(run.out).toContain('purge-events (retention.enforce): ok');
  });

  it('warns about a child foreign key without an index, and stops once the index exists', async () => {
    const before = await checkJson(configWith(orders));
    expect(before.code).toBe(0);
    expect(messages(before.report, 'purge-orders')).toEqual([
      expect.stringMatching(/^warning: .*no index on public\.order_items \(order_id\), the column\(s\) referencing public\.orders/),
    ]);
    await db.pool.query('create index order_items_order_id on order_items (order_id)');
    try {
      const after = await checkJson(configWith(orders));
      expect(after.code).toBe(0);
      expect(messages(after.report, 'purge-orders')).toEqual([]);
    } finally {
      await db.pool.query('drop index order_items_order_id');
    }
  });

  it('warns when the first batch scans a large table without an index, and not once an index serves it', async () => {
    const task = retention('purge-log', 'big_log', 'logged_at');
    const before = await checkJson(configWith(task));
    expect(before.code).toBe(0);
    expect(messages(before.report, 'purge-log')).toContainEqual(
      expect.stringMatching(/^warning: big_log: the first batch reads all of public\.big_log \(a sequential scan over about 150000 rows\)/),
    );
    // --strict turns warnings into a failing exit code.
    expect((await caretaker('check', '--strict', '-f', configWith(task))).code).toBe(1);
    await db.pool.query('create index big_log_logged_at on big_log (logged_at); analyze big_log');
    try {
      const after = await checkJson(configWith(task));
      expect(messages(after.report, 'purge-log')).toEqual([]);
    } finally {
      await db.pool.query('drop index big_log_logged_at');
    }
  });

  it('warns when the planner expects a run over max_fraction or max_rows_per_run', async () => {
    const task = {
      ...retention('purge-most', 'events', 'created_at'),
      config: { policies: [{ table: 'events', timestamp_column: 'created_at', older_than: '2d' }], max_fraction: 0.2, max_rows_per_run: 10 },
    };
    const { code, report } = await checkJson(configWith(task));
    expect(code).toBe(0);
    const found = messages(report, 'purge-most');
    expect(found).toContainEqual(
      expect.stringMatching(/^warning: events: public\.events: a run would delete about \d+ of 100 rows .* more than max_fraction 0\.2/),
    );
    expect(found).toContainEqual(expect.stringMatching(/^warning: a run would change about \d+ rows .* more than max_rows_per_run 10/));
  });

  it('fails for a role with only SELECT: DELETE on the table and CREATE for the ledger are named (exit 1)', async () => {
    const role = `caretaker_check_${randomBytes(4).toString('hex')}`;
    await db.pool.query(`create role ${quoteIdent(role)} login; grant select on events to ${quoteIdent(role)}`);
    const url = new URL(db.url);
    url.username = role;
    process.env.DATABASE_URL = url.toString();
    try {
      const { code, report } = await checkJson(configWith(events));
      expect(code).toBe(1);
      expect(messages(report, 'purge-events')).toContainEqual(
        expect.stringMatching(new RegExp(`^error: events: public\\.events: the role lacks DELETE on public\\.events.*grant DELETE on public\\.events to it`)),
      );
      expect(report.databases[0]!.findings.map((f) => f.message)).toContainEqual(
        expect.stringContaining(
          `needs CREATE on database ${db.name}; run \`caretaker setup --database default\` as a role that may create it, or grant create on database ${db.name} to ${role}`,
        ),
      );
    } finally {
      process.env.DATABASE_URL = db.url;
      await db.pool.query(`drop owned by ${quoteIdent(role)}; drop role ${quoteIdent(role)}`);
    }
  });

  it('fails on a time zone this PostgreSQL does not know, which a naive timestamp column would be read in (exit 1)', async () => {
    // Node's ICU still knows US/Pacific-New; PostgreSQL's tz database dropped it (2020b).
    const task = retention('expire-sessions', 'sessions', 'seen_at');
    const known = await checkJson(configWith({ ...task, config: { ...task.config, timestamps: { zone: 'America/Los_Angeles' } } }));
    expect(messages(known.report, 'expire-sessions')).toEqual([]);
    const { code, report } = await checkJson(configWith({ ...task, config: { ...task.config, timestamps: { zone: 'US/Pacific-New' } } }));
    expect(code).toBe(1);
    expect(messages(report, 'expire-sessions')).toEqual([
      'error: task expire-sessions: config.timestamps: time zone "US/Pacific-New" is unknown to this PostgreSQL (see pg_timezone_names)',
    ]);
  });

  it('warns about a naive timestamp column read without a zone in a session whose TimeZone is not UTC', async () => {
    const file = configWith(retention('expire-sessions', 'sessions', 'seen_at'));
    expect(messages((await checkJson(file)).report, 'expire-sessions')).toEqual([]);
    await db.pool.query(`alter database ${quoteIdent(db.name)} set timezone = 'Europe/Berlin'`);
    try {
      expect(messages((await checkJson(file)).report, 'expire-sessions')).toEqual([
        expect.stringMatching(
          /^warning: public\.sessions\.seen_at is timestamp without time zone and no timestamps\.zone is set: its age is read in the session's TimeZone Europe\/Berlin/,
        ),
      ]);
      const zoned = retention('expire-sessions', 'sessions', 'seen_at');
      const withZone = configWith({ ...zoned, config: { ...zoned.config, timestamps: { zone: 'UTC' } } });
      expect(messages((await checkJson(withZone)).report, 'expire-sessions')).toEqual([]);
      // The same column in a rows.rules rule's older_than (what `caretaker rules` prints for the retention task).
      const rule = (timestamps?: object) =>
        configWith({
          id: 'old-sessions',
          type: 'rows.rules',
          config: {
            max_fraction: 1,
            rules: [{ name: 'old', table: 'sessions', older_than: { column: 'seen_at', age: '30d' }, report: {} }],
            ...(timestamps && { timestamps }),
          },
        });
      expect(messages((await checkJson(rule())).report, 'old-sessions')).toEqual([
        expect.stringMatching(/^warning: public\.sessions\.seen_at is timestamp without time zone and no timestamps\.zone is set/),
      ]);
      expect(messages((await checkJson(rule({ zone: 'UTC' }))).report, 'old-sessions')).toEqual([]);
    } finally {
      await db.pool.query(`alter database ${quoteIdent(db.name)} set timezone = 'UTC'`);
    }
  });

  it('writes JUnit XML a JUnit parser reads: one suite per database, one case per task, a failure per error', async () => {
    const xmlFile = join(dir, 'caretaker.xml');
    const file = configWith(events, orders, retention('purge-typo', 'events', 'created'));
    const run = await caretaker('check', '--junit', xmlFile, '-f', file);
    expect(run.code).toBe(1);
    const parsed = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '',
      isArray: (name) => ['testsuite', 'testcase', 'failure'].includes(name),
    }).parse(readFileSync(xmlFile, 'utf8'));
    const suite = parsed.testsuites.testsuite[0];
    expect(suite.name).toBe('caretaker check: default');
    expect(suite.failures).toBe('1');
    const cases = Object.fromEntries(suite.testcase.map((c: { name: string }) => [c.name, c]));
    expect(Object.keys(cases)).toEqual(['database', 'purge-events', 'purge-orders', 'purge-typo']);
    expect(cases['purge-events'].failure).toBeUndefined();
    expect(cases['purge-orders'].failure).toBeUndefined();
    expect(cases['purge-orders']['system-out']).toContain('no index on public.order_items (order_id)');
    expect(cases['purge-typo'].failure[0].message).toContain('column "created" does not exist in table public.events; did you mean "created_at"?');
  });

  it("lists every problem in a child table's update values at once, as for the rule's own update, and passes once they are fixed", async () => {
    await db.pool.query(`
      create table apps (id bigint primary key, owner_id bigint);
      create table builds (id bigint primary key, app_id bigint references apps (id), attempt int not null default 0, note text);
      create index on builds (app_id);
      insert into apps values (1, null); insert into builds values (1, 1, 0, 'kept')`);
    const rule = (update: Record<string, unknown>, caseUpdate: Record<string, unknown>) => ({
      id: 'orphan-apps',
      type: 'rows.rules',
      schedule: { every: '1h' },
      config: {
        rules: [
          { name: 'orphans', table: 'apps', where: 'owner_id is null', delete: { children: [{ table: 'builds', column: 'app_id', update }] } },
          {
            name: 'by-case',
            table: 'apps',
            where: 'true',
            cases: [{ when: 'owner_id = 0', delete: { children: [{ table: 'builds', column: 'app_id', update: caseUpdate }] } }],
          },
        ],
      },
    });
    const { code, report } = await checkJson(
      configWith(rule({ app_id: null, atempt: 1, attempt: { value: 'abc' }, note: 'atempt + 1' }, { attempt: "'many'", note: { value: 'fine' } })),
    );
    expect(code).toBe(1);
    // The rule's own update gets the same form: `config.rules[i] (name).update.<column>: column "x" in "..." does not exist ...`.
    expect(messages(report, 'orphan-apps')).toEqual([
      'error: task orphan-apps: config.rules[0] (orphans).delete.children[0].update: column "atempt" does not exist in table public.builds; did you mean "attempt"? (columns: id, app_id, attempt, note)',
      'error: task orphan-apps: config.rules[0] (orphans).delete.children[0].update.attempt: public.builds.attempt (integer) cannot take this value: invalid input syntax for type integer: "abc"',
      expect.stringMatching(
        /^error: task orphan-apps: config\.rules\[0\] \(orphans\)\.delete\.children\[0\]\.update\.note: column "atempt" in "atempt \+ 1" does not exist in table public\.builds; did you mean "attempt"\?/,
      ),
      'error: task orphan-apps: config.rules[1] (by-case).cases[0].delete.children[0].update.attempt: public.builds.attempt (integer) cannot take this value: invalid input syntax for type integer: "many"',
    ]);
    // A JSON path needs a json or jsonb column, as the run says.
    const json = await checkJson(configWith(rule({ "note->'orphaned'": true }, { attempt: 'attempt + 1' })));
    expect(messages(json.report, 'orphan-apps')).toEqual([
      `error: task orphan-apps: config.rules[0] (orphans).delete.children[0].update.note->'orphaned': a JSON path needs a json or jsonb column, but public.builds.note is text`,
    ]);
    const fixed = await checkJson(configWith(rule({ app_id: null, attempt: { value: '2' }, note: "note || ' (orphaned)'" }, { attempt: 'attempt + 1' })));
    expect(messages(fixed.report, 'orphan-apps')).toEqual([]);
    expect(fixed.code).toBe(0);
    // Checking changed nothing.
    expect((await db.pool.query('select a.id::int as app, b.attempt, b.note from apps a join builds b on b.app_id = a.id')).rows).toEqual([
      { app: 1, attempt: 0, note: 'kept' },
    ]);
  });

  it("fails on update values the column's type cannot take, in a rule's update and a case's, and passes a correct update", async () => {
    await db.pool.query(`
      create table jobs (id bigint primary key, attempts int not null default 0, locked_at timestamptz, errors jsonb[] not null default '{}', state text);
      insert into jobs values (1, 0, null, '{}', 'failed')`);
    const task = (rules: object[]) => ({ id: 'jobs-updates', type: 'rows.rules', schedule: { every: '1h' }, config: { rules } });
    const rule = (name: string, update: Record<string, unknown>) => ({ name, table: 'jobs', where: "state = 'failed'", update });
    const { code, report } = await checkJson(
      configWith(
        task([
          rule('s1', { attempts: "'abc'" }),
          rule('s2', { locked_at: 'attempts' }),
          rule('s3', { errors: "array_append(errors, 'oops')" }),
          rule('s4', { errors: "array_append(errors, 'oops'::text)" }),
          rule('fine', { attempts: 'attempts + 1', locked_at: 'now()', errors: `array_append(errors, '"oops"'::jsonb)`, state: "'dead'" }),
          {
            name: 'by-case',
            table: 'jobs',
            where: 'true',
            cases: [
              { when: 'attempts > 5', update: { state: "'dead'", attempts: "'many'" } },
              { when: 'attempts > 2', update: { locked_at: 'attempts' } },
            ],
          },
        ]),
      ),
    );
    const at = 'error: task jobs-updates: config.rules';
    expect(messages(report, 'jobs-updates')).toEqual([
      `${at}[0] (s1).update.attempts: public.jobs.attempts (integer) cannot take this value: invalid input syntax for type integer: "abc"`,
      expect.stringMatching(
        /^error: task jobs-updates: config\.rules\[1\] \(s2\)\.update\.locked_at: public\.jobs\.locked_at \(timestamp with time zone\) cannot take this value: cannot cast type integer to timestamp with time zone/,
      ),
      expect.stringMatching(
        /^error: task jobs-updates: config\.rules\[2\] \(s3\)\.update\.errors: public\.jobs\.errors \(jsonb\[\]\) cannot take this value: invalid input syntax for type json/,
      ),
      expect.stringMatching(
        /^error: task jobs-updates: config\.rules\[3\] \(s4\)\.update\.errors: public\.jobs\.errors \(jsonb\[\]\) cannot take this value: function array_append\(jsonb\[\], text\) does not exist/,
      ),
      `${at}[5] (by-case).cases[0].update.attempts: public.jobs.attempts (integer) cannot take this value: invalid input syntax for type integer: "many"`,
      expect.stringMatching(
        /^error: task jobs-updates: config\.rules\[5\] \(by-case\)\.cases\[1\]\.update\.locked_at: .* cannot cast type integer to timestamp with time zone/,
      ),
    ]);
    expect(code).toBe(1);
    const fine = await checkJson(
      configWith(task([rule('fine', { attempts: 'attempts + 1', locked_at: 'now()', errors: `array_append(errors, '"oops"'::jsonb)` })])),
    );
    expect(messages(fine.report, 'jobs-updates')).toEqual([]);
    expect(fine.code).toBe(0);
    // Checking changed nothing.
    expect((await db.pool.query('select attempts, locked_at, errors::text from jobs')).rows).toEqual([{ attempts: 0, locked_at: null, errors: '{}' }]);
  });

  it("fails on archive values the archive table's columns cannot take, and passes values that read the row and its parent", async () => {
    await db.pool.query(`
      create table queues (id bigint primary key, name text not null);
      create table tasks (id bigint primary key, queue_id bigint, attempts int not null default 0, state text);
      create table tasks_archive (id bigint primary key, queue_id bigint, attempts int, state text, queue_name text, failed_at timestamptz);
      insert into queues values (1, 'mail'); insert into tasks values (1, 1, 0, 'failed')`);
    const task = (values: Record<string, unknown>) => ({
      id: 'archive-tasks',
      type: 'rows.rules',
      schedule: { every: '1h' },
      config: {
        rules: [
          {
            name: 'failed',
            table: 'tasks',
            where: "state = 'failed'",
            parent: { table: 'queues', column: 'queue_id' },
            archive: { table: 'tasks_archive', values },
          },
        ],
      },
    });
    const bad = await checkJson(configWith(task({ failed_at: 'attempts', attempts: { value: 'none' }, queue_name: 'parent.name' })));
    expect(messages(bad.report, 'archive-tasks')).toEqual([
      expect.stringMatching(
        /^error: task archive-tasks: config\.rules\[0\] \(failed\)\.archive\.values\.failed_at: public\.tasks_archive\.failed_at \(timestamp with time zone\) cannot take this value: cannot cast type integer to timestamp with time zone/,
      ),
      'error: task archive-tasks: config.rules[0] (failed).archive.values.attempts: public.tasks_archive.attempts (integer) cannot take this value: invalid input syntax for type integer: "none"',
    ]);
    expect(bad.code).toBe(1);
    const fine = await checkJson(configWith(task({ failed_at: 'now()', queue_name: 'parent.name', state: "state || ' (archived)'" })));
    expect(messages(fine.report, 'archive-tasks').filter((m) => m.startsWith('error'))).toEqual([]);
    expect(fine.code).toBe(0);
    expect((await db.pool.query('select count(*)::int as n from tasks_archive')).rows).toEqual([{ n: 0 }]);
  });

  it("lists acquire's SQL text problems against the slot table (when, update) and the rule's table (insert)", async () => {
    await db.pool.query(`
      create table slots (id bigint primary key, key text not null unique, value int not null);
      create table waiting (id bigint primary key, slot_key text not null, priority int not null)`);
    const task = (acquire: Record<string, unknown>) => ({
      id: 'release-waiting',
      type: 'rows.rules',
      schedule: { every: '1h' },
      config: {
        rules: [
          {
            name: 'release',
            table: 'waiting',
            where: 'true',
            first_per: { columns: 'slot_key', order_by: ['priority'] },
            acquire: { table: 'slots', column: 'slot_key', parent_column: 'key', ...acquire },
            delete: {},
          },
        ],
      },
    });
    const { code, report } = await checkJson(configWith(task({ insert: { value: 'priorty' }, when: 'valu > 0', update: { value: 'value - 1' } })));
    expect(code).toBe(1);
    expect(messages(report, 'release-waiting')).toEqual([
      expect.stringMatching(
        /^error: task release-waiting: config\.rules\[0\] \(release\)\.acquire\.insert\.value: column "priorty" .*in table public\.waiting; did you mean "priority"\?/,
      ),
      expect.stringMatching(
        /^error: task release-waiting: config\.rules\[0\] \(release\)\.acquire\.when: column "valu" .*in table public\.slots; did you mean "value"\?/,
      ),
    ]);
    const fixed = await checkJson(configWith(task({ insert: { value: 'priority' }, when: 'value > 0', update: { value: 'value - 1' } })));
    expect(messages(fixed.report, 'release-waiting').filter((m) => m.startsWith('error'))).toEqual([]);
    expect(fixed.code).toBe(0);
  });

  it('refuses bad usage with exit 2: an unknown --database, --json with --junit', async () => {
    const file = configWith(events);
    const unknown = await caretaker('check', '--database', 'warehouse', '-f', file);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('--database expects a database the config\'s tasks use (default), got "warehouse"');
    expect((await caretaker('check', '--json', '--junit', join(dir, 'x.xml'), '-f', file)).code).toBe(2);
  });
});
