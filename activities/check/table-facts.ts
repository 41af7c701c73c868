import type { PoolClient } from 'pg';
import type { ResolvedTable } from '../sql/identifiers';

/** What a table's rows may need: the privilege each verb of a unit needs on the rows it changes. */
const PRIVILEGE_OF: Record<string, string> = { delete: 'DELETE', archive: 'DELETE', update: 'UPDATE' };

const HAS_PRIVILEGE = `select has_table_privilege($1::oid, 'SELECT') as "select", has_table_privilege($1::oid, $2::text) as needed`;

/** The privileges the connected role lacks on `table` to pick rows and `verb` them (table level; a column grant is not enough for the check). */
export async function missingPrivileges(client: PoolClient, table: ResolvedTable, verb: string): Promise<string[]> {
  const needed = PRIVILEGE_OF[verb] ?? 'SELECT';
  const { rows } = await client.query<{ select: boolean; needed: boolean }>(HAS_PRIVILEGE, [table.oid, needed]);
  return [...(rows[0]!.select ? [] : ['SELECT']), ...(rows[0]!.needed || needed === 'SELECT' ? [] : [needed])];
}

const INDEXES_LEADING = `
  select exists (
    select 1 from pg_index i
    where i.indrelid = $1 and i.indpred is null
      and (select array_agg(a.attname::text order by a.attname)
           from unnest((i.indkey::int2[])[0:cardinality($2::text[]) - 1]) k(attnum)
           join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum) = (select array_agg(c order by c) from unnest($2::text[]) c)
  ) as indexed`;

/** Whether an index of `table` starts with exactly `columns` (in any order), so a lookup by them does not scan the table. */
export async function hasLeadingIndex(client: PoolClient, table: ResolvedTable, columns: readonly string[]): Promise<boolean> {
  return (await client.query<{ indexed: boolean }>(INDEXES_LEADING, [table.oid, columns])).rows[0]!.indexed;
}

const ESTIMATED_TABLE_ROWS = `select reltuples::float8 as rows from pg_class where oid = to_regclass($1)`;

/** The planner's row count for a table, by its quoted name (0 when empty, -1 when never analyzed). */
export async function estimatedTableRows(client: PoolClient, quotedName: string): Promise<number> {
  return (await client.query<{ rows: number }>(ESTIMATED_TABLE_ROWS, [quotedName])).rows[0]?.rows ?? -1;
}
