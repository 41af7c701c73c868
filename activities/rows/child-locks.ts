import type { PoolClient } from 'pg';
import { onTable } from '../engine/failures';
import { col, type ResolvedTable } from '../sql/identifiers';
import type { SqlParams } from '../sql/params';
import type { KeyValue } from '../sql/keys';
import type { ColumnRef } from '../../core/column-refs';
import type { Assigned } from '../sql/expressions';

/**
 * A child table whose rows reference the parent (checked to be a foreign key unless the config says
 * there is none): its `columns` point at the parent's key, or at `parentColumns` when given.
 */
export interface ChildTable {
  table: ResolvedTable;
  columns: string[];
  /** The parent's columns the reference points at, in order, when not the parent's key (good_job's executions reference a job's active_job_id). */
  parentColumns?: string[];
  /** Set these columns of the child rows instead of deleting them (what ON DELETE SET NULL does, for a reference the schema does not declare). */
  assign?: [ColumnRef, Assigned][];
}

/**
 * Locks the child rows of a batch's parents before they are deleted (`for update skip locked`), and
 * returns the parents (as `JSON.stringify(key)`) that have a child row another transaction holds:
 * those parents and all their children are left for the next run instead of waiting for the lock
 * (lock_timeout) and failing the whole batch. `condition` selects the children of the parents
 * (alias `t`, its values in `params`). The child's reference columns are read as text, as parent
 * keys are (sql/keys.ts), in the order of the parent's key.
 */
export async function parentsWithLockedChildren(tx: PoolClient, child: ChildTable, condition: string, params: SqlParams): Promise<Set<string>> {
  const refs = child.columns.map((c) => `t.${col(child.table, c)}`);
  const asText = refs.map((r, i) => `${r}::text as k${i}`).join(', ');
  const from = `from ${child.table.sql} t where ${condition}`;
  const all = await onTable(
    child.table.name,
    tx.query<Record<string, string>>(`select ${asText}, count(*)::int as n ${from} group by ${refs.join(', ')}`, params.values),
  );
  const mine = await onTable(child.table.name, tx.query<Record<string, string>>(`select ${asText} ${from} for update of t skip locked`, params.values));
  const keyOf = (row: Record<string, string>): string => JSON.stringify(child.columns.map((_, i) => row[`k${i}`]) as KeyValue);
  const locked = new Map<string, number>();
  for (const row of mine.rows) locked.set(keyOf(row), (locked.get(keyOf(row)) ?? 0) + 1);
  return new Set(all.rows.filter((row) => (locked.get(keyOf(row)) ?? 0) < Number(row.n)).map(keyOf));
}
