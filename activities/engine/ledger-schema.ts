import type { PoolClient } from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { quoteIdent } from '../sql/identifiers';
import { FailureType } from '../../core/failures';

/**
 * The tables Caretaker keeps in each target database, in one schema (`caretaker` unless the
 * worker names another): `ledger` and `attempts` (engine/ledger.ts), `detached_partitions`
 * (detached-partitions.ts) and `run_outcomes` (alerts.ts). A run creates them only when the
 * catalog says one is missing, so a worker role with USAGE on the schema and DML on its tables
 * needs no CREATE privilege once an administrator created them (`caretaker setup --database NAME`).
 */
export const LEDGER_TABLES = ['ledger', 'attempts', 'detached_partitions', 'run_outcomes'] as const;

/** The SQL that creates the ledger schema and its tables; safe to run again. */
export function ledgerDdl(schema: string): string {
  const s = quoteIdent(schema);
  return `
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
  create index if not exists run_outcomes_task on ${s}.run_outcomes (task_id, finished_at);`;
}

/** From the catalog, which needs no privilege: whether the schema exists, and which of its ledger tables do. */
const LEDGER_STATE = `
  select n.oid is not null as schema_exists,
         coalesce((select array_agg(c.relname::text) from pg_class c where c.relnamespace = n.oid and c.relname = any($2::text[]) and c.relkind = 'r'), '{}') as tables
  from (select $1::text as name) want left join pg_namespace n on n.nspname = want.name`;

/** The SQLSTATE of a missing privilege. */
const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * Creates the ledger schema and tables when the catalog says one is missing (under an advisory
 * lock: two workers creating it at once would collide in the catalog). When this role may not
 * create them, the failure names the privilege it lacks and the ways to fix it; `database` is the
 * database's name in the worker's environment (`default`, `CARETAKER_DB_<NAME>`).
 */
export async function ensureLedger(client: PoolClient, schema: string, database: string): Promise<void> {
  const state = (await client.query<{ schema_exists: boolean; tables: string[] }>(LEDGER_STATE, [schema, LEDGER_TABLES])).rows[0]!;
  if (state.schema_exists && state.tables.length === LEDGER_TABLES.length) return;
  await client.query('begin');
  try {
    await client.query(`select pg_advisory_xact_lock(hashtextextended('caretaker:ledger:' || $1::text, 0))`, [schema]);
    await client.query(ledgerDdl(schema));
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    if ((err as { code?: string }).code === INSUFFICIENT_PRIVILEGE)
      throw await missingPrivilege(client, schema, database, state.schema_exists, (err as Error).message);
    throw err;
  }
}

async function missingPrivilege(client: PoolClient, schema: string, database: string, schemaExists: boolean, cause: string): Promise<ApplicationFailure> {
  const { db, role } = (await client.query<{ db: string; role: string }>('select current_database() as db, current_user as role')).rows[0]!;
  const needed = schemaExists ? `CREATE on schema ${quoteIdent(schema)}` : `CREATE on database ${quoteIdent(db)}`;
  const grant = schemaExists
    ? `grant create on schema ${quoteIdent(schema)} to ${quoteIdent(role)}`
    : `grant create on database ${quoteIdent(db)} to ${quoteIdent(role)}`;
  return ApplicationFailure.nonRetryable(
    `the run ledger (schema ${quoteIdent(schema)}) is missing in database ${quoteIdent(db)} and role ${quoteIdent(role)} may not create it (${cause}): ` +
      `it needs ${needed}. Create the ledger once as a privileged role: caretaker setup --database ${database}, ` +
      `or the SQL in README ("Database privileges"); or ${grant}`,
    FailureType.MissingPrivilege,
  );
}
