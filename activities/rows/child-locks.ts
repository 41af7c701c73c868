import type { PoolClient, QueryResultRow } from 'pg';
import { onTable } from '../engine/failures';
import { col, type ResolvedTable } from '../sql/identifiers';
import { SqlParams } from '../sql/params';
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
  /**
   * The table is one relation (a plain table, no partitions, no inheriting tables), checked in the
   * catalog: a row's ctid names it, so its rows can be locked and changed in one statement
   * (`changeLockedChildren`). A partitioned table repeats ctids across its partitions.
   */
  oneRelation?: boolean;
}

/**
 * Locks the child rows of a batch's parents before they are deleted, and returns the parents (as
 * `JSON.stringify(key)`) that have a child row another transaction holds: those parents and all
 * their children are left for the next run instead of waiting for the lock (lock_timeout) and
 * failing the whole batch. `condition` selects the children of the parents (alias `t`, its values in
 * `params`). The child's reference columns are read as text, as parent keys are (sql/keys.ts), in
 * the order of the parent's key.
 *
 * Usually no child is held, so the fast path locks them all in one statement under a savepoint
 * (`for update nowait`, nothing sent back). Only when a row is held (55P03 from NOWAIT) does it roll
 * back to the savepoint and take the skip-locked pass, which names the parents.
 */
export async function parentsWithLockedChildren(tx: PoolClient, child: ChildTable, condition: string, params: SqlParams): Promise<Set<string>> {
  const from = `from ${child.table.sql} t where ${condition}`;
  const done = await unlessHeld(tx, child, from, params, `select count(*) from (select 1 ${from} for update of t nowait) l`);
  return 'blocked' in done ? done.blocked : new Set();
}

/**
 * The lock pass and the change of the child rows in one statement: `change` is given a condition
 * on the changed table (alias `t`) and the parameters to add its own to, and returns the delete or
 * update. The rows are those a subquery locks (`for update of t nowait`): an InitPlan that runs whole
 * before any row changes, so when it meets a held row (55P03) nothing was changed and no per-table
 * counter moved: it rolls back to the savepoint and takes the skip-locked pass, which names the
 * parents to skip (`blocked`), and the caller changes the rows later as before. Otherwise the rows
 * changed (`changed`). Only for a child that is `oneRelation` (a ctid names one row).
 *
 * A row updated by a transaction that commits while the statement runs is locked in its new version,
 * which the statement's snapshot does not see: the statement then returns the locked ctids (only
 * then), and a second statement, with a new snapshot, changes those it did not (the ones it did are
 * no longer visible at their old ctid), as a separate lock and change would have.
 */
export async function changeLockedChildren(
  tx: PoolClient,
  child: ChildTable,
  condition: string,
  params: SqlParams,
  change: (where: string, p: SqlParams) => string,
): Promise<{ changed: number } | { blocked: Set<string> }> {
  const from = `from ${child.table.sql} t where ${condition}`;
  const statement = `with locked as materialized (select t.ctid ${from} for update of t nowait),
      changed as (${change('t.ctid = any(array(select ctid from locked))', params)} returning 1)
    select n, (select count(*) from changed)::int as changed, case when n > (select count(*) from changed) then (select array_agg(ctid)::text[] from locked) end as missed
    from (select count(*)::int as n from locked) l`;
  const done = await unlessHeld<{ changed: number; missed: string[] | null }>(tx, child, from, params, statement);
  if ('blocked' in done) return done;
  const { changed, missed } = done.rows[0]!;
  if (!missed) return { changed };
  const p = new SqlParams();
  const rest = change(`t.ctid = any(${p.add(missed, 'tid[]')})`, p);
  return { changed: changed + ((await onTable(child.table.name, tx.query(rest, p.values))).rowCount ?? 0) };
}

/**
 * Runs `statement` (which locks the rows of `from` with NOWAIT) under a savepoint; on a held row,
 * rolls back to the savepoint (the statement changed nothing) and names the blocked parents.
 */
async function unlessHeld<R extends QueryResultRow = QueryResultRow>(
  tx: PoolClient,
  child: ChildTable,
  from: string,
  params: SqlParams,
  statement: string,
): Promise<{ rows: R[] } | { blocked: Set<string> }> {
  await tx.query(`savepoint ${SAVEPOINT}`);
  try {
    const { rows } = await onTable(child.table.name, tx.query<R>(statement, params.values));
    await tx.query(`release savepoint ${SAVEPOINT}`);
    return { rows };
  } catch (err) {
    if (!rowHeld(err)) throw err;
  }
  await tx.query(`rollback to savepoint ${SAVEPOINT}`);
  const blocked = await skipLockedPass(tx, child, from, params);
  await tx.query(`release savepoint ${SAVEPOINT}`);
  return { blocked };
}

const SAVEPOINT = 'caretaker_child_locks';

/**
 * NOWAIT met a row another transaction holds (55P03). A lock_timeout is 55P03 too (a table lock the
 * statement waited for, which NOWAIT does not cover): that one fails the batch as before, named by
 * the server routine that cancels a statement.
 */
function rowHeld(err: unknown): boolean {
  const e = err as { code?: unknown; routine?: unknown } | undefined;
  return e?.code === '55P03' && e.routine !== 'ProcessInterrupts';
}

/**
 * The skip-locked pass: the children counted per parent twice in one statement (one snapshot), once
 * as they are and once as this transaction can lock them (`for update skip locked`); a parent with
 * fewer locked than seen has a child another transaction holds. The aggregate reads both arms whole,
 * so every child it can lock is locked when the statement ends.
 */
async function skipLockedPass(tx: PoolClient, child: ChildTable, from: string, params: SqlParams): Promise<Set<string>> {
  const asText = child.columns.map((c, i) => `t.${col(child.table, c)}::text as k${i}`).join(', ');
  const keys = child.columns.map((_, i) => `k${i}`).join(', ');
  const { rows } = await onTable(
    child.table.name,
    tx.query<Record<string, string>>(
      `select ${keys} from (select ${asText}, 1 as seen, 0 as mine ${from}
         union all select ${keys}, 0, 1 from (select ${asText} ${from} for update of t skip locked) l) c
       group by ${keys} having sum(mine) < sum(seen)`,
      params.values,
    ),
  );
  return new Set(rows.map((row) => JSON.stringify(child.columns.map((_, i) => row[`k${i}`]) as KeyValue)));
}
