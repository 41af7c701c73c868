import type { PoolClient } from 'pg';
import { error, type Finding } from './findings';

const LEDGER_ACCESS = `
  select has_database_privilege(current_database(), 'CREATE') as "createSchema",
         current_database() as database, current_user as role,
         n.oid is not null as exists,
         coalesce(has_schema_privilege(n.oid, 'USAGE') and has_schema_privilege(n.oid, 'CREATE'), false) as "useSchema",
         coalesce((select array_agg(c.relname::text order by c.relname) from pg_class c
                   where c.relnamespace = n.oid and c.relname = any($2::text[]) and c.relkind = 'r'
                     and not (pg_has_role(c.relowner, 'USAGE') or (has_table_privilege(c.oid, 'SELECT') and has_table_privilege(c.oid, 'INSERT')
                              and has_table_privilege(c.oid, 'UPDATE') and has_table_privilege(c.oid, 'DELETE')))), '{}') as "deniedTables",
         coalesce((select array_agg(c.relname::text order by c.relname) from pg_class c
                   where c.relnamespace = n.oid and c.relname = any($2::text[]) and c.relkind = 'r' and not pg_has_role(c.relowner, 'USAGE')), '{}') as "notOwned"
  from (select $1::text as name) s left join pg_namespace n on n.nspname = s.name`;

/** The ledger's tables (activities/engine/ledger.ts), each created, indexed and written by every real run. */
const LEDGER_TABLES = ['ledger', 'attempts', 'detached_partitions'];

/**
 * Whether the connected role can open the run ledger a real run writes: its `create schema if not
 * exists` needs CREATE on the database even when the schema exists, its `create table / index if
 * not exists` CREATE on the schema and ownership of existing tables, and every batch writes them.
 */
export async function ledgerAccess(client: PoolClient, schema: string): Promise<Finding[]> {
  const { rows } = await client.query<{ createSchema: boolean; database: string; role: string; exists: boolean; useSchema: boolean; deniedTables: string[]; notOwned: string[] }>(
    LEDGER_ACCESS,
    [schema, LEDGER_TABLES],
  );
  const r = rows[0]!;
  const who = `role ${r.role}`;
  const found: Finding[] = [];
  if (!r.createSchema) found.push(error(`ledger schema "${schema}": a real run opens it with CREATE SCHEMA IF NOT EXISTS, which needs CREATE on database ${r.database}; grant create on database ${r.database} to ${r.role}`));
  if (r.exists && !r.useSchema) found.push(error(`ledger schema "${schema}": ${who} lacks USAGE or CREATE on it; grant usage, create on schema ${schema} to ${r.role}`));
  for (const table of r.notOwned) found.push(error(`ledger schema "${schema}": ${schema}.${table} belongs to another role; a real run creates its indexes if missing, which only the owner may: alter table ${schema}.${table} owner to ${r.role}`));
  for (const table of r.deniedTables) found.push(error(`ledger schema "${schema}": ${who} lacks SELECT, INSERT, UPDATE or DELETE on ${schema}.${table}`));
  return found;
}
