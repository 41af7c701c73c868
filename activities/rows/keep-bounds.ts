import type { PoolClient } from 'pg';
import { col, colType } from '../sql/identifiers';
import { keyOf, keyOrder, keySelect, type RowKey } from '../sql/keys';
import { SqlParams } from '../sql/params';

/**
 * The boundaries of a rule's `keep_newest` and `keep_total_size` (tasks/rows-rules.ts): which rows
 * lie past the newest N, or past a total size, among the rows of a scope. A row's own WHERE cannot
 * say that, so each is a condition on alias `t` that compares the row with a boundary row of the
 * scope (conditions on alias `s`). Retention's `keep_newest` and `max_total_size` are these
 * (tasks/retention-enforce.ts), with the same ties and the same moment the boundary is read.
 */

/** Conditions on alias `s`: the rows a cap counts. */
export type KeepScope = (p: SqlParams) => string[];

/**
 * `keep_newest`: rows at or before (in `order_by`, key order) the row at offset `count` of the
 * newest first; rows without an `order_by` value never count and are never picked. Evaluated by
 * each statement: acting on rows at or before the boundary leaves it where it is.
 */
export function keepNewestCondition(key: RowKey, orderBy: string, count: number, scope: KeepScope, p: SqlParams): string {
  const t = key.table;
  const order = (alias: string) => [`${alias}.${col(t, orderBy)}`, ...key.columns.map((k) => `${alias}.${col(t, k)}`)];
  const where = [`${order('s')[0]} is not null`, ...scope(p)].join(' and ');
  const desc = order('s')
    .map((c) => `${c} desc`)
    .join(', ');
  const boundary = `select ${order('s').join(', ')} from ${t.sql} s where ${where} order by ${desc} offset ${p.add(count, 'bigint')} limit 1`;
  return `(${order('t').join(', ')}) <= (${boundary})`;
}

export interface TotalSizeCap {
  max: number;
  order_by: string;
  size_column?: string;
}

/**
 * `keep_total_size` as a condition on alias `t`: newest first by `order_by` (rows without a value
 * last: they count as the oldest, the lower key first), the rows from the first one whose running
 * total of sizes exceeds `max` on. Every row in `scope` counts.
 *
 * The boundary row is read once, when the run builds its units, and the condition compares with its
 * values: batches go in key order, not age order, and a boundary evaluated by each statement would
 * move as a batch deletes rows newer than some it has not reached yet, keeping rows the dry run
 * (each batch rolled back) reported. With a fixed boundary, the real run acts on what the dry run says.
 */
export async function keepTotalSizeCondition(client: PoolClient, key: RowKey, cap: TotalSizeCap, scope: KeepScope): Promise<(p: SqlParams) => string> {
  const t = key.table;
  const column = cap.order_by;
  const size = cap.size_column ? `s.${col(t, cap.size_column)}` : 'pg_column_size(s.*)';
  const order = `s.${col(t, column)} desc nulls last, ${key.columns.map((k) => `s.${col(t, k)} desc`).join(', ')}`;
  const p = new SqlParams();
  const { rows } = await client.query<Record<string, unknown> & { ts: string | null }>(
    `select x.* from (select s.${col(t, column)}::text as ts, ${keySelect(key, 's')}, row_number() over w as n, sum(${size}) over w as running
       from ${t.sql} s where ${scope(p).join(' and ') || 'true'} window w as (order by ${order})) x
     where x.running > ${p.add(cap.max, 'numeric')} order by x.n limit 1`,
    p.values,
  );
  const boundary = rows[0];
  if (boundary === undefined) return () => 'false';
  const keyValue = keyOf(boundary, key);
  const ts = `t.${col(t, column)}`;
  return (q) => {
    const keys = key.columns.map((k, i) => q.add(keyValue[i], colType(t, k)));
    if (boundary.ts === null) return `(${ts} is null and (${keyOrder(key)}) <= (${keys.join(', ')}))`;
    return `(${ts} is null or (${ts}, ${keyOrder(key)}) <= (${q.add(boundary.ts, colType(t, column))}, ${keys.join(', ')}))`;
  };
}

/** Rows (alias `s`) that `earlier` (conditions on alias `t`) does not select: a cap after an earlier rule counts only what that rule leaves. */
export function leftBy(key: RowKey, earlier: (p: SqlParams) => string[], p: SqlParams): string {
  const same = `(${keyOrder(key)}) = (${keyOrder(key, 's')})`;
  return `not exists (select 1 from ${key.table.sql} t where ${[same, ...earlier(p)].join(' and ')})`;
}
