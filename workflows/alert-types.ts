/**
 * Alert rules as they travel in a run's input (config `alerts:`, global merged with the task's).
 * Plain data: webhook URLs are named (`url_env`), never written, because the input is stored in
 * Temporal's history; the worker reads the variable when it delivers.
 */
import type { Backlog } from './types';
import { changedRows, rowsChanged, type RunEnd } from '../core/outcome';

export type AlertEvent = 'failure' | 'refusal' | 'cancellation';

export interface AlertWebhook {
  /** Names the webhook in results and metrics. */
  name: string;
  /** `slack`: `{ text }` plus the fields below; `json`: the fields only. */
  format: 'slack' | 'json';
  /** Environment variable on the worker that holds the URL. */
  url_env: string;
}

export interface AlertSpec {
  webhooks: AlertWebhook[];
  on: AlertEvent[];
  /** Temporal Web base for links; unset: the worker's CARETAKER_UI_URL, else http://localhost:8233. */
  ui_url?: string;
  /** A real run that changed more rows than this (summed over tables). */
  rows_changed_above?: number;
  /** This many completed real runs in a row that changed no rows. */
  zero_rows_runs?: number;
  /** A run that took longer than this (milliseconds). */
  duration_above?: number;
  /** A real run that left more eligible rows than this for the next run (its `backlog.rows`). */
  backlog_above?: number;
}

/**
 * A run's end as alerts see it (`alertRunOf(RunEnd)`): the rows a real run changed (none for a dry
 * run), the cause in one line. This shape travels in the alert workflow's input.
 */
export interface AlertRun {
  taskId: string;
  type: string;
  database: string;
  dryRun: boolean;
  /** A RunOutcome (core/outcome.ts). */
  outcome: string;
  /** The failure's or refusal's message, a skipped run's reason, or a completed run's first error. */
  cause?: string;
  /** The ApplicationFailure type, e.g. SafetyLimitExceeded. */
  failureType?: string;
  /** Rows a real run changed, per table and action (from its result or, when it failed, its ledger); a dry run: none. */
  tables: Record<string, Record<string, number>>;
  rowsChanged: number;
  /** Eligible rows a completed run left for the next one (tasks that pick rows). */
  backlog?: Backlog;
  durationMs: number;
  namespace: string;
  workflowId: string;
  runId: string;
}

/** The alert's view of a run's end. */
export function alertRunOf(end: RunEnd): AlertRun {
  const tables = changedRows(end);
  const cause = end.reason ?? end.errors[0];
  return {
    taskId: end.taskId,
    type: end.type,
    database: end.database,
    dryRun: end.dryRun,
    outcome: end.outcome,
    ...(cause !== undefined && { cause }),
    ...(end.failureType !== undefined && { failureType: end.failureType }),
    tables,
    rowsChanged: rowsChanged(tables),
    ...(!end.stopped && end.backlog !== undefined && { backlog: end.backlog }),
    durationMs: end.durationMs,
    namespace: end.namespace,
    workflowId: end.workflowId,
    runId: end.runId,
  };
}

/** The alert activity's argument. */
export interface AlertRequest {
  spec: AlertSpec;
  run: AlertRun;
}
