import {
  ActivityCancellationType,
  type ActivityInterfaceFor,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  defineSignal,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  type Backlog,
  type BatchCheckpoint,
  type Counts,
  type PartialResult,
  PROGRESS_SIGNAL,
  type TaskInput,
  type TaskProgress,
  type TaskResult,
} from './types';
import { DRY_RUN, OUTCOME, ROWS_CHANGED, TASK_ID, TASK_TYPE } from './search-attributes';
import { finalDetails, liveDetails, outcomeHeadline, rowsChanged, type RunOutcome, stoppedDetails } from './run-text';
import { afterRun } from './after-run';
import { runWithApproval } from './approval';

/** `caretaker status <workflowId>` asks every Caretaker workflow this. */
export const progressQuery = defineQuery<TaskProgress>('progress');

/** Live progress from the task's activity, shown as the run's current details in Temporal Web. */
export const progressSignal = defineSignal<[BatchCheckpoint]>(PROGRESS_SIGNAL);

/** Failure types an activity raises for problems a retry cannot fix. */
const NON_RETRYABLE = ['ConfigError', 'SafetyLimitExceeded', 'CursorDidNotAdvance'];

/**
 * Since this patch a dry run that finds the real run would be refused fails like the refused real
 * run (Temporal shows both as Failed, with outcome `refused`); runs recorded before it completed.
 */
const DRY_RUN_REFUSAL_FAILS = 'dry-run-refusal-fails';

/** A dry run's refused result as the failure a refused real run raises, its counts in the details. */
function refusalOf(result: TaskResult): ApplicationFailure {
  const partial: PartialResult = { dryRun: result.dryRun, counts: result.counts, tables: result.tables, sets: result.sets, batches: result.batches };
  return ApplicationFailure.nonRetryable(result.reason ?? 'refused by a safety limit', 'SafetyLimitExceeded', partial);
}

/** Memo key of a run's outcome, readable by `caretaker status` without a worker. */
export const OUTCOME_MEMO = 'caretakerOutcome';

/** Reads a failed run's ledger: short, and itself never cancelled. */
const ledger = proxyActivities<Pick<Activities, 'readRunLedger'>>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } });

/** The innermost message of a failure chain (ActivityFailure -> ApplicationFailure -> ...). */
function rootMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  let message = e?.message ?? String(err);
  while (e?.cause) {
    e = e.cause as { message?: string; cause?: unknown };
    if (e.message) message = e.message;
  }
  return message;
}

/** A real run a safety limit refused fails with this type; its outcome says `refused`, not `failed`. */
function isRefusal(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) if (e.type === 'SafetyLimitExceeded') return true;
  return false;
}

/** The partial counts an activity attached to its failure (`details[0]`), if any. */
function partialFromFailure(err: unknown): PartialResult | undefined {
  for (let e = err as { details?: unknown[]; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    const first = Array.isArray(e.details) ? e.details[0] : undefined;
    if (first && typeof first === 'object' && 'counts' in first) return first as PartialResult;
  }
  return undefined;
}

/**
 * The activities, with the timeouts and retry policy the task's config asked for. A plugin passes
 * its own activity type: `taskActivities<typeof myActivities>(input)`.
 */
export function taskActivities<A extends object = Activities>(input: TaskInput): ActivityInterfaceFor<A> {
  const { startToCloseMs, heartbeatMs, retry } = input.activity;
  const dryRun = (input.config as { dry_run?: boolean }).dry_run === true;
  return proxyActivities<A>({
    // Temporal Web shows this on the activity: which task, and whether anything is committed.
    summary: `${dryRun ? 'DRY RUN · ' : ''}${input.type} (${input.taskId}): batches; live counts in its heartbeat`,
    startToCloseTimeout: startToCloseMs,
    heartbeatTimeout: heartbeatMs,
    // Wait for the activity to stop at its batch boundary before the workflow reports cancelled.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      maximumAttempts: retry.maximumAttempts,
      initialInterval: retry.initialIntervalMs,
      backoffCoefficient: retry.backoffCoefficient,
      maximumInterval: retry.maximumIntervalMs,
      nonRetryableErrorTypes: NON_RETRYABLE,
    },
  });
}

/**
 * How a run ended, for everyone who looks without opening the JSON: the memo (`caretaker status`),
 * the search attributes (Temporal Web's list, `caretaker history`) and the current details (the
 * run's page in Temporal Web).
 */
function recordOutcome(
  input: TaskInput,
  end: { outcome: RunOutcome; dryRun: boolean; reason?: string; counts: Counts; tables: Record<string, Counts>; backlog?: Backlog; details: string },
): void {
  const backlog = end.backlog && { rows: end.backlog.rows, oldest_age_seconds: end.backlog.oldest_age_seconds };
  upsertMemo({ [OUTCOME_MEMO]: { outcome: end.outcome, dryRun: end.dryRun, failure: end.reason, counts: end.counts, tables: end.tables, backlog } });
  upsertSearchAttributes([
    { key: TASK_ID, value: input.taskId },
    { key: TASK_TYPE, value: input.type },
    { key: DRY_RUN, value: end.dryRun },
    { key: OUTCOME, value: end.outcome },
    { key: ROWS_CHANGED, value: rowsChanged(end.tables) },
  ]);
  setCurrentDetails(end.details);
}

/**
 * The frame of every task workflow: registers the progress query, runs `body` with the task's
 * activities, and records the result (or that it is being cancelled) for the query.
 */
export async function runTask<C, A extends object = Activities>(
  input: TaskInput<C & { dry_run: boolean }>,
  body: (activities: ActivityInterfaceFor<A>) => Promise<TaskResult>,
): Promise<TaskResult> {
  const progress: TaskProgress = {
    taskId: input.taskId,
    type: input.type,
    dryRun: input.config.dry_run,
    phase: 'starting',
    startedAt: new Date().toISOString(),
  };
  const started = Date.now();
  setHandler(progressQuery, () => progress);
  progress.phase = 'running';
  setCurrentDetails(
    `**${outcomeHeadline('running')}**${progress.dryRun ? ' (DRY RUN)' : ''} since ${progress.startedAt}. Live rows and batches: Pending Activities → heartbeat details, or \`caretaker status ${workflowInfo().workflowId}\`.`,
  );
  // The activity's checkpoints, a bounded number of them (activities/engine/live-progress.ts).
  setHandler(progressSignal, (checkpoint) => {
    if (progress.phase === 'running') setCurrentDetails(liveDetails(progress.dryRun, started, checkpoint, Date.now()));
  });
  let result: TaskResult;
  let decided: RunOutcome | undefined; // rejected or expired: a run with approval:, whose plan was not applied
  try {
    const activities = taskActivities<A>(input as TaskInput);
    const approval = input.config.dry_run ? undefined : input.approval;
    if (approval) ({ result, outcome: decided } = await runWithApproval({ ...(input as TaskInput), approval }, activities, body));
    else result = await body(activities);
    if (result.status === 'refused' && patched(DRY_RUN_REFUSAL_FAILS)) throw refusalOf(result);
  } catch (err) {
    const cancelled = isCancellation(err);
    progress.phase = cancelled ? 'cancelling' : 'failed';
    progress.failure = rootMessage(err);
    progress.partial = partialFromFailure(err);
    if (!input.config.dry_run) {
      // The ledger knows exactly what committed, even when the last attempt died without a word.
      const { workflowId, runId } = workflowInfo();
      const fromLedger = await CancellationScope.nonCancellable(() => ledger.readRunLedger(input as TaskInput<{ dry_run: boolean }>, workflowId, runId)).catch(
        () => undefined,
      );
      progress.partial = fromLedger ?? progress.partial;
    }
    if (cancelled) progress.phase = 'cancelled';
    const outcome = cancelled ? 'cancelled' : isRefusal(err) ? 'refused' : 'failed';
    recordOutcome(input as TaskInput, {
      outcome,
      dryRun: progress.dryRun,
      reason: progress.failure,
      counts: progress.partial?.counts ?? {},
      tables: progress.partial?.tables ?? {},
      details: stoppedDetails(outcome, progress.failure, progress.partial, progress.dryRun, Date.now() - started),
    });
    await afterRun(input, progress, err); // metrics and alerts (workflows/after-run.ts)
    throw err;
  }
  progress.phase = 'done';
  progress.result = result;
  recordOutcome(input as TaskInput, {
    outcome: decided ?? result.status,
    dryRun: result.dryRun,
    reason: result.reason,
    counts: result.counts,
    tables: result.tables,
    backlog: result.backlog,
    details: finalDetails({
      outcome: decided ?? result.status,
      dryRun: result.dryRun,
      reason: result.reason,
      counts: result.counts,
      tables: result.tables,
      batches: result.batches,
      elapsedMs: Date.now() - started,
      errors: result.errors,
    }),
  });
  await afterRun(input, progress); // metrics and alerts (workflows/after-run.ts)
  return result;
}
