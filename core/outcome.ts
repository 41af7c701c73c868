/**
 * A run's outcome, in one place. `runTask` builds one `RunEnd` when a run ends; the memo, the search
 * attributes, the current details, the metrics and the alerts are all made from it, and every reader
 * (the CLI's commands, health.report) reads the memo through `readOutcomeMemo`. Pure and
 * workflow-safe: it imports nothing of the project.
 *
 * "Rows changed" has one meaning: the rows PostgreSQL counted as inserted, updated and deleted in
 * the run's batch transactions, summed over every table (`TaskResult.tables`: cascades and rows
 * written by triggers included). A dry run's are the rows the real run would change: the memo, the
 * current details and the `CaretakerRowsChanged` search attribute show them; the metrics, the alerts
 * and the zero-rows streak count real runs only (a dry run changed nothing: `changedRows`). The
 * rate in the live details counts the task's counters (rows acted on), not rows changed.
 */

/** Counters by name, e.g. `{ deleted: 4 }` (a dry run says `{ would_delete: 4 }`); per table, PostgreSQL's inserted / updated / deleted. */
export type Counts = Record<string, number>;

/**
 * Eligible rows not yet done when a run ended: rows after where a run stopped (max_rows_per_run)
 * and rows skipped for locks. `oldest_age_seconds` only where the rows have a timestamp column
 * (retention's `timestamp_column`, stale runs' timestamp) and some are left after the stop.
 */
export interface Backlog {
  rows: number;
  oldest_age_seconds?: number;
}

/**
 * Every outcome a run ends with: a TaskResult's status, or how the workflow itself ended; `rejected`
 * and `expired`: a run whose plan waited for approval and was not applied (workflows/approval.ts).
 */
export type RunOutcome = 'completed' | 'completed_with_errors' | 'skipped' | 'refused' | 'failed' | 'cancelled' | 'rejected' | 'expired';

/** Every outcome, for validation and docs. */
export const RUN_OUTCOMES: readonly RunOutcome[] = ['completed', 'completed_with_errors', 'skipped', 'refused', 'failed', 'cancelled', 'rejected', 'expired'];

/** The CaretakerOutcome of a run whose plan waits for a person (while it runs; it then ends with a RunOutcome). */
export const AWAITING_APPROVAL = 'awaiting_approval';

/** Outcomes of a run that did what it was asked (a real one of these updates the last-success gauge and the zero-rows streak). */
export function isCompleted(outcome: string): boolean {
  return outcome === 'completed' || outcome === 'completed_with_errors';
}

/** How a run ended, as the workflow saw it: built once by runTask, read by everything that reports the run. */
export interface RunEnd {
  taskId: string;
  type: string;
  database: string;
  dryRun: boolean;
  outcome: RunOutcome;
  /** The run ended by a failure or cancellation (a real run's refusal included): its counts are what it did before it stopped. */
  stopped: boolean;
  /** A failure's or refusal's innermost message, or the result's reason (a skipped run's, a dry run's refusal). */
  reason?: string;
  /** The ApplicationFailure type of a failure, e.g. SafetyLimitExceeded. */
  failureType?: string;
  counts: Counts;
  /** Rows changed per table (a dry run: would change): from the result or, when it failed, its ledger. */
  tables: Record<string, Counts>;
  /** `rowsChanged(tables)`. */
  rowsChanged: number;
  batches: number;
  /** A completed_with_errors run's errors. */
  errors: string[];
  /** Eligible rows a completed run left for the next one, the task's total (tasks that pick rows). */
  backlog?: Backlog;
  /** From the run's start (Temporal's runStartTime) to its end. */
  durationMs: number;
  namespace: string;
  workflowId: string;
  runId: string;
}

/** Rows inserted, updated and deleted over every table (a dry run's would-be changes). */
export function rowsChanged(tables: Record<string, Counts>): number {
  let n = 0;
  for (const counts of Object.values(tables)) for (const v of Object.values(counts)) n += typeof v === 'number' ? v : 0;
  return n;
}

/** The rows a run really changed, per table: none for a dry run. What metrics and alerts count. */
export function changedRows(end: Pick<RunEnd, 'dryRun' | 'tables'>): Record<string, Counts> {
  return end.dryRun ? {} : end.tables;
}

/** A backlog without its per-set parts (the memo, an alert and a gauge need only the total). */
export function backlogTotal(backlog: Backlog): Backlog {
  return { rows: backlog.rows, ...(backlog.oldest_age_seconds !== undefined && { oldest_age_seconds: backlog.oldest_age_seconds }) };
}

/** Memo key of a run's outcome, readable by `caretaker status` and health.report without a worker. */
export const OUTCOME_MEMO = 'caretakerOutcome';

/** The memo runTask writes when a run ends (`OUTCOME_MEMO`). */
export interface OutcomeMemo {
  /** A RunOutcome; a string because histories written by other versions are read too. */
  outcome: string;
  dryRun: boolean;
  /** `RunEnd.reason`. */
  failure?: string;
  /** What the run did (a failed or cancelled run: before it stopped; a dry run: would do). */
  counts: Counts;
  tables: Record<string, Counts>;
  backlog?: Backlog;
}

/** The memo of a run's end. Key order and values are those runs recorded before this module: replays compare them. */
export function outcomeMemo(end: RunEnd): OutcomeMemo {
  const backlog = end.backlog && { rows: end.backlog.rows, oldest_age_seconds: end.backlog.oldest_age_seconds };
  return { outcome: end.outcome, dryRun: end.dryRun, failure: end.reason, counts: end.counts, tables: end.tables, backlog } as OutcomeMemo;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A run's outcome memo from its decoded memo (a workflow description's or a visibility row's
 * `memo`), or undefined when the run recorded none (still running, terminated, timed out, not
 * Caretaker's). Fields of the wrong type are dropped, never trusted.
 */
export function readOutcomeMemo(memo: Record<string, unknown> | undefined): OutcomeMemo | undefined {
  const m = memo?.[OUTCOME_MEMO];
  if (!isRecord(m) || typeof m.outcome !== 'string') return undefined;
  const counts = isRecord(m.counts) ? (m.counts as Counts) : {};
  const tables = isRecord(m.tables) ? (m.tables as Record<string, Counts>) : {};
  const backlog = isRecord(m.backlog) && typeof m.backlog.rows === 'number' ? (m.backlog as unknown as Backlog) : undefined;
  return {
    outcome: m.outcome,
    dryRun: m.dryRun === true,
    ...(typeof m.failure === 'string' && { failure: m.failure }),
    counts,
    tables,
    ...(backlog && { backlog }),
  };
}

/**
 * How a closed run ended: the outcome runTask recorded (refused, completed_with_errors, ...), else
 * Temporal's status in lower case (a run terminated or timed out records nothing); `running` while
 * it runs (`awaiting_approval` while its plan waits). `status` is Temporal's execution status name (COMPLETED, FAILED, CANCELED, ...).
 */
export function runOutcomeOf(status: string, recorded: string | undefined): string {
  if (status === 'RUNNING') return recorded === AWAITING_APPROVAL ? AWAITING_APPROVAL : 'running';
  return recorded && recorded !== 'running' ? recorded : status.toLowerCase().replace('canceled', 'cancelled');
}

/** The last run a schedule started (fired, triggered or backfilled), and how it ended. */
export interface ScheduledRun {
  workflowId: string;
  /** Temporal's execution status name: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT. */
  status: string;
  /** `runOutcomeOf(status, memo.outcome)`: running, a RunOutcome, or Temporal's status in lower case. */
  outcome: string;
  memo?: OutcomeMemo;
  startTime: Date;
}

/**
 * "A schedule's last outcome", for `caretaker schedules list` and health.report: the latest run of
 * the chain the schedule's most recent action started (manual and startup runs of the task are not
 * the schedule's, so a schedule that never fired has none). `describe` is the Temporal client's
 * `workflow.getHandle(workflowId).describe()`; its errors are the caller's to report.
 */
export async function lastScheduledRun(
  recentActions: readonly { action: { workflow: { workflowId: string } } }[],
  describe: (workflowId: string) => Promise<{ status: { name: string }; memo?: Record<string, unknown>; startTime: Date }>,
): Promise<ScheduledRun | undefined> {
  const last = recentActions.at(-1);
  if (!last) return undefined;
  const { workflowId } = last.action.workflow;
  const d = await describe(workflowId);
  const memo = readOutcomeMemo(d.memo);
  return { workflowId, status: d.status.name, outcome: runOutcomeOf(d.status.name, memo?.outcome), ...(memo && { memo }), startTime: d.startTime };
}
