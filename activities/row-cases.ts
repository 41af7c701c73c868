import type { BatchEffect } from './engine/tally';
import type { FractionTarget, WorkUnit } from './engine/work-unit';
import { rowsTarget } from './engine/fraction-targets';
import type { actOnKeys, childCondition, conditions, RowBranch, RowSet, selectRows } from './row-sets';
import { changesRow } from './sql/expressions';
import { type KeyValue, keysUpTo, type KeyWindow } from './sql/keys';
import type { SqlParams } from './sql/params';
import { rowsLeft } from './sql/rows-left';
import type { ActMode } from './engine/work-unit';
import type { PoolClient } from 'pg';

/**
 * Conditional outcomes: a row set whose rows each take the action of the first branch whose
 * condition holds (SQL CASE). A batch picks the keys, locked, together with the index of that
 * branch, evaluated under the row lock; then each branch acts on its own keys in the same
 * transaction, its statement re-checking that the row still takes that branch. A row whose branch
 * is an update that would not change it, or that no branch takes, is neither picked nor counted.
 */

/** What this unit uses of row-sets.ts, passed in by it (row-sets.ts builds this unit, so it does not import it back). */
export interface RowSetOps {
  selectRows: typeof selectRows;
  actOnKeys: typeof actOnKeys;
  childCondition: typeof childCondition;
  conditions: typeof conditions;
}

interface CaseRow {
  key: KeyValue;
  branch: number;
}

/** The index of the branch a row takes (alias `t`), or NULL. */
export function branchIndex(set: RowSet, branches: readonly RowBranch[], p: SqlParams): string {
  const arms = branches.map((b, i) => {
    const changes = b.action.kind === 'update' ? changesRow(set.key.table, b.action.assign, p) : null;
    const index = changes === null ? `${i}` : `case when ${changes} then ${i} end`;
    return { when: b.when?.(p) ?? null, index };
  });
  if (arms[0]!.when === null) return arms[0]!.index;
  const whens = arms.filter((a) => a.when !== null).map((a) => `when ${a.when} then ${a.index}`);
  const otherwise = arms.find((a) => a.when === null);
  return `(case ${whens.join(' ')}${otherwise ? ` else ${otherwise.index}` : ''} end)`;
}

/** The rows of `set` that take some branch, to select and count (the branches' actions come later). */
function selection(set: RowSet, branches: readonly RowBranch[]): RowSet {
  return { ...set, action: { kind: 'report' }, where: (p) => [...set.where(p), `${branchIndex(set, branches, p)} is not null`] };
}

/** The rows of `set` that take branch `i`, with that branch's action. */
function branchSet(set: RowSet, branches: readonly RowBranch[], i: number): RowSet {
  const b = branches[i]!;
  return { ...set, action: b.action, counter: b.counter, where: (p) => [...set.where(p), `${branchIndex(set, branches, p)} = ${i}`] };
}

/** max_fraction: the rows the changing branches take, and the child rows of the deleting ones. */
function fractionTargets(set: RowSet, branches: readonly RowBranch[], ops: RowSetOps): FractionTarget[] {
  const changing = branches.flatMap((b, i) => (b.action.kind === 'report' ? [] : [i]));
  if (changing.length === 0) return [];
  const kinds = new Set(changing.map((i) => branches[i]!.action.kind));
  const own = (p: SqlParams) => [...set.where(p), `${branchIndex(set, branches, p)} in (${changing.join(', ')})`].join(' and ');
  const targets: FractionTarget[] = [
    rowsTarget({ table: set.key.table, verb: kinds.size === 1 ? [...kinds][0]! : 'change', condition: own, picked: changing.length === branches.length }),
  ];
  for (const i of changing) {
    const action = branches[i]!.action;
    if (action.kind !== 'delete') continue;
    const parent = branchSet(set, branches, i);
    const cond = (p: SqlParams) => ops.conditions(parent, p).join(' and ');
    for (const child of action.children) {
      targets.push(
        rowsTarget({
          table: child.table,
          verb: 'delete',
          condition: (p) => ops.childCondition(parent, child, cond, p),
          through: { columns: child.columns, parent: set.key, condition: cond },
        }),
      );
    }
  }
  return targets;
}

async function selectCases(ops: RowSetOps, tx: PoolClient, set: RowSet, branches: readonly RowBranch[], window: KeyWindow, mode: ActMode): Promise<CaseRow[]> {
  const rows = await ops.selectRows<{ branch: number }>(tx, selection(set, branches), window, mode, (p) => `${branchIndex(set, branches, p)} as branch`);
  return rows.map((r) => ({ key: r.key, branch: Number(r.row.branch) }));
}

/** Each branch acts on its keys; counts add up, with every branch counter present. */
async function actOnCases(ops: RowSetOps, tx: PoolClient, set: RowSet, branches: readonly RowBranch[], rows: CaseRow[], mode: ActMode): Promise<BatchEffect> {
  const total: BatchEffect = { counts: Object.fromEntries([['matched', 0], ...branches.map((b) => [b.counter, 0])]), details: [], capped: 0 };
  for (const [i, b] of branches.entries()) {
    const keys = rows.filter((r) => r.branch === i).map((r) => r.key);
    if (keys.length === 0) continue;
    const effect = await ops.actOnKeys(tx, branchSet(set, branches, i), keys, mode);
    for (const [name, n] of Object.entries(effect.counts)) total.counts[name] = (total.counts[name] ?? 0) + n;
    total.details.push(...effect.details.map((d) => ({ ...d, outcome: b.counter })));
    total.capped! += effect.capped ?? 0;
  }
  return total;
}

/** A row set with cases as a unit of work for the engine. */
export function casesUnit(set: RowSet, branches: readonly RowBranch[], ops: RowSetOps): WorkUnit<CaseRow, KeyValue> {
  const picked = selection(set, branches);
  return {
    label: set.label,
    transactional: true,
    fraction: fractionTargets(set, branches, ops),
    nextBatch: (tx, after, limit, mode) => selectCases(ops, tx, set, branches, { after, limit }, mode),
    cursorOf: (row) => row.key,
    act: (tx, rows, mode) => actOnCases(ops, tx, set, branches, rows, mode),
    readAhead: {
      cursors: (client, after, limit) => keysUpTo(client, set.key, (p) => ops.conditions(picked, p), after, limit),
      among: (tx, keys, mode) => selectCases(ops, tx, set, branches, { among: keys }, mode),
    },
    rowsLeft: (client, after) => rowsLeft(client, set.key, (p) => ops.conditions(picked, p), after, set.age),
  };
}
