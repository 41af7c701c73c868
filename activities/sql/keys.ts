import type { PoolClient } from 'pg';
import { configError } from '../../core/errors';
import { SqlParams } from './params';
import type { KeyColumn } from '../../core/column-refs';
import { col, colType, resolveTable, type ResolvedTable } from './identifiers';

/**
 * The columns that identify one row of a table: the primary key, a unique index's columns, or a
 * superset of them, all NOT NULL. Every batch picks rows by this key and acts on exactly those
 * keys, so a key that is not unique (or can be NULL) would change rows nobody picked.
 */
export interface RowKey {
  table: ResolvedTable;
  columns: string[];
}

/** A key's values, as text in column order (cast back to each column's type in SQL). */
export type KeyValue = string[];

const UNIQUE_INDEXES = `
  select i.indisprimary as "primary",
         array(select a.attname::text from unnest(i.indkey) with ordinality k(attnum, n)
               join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum order by k.n) as columns
  from pg_index i
  where i.indrelid = $1 and i.indisunique and i.indpred is null and i.indexprs is null
  order by i.indisprimary desc, i.indexrelid`;

/** Unique indexes that cannot identify every row: partial (WHERE) or on expressions. */
const UNUSABLE_UNIQUE_INDEXES = `
  select c.relname as name, pg_get_expr(i.indpred, i.indrelid) as predicate,
         regexp_replace(pg_get_indexdef(i.indexrelid), '^.* USING \\w+ ', '') as definition
  from pg_index i join pg_class c on c.oid = i.indexrelid
  where i.indrelid = $1 and i.indisunique and (i.indpred is not null or i.indexprs is not null)
  order by i.indexrelid`;

/** Why a table without a primary key or full unique index has no key, naming the unique indexes it does have. */
async function noKeyReason(client: PoolClient, table: ResolvedTable): Promise<string> {
  const fix = 'add a primary key (or a unique index without WHERE on NOT NULL columns) and name its columns';
  const { rows } = await client.query<{ name: string; predicate: string | null; definition: string }>(UNUSABLE_UNIQUE_INDEXES, [table.oid]);
  if (rows.length === 0) return `it has no primary key or unique index: ${fix}`;
  const named = rows.map((r) => `${r.predicate === null ? 'a unique index on an expression' : 'a partial unique index'} (${r.name}: ${r.definition})`);
  return `it has no primary key, only ${named.join(' and ')}, which cannot serve as a key (rows outside its WHERE, or with equal expressions but different columns, are not unique): ${fix}`;
}

/**
 * Checks in the catalog that `columns` identify rows of `table` uniquely: a non-partial unique
 * index (or the primary key) covers a subset of them, and none can be NULL. Otherwise a config
 * error names the keys the table does have.
 */
export async function resolveKey(client: PoolClient, table: ResolvedTable, columns: readonly string[], where: string, field = 'id_column'): Promise<RowKey> {
  const { rows } = await client.query<{ primary: boolean; columns: string[] }>(UNIQUE_INDEXES, [table.oid]);
  const named = new Set(columns);
  const shown = `${field} ${columns.length === 1 ? `"${columns[0]}"` : `[${columns.join(', ')}]`}`;
  if (!rows.some((r) => r.columns.every((c) => named.has(c)))) {
    const keys = rows.map((r) => `${r.primary ? 'primary key' : 'unique'} (${r.columns.join(', ')})`);
    throw configError(
      `${where}: ${shown} is not a unique key of ${table.name}; ` +
        (keys.length > 0
          ? `its keys are ${keys.join('; ')}: name one of them (a list for several columns, e.g. ${field}: [${rows[0]!.columns.join(', ')}])`
          : await noKeyReason(client, table)),
    );
  }
  const nullable = columns.filter((c) => !table.columns.get(c)?.notNull);
  if (nullable.length > 0) {
    throw configError(`${where}: ${shown}: column ${nullable.map((c) => `"${c}"`).join(', ')} of ${table.name} allows NULL; a key column must be NOT NULL`);
  }
  return { table, columns: [...columns] };
}

/** A table and its row key, every name checked against the catalog. */
export async function resolveKeyed(
  client: PoolClient,
  tableName: string,
  key: KeyColumn,
  columns: readonly (string | null | undefined)[],
  where: string,
  field?: string,
): Promise<RowKey> {
  const table = await resolveTable(client, tableName, [...keyColumns(key), ...columns], where);
  return resolveKey(client, table, keyColumns(key), where, field);
}

/** `t."a"::text as k0, t."b"::text as k1` */
export function keySelect(key: RowKey, alias = 't'): string {
  return key.columns.map((c, i) => `${alias}.${col(key.table, c)}::text as k${i}`).join(', ');
}

/** `t."a", t."b"`: the order batches are taken in. */
export function keyOrder(key: RowKey, alias = 't'): string {
  return key.columns.map((c) => `${alias}.${col(key.table, c)}`).join(', ');
}

/** Rows after `cursor` in key order: a row comparison, so the cursor strictly advances. */
export function keyAfter(key: RowKey, cursor: KeyValue, p: SqlParams, alias = 't'): string {
  const values = key.columns.map((c, i) => p.add(cursor[i], colType(key.table, c)));
  return key.columns.length === 1 ? `${keyOrder(key, alias)} > ${values[0]}` : `(${keyOrder(key, alias)}) > (${values.join(', ')})`;
}

/** Rows whose key is one of `keys`. */
export function keyIn(key: RowKey, keys: readonly KeyValue[], p: SqlParams, alias = 't'): string {
  const arrays = key.columns.map((c, i) =>
    p.add(
      keys.map((k) => k[i]),
      `${colType(key.table, c)}[]`,
    ),
  );
  if (key.columns.length === 1) return `${keyOrder(key, alias)} = any(${arrays[0]})`;
  return `(${keyOrder(key, alias)}) in (select * from unnest(${arrays.join(', ')}))`;
}

/**
 * The rows one batch may take: the next `limit` (null: all) after a cursor in key order (null: from
 * the start), or the rows among keys read ahead (activities/engine/read-ahead.ts).
 */
export type KeyWindow = { after: KeyValue | null; limit: number | null } | { among: readonly KeyValue[] };

/** A window's condition on `alias` (none for a first batch) and the LIMIT that follows `order by keyOrder(key)`. */
export function keyWindow(key: RowKey, window: KeyWindow, p: SqlParams, alias = 't'): { conds: string[]; limit: string } {
  if ('among' in window) return { conds: [keyIn(key, window.among, p, alias)], limit: '' };
  const conds = window.after === null ? [] : [keyAfter(key, window.after, p, alias)];
  return { conds, limit: window.limit === null ? '' : `limit ${p.add(window.limit, 'int')}` };
}

/**
 * The keys of all rows matching `where` (conditions on alias `t`) after `after`, in key order, when
 * there are at most `limit`; null when there are more. The scan has no order, so it stops at
 * `limit + 1` rows and a sparse set is read in one sequential pass, where a walk in key order
 * visits the key index for every row; the keys are sorted afterwards, in the key's own order.
 * `first`: the first `limit` keys in key order, never null (a set that must act only on the rows
 * that matched when it started: read-ahead.ts `onlyAtStart`).
 */
export async function keysUpTo(
  client: PoolClient,
  key: RowKey,
  where: (p: SqlParams) => string[],
  after: KeyValue | null,
  limit: number,
  first = false,
): Promise<KeyValue[] | null> {
  const p = new SqlParams();
  const conds = where(p);
  if (after !== null) conds.push(keyAfter(key, after, p));
  if (first) {
    const { rows } = await client.query<Record<string, unknown>>(
      `select ${keySelect(key)} from ${key.table.sql} t where ${conds.join(' and ') || 'true'} order by ${keyOrder(key)} limit ${p.add(limit, 'int')}`,
      p.values,
    );
    return rows.map((row) => keyOf(row, key));
  }
  const { rows } = await client.query<Record<string, unknown>>(
    `select ${keySelect(key, 's')} from (select ${keyOrder(key)} from ${key.table.sql} t where ${conds.join(' and ') || 'true'} limit ${p.add(limit + 1, 'int')}) s
     order by ${keyOrder(key, 's')}`,
    p.values,
  );
  return rows.length > limit ? null : rows.map((row) => keyOf(row, key));
}

/** The key of a row selected with `keySelect`. */
export function keyOf(row: Record<string, unknown>, key: RowKey): KeyValue {
  return key.columns.map((_, i) => row[`k${i}`] as string);
}

/** A key as it appears in details: the value itself, or the list for a composite key. */
export function keyLabel(value: KeyValue): string | string[] {
  return value.length === 1 ? value[0]! : value;
}

/** Config's `id_column: a` or `id_column: [a, b]` as a list. */
export function keyColumns(value: string | readonly string[]): string[] {
  return typeof value === 'string' ? [value] : [...value];
}
