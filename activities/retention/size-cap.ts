import type { PoolClient } from 'pg';
import type { RetentionPolicy } from '../../tasks/retention-enforce';
import { col, colType } from '../sql/identifiers';
import { keyOf, keyOrder, keySelect, type RowKey } from '../sql/keys';
import { SqlParams } from '../sql/params';

/**
 * `max_total_size` as a condition on alias `t`: newest first by the policy's timestamp (rows without
 * one last: they count as the oldest, the lower key first), the rows from the first one whose running
 * total of sizes exceeds the cap on. Every row in `scope` (conditions on alias `s`) counts.
 *
 * The boundary row is read once, when the run builds its units, and the condition compares with its
 * values: batches go in key order, not age order, and a boundary evaluated by each statement would
 * move as a batch deletes rows newer than some it has not reached yet, keeping rows the dry run
 * (each batch rolled back) reported. With a fixed boundary, the real run deletes what the dry run says.
 */
export async function sizeCapCondition(
  client: PoolClient,
  key: RowKey,
  policy: RetentionPolicy,
  scope: (p: SqlParams) => string[],
): Promise<(p: SqlParams) => string> {
  const t = key.table;
  const column = policy.timestamp_column!;
  const size = policy.size_column ? `s.${col(t, policy.size_column)}` : 'pg_column_size(s.*)';
  const order = `s.${col(t, column)} desc nulls last, ${key.columns.map((k) => `s.${col(t, k)} desc`).join(', ')}`;
  const p = new SqlParams();
  const { rows } = await client.query<Record<string, unknown> & { ts: string | null }>(
    `select x.* from (select s.${col(t, column)}::text as ts, ${keySelect(key, 's')}, row_number() over w as n, sum(${size}) over w as running
       from ${t.sql} s where ${scope(p).join(' and ') || 'true'} window w as (order by ${order})) x
     where x.running > ${p.add(policy.max_total_size, 'numeric')} order by x.n limit 1`,
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
