import { Client as PgClient } from 'pg';
import { DEFAULT_LEDGER_SCHEMA } from '../../activities/engine/ledger';
import { LEDGER_MIGRATIONS, LEDGER_TABLES } from '../../activities/engine/ledger-schema';
import { migrate } from '../../activities/engine/migrations';
import { databaseUrlsFromEnv, ledgerSchemasFromEnv } from '../../worker/databases';
import { type CliContext, UsageError } from '../context';

/**
 * `caretaker setup --database NAME`: creates the run ledger's schema and tables in that database, or
 * applies the migrations it lacks (its URL from the same environment the worker reads: DATABASE_URL,
 * CARETAKER_DB_<NAME>), as the privileged role of that URL, so the worker's own role needs no CREATE
 * privilege. Idempotent; refuses a schema migrated by a newer Caretaker.
 */
export async function setupLedger(ctx: CliContext, name: string): Promise<number> {
  const urls = databaseUrlsFromEnv();
  const url = urls.get(name);
  if (!url) throw new UsageError(`--database: expected one of the databases in the environment (${[...urls.keys()].join(', ')}), got "${name}"`);
  const schemas = ledgerSchemasFromEnv();
  const schema = schemas.byName.get(name) ?? schemas.fallback ?? DEFAULT_LEDGER_SCHEMA;
  const client = new PgClient({ connectionString: url });
  try {
    await client.connect();
    const { from, to } = await migrate(client, schema, LEDGER_MIGRATIONS);
    const { rows } = await client.query<{ db: string; role: string }>('select current_database() as db, current_user as role');
    const { db, role } = rows[0]!;
    ctx.print({ ok: true, database: name, schema, tables: LEDGER_TABLES, version: { from, to } }, () =>
      [
        `database ${name} (${db}): run ledger ready in schema ${schema} (${LEDGER_TABLES.join(', ')}), schema version ${to}` +
          (from === to ? ' (unchanged)' : `, migrated from ${from}`) +
          `, as ${role}`,
        `a worker role needs: grant usage on schema ${schema} to <role>; grant select, insert, update, delete on all tables in schema ${schema} to <role>`,
      ].join('\n'),
    );
    return 0;
  } catch (err) {
    const message = (err as Error).message;
    ctx.print({ ok: false, database: name, schema, error: message }, () => `caretaker setup: could not create the run ledger in database ${name}: ${message}`);
    return 1;
  } finally {
    await client.end().catch(() => undefined);
  }
}
