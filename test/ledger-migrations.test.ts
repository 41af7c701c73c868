import { randomBytes } from 'node:crypto';
import { Pool, type PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLedger, LEDGER_MIGRATIONS, LEDGER_TABLES, LEDGER_VERSION } from '../activities/engine/ledger-schema';
import { migrate, schemaVersion, type Migration } from '../activities/engine/migrations';
import { quoteIdent } from '../activities/sql/identifiers';
import { caretaker } from './cli';
import { parseTask, runTaskWorkflow, taskFailure } from './fixtures';
import { createTestDatabase, startTestWorker, type TestDatabase } from './support';

// Caretaker's own tables in a target database, migrated by number. Each test uses a schema of its own.
const role = `caretaker_migrations_${randomBytes(4).toString('hex')}`;
let db: TestDatabase;
let rolePool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('ledger_migrations');
  await db.pool.query(`create role ${quoteIdent(role)} login; grant connect on database ${quoteIdent(db.name)} to ${quoteIdent(role)}`);
  const url = new URL(db.url);
  url.username = role;
  rolePool = new Pool({ connectionString: url.toString(), max: 2 });
  rolePool.on('error', () => undefined);
});

afterAll(async () => {
  await rolePool?.end();
  await db?.pool.query(`drop owned by ${quoteIdent(role)}; drop role if exists ${quoteIdent(role)}`);
  await db?.drop();
});

/** The list as it was when migrations began: the tests of one step to the next start from it. */
const V1 = LEDGER_MIGRATIONS.slice(0, 1);
const allApplied = LEDGER_MIGRATIONS.map((m) => ({ version: m.version, name: m.name, found_existing: false }));

let schemas = 0;
const freshSchema = () => `ledger_m${++schemas}`;

async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await fn(client);
  } finally {
    client.release();
  }
}

const applied = async (schema: string) =>
  (
    await db.pool.query<{ version: number; name: string; found_existing: boolean }>(
      `select version, name, found_existing from ${schema}.migrations order by version`,
    )
  ).rows;
const tables = async (schema: string) =>
  (
    await db.pool.query<{ relname: string; oid: number }>(
      `select relname, oid::int from pg_class where relnamespace = $1::regnamespace and relkind = 'r' order by relname`,
      [schema],
    )
  ).rows;
/** The rejection of a promise that must fail. */
const rejection = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as { type?: string; message: string; code?: string },
  );
/** Lets the test role use an existing schema's tables, as README's "Database privileges" says, and nothing more. */
const grantWorker = (schema: string) =>
  db.pool.query(
    `grant usage on schema ${schema} to ${quoteIdent(role)}; grant select, insert, update, delete on all tables in schema ${schema} to ${quoteIdent(role)}`,
  );

describe('numbered migrations of the run ledger', () => {
  it('creates a fresh schema at the latest version, records it, and leaves it alone on the next open', async () => {
    const schema = freshSchema();
    await withClient(db.pool, (c) => ensureLedger(c, schema, 'default'));
    expect(await applied(schema)).toEqual(allApplied);
    const before = await tables(schema);
    expect(before.map((t) => t.relname)).toEqual([...LEDGER_TABLES, 'migrations'].sort());
    await withClient(db.pool, (c) => ensureLedger(c, schema, 'default'));
    expect(await tables(schema)).toEqual(before);
    expect(await applied(schema)).toHaveLength(LEDGER_MIGRATIONS.length);
    expect(LEDGER_VERSION).toBe(LEDGER_MIGRATIONS.length);
  });

  it('recognises tables made before migrations existed as version 1, without DDL, even for a role without CREATE', async () => {
    const schema = freshSchema();
    // What every Caretaker before migrations ran on each ledger open.
    await db.pool.query(LEDGER_MIGRATIONS[0]!.sql(quoteIdent(schema)));
    await db.pool.query(`insert into ${schema}.run_outcomes (run_key, task_id, rows_changed) values ('wf/run', 'task', 3)`);
    await grantWorker(schema);
    const before = await tables(schema);
    await withClient(rolePool, async (c) => {
      expect(await schemaVersion(c, schema, V1)).toEqual({ version: 1, recorded: false });
      await ensureLedger(c, schema, 'default', V1);
    });
    expect(await tables(schema)).toEqual(before);

    // An administrator's migrate (caretaker setup) records what it found, and changes no table.
    expect(await withClient(db.pool, (c) => migrate(c, schema, V1))).toEqual({ from: 1, to: 1 });
    expect(await applied(schema)).toEqual([{ version: 1, name: 'ledger, attempts, detached_partitions, run_outcomes', found_existing: true }]);
    expect((await tables(schema)).filter((t) => t.relname !== 'migrations')).toEqual(before);
    expect((await db.pool.query(`select task_id, rows_changed::int from ${schema}.run_outcomes`)).rows).toEqual([{ task_id: 'task', rows_changed: 3 }]);
  });

  it('treats a schema with only some of those tables as version 0 and completes it', async () => {
    const schema = freshSchema();
    await db.pool.query(`create schema ${schema}; create table ${schema}.ledger (run_key text not null, seq integer not null, attempt integer not null,
      next jsonb not null, effect jsonb not null, recorded_at timestamptz not null default now(), primary key (run_key, seq))`);
    await withClient(db.pool, async (c) => {
      expect(await schemaVersion(c, schema, V1)).toEqual({ version: 0, recorded: false });
      await ensureLedger(c, schema, 'default', V1);
    });
    expect((await tables(schema)).map((t) => t.relname)).toEqual(['attempts', 'detached_partitions', 'ledger', 'migrations', 'run_outcomes']);
    expect((await applied(schema)).map((m) => m.version)).toEqual([1]);
  });

  it('applies each migration once when many workers open a fresh schema at the same moment', async () => {
    const schema = freshSchema();
    const pool = new Pool({ connectionString: db.url, max: 8 });
    try {
      await Promise.all(Array.from({ length: 8 }, () => withClient(pool, (c) => ensureLedger(c, schema, 'default'))));
    } finally {
      await pool.end();
    }
    expect(await applied(schema)).toEqual(allApplied);
  });

  it('applies a later migration in its own transaction: one that fails leaves the version and the tables as they were', async () => {
    const schema = freshSchema();
    await withClient(db.pool, (c) => ensureLedger(c, schema, 'default', V1));
    const broken: Migration = { version: 2, name: 'broken', tables: ['broken'], sql: (s) => `create table ${s}.broken (id int); select 1/0` };
    const err = await rejection(withClient(db.pool, (c) => migrate(c, schema, [...V1, broken])));
    expect(err.message).toContain('division by zero');
    expect((await applied(schema)).map((m) => m.version)).toEqual([1]);
    expect((await tables(schema)).map((t) => t.relname)).not.toContain('broken');

    const next: Migration = { version: 2, name: 'plan keys', tables: ['plan_keys'], sql: (s) => `create table ${s}.plan_keys (key text primary key)` };
    expect(await withClient(db.pool, (c) => migrate(c, schema, [...V1, next]))).toEqual({ from: 1, to: 2 });
    expect((await applied(schema)).map((m) => [m.version, m.name])).toEqual([
      [1, 'ledger, attempts, detached_partitions, run_outcomes'],
      [2, 'plan keys'],
    ]);
  });

  it('refuses a list of migrations that is not numbered 1, 2, 3, …', async () => {
    const gap: Migration = { version: 3, name: 'gap', tables: [], sql: () => 'select 1' };
    const err = await rejection(withClient(db.pool, (c) => migrate(c, freshSchema(), [...V1, gap])));
    expect(err.message).toBe('migration "gap": expected version 2 (migrations are numbered 1, 2, 3, … in order), got 3');
  });

  it('a role without CREATE gets MissingPrivilege naming the fix when a migration is pending, and runs once it is applied', async () => {
    const schema = freshSchema();
    await withClient(db.pool, (c) => ensureLedger(c, schema, 'default', V1));
    await grantWorker(schema);
    const next: Migration = { version: 2, name: 'plan keys', tables: ['plan_keys'], sql: (s) => `create table ${s}.plan_keys (key text primary key)` };
    const err = await rejection(withClient(rolePool, (c) => ensureLedger(c, schema, 'reports', [...V1, next])));
    expect(err.type).toBe('MissingPrivilege');
    expect(err.message).toContain(
      `the run ledger (schema "${schema}") is at schema version 1, behind this Caretaker's 2, in database "${db.name}" and role "${role}" may not migrate it`,
    );
    expect(err.message).toContain(`it needs CREATE on schema "${schema}"`);
    expect(err.message).toContain('caretaker setup --database reports');
    expect((await applied(schema)).map((m) => m.version)).toEqual([1]);
    // At the latest version the role needs nothing but USAGE and DML: no DDL is attempted.
    await withClient(rolePool, (c) => ensureLedger(c, schema, 'default', V1));
  });
});

describe('a schema migrated by a newer Caretaker', () => {
  it('is refused by ensureLedger, by caretaker setup and by a real run, which changes nothing', async () => {
    await db.pool.query(`create table public.events (id bigint primary key, created_at timestamptz not null);
      insert into public.events select g, now() - interval '100 days' from generate_series(1, 4) g`);
    await withClient(db.pool, (c) => ensureLedger(c, 'caretaker', 'default'));
    await db.pool.query(`insert into caretaker.migrations (version, name) values (${LEDGER_VERSION + 1}, 'from the future')`);
    const expected =
      `Caretaker's tables in schema "caretaker" of database "${db.name}" are at schema version ${LEDGER_VERSION + 1}, ` +
      `newer than this Caretaker knows (version ${LEDGER_VERSION}); run a Caretaker at least as new as the one that migrated them`;

    const err = await rejection(withClient(db.pool, (c) => ensureLedger(c, 'caretaker', 'default')));
    expect(err).toMatchObject({ type: 'LedgerSchemaTooNew', message: expected });

    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = db.url;
    try {
      const setup = await caretaker('setup', '--database', 'default');
      expect(setup.code).toBe(1);
      expect(setup.out).toContain(expected);
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }

    const worker = await startTestWorker({ default: db.url });
    try {
      const task = parseTask({
        id: 'too-new',
        type: 'retention.enforce',
        config: { policies: [{ table: 'public.events', timestamp_column: 'created_at', older_than: '30d' }], max_fraction: 1 },
        retry: { maximum_attempts: 3, initial_interval: '100ms' },
      });
      const failure = await taskFailure(runTaskWorkflow(worker, task));
      expect(failure).toMatchObject({ type: 'LedgerSchemaTooNew', message: expected });
    } finally {
      await worker.stop();
    }
    expect(Number((await db.pool.query('select count(*) as n from public.events')).rows[0].n)).toBe(4);
  });
});
