import { Client as PgClient } from 'pg';
import { DEFAULT_LEDGER_SCHEMA } from '../activities/engine/ledger';
import { LEDGER_MIGRATIONS, LEDGER_TABLES } from '../activities/engine/ledger-schema';
import { migrate } from '../activities/engine/migrations';
import { ledgerSchemasFromEnv } from './databases';

/** What `migrateLedgerSchema` did, for `caretaker setup --database` to print. */
export interface LedgerSetup {
  /** The database's own name and the role the URL connected as. */
  db: string;
  role: string;
  schema: string;
  /** The tables a worker role needs DML on. */
  tables: readonly string[];
  /** The schema version before and after. */
  from: number;
  to: number;
}

/** The ledger schema the worker uses in database `name` (CARETAKER_LEDGER_SCHEMA[_<NAME>], else `caretaker`). */
export function ledgerSchemaOf(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const schemas = ledgerSchemasFromEnv(env);
  return schemas.byName.get(name) ?? schemas.fallback ?? DEFAULT_LEDGER_SCHEMA;
}

/**
 * Creates or migrates Caretaker's own tables in `schema` of the database at `url`, as that URL's
 * role: what a worker would do on its first run, done once by an administrator so the worker's
 * role needs no CREATE (activities/engine/migrations.ts). Refuses a schema migrated by a newer Caretaker.
 */
export async function migrateLedgerSchema(url: string, schema: string): Promise<LedgerSetup> {
  const client = new PgClient({ connectionString: url });
  try {
    await client.connect();
    const { from, to } = await migrate(client, schema, LEDGER_MIGRATIONS);
    const { rows } = await client.query<{ db: string; role: string }>('select current_database() as db, current_user as role');
    return { ...rows[0]!, schema, tables: LEDGER_TABLES, from, to };
  } finally {
    await client.end().catch(() => undefined);
  }
}
