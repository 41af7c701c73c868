import type { PoolClient } from 'pg';
import { LEDGER_TABLES } from '../engine/ledger-schema';
import { error, type Finding } from './findings';

const LEDGER_ACCESS = `
  select current_database() as database, current_user as role,
         has_database_privilege(current_database(), 'CREATE') as "createSchema",
         n.oid is not null as exists,
         coalesce(has_schema_privilege(n.oid, 'USAGE'), false) as "useSchema",
         coalesce(has_schema_privilege(n.oid, 'CREATE'), false) as "createInSchema",
         coalesce((select array_agg(c.relname::text order by c.relname) from pg_class c
                   where c.relnamespace = n.oid and c.relname = any($2::text[]) and c.relkind = 'r'), '{}') as present,
         coalesce((select array_agg(c.relname::text order by c.relname) from pg_class c
                   where c.relnamespace = n.oid and c.relname = any($2::text[]) and c.relkind = 'r'
                     and not (has_table_privilege(c.oid, 'SELECT') and has_table_privilege(c.oid, 'INSERT')
                              and has_table_privilege(c.oid, 'UPDATE') and has_table_privilege(c.oid, 'DELETE'))), '{}') as "deniedTables"
  from (select $1::text as name) s left join pg_namespace n on n.nspname = s.name`;

/**
 * Whether the connected role can use the run ledger a real run writes (activities/engine/ledger-schema.ts):
 * an existing ledger needs USAGE on its schema and DML on its tables; a missing one (or a missing
 * table) is created by the first run, which then needs CREATE on the database or the schema,
 * unless an administrator runs `caretaker setup --database NAME` first.
 */
export async function ledgerAccess(client: PoolClient, schema: string, databaseName: string): Promise<Finding[]> {
  const { rows } = await client.query<{
    database: string;
    role: string;
    createSchema: boolean;
    exists: boolean;
    useSchema: boolean;
    createInSchema: boolean;
    present: string[];
    deniedTables: string[];
  }>(LEDGER_ACCESS, [schema, LEDGER_TABLES]);
  const r = rows[0]!;
  const found: Finding[] = [];
  const setup = `run \`caretaker setup --database ${databaseName}\` as a role that may create it`;
  const missing = LEDGER_TABLES.filter((t) => !r.present.includes(t));
  if (!r.exists && !r.createSchema) {
    found.push(
      error(
        `ledger schema "${schema}" does not exist and creating it needs CREATE on database ${r.database}; ${setup}, or grant create on database ${r.database} to ${r.role}`,
      ),
    );
  } else if (r.exists && missing.length && !r.createInSchema) {
    found.push(
      error(
        `ledger schema "${schema}" lacks ${missing.join(', ')} and creating them needs CREATE on schema ${schema}; ${setup}, or grant create on schema ${schema} to ${r.role}`,
      ),
    );
  }
  if (r.exists && !r.useSchema) found.push(error(`ledger schema "${schema}": role ${r.role} lacks USAGE on it; grant usage on schema ${schema} to ${r.role}`));
  for (const table of r.deniedTables)
    found.push(
      error(
        `ledger schema "${schema}": role ${r.role} lacks SELECT, INSERT, UPDATE or DELETE on ${schema}.${table}; grant select, insert, update, delete on ${schema}.${table} to ${r.role}`,
      ),
    );
  return found;
}
