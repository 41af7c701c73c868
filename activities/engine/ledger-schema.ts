import type { PoolClient } from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { quoteIdent } from '../sql/identifiers';
import { latestVersion, migrate, schemaVersion, type Migration } from './migrations';

/**
 * The tables Caretaker keeps in each target database, in one schema (`caretaker` unless the
 * worker names another): `ledger` and `attempts` (engine/ledger.ts), `detached_partitions`
 * (detached-partitions.ts), `run_outcomes` (alerts.ts), `plans` and `plan_keys` (plan.ts: what a
 * plan awaiting approval froze), plus `migrations`, the schema's version
 * (engine/migrations.ts). They change only through numbered migrations: the next change is the
 * next entry of this list, never an edit of a shipped one. A run applies pending migrations only
 * when the schema is behind, so a worker role with USAGE on the schema and DML on its tables needs
 * no CREATE privilege once an administrator migrated it (`caretaker setup --database NAME`).
 */
export const LEDGER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'ledger, attempts, detached_partitions, run_outcomes',
    tables: ['ledger', 'attempts', 'detached_partitions', 'run_outcomes'],
    // The tables as Caretaker created them before it had migrations (hence `if not exists`):
    // a database set up then is recognised as at version 1 without running this.
    sql: (s) => `
  create schema if not exists ${s};
  create table if not exists ${s}.ledger (
    run_key     text not null,
    seq         integer not null,
    attempt     integer not null,
    next        jsonb not null,
    effect      jsonb not null,
    recorded_at timestamptz not null default now(),
    primary key (run_key, seq));
  create index if not exists ledger_recorded_at on ${s}.ledger (recorded_at);
  create table if not exists ${s}.attempts (
    run_key    text primary key,
    task_id    text not null,
    attempt    integer not null,
    claimed_at timestamptz not null default now());
  create table if not exists ${s}.detached_partitions (
    partition_oid  oid primary key,
    partition_name text not null,
    parent_oid     oid not null,
    upper_bound    text not null,
    action         text not null,
    archive_schema text,
    task_id        text not null,
    recorded_at    timestamptz not null default now());
  create table if not exists ${s}.run_outcomes (
    run_key      text primary key,
    task_id      text not null,
    rows_changed bigint not null,
    finished_at  timestamptz not null default now());
  create index if not exists run_outcomes_task on ${s}.run_outcomes (task_id, finished_at);`,
  },
  {
    version: 2,
    name: 'plans, plan_keys',
    // Plan → approve → apply (engine/plan.ts): the keys a plan froze, never in Temporal's history.
    tables: ['plans', 'plan_keys'],
    sql: (s) => `
  create table ${s}.plans (
    plan_id     text primary key,
    task_id     text not null,
    claim       text not null,
    units       jsonb not null,
    keys        bigint,
    digest      text,
    recorded_at timestamptz not null default now());
  create index plans_recorded_at on ${s}.plans (recorded_at);
  -- No foreign key to plans: a check per inserted key would cost about as much as the insert; pruning deletes both.
  create table ${s}.plan_keys (
    plan_id text not null,
    unit    integer not null,
    seq     integer not null,
    key     jsonb not null,
    primary key (plan_id, unit, seq));`,
  },
  {
    version: 3,
    name: 'applied_configs',
    // approval.when first_run / config_changed (activities/approval.ts): each task's last applied config digest.
    tables: ['applied_configs'],
    sql: (s) => `
  create table ${s}.applied_configs (
    task_id       text primary key,
    config_digest text not null,
    applied_at    timestamptz not null default now());`,
  },
];

/** The tables a worker role reads and writes (DML), from every migration. */
export const LEDGER_TABLES: readonly string[] = LEDGER_MIGRATIONS.flatMap((m) => m.tables);

/** The version this Caretaker migrates its tables to. */
export const LEDGER_VERSION = latestVersion(LEDGER_MIGRATIONS);

/** The SQLSTATE of a missing privilege. */
const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * Brings the ledger schema to LEDGER_VERSION when it is behind (migrations.ts: each migration once,
 * under an advisory lock), and does nothing, DDL included, when it is at that version. When this
 * role may not migrate it, the failure names the privilege it lacks and the ways to fix it;
 * `database` is the database's name in the worker's environment (`default`, `CARETAKER_DB_<NAME>`).
 * A schema newer than this Caretaker knows is refused (`LedgerSchemaTooNew`). `migrations` is
 * LEDGER_MIGRATIONS except in tests.
 */
export async function ensureLedger(client: PoolClient, schema: string, database: string, migrations = LEDGER_MIGRATIONS): Promise<void> {
  const latest = latestVersion(migrations);
  const { version } = await schemaVersion(client, schema, migrations);
  if (version === latest) return;
  try {
    await migrate(client, schema, migrations);
  } catch (err) {
    if ((err as { code?: string }).code === INSUFFICIENT_PRIVILEGE) {
      const schemaExists = (await client.query<{ exists: boolean }>('select exists (select 1 from pg_namespace where nspname = $1) as exists', [schema]))
        .rows[0]!.exists;
      throw await missingPrivilege(client, schema, database, { schemaExists, version, latest }, (err as Error).message);
    }
    throw err;
  }
}

async function missingPrivilege(
  client: PoolClient,
  schema: string,
  database: string,
  { schemaExists, version, latest }: { schemaExists: boolean; version: number; latest: number },
  cause: string,
): Promise<ApplicationFailure> {
  const { db, role } = (await client.query<{ db: string; role: string }>('select current_database() as db, current_user as role')).rows[0]!;
  const needed = schemaExists ? `CREATE on schema ${quoteIdent(schema)}` : `CREATE on database ${quoteIdent(db)}`;
  const grant = schemaExists
    ? `grant create on schema ${quoteIdent(schema)} to ${quoteIdent(role)}`
    : `grant create on database ${quoteIdent(db)} to ${quoteIdent(role)}`;
  const state = version === 0 ? 'is missing' : `is at schema version ${version}, behind this Caretaker's ${latest},`;
  return ApplicationFailure.nonRetryable(
    `the run ledger (schema ${quoteIdent(schema)}) ${state} in database ${quoteIdent(db)} and role ${quoteIdent(role)} may not ${version === 0 ? 'create' : 'migrate'} it (${cause}): ` +
      `it needs ${needed}. Create the ledger once as a privileged role: caretaker setup --database ${database}, ` +
      `or the SQL in README ("Database privileges"); or ${grant}`,
    'MissingPrivilege',
  );
}
