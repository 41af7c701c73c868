import type { PoolClient } from 'pg';
import type { FractionTarget } from '../../engine/work-unit';
import { rowsTarget } from '../../engine/fraction-targets';
import { onTable } from '../../engine/failures';
import { SqlParams } from '../../sql/params';
import { col } from '../../sql/identifiers';
import { keyOf, keyOrder, keySelect, type KeyValue } from '../../sql/keys';
import { assignmentList } from '../../sql/expressions';
import { changeUnlessWaiting, parentsWithLockedChildren, type ChildTable } from '../child-locks';
import type { RowSet } from '../row-sets';
import { type ActionBatch, count, ownTarget, type RowActionStrategy } from './action';

/** Deletes the rows, and first the rows of each child table that references them (or, with the child's `assign`, updates those). */
export interface DeleteAction {
  kind: 'delete';
  children: ChildTable[];
}

/** Rows of `child` that reference the parent rows matching `parentCondition` (alias `t` inside is the parent). */
export function childCondition(set: RowSet, child: ChildTable, parentCondition: (p: SqlParams) => string, p: SqlParams): string {
  const refs = child.columns.map((c) => `t.${col(child.table, c)}`).join(', ');
  return `(${refs}) in (select ${referenced(set, child)} from ${set.key.table.sql} t where ${parentCondition(p)})`;
}

/** The parent's columns a child references (alias `t`): its key, or the child's `parentColumns`. */
function referenced(set: RowSet, child: ChildTable): string {
  return child.parentColumns ? child.parentColumns.map((c) => `t.${col(set.key.table, c)}`).join(', ') : keyOrder(set.key);
}

/**
 * The picked keys whose referenced values (a child's `parentColumns`, as text) are in `blocked`: a
 * child that references other columns than the key names its parents by those.
 */
async function keysReferencing(b: ActionBatch<DeleteAction>, child: ChildTable, keys: KeyValue[], blocked: Set<string>): Promise<Set<string>> {
  const { set } = b;
  if (!child.parentColumns || blocked.size === 0) return blocked;
  const p = new SqlParams();
  const values = child.parentColumns.map((c, i) => `t.${col(set.key.table, c)}::text as v${i}`).join(', ');
  const { rows } = await b.tx.query<Record<string, string>>(
    `select ${keySelect(set.key)}, ${values} from ${set.key.table.sql} t where ${b.picked(keys, p)}`,
    p.values,
  );
  const out = new Set<string>();
  for (const row of rows) if (blocked.has(JSON.stringify(child.parentColumns.map((_, i) => row[`v${i}`])))) out.add(JSON.stringify(keyOf(row, set.key)));
  return out;
}

/** The delete of the child rows `where` selects (alias `t`), or the update that sets the child's `assign` columns on them. */
function changeStatement(set: RowSet, child: ChildTable, where: string, cp: SqlParams): string {
  return child.assign
    ? `update ${child.table.sql} t set ${assignmentList(child.table, child.assign, cp, set.label).join(', ')} where ${where}`
    : `delete from ${child.table.sql} t where ${where}`;
}

/** Deletes the child rows `childCond` selects, or sets the child's `assign` columns on them; the rows changed. */
async function changeChildren(tx: PoolClient, set: RowSet, child: ChildTable, childCond: string, cp: SqlParams): Promise<number> {
  return (await onTable(child.table.name, tx.query(changeStatement(set, child, childCond, cp), cp.values))).rowCount ?? 0;
}

/**
 * What a parent's delete does to one child table, for max_fraction. A reference to the parent's key
 * is counted by a join (`through`); one to other columns, which need not be unique, by its condition.
 */
export function childTarget(set: RowSet, child: ChildTable, parentCondition: (p: SqlParams) => string): FractionTarget {
  return rowsTarget({
    table: child.table,
    verb: child.assign ? 'update' : 'delete',
    condition: (p) => childCondition(set, child, parentCondition, p),
    ...(!child.parentColumns && { through: { columns: child.columns, parent: set.key, condition: parentCondition } }),
  });
}

export const deleteRows: RowActionStrategy<DeleteAction> = {
  verb: 'delete',
  counter: 'deleted',
  transactional: true,
  fraction: (set, action, own) => [ownTarget(set, 'delete', own), ...action.children.map((child) => childTarget(set, child, own))],
  /**
   * The picked keys whose children can all be locked: a parent with a child row another transaction
   * holds is skipped (it and its children stay for the next run). Predicting locks nothing, so skips
   * nothing; with no child table there is nothing to lock.
   * When no slot is taken after this (`acquire` could still leave a parent), the children are changed
   * here, each table in the config's order (an earlier child may reference a later one), in plain
   * statements that give up on a held row (`changeUnlessWaiting`); their counts go to `b.ahead` for
   * `act`. Otherwise, or when a row is held (what the undone statements counted goes to `b.undone`),
   * each child table gets its lock pass here and is changed in `act`.
   */
  async lockable(b) {
    if (b.mode === 'predict' || b.action.children.length === 0) return b.keys;
    if (!b.set.acquire) {
      const changed = await changeUnlessWaiting(b.tx, async () => {
        const counts = new Map<object, number>();
        for (const child of b.action.children) {
          const cp = new SqlParams();
          counts.set(
            child,
            await changeChildren(
              b.tx,
              b.set,
              child,
              childCondition(b.set, child, (q) => b.picked(b.keys, q), cp),
              cp,
            ),
          );
        }
        return counts;
      });
      if ('changed' in changed) {
        for (const [child, n] of changed.changed) b.ahead.set(child, n);
        return b.keys;
      }
      Object.assign(b.undone, changed.undone);
    }
    let kept = b.keys;
    for (const child of b.action.children) {
      if (kept.length === 0) break;
      const cp = new SqlParams();
      const among = kept;
      const held = await parentsWithLockedChildren(
        b.tx,
        child,
        childCondition(b.set, child, (q) => b.picked(among, q), cp),
        cp,
      );
      const blocked = await keysReferencing(b, child, kept, held);
      kept = kept.filter((k) => !blocked.has(JSON.stringify(k)));
    }
    return kept;
  },
  async act(b) {
    const { tx, set, mode } = b;
    const table = set.key.table;
    let children = 0;
    let childrenUpdated = 0;
    for (const child of b.action.children) {
      const cp = new SqlParams();
      const childCond = childCondition(set, child, (q) => b.picked(b.keys, q), cp);
      const n =
        mode === 'predict'
          ? await count(tx, child.table.sql, childCond, cp.values)
          : (b.ahead.get(child) ?? (await changeChildren(tx, set, child, childCond, cp)));
      if (child.assign) childrenUpdated += n;
      else children += n;
    }
    if (mode === 'predict') return { affected: await count(tx, table.sql, b.cond, b.p.values), children, childrenUpdated };
    return {
      affected: (await onTable(table.name, tx.query(`delete from ${table.sql} t where ${b.cond}`, b.p.values))).rowCount ?? 0,
      children,
      childrenUpdated,
    };
  },
  extraCounters: (action) => [
    ...(action.children.some((c) => !c.assign) ? ['children_deleted'] : []),
    ...(action.children.some((c) => c.assign) ? ['children_updated'] : []),
  ],
};
