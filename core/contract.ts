/**
 * The contract between client, workflows and activities. Pure types and plain data only: this file
 * is part of the workflow bundle, and everything here ends up in Temporal's event history, so it
 * never carries credentials (a task names its database; the worker maps the name to a pool).
 */

import type { AlertSpec } from './alerts';
import type { Backlog, Counts } from './outcome';
import type { ApprovalSpec } from './approval';

export interface RetrySpec {
  maximumAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
}

/** The argument every Caretaker workflow takes. */
export interface TaskInput<C = Record<string, unknown>> {
  taskId: string;
  /** Canonical task type, e.g. `runs.cleanup_stale`. */
  type: string;
  /** Named target database, resolved by the worker. */
  database: string;
  /** The task's `config` block with defaults applied (and `dry_run` folded in). */
  config: C;
  /** Where and when to alert at the end of the run (config `alerts:`); absent: no alerts. */
  alerts?: AlertSpec;
  activity: {
    startToCloseMs: number;
    heartbeatMs: number;
    retry: RetrySpec;
  };
  /** Plan → approve → apply (config `approval:`): absent for an ordinary run. */
  plan?: PlanDirective;
  /** The task's `approval:` rule (workflows/approval.ts); absent: no approval, today's behaviour. */
  approval?: ApprovalSpec;
}

/**
 * A run that needs approval calls its task's activity twice. `record`: an executing dry run that also
 * stores the keys of every row it would change under `planId` in the ledger schema of the target
 * database (never in history) and returns `TaskResult.plan`. `apply`: a real run limited to the
 * planned keys that still match; planned rows that no longer match are counted as `drifted`, rows
 * that began to match after planning are left for the next run; when `drifted / planned` exceeds
 * `maxDrift` the run fails with `PlanDrifted` before changing anything.
 */
export type PlanDirective = { phase: 'record'; planId: string } | { phase: 'apply'; planId: string; maxDrift: number };

/** What `record` froze: exact counts per table and per set, the keys' digest, and a bounded sample of rows. */
export interface PlanSummary {
  planId: string;
  /** Planned keys over all units. */
  keys: number;
  /** sha256 over the planned keys, unit by unit in key order. */
  keysDigest: string;
  /** A few planned rows per unit (bounded; large values and secret-looking columns cut). */
  sample: Record<string, Record<string, unknown>[]>;
}

/**
 * `refused`: a dry run found that the real run would be refused by a safety limit (max_fraction,
 * an empty base_dir); the real run fails instead, with the same message.
 */
export type TaskStatus = 'completed' | 'completed_with_errors' | 'skipped' | 'refused';

/** Counters and Backlog live with the outcome (core/outcome.ts), which imports nothing. */
export type { Backlog, Counts } from './outcome';

/** A run's summary, in the shape of seed 002's "Return Data": counts, per-item details, errors. */
export interface TaskResult {
  status: TaskStatus;
  taskId: string;
  type: string;
  dryRun: boolean;
  /** Why a run did nothing, e.g. "already running". */
  reason?: string;
  /** Totals over the whole run. */
  counts: Counts;
  /**
   * Rows inserted, updated and deleted per table, as PostgreSQL counted them in the batch
   * transactions: cascades and rows written by triggers included.
   */
  tables: Record<string, Counts>;
  /** The same counters as `counts`, per policy / rule / counter of the task. */
  sets: Record<string, Counts>;
  details: Record<string, unknown>[];
  /** True when more items were affected than `details` holds. */
  detailsTruncated: boolean;
  /** How many items are counted but not listed in `details` (details_limit, details_max_bytes). */
  detailsOmitted: number;
  errors: string[];
  batches: number;
  startedAt: string;
  finishedAt: string;
  /** How the run paced itself (batch engine tasks): batch sizes and throttle pauses. */
  pace?: RunPace;
  /** Eligible rows the run left for the next one (tasks that pick rows); a dry run: what the real run would leave. */
  backlog?: RunBacklog;
  /** A `record` run's plan (see `PlanDirective`). */
  plan?: PlanSummary;
}

/** The task's backlog, and each policy's / rule's (`sets`, by the same names as the result's `sets`). */
export interface RunBacklog extends Backlog {
  sets: Record<string, Backlog>;
}

/** What the throttle did in one attempt: pauses by reason (`active_connections`, `max_rows_per_second`, ...). */
export interface ThrottleReport {
  pauses: number;
  waitedMs: number;
  reasons: Record<string, number>;
}

/** Batch sizes chosen (adaptive or fixed), the slowest batch transaction, and the throttle's pauses. */
export interface RunPace {
  batchSize: { first: number; last: number; smallest: number; largest: number; adaptive: boolean };
  slowestBatchMs: number;
  throttle: ThrottleReport;
  /** Keys of sparse sets read in one pass before the batches (activities/engine/read-ahead.ts), in the last attempt. */
  readAhead: number;
}

/** What a failed or cancelled run had done when it stopped (from its ledger, else its last attempt). */
export interface PartialResult {
  dryRun: boolean;
  counts: Counts;
  tables: Record<string, Counts>;
  sets: Record<string, Counts>;
  batches: number;
}

/**
 * What an activity heartbeats after each batch, for `caretaker status`: small and of fixed size.
 * A retry does not resume from it (a real run resumes from its ledger, a dry run starts over).
 */
export interface BatchCheckpoint {
  unit: number;
  batches: number;
  counts: Counts;
  at: string;
  /** The next batch's size, throttle pauses so far, and why the run is waiting right now (if it is). */
  pace?: { batchSize: number; pauses: number; waiting?: string };
}

/**
 * The signal an activity sends its workflow with its latest checkpoint, so Temporal Web's current
 * details show live progress. Bounded (activities/engine/live-progress.ts): a run's history grows by
 * a fixed number of events at most, whatever its length.
 */
export const PROGRESS_SIGNAL = 'caretakerProgress';

/** The query every Caretaker workflow answers with its `TaskProgress` (`caretaker status`). */
export const PROGRESS_QUERY = 'progress';

/** Answer of the `progress` workflow query. */
export interface TaskProgress {
  taskId: string;
  type: string;
  dryRun: boolean;
  phase: 'starting' | 'running' | 'cancelling' | 'done' | 'failed' | 'cancelled';
  startedAt: string;
  result?: TaskResult;
  /** What a failed or cancelled run changed before it stopped. */
  partial?: PartialResult;
  /** Why it failed. */
  failure?: string;
}
