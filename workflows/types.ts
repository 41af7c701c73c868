/**
 * The contract between client, workflows and activities. Pure types and plain data only: this file
 * is part of the workflow bundle, and everything here ends up in Temporal's event history, so it
 * never carries credentials (a task names its database; the worker maps the name to a pool).
 */

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
  activity: {
    startToCloseMs: number;
    heartbeatMs: number;
    retry: RetrySpec;
  };
}

export type TaskStatus = 'completed' | 'completed_with_errors' | 'skipped';

/** A run's summary, in the shape of seed 002's "Return Data": counts, per-item details, errors. */
export interface TaskResult {
  status: TaskStatus;
  taskId: string;
  type: string;
  dryRun: boolean;
  /** Why a run did nothing, e.g. "already running". */
  reason?: string;
  counts: Record<string, number>;
  details: Record<string, unknown>[];
  /** True when more items were affected than `details` holds. */
  detailsTruncated: boolean;
  errors: string[];
  batches: number;
  startedAt: string;
  finishedAt: string;
}

/** What an activity heartbeats after each committed batch; a retry resumes from it. */
export interface BatchCheckpoint<Cursor = unknown> {
  cursor: Cursor;
  batches: number;
  counts: Record<string, number>;
  details: Record<string, unknown>[];
  detailsTruncated: boolean;
  errors: string[];
  startedAt: string;
}

/** Answer of the `progress` workflow query. */
export interface TaskProgress {
  taskId: string;
  type: string;
  dryRun: boolean;
  phase: 'starting' | 'running' | 'cancelling' | 'done';
  startedAt: string;
  result?: TaskResult;
}
