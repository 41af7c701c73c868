import type { PoolClient } from 'pg';
import type { RowFilter } from '../../tasks/fields';
import type { TaskResult } from '../../core/contract';
import { runUnits } from '../engine/engine';
import type { BatchEffect } from '../engine/tally';
import type { ActMode, EngineConfig, FractionTarget, TaskSession, WorkUnit } from '../engine/work-unit';
import { rowsTarget } from '../engine/fraction-targets';
import { startWorkflowUnit, type StartAction } from './start-workflows';
import { casesUnit, type RowDetails } from './row-cases';
import { parentsWithLockedChildren, type ChildTable } from './child-locks';
import { onTable } from '../engine/failures';
import { rowSample } from '../engine/plan-sample';
import { SqlParams } from '../sql/params';
import { col, colType, type ResolvedTable } from '../sql/identifiers';
import { keyIn, keyLabel, keyOf, keyOrder, keySelect, type KeyValue, keysUpTo, keyWindow, type KeyWindow, type RowKey } from '../sql/keys';
import { assignmentList, type Assigned, changesRow, readText } from '../sql/expressions';
import type { Acquire } from './rule-slots';
import type { TimestampZones } from '../sql/time';
import { type AgeColumn, rowsLeft } from '../sql/rows-left';
import { type ColumnRef, ref } from '../../core/column-refs';

export type { ChildTable };

/** What happens to the rows of a set. */
export type RowAction =
  | { kind: 'delete'; children: ChildTable[] }
  /** Assignments to columns or JSON paths (`tasks/column-refs.ts`); `now` in a naive column is written in `zones`' zone. */
  | { kind: 'update'; assign: [ColumnRef, Assigned][]; zones?: TimestampZones }
  /** Rows moved to `archive`: `columns` copied, `values` computed over the row (and the `join`ed row its values read). */
  | {
      kind: 'archive';
      archive: ResolvedTable;
      columns: string[];
      values?: { column: string; value: (p: SqlParams) => string }[];
      join?: { sql: string; on: string };
    }
  /** Starts one workflow per row (id `<idPrefix><row id>`) outside any transaction; a row whose workflow is running is skipped. */
  | StartAction
  | { kind: 'report' }
  /** Conditional outcome (row-cases.ts): each row takes the action of the first branch whose condition holds. */
  | { kind: 'cases'; branches: RowBranch[] };

/** One branch of a conditional outcome: `when` null is the else branch (only last). */
export interface RowBranch {
  when: ((p: SqlParams) => string) | null;
  action: Extract<RowAction, { kind: 'delete' | 'update' | 'report' }>;
  counter: string;
}

/** Rows of one table picked by conditions, and the action to take on them. */
export interface RowSet {
  label: string;
  key: RowKey;
  /** SQL conditions on alias `t`, with their values added to `params`. Re-applied when acting. */
  where: (params: SqlParams) => string[];
  action: RowAction;
  /** Name of the result counter, e.g. "marked"; defaults to the action's past tense. */
  counter?: string;
  /** Name of the counter of rows picked (default `matched`; runs.cleanup_stale says `stale`). */
  matched?: string;
  /** What a row's detail shows besides its key and outcome (sets with `cases`: row-cases.ts). */
  details?: RowDetails;
  /** The rows' timestamp column, for the age of the oldest row a run leaves (retention's timestamp_column). */
  age?: AgeColumn;
  /** A condition that row-locks what the rows depend on (a rule's parent row), skipping a row whose lock another transaction holds; added when selecting, not predicting. */
  lockedParent?: (params: SqlParams) => string;
  /** A slot taken in another table for each row in the statement that acts on it (a rule's `acquire`, rule-slots.ts); a row acts only when it took one. Not when predicting. */
  acquire?: Acquire;
}

const PAST_TENSE = { delete: 'deleted', update: 'updated', archive: 'archived', start_workflow: 'started', report: 'reported', cases: 'matched' } as const;
const VERB = { delete: 'delete', update: 'update', archive: 'archive', start_workflow: 'start', report: 'report', cases: 'change' } as const;
export const counterOf = (set: RowSet) => set.counter ?? PAST_TENSE[set.action.kind];

export interface RowSetConfig extends EngineConfig {
  max_rows_per_run: number | null;
  max_fraction: number;
}

/**
 * Equality / IN / IS NULL conditions from a config filter on `alias`, cast to each column's catalog
 * type; a JSON path compares as text.
 */
export function filterConditions(table: ResolvedTable, filter: RowFilter, params: SqlParams, alias = 't'): string[] {
  return Object.entries(filter).map(([name, value]) => {
    const r = ref(name);
    const json = r.path.length > 0;
    const c = json ? readText(table, r, params, alias) : `${alias}.${col(table, r.column)}`;
    const type = json ? 'text' : colType(table, r.column);
    if (value === null) return `${c} is null`;
    if (Array.isArray(value)) return `${c} = any(${params.add(value.map(String), `${type}[]`)})`;
    return `${c} = ${params.add(String(value), type)}`;
  });
}

/** The columns a filter reads, for the catalog check. */
export function filterColumns(filter: RowFilter): string[] {
  return Object.keys(filter).map((name) => ref(name).column);
}

const all = (conds: string[]) => conds.join(' and ') || 'true';

/**
 * The rows of the set: its conditions and, for an update, only rows the update would change (a row
 * that already holds the values is neither picked nor counted, run after run).
 */
export function conditions(set: RowSet, p: SqlParams): string[] {
  const conds = set.where(p);
  const changes = set.action.kind === 'update' ? changesRow(set.key.table, set.action.assign, p) : null;
  return changes === null ? conds : [...conds, changes];
}

/** The set's rows among `keys` that still match its conditions: an action never reaches further. */
function picked(set: RowSet, keys: readonly KeyValue[], p: SqlParams): string {
  return all([keyIn(set.key, keys, p), ...conditions(set, p)]);
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
async function keysReferencing(tx: PoolClient, set: RowSet, child: ChildTable, keys: KeyValue[], blocked: Set<string>): Promise<Set<string>> {
  if (!child.parentColumns || blocked.size === 0) return blocked;
  const p = new SqlParams();
  const values = child.parentColumns.map((c, i) => `t.${col(set.key.table, c)}::text as v${i}`).join(', ');
  const { rows } = await tx.query<Record<string, string>>(
    `select ${keySelect(set.key)}, ${values} from ${set.key.table.sql} t where ${picked(set, keys, p)}`,
    p.values,
  );
  const out = new Set<string>();
  for (const row of rows) if (blocked.has(JSON.stringify(child.parentColumns.map((_, i) => row[`v${i}`])))) out.add(JSON.stringify(keyOf(row, set.key)));
  return out;
}

async function count(tx: PoolClient, from: string, cond: string, values: unknown[]): Promise<number> {
  return Number((await tx.query<{ n: string }>(`select count(*) as n from ${from} t where ${cond}`, values)).rows[0]!.n);
}

/**
 * The picked keys whose children can all be locked: a parent with a child row another transaction
 * holds is skipped (it and its children stay for the next run). Predicting locks nothing, so skips nothing.
 */
async function lockableParents(tx: PoolClient, set: RowSet, keys: KeyValue[], mode: ActMode): Promise<KeyValue[]> {
  if (set.action.kind !== 'delete' || mode === 'predict') return keys;
  let kept = keys;
  for (const child of set.action.children) {
    if (kept.length === 0) break;
    const cp = new SqlParams();
    const condition = childCondition(set, child, (q) => picked(set, kept, q), cp);
    const blocked = await keysReferencing(tx, set, child, kept, await parentsWithLockedChildren(tx, child, condition, cp));
    kept = kept.filter((k) => !blocked.has(JSON.stringify(k)));
  }
  return kept;
}

/** Applies (or, predicting, counts) the set's action on the picked keys; returns rows affected and child rows. */
async function apply(tx: PoolClient, set: RowSet, keys: KeyValue[], mode: ActMode): Promise<{ affected: number; children: number; childrenUpdated: number }> {
  const { action } = set;
  const table = set.key.table;
  const p = new SqlParams();
  const selected = picked(set, keys, p);
  // With `acquire`, the statement first takes the rows' slots, and acts on the rows that took one.
  const slot = set.acquire && mode !== 'predict' ? set.acquire(p, selected) : undefined;
  const cond = slot ? `${selected} and ${slot.holds}` : selected;
  const withSlot = slot ? `with ${slot.cte} ` : '';
  if (action.kind === 'report' || action.kind === 'start_workflow' || action.kind === 'cases')
    return { affected: keys.length, children: 0, childrenUpdated: 0 };
  let children = 0;
  let childrenUpdated = 0;
  if (action.kind === 'delete') {
    for (const child of action.children) {
      const cp = new SqlParams();
      const childCond = childCondition(set, child, (q) => picked(set, keys, q), cp);
      const n = mode === 'predict' ? await count(tx, child.table.sql, childCond, cp.values) : await changeChildren(tx, set, child, childCond, cp);
      if (child.assign) childrenUpdated += n;
      else children += n;
    }
  }
  if (mode === 'predict') return { affected: await count(tx, table.sql, cond, p.values), children, childrenUpdated };
  if (action.kind === 'delete')
    return {
      affected: (await onTable(table.name, tx.query(`${withSlot}delete from ${table.sql} t where ${cond}`, p.values))).rowCount ?? 0,
      children,
      childrenUpdated,
    };
  if (action.kind === 'update') {
    const assignments = assignmentList(table, action.assign, p, set.label, action.zones);
    return {
      affected: (await onTable(table.name, tx.query(`${withSlot}update ${table.sql} t set ${assignments.join(', ')} where ${cond}`, p.values))).rowCount ?? 0,
      children,
      childrenUpdated,
    };
  }
  const copied = action.columns.map((c) => col(table, c));
  const values = action.values ?? [];
  const into = [...copied, ...values.map((v) => col(action.archive, v.column))].join(', ');
  const select = [...copied.map((c) => `t.${c}`), ...values.map((v) => v.value(p))].join(', ');
  const join = action.join ? ` left join ${action.join.sql} on ${action.join.on}` : '';
  const res = await onTable(
    table.name,
    tx.query(
      `with ${slot ? `${slot.cte}, ` : ''}moved as (delete from ${table.sql} t where ${cond} returning t.*) insert into ${action.archive.sql} (${into}) select ${select} from moved t${join}`,
      p.values,
    ),
  );
  return { affected: res.rowCount ?? 0, children, childrenUpdated };
}

/** Deletes the child rows `childCond` selects, or sets the child's `assign` columns on them; the rows changed. */
async function changeChildren(tx: PoolClient, set: RowSet, child: ChildTable, childCond: string, cp: SqlParams): Promise<number> {
  const statement = child.assign
    ? `update ${child.table.sql} t set ${assignmentList(child.table, child.assign, cp, set.label).join(', ')} where ${childCond}`
    : `delete from ${child.table.sql} t where ${childCond}`;
  return (await onTable(child.table.name, tx.query(statement, cp.values))).rowCount ?? 0;
}

/** What the set's rows count against max_fraction: its own table, and each child table it deletes from. */
function fractionTargets(set: RowSet): FractionTarget[] {
  const { action } = set;
  if (action.kind === 'report' || action.kind === 'start_workflow' || action.kind === 'cases') return [];
  const own = (p: SqlParams) => all(conditions(set, p));
  const targets: FractionTarget[] = [rowsTarget({ table: set.key.table, verb: VERB[action.kind], condition: own, picked: true })];
  if (action.kind === 'delete') {
    for (const child of action.children) targets.push(childTarget(set, child, own));
  }
  return targets;
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

/**
 * The set's rows in a window (the next `limit` after a cursor, or those among keys read ahead), in key
 * order, with their key and any `extra` columns; row-locked (skip locked) unless predicting.
 */
export async function selectRows<R extends Record<string, unknown>>(
  tx: PoolClient,
  set: RowSet,
  window: KeyWindow,
  mode: ActMode,
  extra?: (p: SqlParams) => string,
): Promise<{ key: KeyValue; row: R }[]> {
  const p = new SqlParams();
  const columns = extra ? `, ${extra(p)}` : '';
  const bound = keyWindow(set.key, window, p);
  const locked = mode !== 'predict' && set.lockedParent ? [set.lockedParent(p)] : [];
  const text = `select ${keySelect(set.key)}${columns} from ${set.key.table.sql} t where ${all([...conditions(set, p), ...bound.conds, ...locked])}
    order by ${keyOrder(set.key)} ${bound.limit} ${mode === 'predict' ? '' : 'for update of t skip locked'}`;
  return (await onTable(set.key.table.name, tx.query<R>(text, p.values))).rows.map((row) => ({ key: keyOf(row, set.key), row }));
}

/** The set's keys in a window, in key order. */
export async function selectKeys(tx: PoolClient, set: RowSet, window: KeyWindow, mode: ActMode): Promise<KeyValue[]> {
  return (await selectRows(tx, set, window, mode)).map((r) => r.key);
}

/**
 * The effect of acting on `selected`: counts (matched, the set's counter, child rows, and
 * `skipped_for_locks`: parents left for the next run because another transaction holds one of their
 * child rows) and one detail per key acted on.
 */
export async function actOnKeys(tx: PoolClient, set: RowSet, selected: KeyValue[], mode: ActMode): Promise<BatchEffect> {
  const keys = await lockableParents(tx, set, selected, mode);
  const done = keys.length > 0 ? await apply(tx, set, keys, mode) : { affected: 0, children: 0, childrenUpdated: 0 };
  const counts: Record<string, number> = { [set.matched ?? 'matched']: selected.length, [counterOf(set)]: done.affected };
  if (done.children) counts.children_deleted = done.children;
  if (done.childrenUpdated) counts.children_updated = done.childrenUpdated;
  if (keys.length < selected.length) counts.skipped_for_locks = selected.length - keys.length;
  const details = keys.map((k) => ({ set: set.label, table: set.key.table.name, id: keyLabel(k), action: set.action.kind }));
  return { counts, details, capped: selected.length, ...(keys.length < selected.length && { keys }) };
}

/** A row set as a unit of work for the engine. */
export function rowSetUnit(set: RowSet): WorkUnit<unknown, KeyValue> {
  if (set.action.kind === 'start_workflow')
    return startWorkflowUnit(
      {
        label: set.label,
        counter: set.counter,
        table: set.key.table.name,
        read: (client, after, limit) => selectKeys(client, set, { after, limit }, 'predict'),
      },
      set.action,
    );
  if (set.action.kind === 'cases') return casesUnit(set, set.action.branches, { selectRows, actOnKeys, childTarget, conditions });
  return keysUnit(set);
}

function keysUnit(set: RowSet): WorkUnit<KeyValue, KeyValue> {
  return {
    label: set.label,
    transactional: true,
    fraction: fractionTargets(set),
    nextBatch: (tx, after, limit, mode) => selectKeys(tx, set, { after, limit }, mode),
    cursorOf: (key) => key,
    act: (tx, keys, mode) => actOnKeys(tx, set, keys, mode),
    readAhead: {
      cursors: (client, after, limit) => keysUpTo(client, set.key, (p) => conditions(set, p), after, limit),
      among: (tx, keys, mode) => selectKeys(tx, set, { among: keys }, mode),
    },
    rowsLeft: (client, after) => rowsLeft(client, set.key, (p) => conditions(set, p), after, set.age),
    sample: (client, keys) => rowSample(client, set.key, keys),
  };
}

/** The counters a list of sets reports, so they appear even when zero. */
export function rowSetCounters(sets: readonly RowSet[]): string[] {
  const counters = [
    ...new Set([
      ...sets.map((s) => s.matched ?? 'matched'),
      ...sets.flatMap((s) => (s.action.kind === 'cases' ? s.action.branches.map((b) => b.counter) : [counterOf(s)])),
    ]),
  ];
  if (sets.some((s) => s.action.kind === 'start_workflow')) counters.push('already_running');
  const deletes = sets.flatMap((s) => (s.action.kind === 'cases' ? s.action.branches.map((b) => b.action) : [s.action]));
  const children = deletes.flatMap((a) => (a.kind === 'delete' ? a.children : []));
  if (children.some((c) => !c.assign)) counters.push('children_deleted');
  if (children.some((c) => c.assign)) counters.push('children_updated');
  return counters;
}

/** Runs the sets one after another through the batch engine: every task that picks rows and acts on them. */
export function processRowSets(session: TaskSession<RowSetConfig>, sets: readonly RowSet[]): Promise<TaskResult> {
  return runUnits(session, sets.map(rowSetUnit), { counters: rowSetCounters(sets) });
}
