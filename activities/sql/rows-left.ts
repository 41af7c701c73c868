import type { PoolClient } from 'pg';
import type { Backlog } from '../../core/contract';
import { keyAfter, type KeyValue, type RowKey } from './keys';
import { SqlParams } from './params';
import type { TimestampZones } from './time';

/** A unit's timestamp column (catalog-checked), read in its configured zone. */
export interface AgeColumn {
  column: string;
  zones: TimestampZones;
}

/**
 * The rows matching `where` (conditions on alias `t`) after `after` in key order, and the age in whole
 * seconds of the oldest by `age` (by the database clock); without `age`, or with no rows left, rows only.
 */
export async function rowsLeft(client: PoolClient, key: RowKey, where: (p: SqlParams) => string[], after: KeyValue | null, age?: AgeColumn): Promise<Backlog> {
  const p = new SqlParams();
  const conds = where(p);
  if (after !== null) conds.push(keyAfter(key, after, p));
  const oldest = age ? `floor(extract(epoch from now() - min(${age.zones.instant(key.table, age.column, p)})))` : 'null';
  const { rows } = await client.query<{ n: string; age: string | null }>(
    `select count(*) as n, ${oldest} as age from ${key.table.sql} t where ${conds.join(' and ') || 'true'}`,
    p.values,
  );
  const n = Number(rows[0]!.n);
  const seconds = rows[0]!.age;
  return seconds === null || n === 0 ? { rows: n } : { rows: n, oldest_age_seconds: Math.max(0, Number(seconds)) };
}
