import type { PoolClient } from 'pg';
import type { Counts } from '../../../core/contract';
import type { ActMode, FractionTarget, WorkUnit } from '../../engine/work-unit';
import { rowsTarget } from '../../engine/fraction-targets';
import type { SqlParams } from '../../sql/params';
import type { KeyValue } from '../../sql/keys';
import type { RowSet } from '../row-sets';
import type { RowSetOps } from '../row-cases';

/**
 * One action of a row set (delete, update, archive, report, start a workflow, cases) as a small
 * strategy: row-sets.ts selects the rows and dispatches by the action's kind; the strategy builds
 * its statement, counts what it would do in a dry run, and says what it counts and guards.
 */

/** What an action is given of one batch: its keys (already selected and locked) in the batch's transaction. */
export interface ActionBatch<A> {
  tx: PoolClient;
  set: RowSet;
  action: A;
  keys: KeyValue[];
  mode: ActMode;
  /** The parameters of `cond`; the action's statement adds its own after them. */
  p: SqlParams;
  /** The set's rows among `keys` that still match its conditions: an action never reaches further. */
  cond: string;
  /** The same condition over other keys, with its parameters in another statement's `q`. */
  picked: (keys: readonly KeyValue[], q: SqlParams) => string;
  /**
   * One per batch, shared by its `lockable` and `act`: rows `lockable` already changed, by the table
   * (a delete's child tables, changed unless a row was held), which `act` counts instead of changing again.
   */
  ahead: Map<object, number>;
  /** One per batch too: per-table changes of statements `lockable` rolled back to a savepoint (BatchEffect.undone). */
  undone: Record<string, Counts>;
}

/** Rows an action changed (or, predicting, would change), and child rows deleted or updated. */
export interface Acted {
  affected: number;
  children: number;
  childrenUpdated: number;
}

export interface RowActionStrategy<A> {
  /** How a max_fraction refusal names what it does. */
  verb: string;
  /** The default result counter (the verb's past tense). */
  counter: string;
  /** Does it act inside the batch's transaction? (Starting a workflow cannot be rolled back.) */
  transactional: boolean;
  /** A condition the rows must also meet: only rows the action would change are picked (an update). */
  narrow?: (set: RowSet, action: A, p: SqlParams) => string | null;
  /** What its rows count against max_fraction; `own` is the set's condition. */
  fraction: (set: RowSet, action: A, own: (p: SqlParams) => string) => FractionTarget[];
  /** The keys of a batch it may act on (a delete skips parents with a locked child); all when unset. */
  lockable?: (batch: ActionBatch<A>) => Promise<KeyValue[]>;
  /** Acts on the batch's rows, or predicting, counts them. */
  act: (batch: ActionBatch<A>) => Promise<Acted>;
  /** The set's counters, when they are not its one counter (cases: each branch's). */
  setCounters?: (action: A) => string[];
  /** Counters it reports besides the set's own (`EXTRA_COUNTERS`), so they appear even when zero. */
  extraCounters?: (action: A) => string[];
  /** A unit of its own instead of the keyed unit row-sets.ts builds (workflow starts, cases). */
  unit?: (set: RowSet, action: A, ops: RowSetOps) => WorkUnit<unknown, KeyValue>;
}

/** The counters actions add, in the order a result lists them. */
export const EXTRA_COUNTERS = ['already_running', 'children_deleted', 'children_updated'] as const;

/** Rows of `from` (alias `t`) meeting `cond`. */
export async function count(tx: PoolClient, from: string, cond: string, values: unknown[]): Promise<number> {
  return Number((await tx.query<{ n: string }>(`select count(*) as n from ${from} t where ${cond}`, values)).rows[0]!.n);
}

/** The set's own table, for max_fraction: the rows it picks. */
export function ownTarget(set: RowSet, verb: string, own: (p: SqlParams) => string): FractionTarget {
  return rowsTarget({ table: set.key.table, verb, condition: own, picked: true });
}

/** The batch's rows, counted (a dry run that predicts). */
export const predicted = (b: ActionBatch<unknown>) => count(b.tx, b.set.key.table.sql, b.cond, b.p.values);

/** Acting on the rows only counts them (report, workflow starts, cases: the keys are the rows). */
export const keysOnly = async (b: ActionBatch<unknown>): Promise<Acted> => ({ affected: b.keys.length, children: 0, childrenUpdated: 0 });
