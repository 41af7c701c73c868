import type { ColumnRef } from '../../core/column-refs';
import type { RowDetails } from './row-cases';
import type { RowBranch, RowSet } from './row-sets';
import type { StartAction } from './start-workflows';
import { readAs, type Assigned } from '../sql/expressions';
import type { RowKey } from '../sql/keys';
import type { SqlParams } from '../sql/params';
import type { AgeColumn } from '../sql/rows-left';
import type { TimestampZones } from '../sql/time';

/**
 * "Re-queue up to N times, then give up": the one implementation behind runs.cleanup_stale, the
 * `stuck_pending` rule of assets.detect_orphans and extraction.queue_orphans. It is a row set whose
 * action is `cases` (row-cases.ts): while a row's retry counter is below its limit it is re-queued
 * (the counter incremented, then the re-queue's assignments), else it takes the first final outcome
 * whose condition holds. One SQL CASE decides each row's branch under its row lock, and each branch
 * writes in the same transaction, so the dry run, read-ahead, max_fraction, plans and the ledger are
 * the row-set engine's.
 */

type Assignments = [ColumnRef, Assigned][];

/** A final outcome: the rows it takes and what it writes. */
export interface FinalOutcome {
  /** The rows of this outcome among those out of retries (alias `t`); null: all that are left. */
  when: ((p: SqlParams) => string) | null;
  assign: Assignments;
  /** Its counter, e.g. `finalized` or `failed` (outcomes may share one). */
  counter: string;
}

export interface Requeue {
  label: string;
  key: RowKey;
  /** The rows to re-queue or give up on (alias `t`), e.g. pending for more than an hour. */
  where: (p: SqlParams) => string[];
  /**
   * The retry counter (a column or JSON path; NULL counts as 0) and its limit: a number, or a column
   * of the row (each row its own limit; a NULL limit re-queues no more). null: no counter.
   */
  retries: { counter: ColumnRef; limit: number | ColumnRef } | null;
  /**
   * What a re-queue writes after the counter's increment (a later assignment of the counter wins);
   * or, without a counter and final outcomes, a workflow started per row (outside any transaction,
   * so it cannot be a branch of a CASE: the set is then a plain `start_workflow` set).
   */
  requeue: Assignments | StartAction;
  /**
   * Final outcomes, the first whose `when` holds. None: rows are re-queued while retries remain and
   * left alone after (without a counter: always). Without a counter and with final outcomes there
   * is no re-queue branch, so none of its values is sent (an ENUM may lack its status), and its
   * counter is not among the set's (runUnits' `counters` can list it).
   */
  final: FinalOutcome[];
  /** The zone `now()` is written in, for naive timestamp columns. */
  zones?: TimestampZones;
  /** The counter of rows picked (default `matched`) and of re-queued rows (default `requeued`). */
  counters?: { matched?: string; requeued?: string };
  details?: RowDetails;
  age?: AgeColumn;
}

/** `coalesce(counter, 0) < limit`: retries remain. */
function retriesLeft(key: RowKey, retries: NonNullable<Requeue['retries']>, p: SqlParams): string {
  const limit = typeof retries.limit === 'number' ? p.add(retries.limit, 'int') : readAs(key.table, retries.limit, 'int', p);
  return `coalesce(${readAs(key.table, retries.counter, 'int', p)}, 0) < ${limit}`;
}

/** The row set of a re-queue: `cases` of re-queue and the final outcomes. */
export function requeueSet(r: Requeue): RowSet {
  const common = { label: r.label, key: r.key, where: r.where, ...(r.age && { age: r.age }) };
  const requeued = r.counters?.requeued ?? 'requeued';
  if (!Array.isArray(r.requeue)) {
    if (r.retries !== null || r.final.length > 0) throw new Error(`${r.label}: a re-queue that starts a workflow has no retry counter and no final outcome`);
    return { ...common, action: r.requeue, counter: requeued };
  }
  const retries = r.retries;
  const update = (assign: Assignments) => ({ kind: 'update' as const, assign, ...(r.zones && { zones: r.zones }) });
  const branches: RowBranch[] = r.final.map((f) => ({ when: f.when, action: update(f.assign), counter: f.counter }));
  if (retries !== null) {
    const assign = update([[retries.counter, { increment: 1 }], ...r.requeue]);
    branches.unshift({ when: (p) => retriesLeft(r.key, retries, p), action: assign, counter: requeued });
  } else if (r.final.length === 0) branches.unshift({ when: null, action: update(r.requeue), counter: requeued });
  return {
    ...common,
    action: { kind: 'cases', branches },
    ...(r.counters?.matched && { matched: r.counters.matched }),
    ...(r.details && { details: r.details }),
  };
}
