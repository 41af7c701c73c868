import type { PoolClient } from 'pg';
import { configError } from '../../core/errors';
import { closestMatch } from '../../config/did-you-mean';
import { quoteIdent } from '../../core/identifiers';

/** A table from config, checked against the database catalog, with every column's quoted name and type. */
export interface ResolvedTable {
  /** `"schema"."table"`, safe to put into SQL. */
  sql: string;
  /** `schema.table` for messages. */
  name: string;
  columns: Map<string, { sql: string; type: string; notNull: boolean }>;
  /** Every column of the table, in catalog order. */
  allColumns: string[];
  oid: number;
}

export { quoteIdent };

/** Relations a rule changes: tables (plain or partitioned). */
const TABLES = ['r', 'p'];
/** Relations a rule only reads (a relation's other side): tables, views, materialized views, foreign tables. */
const READABLE = ['r', 'p', 'v', 'm', 'f'];

/**
 * `$3` the relkinds accepted, `$4` whether the implicit schemas (pg_catalog) are searched too, as
 * PostgreSQL does for a name without a schema: a relation only read may be `pg_stat_activity`.
 */
const FIND_TABLE = `
  select n.nspname as schema, c.relname as name, c.oid
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where c.relkind = any($3::"char"[])
    and c.relname = $2
    and (case when $1::text is null then n.nspname = any(current_schemas($4)) else n.nspname = $1 end)
  order by array_position(current_schemas($4), n.nspname::text) nulls last
  limit 1`;

/** Relations by that name that are not tables, to say what the name is instead. */
const FIND_OTHER = `
  select n.nspname as schema, c.relname as name,
         case c.relkind when 'v' then 'a view' when 'm' then 'a materialized view' when 'f' then 'a foreign table'
                        when 'i' then 'an index' when 'S' then 'a sequence' else 'not a table' end as what
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relname = $2
    and (case when $1::text is null then n.nspname = any(current_schemas($3)) else n.nspname = $1 end)
  order by array_position(current_schemas($3), n.nspname::text) nulls last
  limit 1`;

const TABLE_COLUMNS = `
  select attname as name, format_type(atttypid, atttypmod) as type, attnotnull as "notNull"
  from pg_attribute
  where attrelid = $1 and attnum > 0 and not attisdropped
  order by attnum`;

/**
 * Looks up `table` (or `schema.table`) and the given columns in the catalog. A missing table or
 * column is a non-retryable configuration error naming what was expected; nothing from config ever
 * reaches SQL unchecked.
 */
export async function resolveTable(client: PoolClient, table: string, columns: readonly (string | null | undefined)[], where: string): Promise<ResolvedTable> {
  return resolveRelation(client, table, columns, where, TABLES);
}

/**
 * A relation a rule only reads (the other side of `missing_parent` or `unreferenced_by`): a table,
 * or a view, materialized view or foreign table (`pg_catalog.pg_stat_activity`, `pg_locks`); a name
 * without a schema is also looked up in pg_catalog, as PostgreSQL does. Nothing is ever written to
 * it, so it needs no key, and it is neither pinned nor counted against max_fraction.
 */
export async function resolveReadable(
  client: PoolClient,
  table: string,
  columns: readonly (string | null | undefined)[],
  where: string,
): Promise<ResolvedTable> {
  return resolveRelation(client, table, columns, where, READABLE);
}

async function resolveRelation(
  client: PoolClient,
  table: string,
  columns: readonly (string | null | undefined)[],
  where: string,
  kinds: readonly string[],
): Promise<ResolvedTable> {
  const [schema, name] = table.includes('.') ? table.split('.', 2) : [null, table];
  const implicit = kinds !== TABLES;
  const found = await client.query<{ schema: string; name: string; oid: number }>(FIND_TABLE, [schema, name, kinds, implicit]);
  const row = found.rows[0];
  if (!row) {
    const other = (await client.query<{ schema: string; name: string; what: string }>(FIND_OTHER, [schema, name, implicit])).rows[0];
    if (other) {
      throw configError(
        implicit
          ? `${where}: "${table}" is ${other.what} (${other.schema}.${other.name}); a relation a rule reads must be a table, view, materialized view or foreign table`
          : `${where}: "${table}" is ${other.what} (${other.schema}.${other.name}), not a table; Caretaker changes tables only: name the table it reads from`,
      );
    }
    throw configError(`${where}: table "${table}" does not exist in ${schema ? `schema "${schema}"` : 'the search path'}`);
  }
  const cols = await client.query<{ name: string; type: string; notNull: boolean }>(TABLE_COLUMNS, [row.oid]);
  const resolved = new Map(cols.rows.map((c) => [c.name, { sql: quoteIdent(c.name), type: c.type, notNull: c.notNull }]));
  for (const column of columns) {
    if (column && !resolved.has(column)) {
      const guess = closestMatch(column, [...resolved.keys()]);
      throw configError(
        `${where}: column "${column}" does not exist in table ${row.schema}.${row.name}${guess ? `; did you mean "${guess}"?` : ''} (columns: ${[...resolved.keys()].join(', ')})`,
      );
    }
  }
  return {
    sql: `${quoteIdent(row.schema)}.${quoteIdent(row.name)}`,
    name: `${row.schema}.${row.name}`,
    columns: resolved,
    allColumns: [...resolved.keys()],
    oid: row.oid,
  };
}

/** The quoted name of a column of a resolved table. */
export function col(table: ResolvedTable, column: string): string {
  const found = table.columns.get(column);
  if (!found) throw new Error(`column ${column} of ${table.name} was not resolved`);
  return found.sql;
}

/** The SQL type of a checked column, for casting parameters (`$1::bigint[]`). It comes from the catalog, not from config. */
export function colType(table: ResolvedTable, column: string): string {
  const found = table.columns.get(column);
  if (!found) throw new Error(`column ${column} of ${table.name} was not resolved`);
  return found.type;
}
