import { CancellationScope, log, metricMeter, ParentClosePolicy, patched, proxyActivities, startChild } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { alertRunOf } from './alert-types';
import { METRICS } from './metric-names';
import type { Backlog, TaskInput } from './types';
import { changedRows, isCompleted, type RunEnd } from '../core/outcome';
import { ALERT_DELIVERY, alertWorkflowId, deliverAlertsWorkflow } from './deliver-alerts';

/** Runs that started before alerts moved out of the run deliver them inline, as they did then (replay). */
const ALERTS_OUTSIDE_RUN = 'alerts-outside-run';

/** The inline delivery of runs recorded before ALERTS_OUTSIDE_RUN; new runs use deliverAlertsWorkflow. */
const inlineAlerts = proxyActivities<Pick<Activities, 'deliverRunAlerts'>>(ALERT_DELIVERY);

/** Caretaker's run metrics, through the SDK's meter (not emitted again when a history is replayed). */
function recordMetrics(run: RunEnd): void {
  const tags = { task_id: run.taskId, task_type: run.type, outcome: run.outcome, dry_run: String(run.dryRun) };
  metricMeter.createCounter(METRICS.runs, 'runs', 'Caretaker runs that ended, by outcome').withTags(tags).add(1);
  metricMeter
    .createHistogram(METRICS.runDuration, 'float', 's', 'Caretaker run duration')
    .withTags(tags)
    .record(run.durationMs / 1000);
  const rows = metricMeter.createCounter(METRICS.rowsChanged, 'rows', 'Rows changed by real runs, per table and action');
  for (const [table, counts] of Object.entries(changedRows(run))) {
    for (const [action, n] of Object.entries(counts)) if (n > 0) rows.withTags({ task_id: run.taskId, table, action }).add(n);
  }
  if (!run.dryRun && isCompleted(run.outcome)) {
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
export async function afterRun(input: TaskInput<{ dry_run: boolean }>, end: RunEnd): Promise<void> {
  recordMetrics(end);
  if (!input.alerts) return;
  const run = alertRunOf(end);
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
