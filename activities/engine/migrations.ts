import type { ClientBase } from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { quoteIdent } from '../sql/identifiers';

/**
 * One numbered change to Caretaker's own tables in a target database. `version`s run 1, 2, 3, …
 * in order; `sql` gets the quoted schema name. A migration that has shipped never changes: the
 * next change is the next number.
 */
export interface Migration {
  version: number;
  /** What it does, recorded with its version. */
  name: string;
  /** The tables it creates, which a worker role needs DML on. */
  tables: readonly string[];
  sql: (schema: string) => string;
}

/** Where the schema's version lives: one row per applied migration, in the schema it describes. */
export const MIGRATIONS_TABLE = 'migrations';

/** The version a schema is at, from its `migrations` table, or recognised from its tables when it predates that table. */
export interface SchemaVersion {
  version: number;
  /** Whether the `migrations` table records it (false: an empty schema, or tables made before migrations existed). */
  recorded: boolean;
}

/** From the catalog, which needs no privilege: whether the schema and its `migrations` table exist, and which of the first migration's tables do. */
const SCHEMA_STATE = `
  select n.oid is not null as schema_exists,
         exists (select 1 from pg_class c where c.relnamespace = n.oid and c.relname = $3 and c.relkind = 'r') as versioned,
         coalesce((select array_agg(c.relname::text) from pg_class c where c.relnamespace = n.oid and c.relname = any($2::text[]) and c.relkind = 'r'), '{}') as tables
  from (select $1::text as name) want left join pg_namespace n on n.nspname = want.name`;

/**
 * The version of `schema`: the highest in its `migrations` table; without that table, 1 when every
 * table of migration 1 is there (a database set up before migrations existed: recognised, not
 * re-created), else 0. Reading it needs no CREATE privilege.
 */
export async function schemaVersion(client: ClientBase, schema: string, migrations: readonly Migration[]): Promise<SchemaVersion> {
  const first = migrations[0]!;
  const state = (await client.query<{ schema_exists: boolean; versioned: boolean; tables: string[] }>(SCHEMA_STATE, [schema, first.tables, MIGRATIONS_TABLE]))
    .rows[0]!;
  if (state.versioned) {
    const { rows } = await client.query<{ version: number | null }>(`select max(version) as version from ${quoteIdent(schema)}.${MIGRATIONS_TABLE}`);
    return { version: rows[0]!.version ?? 0, recorded: true };
  }
  const complete = state.schema_exists && first.tables.every((t) => state.tables.includes(t));
  return { version: complete ? first.version : 0, recorded: false };
}

/** A schema migrated by a newer Caretaker than this one: running on it could misread its tables. */
export function schemaTooNew(schema: string, database: string, found: number, known: number): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `Caretaker's tables in schema ${quoteIdent(schema)} of database ${quoteIdent(database)} are at schema version ${found}, ` +
      `newer than this Caretaker knows (version ${known}); run a Caretaker at least as new as the one that migrated them`,
    'LedgerSchemaTooNew',
  );
}

/** The version every migration in the list brings a schema to. */
export function latestVersion(migrations: readonly Migration[]): number {
  return migrations.at(-1)!.version;
}

/**
 * Brings `schema` to the latest version: each pending migration in its own transaction, under a
 * transaction-level advisory lock per schema, re-reading the version once the lock is held, so
 * concurrent first runs apply each migration once and the later ones find nothing to do. A schema
 * whose tables predate the `migrations` table gets its recognised version recorded without DDL.
 * Refuses a schema newer than `migrations` knows. Returns the versions before and after.
 */
export async function migrate(client: ClientBase, schema: string, migrations: readonly Migration[]): Promise<{ from: number; to: number }> {
  checkOrder(migrations);
  const latest = latestVersion(migrations);
  const s = quoteIdent(schema);
  let from: number | undefined;
  for (;;) {
    await client.query('begin');
    try {
      await client.query(`select pg_advisory_xact_lock(hashtextextended('caretaker:ledger:' || $1::text, 0))`, [schema]);
      const now = await schemaVersion(client, schema, migrations);
      from ??= now.version;
      if (now.version > latest) throw schemaTooNew(schema, await currentDatabase(client), now.version, latest);
      if (now.recorded && now.version === latest) {
        await client.query('commit');
        return { from, to: latest };
      }
      if (!now.recorded) {
        await client.query(`create schema if not exists ${s};
          create table if not exists ${s}.${MIGRATIONS_TABLE} (
            version        integer primary key,
            name           text not null,
            found_existing boolean not null default false,
            applied_at     timestamptz not null default now());
          grant select on ${s}.${MIGRATIONS_TABLE} to public`);
      }
      if (!now.recorded && now.version > 0) {
        // Tables made before migrations existed: record what is there, change nothing.
        const found = migrations.filter((m) => m.version <= now.version);
        for (const m of found)
          await client.query(`insert into ${s}.${MIGRATIONS_TABLE} (version, name, found_existing) values ($1, $2, true)`, [m.version, m.name]);
      } else {
        const next = migrations.find((m) => m.version === now.version + 1)!;
        await client.query(next.sql(s));
        await client.query(`insert into ${s}.${MIGRATIONS_TABLE} (version, name) values ($1, $2)`, [next.version, next.name]);
      }
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    }
  }
}

function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new Error(`migration "${m.name}": expected version ${i + 1} (migrations are numbered 1, 2, 3, … in order), got ${m.version}`);
  });
}

async function currentDatabase(client: ClientBase): Promise<string> {
  return (await client.query<{ db: string }>('select current_database() as db')).rows[0]!.db;
}
