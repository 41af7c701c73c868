import type { BatchEffect } from '../engine/tally';
import type { FractionTarget, WorkUnit } from '../engine/work-unit';
import { rowSample } from '../engine/plan-sample';
import { addCounts } from '../engine/counters';
import { rowsTarget } from '../engine/fraction-targets';
import type { actOnKeys, childTarget, conditions, RowBranch, RowSet, selectRows } from './row-sets';
import { changesRow, writtenText } from '../sql/expressions';
import { keyLabel, type KeyValue, keysUpTo, type KeyWindow } from '../sql/keys';
import type { ColumnRef } from '../../core/column-refs';
import type { SqlParams } from '../sql/params';
import { rowsLeft } from '../sql/rows-left';
import type { ActMode } from '../engine/work-unit';
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
  childTarget: typeof childTarget;
  conditions: typeof conditions;
}

/**
 * What each row's detail shows besides the default one (`set`, `table`, `id`, `action`, and
 * `outcome`: its branch's counter): values read from the row when its batch selects it, under the
 * row lock and before any branch acts, so a dry run shows what the real run does.
 */
export interface RowDetails {
  /** By field: SQL on alias `t` (read as text). */
  read?: Record<string, (p: SqlParams) => string>;
  /** By field: a column or JSON path, shown as its row's branch leaves it (as text; `writtenText`). */
  written?: Record<string, ColumnRef>;
  /** A row's detail from the default one and the fields' values; without it, both merged. */
  shape?: (detail: Record<string, unknown>, values: Record<string, string | null>) => Record<string, unknown>;
}

interface CaseRow {
  key: KeyValue;
  branch: number;
  /** The fields of `RowDetails`, when the set has them. */
  values?: Record<string, string | null>;
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

/**
 * The set's conditions, then `test` on the branch index (e.g. `is not null`). PostgreSQL orders a
 * scan's conditions by estimated cost, and the CASE alone can cost less than an age comparison: it
 * would then run on every row of the scan. Guarded by the set's conditions (the same parameters) it
 * costs more than each of them, so it comes last and runs only on the rows they let through.
 */
function withBranch(set: RowSet, branches: readonly RowBranch[], test: string): (p: SqlParams) => string[] {
  return (p) => {
    const conds = set.where(p);
    const index = branchIndex(set, branches, p);
    return [...conds, conds.length === 0 ? `${index} ${test}` : `(case when ${conds.join(' and ')} then ${index} end) ${test}`];
  };
}

/** The rows of `set` that take some branch, to select and count (the branches' actions come later). */
function selection(set: RowSet, branches: readonly RowBranch[]): RowSet {
  return { ...set, action: { kind: 'report' }, where: withBranch(set, branches, 'is not null') };
}

/** The rows of `set` that take branch `i`, with that branch's action. */
function branchSet(set: RowSet, branches: readonly RowBranch[], i: number): RowSet {
  const b = branches[i]!;
  return { ...set, action: b.action, counter: b.counter, where: withBranch(set, branches, `= ${i}`) };
}

/** max_fraction: the rows the changing branches take, and the child rows of the deleting ones. */
function fractionTargets(set: RowSet, branches: readonly RowBranch[], ops: RowSetOps): FractionTarget[] {
  const changing = branches.flatMap((b, i) => (b.action.kind === 'report' ? [] : [i]));
  if (changing.length === 0) return [];
  const kinds = new Set(changing.map((i) => branches[i]!.action.kind));
  const own = (p: SqlParams) => withBranch(set, branches, `in (${changing.join(', ')})`)(p).join(' and ');
  const targets: FractionTarget[] = [
    rowsTarget({ table: set.key.table, verb: kinds.size === 1 ? [...kinds][0]! : 'change', condition: own, picked: changing.length === branches.length }),
  ];
  for (const i of changing) {
    const action = branches[i]!.action;
    if (action.kind !== 'delete') continue;
    const parent = branchSet(set, branches, i);
    const cond = (p: SqlParams) => ops.conditions(parent, p).join(' and ');
    for (const child of action.children) targets.push(ops.childTarget(parent, child, cond));
  }
  return targets;
}

/** The select list of a batch: the branch each row takes, then the fields of its detail (`r<i>`, and `w<branch>_<i>` per branch). */
function selectList(set: RowSet, branches: readonly RowBranch[], p: SqlParams): string {
  const list = [`${branchIndex(set, branches, p)} as branch`];
  Object.values(set.details?.read ?? {}).forEach((sql, i) => list.push(`(${sql(p)})::text as r${i}`));
  const written = Object.values(set.details?.written ?? {});
  branches.forEach((b, j) => {
    const assigned = b.action.kind === 'update' ? b.action.assign : [];
    const zones = b.action.kind === 'update' ? b.action.zones : undefined;
    written.forEach((target, i) => list.push(`${writtenText(set.key.table, assigned, target, p, set.label, zones)} as w${j}_${i}`));
  });
  return list.join(', ');
}

async function selectCases(ops: RowSetOps, tx: PoolClient, set: RowSet, branches: readonly RowBranch[], window: KeyWindow, mode: ActMode): Promise<CaseRow[]> {
  const rows = await ops.selectRows<Record<string, string | null>>(tx, selection(set, branches), window, mode, (p) => selectList(set, branches, p));
  const details = set.details;
  if (details === undefined) return rows.map((r) => ({ key: r.key, branch: Number(r.row.branch) }));
  const read = Object.keys(details.read ?? {});
  const written = Object.keys(details.written ?? {});
  return rows.map((r) => {
    const branch = Number(r.row.branch);
    const values: Record<string, string | null> = {};
    read.forEach((name, i) => (values[name] = r.row[`r${i}`] ?? null));
    written.forEach((name, i) => (values[name] = r.row[`w${branch}_${i}`] ?? null));
    return { key: r.key, branch, values };
  });
}

/** Each branch acts on its keys; counts add up, with every branch counter present; details in each branch's order, shaped by the set's `details`. */
async function actOnCases(ops: RowSetOps, tx: PoolClient, set: RowSet, branches: readonly RowBranch[], rows: CaseRow[], mode: ActMode): Promise<BatchEffect> {
  const total: BatchEffect = { counts: Object.fromEntries([[set.matched ?? 'matched', 0], ...branches.map((b) => [b.counter, 0])]), details: [], capped: 0 };
  const byId = new Map(rows.map((r) => [JSON.stringify(keyLabel(r.key)), r]));
  const acted = new Set<string>();
  let skipped = false;
  for (const [i, b] of branches.entries()) {
    const keys = rows.filter((r) => r.branch === i).map((r) => r.key);
    if (keys.length === 0) continue;
    const effect = await ops.actOnKeys(tx, branchSet(set, branches, i), keys, mode);
    for (const [name, n] of Object.entries(effect.counts)) total.counts[name] = (total.counts[name] ?? 0) + n;
    for (const d of effect.details) {
      const detail = { ...d, outcome: b.counter };
      const values = byId.get(JSON.stringify(d.id))?.values;
      total.details.push(values === undefined ? detail : (set.details?.shape?.(detail, values) ?? { ...detail, ...values }));
    }
    total.capped! += effect.capped ?? 0;
    for (const [table, counts] of Object.entries(effect.undone ?? {})) addCounts(((total.undone ??= {})[table] ??= {}), counts);
    if (effect.keys !== undefined) skipped = true;
    for (const k of effect.keys ?? keys) acted.add(JSON.stringify(k));
  }
  // A parent skipped for a locked child is not changed: a plan records only the keys acted on, in batch order.
  if (skipped) total.keys = rows.filter((r) => acted.has(JSON.stringify(r.key))).map((r) => r.key);
  return total;
}

/** A row set with cases as a unit of work for the engine. */
export function casesUnit(set: RowSet, branches: readonly RowBranch[], ops: RowSetOps): WorkUnit<CaseRow, KeyValue> {
  const picked = selection(set, branches);
  return {
    label: set.label,
    picks: set.key.table,
    transactional: true,
    fraction: fractionTargets(set, branches, ops),
    nextBatch: (tx, after, limit, mode) => selectCases(ops, tx, set, branches, { after, limit }, mode),
    cursorOf: (row) => row.key,
    act: (tx, rows, mode) => actOnCases(ops, tx, set, branches, rows, mode),
    readAhead: {
      cursors: (client, after, limit, first) => keysUpTo(client, set.key, (p) => ops.conditions(picked, p), after, limit, first),
      among: (tx, keys, mode) => selectCases(ops, tx, set, branches, { among: keys }, mode),
      ...(set.onlyAtStart !== undefined && { onlyAtStart: set.onlyAtStart }),
    },
    rowsLeft: (client, after) => rowsLeft(client, set.key, (p) => ops.conditions(picked, p), after, set.age),
    sample: (client, keys) => rowSample(client, set.key, keys),
  };
}
