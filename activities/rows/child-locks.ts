import type { PoolClient } from 'pg';
import { onTable } from '../engine/failures';
import { changesBetween, readTableChanges } from '../engine/table-changes';
import type { Counts } from '../../core/contract';
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
  await tx.query(`savepoint ${SAVEPOINT}`);
  try {
    await onTable(child.table.name, tx.query(`select count(*) from (select 1 ${from} for update of t nowait) l`, params.values));
    await tx.query(`release savepoint ${SAVEPOINT}`);
    return new Set();
  } catch (err) {
    if (!rowHeld(err)) throw err;
  }
  await tx.query(`rollback to savepoint ${SAVEPOINT}`);
  const blocked = await skipLockedPass(tx, child, from, params);
  await tx.query(`release savepoint ${SAVEPOINT}`);
  return blocked;
}

/**
 * Changes the batch's child rows (`change`: each child table's delete or update, in the config's
 * order) unless another transaction holds one of them: under a savepoint, with a lock_timeout of 1 ms
 * for the statements. Usually no child is held, and each child row is written once, as a plain
 * DELETE writes it; a lock pass before the change writes every row twice (its lock, then its
 * change: twice the WAL, about 1.7 times the statement's time). A statement that meets a held row
 * (or a table lock) waits 1 ms and fails with 55P03; it rolls back to the savepoint, which undoes
 * every change and the lock_timeout alike, and the caller then takes the lock passes
 * (`parentsWithLockedChildren`), which name the parents to skip, as before. PostgreSQL's per-table
 * counters keep what the undone statements attempted: those counts come back as `undone`, for the
 * batch's measured changes to leave out (`changesBetween`).
 *
 * A row that another transaction updates and commits while the statement runs is re-read by the
 * statement in its new version (READ COMMITTED), as a plain DELETE does.
 */
export async function changeUnlessWaiting<T>(tx: PoolClient, change: () => Promise<T>): Promise<{ changed: T } | { undone: Record<string, Counts> }> {
  const before = await readTableChanges(tx);
  await tx.query(`savepoint ${SAVEPOINT}`);
  // The batch's own lock_timeout, read before the short one is set (`offset 0` keeps the read first).
  const { rows } = await tx.query<{ was: string }>(
    `select w.was, set_config('lock_timeout', '${WAIT_AT_MOST}', true) from (select current_setting('lock_timeout') as was offset 0) w`,
  );
  try {
    const changed = await change();
    await tx.query(`select set_config('lock_timeout', $1, true)`, [rows[0]!.was]);
    await tx.query(`release savepoint ${SAVEPOINT}`);
    return { changed };
  } catch (err) {
    if ((err as { code?: unknown } | undefined)?.code !== '55P03') throw err;
  }
  await tx.query(`rollback to savepoint ${SAVEPOINT}`);
  await tx.query(`release savepoint ${SAVEPOINT}`);
  return { undone: changesBetween(before, await readTableChanges(tx)) };
}

/** How long `changeUnlessWaiting`'s statements wait for a lock before the lock passes take over. */
const WAIT_AT_MOST = '1ms';

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
