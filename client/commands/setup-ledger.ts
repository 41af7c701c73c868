import { databaseUrlsFromEnv } from '../../worker/databases';
import { ledgerSchemaOf, migrateLedgerSchema } from '../../worker/ledger-setup';
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
  const schema = ledgerSchemaOf(name);
  try {
    const { db, role, tables, from, to } = await migrateLedgerSchema(url, schema);
    ctx.print({ ok: true, database: name, schema, tables, version: { from, to } }, () =>
      [
        `database ${name} (${db}): run ledger ready in schema ${schema} (${tables.join(', ')}), schema version ${to}` +
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
  }
}
