import type { PoolClient } from 'pg';
import type { RowFilter } from '../../tasks/fields';
import type { Counts, TaskResult } from '../../core/contract';
import { runUnits, type RunOptions } from '../engine/engine';
import type { BatchEffect } from '../engine/tally';
import type { ActMode, EngineConfig, TaskSession, WorkUnit } from '../engine/work-unit';
import type { StartAction } from './start-workflows';
import type { RowDetails, RowSetOps } from './row-cases';
import type { ChildTable } from './child-locks';
import { onTable } from '../engine/failures';
import { rowSample } from '../engine/plan-sample';
import { SqlParams } from '../sql/params';
import { col, colType, type ResolvedTable } from '../sql/identifiers';
import { keyIn, keyLabel, keyOf, keyOrder, keySelect, type KeyValue, keysUpTo, keyWindow, type KeyWindow, type RowKey } from '../sql/keys';
import { readText } from '../sql/expressions';
import type { Acquire } from './rule-slots';
import { type AgeColumn, rowsLeft } from '../sql/rows-left';
import { ref } from '../../core/column-refs';
import { type ActionBatch, EXTRA_COUNTERS, type RowActionStrategy } from './actions/action';
import { childCondition, childTarget, deleteRows, type DeleteAction } from './actions/delete';
import { updateRows, type UpdateAction } from './actions/update';
import { archiveRows, type ArchiveAction } from './actions/archive';
import { reportRows, type ReportAction } from './actions/report';
import { startWorkflows } from './actions/start-workflow';
import { rowCases, type CasesAction } from './actions/cases';

export { childCondition, childTarget };
export type { ChildTable };

/** What happens to the rows of a set: each kind is a strategy in actions/ (`ACTIONS` below). */
export type RowAction = DeleteAction | UpdateAction | ArchiveAction | StartAction | ReportAction | CasesAction;

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
  /**
   * A slot in another table each row must take before it is acted on (a rule's `acquire`, rule-slots.ts): rows are picked
   * while their slot is free (`condition`), and a batch acts on those whose slot it took (`take`), in its transaction.
   */
  acquire?: { condition: (params: SqlParams) => string; take: Acquire };
  /** Why the set may act only on the rows that matched when it started (a rule's `first_per`): read ahead, never walked (WorkUnit.readAhead.onlyAtStart). */
  onlyAtStart?: string;
}

/** Each kind of action, as its strategy. */
const ACTIONS: { [K in RowAction['kind']]: RowActionStrategy<Extract<RowAction, { kind: K }>> } = {
  delete: deleteRows,
  update: updateRows,
  archive: archiveRows,
  report: reportRows,
  start_workflow: startWorkflows,
  cases: rowCases,
};

/** The strategy of an action (the map's type ties each kind to its own; TypeScript cannot follow that through an index). */
const strategyOf = <A extends RowAction>(action: A) => ACTIONS[action.kind] as unknown as RowActionStrategy<A>;

const counterOf = (set: RowSet) => set.counter ?? strategyOf(set.action).counter;

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
export function conditions(set: RowSet, p: SqlParams, slotTaken = false): string[] {
  const conds = [...set.where(p), ...(set.acquire && !slotTaken ? [set.acquire.condition(p)] : [])];
  const changes = strategyOf(set.action).narrow?.(set, set.action, p) ?? null;
  return changes === null ? conds : [...conds, changes];
}

/** The set's rows among `keys` that still match its conditions: an action never reaches further. */
function picked(set: RowSet, keys: readonly KeyValue[], p: SqlParams, slotTaken = false): string {
  return all([keyIn(set.key, keys, p), ...conditions(set, p, slotTaken)]);
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
 * The keys whose slot (`acquire`) this batch took: one statement inserts or updates the slot rows of
 * the picked rows and returns the rows that took theirs; a slot another transaction took first is
 * not taken twice, and its row is left for the next run like a row skipped for a lock.
 */
async function slotsTaken(tx: PoolClient, set: RowSet, acquire: NonNullable<RowSet['acquire']>, keys: KeyValue[]): Promise<KeyValue[]> {
  if (keys.length === 0) return keys;
  const p = new SqlParams();
  const cond = picked(set, keys, p);
  const slot = acquire.take(p, cond);
  const text = `with ${slot.cte} select ${keySelect(set.key)} from ${set.key.table.sql} t where ${cond} and ${slot.holds} order by ${keyOrder(set.key)}`;
  return (await onTable(set.key.table.name, tx.query<Record<string, unknown>>(text, p.values))).rows.map((row) => keyOf(row, set.key));
}

/**
 * The effect of acting on `selected`: counts (matched, the set's counter, child rows, and
 * `skipped_for_locks`: parents left for the next run because another transaction holds one of their
 * child rows, or took a row's slot first) and one detail per key acted on.
 */
export async function actOnKeys(tx: PoolClient, set: RowSet, selected: KeyValue[], mode: ActMode): Promise<BatchEffect> {
  const strategy = strategyOf(set.action);
  const ahead = new Map<object, number>();
  const undone: Record<string, Counts> = {};
  // Once a batch took its rows' slots (acquire), the slots are no longer free: the action reads the rows without that condition.
  const batch = (keys: KeyValue[], slotTaken = false): ActionBatch<RowAction> => {
    const p = new SqlParams();
    const cond = picked(set, keys, p, slotTaken);
    return { tx, set, action: set.action, keys, mode, p, cond, picked: (among, q) => picked(set, among, q, slotTaken), ahead, undone };
  };
  const lockable = strategy.lockable ? await strategy.lockable(batch(selected)) : selected;
  const acquire = mode === 'predict' ? undefined : set.acquire;
  const keys = acquire ? await slotsTaken(tx, set, acquire, lockable) : lockable;
  const done = keys.length > 0 ? await strategy.act(batch(keys, acquire !== undefined)) : { affected: 0, children: 0, childrenUpdated: 0 };
  const counts: Record<string, number> = { [set.matched ?? 'matched']: selected.length, [counterOf(set)]: done.affected };
  if (done.children) counts.children_deleted = done.children;
  if (done.childrenUpdated) counts.children_updated = done.childrenUpdated;
  if (keys.length < selected.length) counts.skipped_for_locks = selected.length - keys.length;
  const details = keys.map((k) => ({ set: set.label, table: set.key.table.name, id: keyLabel(k), action: set.action.kind }));
  return {
    counts,
    details,
    capped: selected.length,
    ...(keys.length < selected.length && { keys }),
    ...(Object.keys(undone).length > 0 && { undone }),
  };
}

/** What this module lends the units of actions with their own (cases, workflow starts). */
const OPS: RowSetOps = { selectRows, actOnKeys, childTarget, conditions };

/** A row set as a unit of work for the engine: the action's own unit, or the keyed one. */
export function rowSetUnit(set: RowSet): WorkUnit<unknown, KeyValue> {
  const strategy = strategyOf(set.action);
  return strategy.unit ? strategy.unit(set, set.action, OPS) : keysUnit(set, strategy);
}

function keysUnit(set: RowSet, strategy: RowActionStrategy<RowAction>): WorkUnit<KeyValue, KeyValue> {
  return {
    label: set.label,
    picks: set.key.table,
    transactional: strategy.transactional,
    fraction: strategy.fraction(set, set.action, (p) => all(conditions(set, p))),
    nextBatch: (tx, after, limit, mode) => selectKeys(tx, set, { after, limit }, mode),
    cursorOf: (key) => key,
    act: (tx, keys, mode) => actOnKeys(tx, set, keys, mode),
    readAhead: {
      cursors: (client, after, limit, first) => keysUpTo(client, set.key, (p) => conditions(set, p), after, limit, first),
      among: (tx, keys, mode) => selectKeys(tx, set, { among: keys }, mode),
      ...(set.onlyAtStart !== undefined && { onlyAtStart: set.onlyAtStart }),
    },
    rowsLeft: (client, after) => rowsLeft(client, set.key, (p) => conditions(set, p), after, set.age),
    sample: (client, keys) => rowSample(client, set.key, keys),
  };
}

/** The counters a list of sets reports, so they appear even when zero. */
export function rowSetCounters(sets: readonly RowSet[]): string[] {
  const counters = [
    ...new Set([...sets.map((s) => s.matched ?? 'matched'), ...sets.flatMap((s) => strategyOf(s.action).setCounters?.(s.action) ?? [counterOf(s)])]),
  ];
  const extras = new Set(sets.flatMap((s) => strategyOf(s.action).extraCounters?.(s.action) ?? []));
  return [...counters, ...EXTRA_COUNTERS.filter((c) => extras.has(c))];
}
/** Runs the sets one after another through the batch engine: every task that picks rows and acts on them. */
export function processRowSets(
  session: TaskSession<RowSetConfig>,
  sets: readonly RowSet[],
  explainDryRunFailure?: RunOptions['explainDryRunFailure'],
): Promise<TaskResult> {
  return runUnits(session, sets.map(rowSetUnit), { counters: rowSetCounters(sets), explainDryRunFailure });
}
