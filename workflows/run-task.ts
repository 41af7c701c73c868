import {
  ActivityCancellationType,
  type ActivityInterfaceFor,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  defineSignal,
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
  type BatchCheckpoint,
  type PartialResult,
  PROGRESS_QUERY,
  PROGRESS_SIGNAL,
  type TaskInput,
  type TaskProgress,
  type TaskResult,
} from '../core/contract';
import { DRY_RUN, OUTCOME, ROWS_CHANGED, TASK_ID, TASK_TYPE } from '../core/search-attributes';
import { finalDetails, liveDetails, outcomeHeadline } from '../core/run-text';
import { afterRun } from './after-run';
import { runWithApproval } from './approval';
import { classifyFailure, FailureType, NON_RETRYABLE_TYPES } from '../core/failures';
import { backlogTotal, OUTCOME_MEMO, outcomeMemo, type RunEnd, type RunOutcome, rowsChanged } from '../core/outcome';

/** `caretaker status <workflowId>` asks every Caretaker workflow this. */
export const progressQuery = defineQuery<TaskProgress>(PROGRESS_QUERY);

/** Live progress from the task's activity, shown as the run's current details in Temporal Web. */
export const progressSignal = defineSignal<[BatchCheckpoint]>(PROGRESS_SIGNAL);

/**
 * Since this patch a dry run that finds the real run would be refused fails like the refused real
 * run (Temporal shows both as Failed, with outcome `refused`); runs recorded before it completed.
 */
const DRY_RUN_REFUSAL_FAILS = 'dry-run-refusal-fails';

/** A dry run's refused result as the failure a refused real run raises, its counts in the details. */
function refusalOf(result: TaskResult): ApplicationFailure {
  const partial: PartialResult = { dryRun: result.dryRun, counts: result.counts, tables: result.tables, sets: result.sets, batches: result.batches };
  return ApplicationFailure.nonRetryable(result.reason ?? 'refused by a safety limit', FailureType.SafetyLimitExceeded, partial);
}

/** Memo key of a run's outcome (core/outcome.ts; exported here for plugins that imported it from run-task). */
export { OUTCOME_MEMO };

/** Reads a failed run's ledger: short, and itself never cancelled. */
const ledger = proxyActivities<Pick<Activities, 'readRunLedger'>>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } });

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
      nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES],
    },
  });
}

/** The run's end, built once: everything below reports this one value. */
function runEndOf(
  input: TaskInput,
  end: Pick<RunEnd, 'outcome' | 'stopped' | 'reason' | 'failureType' | 'counts' | 'tables' | 'batches' | 'errors' | 'backlog'>,
): RunEnd {
  const info = workflowInfo();
  return {
    taskId: input.taskId,
    type: input.type,
    database: input.database,
    dryRun: (input.config as { dry_run?: boolean }).dry_run === true,
    ...end,
    rowsChanged: rowsChanged(end.tables),
    durationMs: Date.now() - info.runStartTime.getTime(),
    namespace: info.namespace,
    workflowId: info.workflowId,
    runId: info.runId,
  };
}

/**
 * How a run ended, for everyone who looks without opening the JSON: the memo (`caretaker status`),
 * the search attributes (Temporal Web's list, `caretaker history`) and the current details (the
 * run's page in Temporal Web).
 */
function recordOutcome(end: RunEnd): void {
  upsertMemo({ [OUTCOME_MEMO]: outcomeMemo(end) });
  upsertSearchAttributes([
    { key: TASK_ID, value: end.taskId },
    { key: TASK_TYPE, value: end.type },
    { key: DRY_RUN, value: end.dryRun },
    { key: OUTCOME, value: end.outcome },
    { key: ROWS_CHANGED, value: end.rowsChanged },
  ]);
  setCurrentDetails(finalDetails(end));
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
    const failure = classifyFailure(err);
    const cancelled = failure.outcome === 'cancelled';
    progress.phase = cancelled ? 'cancelling' : 'failed';
    progress.failure = failure.message;
    progress.partial = failure.details as PartialResult | undefined;
    if (!input.config.dry_run) {
      // The ledger knows exactly what committed, even when the last attempt died without a word.
      const { workflowId, runId } = workflowInfo();
      const fromLedger = await CancellationScope.nonCancellable(() => ledger.readRunLedger(input as TaskInput<{ dry_run: boolean }>, workflowId, runId)).catch(
        () => undefined,
      );
      progress.partial = fromLedger ?? progress.partial;
    }
    if (cancelled) progress.phase = 'cancelled';
    const end = runEndOf(input as TaskInput, {
      outcome: failure.outcome,
      stopped: true,
      reason: failure.message,
      ...(failure.type !== undefined && { failureType: failure.type }),
      counts: progress.partial?.counts ?? {},
      tables: progress.partial?.tables ?? {},
      batches: progress.partial?.batches ?? 0,
      errors: [],
    });
    recordOutcome(end);
    await afterRun(input, end); // metrics and alerts (workflows/after-run.ts)
    throw err;
  }
  progress.phase = 'done';
  progress.result = result;
  const end = runEndOf(input as TaskInput, {
    outcome: decided ?? result.status,
    stopped: false,
    ...(result.reason !== undefined && { reason: result.reason }),
    counts: result.counts,
    tables: result.tables,
    batches: result.batches,
    errors: result.errors,
    ...(result.backlog !== undefined && { backlog: backlogTotal(result.backlog) }),
  });
  recordOutcome(end);
  await afterRun(input, end); // metrics and alerts (workflows/after-run.ts)
  return result;
}
