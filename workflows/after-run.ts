import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  metricMeter,
  ParentClosePolicy,
  patched,
  proxyActivities,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RunOutcome } from './alert-types';
import { METRICS } from './metric-names';
import type { Backlog, Counts, TaskInput, TaskProgress } from './types';
import { ALERT_DELIVERY, alertWorkflowId, deliverAlertsWorkflow } from './deliver-alerts';

/** Runs that started before alerts moved out of the run deliver them inline, as they did then (replay). */
const ALERTS_OUTSIDE_RUN = 'alerts-outside-run';

/** The inline delivery of runs recorded before ALERTS_OUTSIDE_RUN; new runs use deliverAlertsWorkflow. */
const inlineAlerts = proxyActivities<Pick<Activities, 'deliverRunAlerts'>>(ALERT_DELIVERY);

/** The ApplicationFailure type in a failure chain, e.g. SafetyLimitExceeded. */
function failureTypeOf(err: unknown): string | undefined {
  for (let e = err as { cause?: unknown } | undefined; e; e = e.cause as typeof e) if (e instanceof ApplicationFailure && e.type) return e.type;
  return undefined;
}

/** The run as the workflow saw it end: `progress` after runTask recorded the result or the failure. */
function runOutcomeOf(input: TaskInput<{ dry_run: boolean }>, progress: TaskProgress, err?: unknown): RunOutcome {
  const info = workflowInfo();
  const failureType = err === undefined ? undefined : failureTypeOf(err);
  const outcome =
    err === undefined
      ? (progress.result?.status ?? 'completed')
      : isCancellation(err)
        ? 'cancelled'
        : failureType === 'SafetyLimitExceeded'
          ? 'refused'
          : 'failed';
  const dryRun = input.config.dry_run;
  const tables: Record<string, Counts> = dryRun ? {} : ((err === undefined ? progress.result?.tables : progress.partial?.tables) ?? {});
  const rowsChanged = Object.values(tables).reduce((sum, counts) => sum + Object.values(counts).reduce((a, b) => a + b, 0), 0);
  const cause = err === undefined ? (progress.result?.reason ?? progress.result?.errors[0]) : progress.failure;
  return {
    taskId: input.taskId,
    type: input.type,
    database: input.database,
    dryRun,
    outcome,
    ...(cause !== undefined && { cause }),
    ...(failureType !== undefined && { failureType }),
    tables,
    rowsChanged,
    ...(err === undefined && progress.result?.backlog !== undefined && { backlog: taskTotal(progress.result.backlog) }),
    durationMs: Date.now() - info.runStartTime.getTime(),
    namespace: info.namespace,
    workflowId: info.workflowId,
    runId: info.runId,
  };
}

/** The task's backlog without its per-set parts (an alert and a gauge need only the total). */
function taskTotal(backlog: Backlog): Backlog {
  return { rows: backlog.rows, ...(backlog.oldest_age_seconds !== undefined && { oldest_age_seconds: backlog.oldest_age_seconds }) };
}

/** Caretaker's run metrics, through the SDK's meter (not emitted again when a history is replayed). */
function recordMetrics(run: RunOutcome): void {
  const tags = { task_id: run.taskId, task_type: run.type, outcome: run.outcome, dry_run: String(run.dryRun) };
  metricMeter.createCounter(METRICS.runs, 'runs', 'Caretaker runs that ended, by outcome').withTags(tags).add(1);
  metricMeter
    .createHistogram(METRICS.runDuration, 'float', 's', 'Caretaker run duration')
    .withTags(tags)
    .record(run.durationMs / 1000);
  const rows = metricMeter.createCounter(METRICS.rowsChanged, 'rows', 'Rows changed by real runs, per table and action');
  for (const [table, counts] of Object.entries(run.tables)) {
    for (const [action, n] of Object.entries(counts)) if (n > 0) rows.withTags({ task_id: run.taskId, table, action }).add(n);
  }
  if (!run.dryRun && (run.outcome === 'completed' || run.outcome === 'completed_with_errors')) {
    metricMeter
      .createGauge(METRICS.lastSuccess, 'float', 's', 'Unix time of the last real run that completed')
      .withTags({ task_id: run.taskId })
      .set(Date.now() / 1000);
    if (run.backlog) recordBacklog(run.taskId, run.backlog);
  }
}

/** The backlog gauges of a completed real run; a run that left no rows has no oldest row: age 0. */
function recordBacklog(taskId: string, backlog: Backlog): void {
  const tags = { task_id: taskId };
  metricMeter
    .createGauge(METRICS.backlogRows, 'int', 'rows', 'Eligible rows the last completed real run left for the next one')
    .withTags(tags)
    .set(backlog.rows);
  const age = backlog.oldest_age_seconds ?? (backlog.rows === 0 ? 0 : undefined);
  if (age !== undefined)
    metricMeter.createGauge(METRICS.backlogOldestAge, 'float', 's', 'Age of the oldest row the last completed real run left').withTags(tags).set(age);
}

/**
 * Called by runTask once, at the end of every run whatever its outcome: records the run's metrics
 * and, when the task has alert webhooks, starts `deliverAlertsWorkflow` (which decides whether a
 * rule fires) as an abandoned child and waits only for it to start, so delivery and its retries
 * never hold the run open. Not cancellable, so a cancelled run still alerts; never throws.
 */
export async function afterRun(input: TaskInput<{ dry_run: boolean }>, progress: TaskProgress, err?: unknown): Promise<void> {
  const run = runOutcomeOf(input, progress, err);
  recordMetrics(run);
  if (!input.alerts) return;
  const spec = input.alerts;
  if (!patched(ALERTS_OUTSIDE_RUN)) {
    await CancellationScope.nonCancellable(() => inlineAlerts.deliverRunAlerts({ spec, run })).catch((failure: unknown) => {
      log.warn('alert delivery failed after retries', { taskId: run.taskId, error: (failure as Error).message });
    });
    return;
  }
  await CancellationScope.nonCancellable(() =>
    startChild(deliverAlertsWorkflow, {
      workflowId: alertWorkflowId(run.workflowId, run.runId),
      args: [{ spec, run }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    }),
  ).catch((failure: unknown) => {
    log.warn('could not start alert delivery', { taskId: run.taskId, error: (failure as Error).message });
  });
}
