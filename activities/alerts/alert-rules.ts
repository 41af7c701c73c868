import type { AlertRun, AlertSpec } from '../../core/alerts';
import { ageText } from '../../core/duration';

export interface AlertCause {
  /** failure, refusal, cancellation, rows_changed_above, zero_rows_runs, duration_above, backlog_above */
  rule: string;
  message: string;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

/**
 * Which of the task's rules this run trips. `zeroStreak` is the number of completed real runs in a
 * row, this one included, that changed no rows (undefined when the rule is not configured).
 */
export function alertCauses(spec: AlertSpec, run: AlertRun, zeroStreak?: number): AlertCause[] {
  const causes: AlertCause[] = [];
  const why = run.cause ? `: ${run.cause}` : '';
  if (run.outcome === 'failed' && spec.on.includes('failure'))
    causes.push({ rule: 'failure', message: `run failed${run.failureType ? ` (${run.failureType})` : ''}${why}` });
  if (run.outcome === 'refused' && spec.on.includes('refusal')) {
    causes.push({
      rule: 'refusal',
      message: `${run.dryRun ? 'dry run found the real run would be refused by a safety limit' : 'refused by a safety limit'}${why}`,
    });
  }
  // A plan waiting for a person is always worth a message: the task configured webhooks and approval.
  if (run.outcome === 'awaiting_approval') causes.push({ rule: 'approval', message: `plan awaits approval${why}` });
  if (run.outcome === 'cancelled' && spec.on.includes('cancellation')) causes.push({ rule: 'cancellation', message: `run was cancelled${why}` });
  if (spec.rows_changed_above !== undefined && !run.dryRun && run.rowsChanged > spec.rows_changed_above) {
    causes.push({ rule: 'rows_changed_above', message: `changed ${run.rowsChanged} rows, more than rows_changed_above ${spec.rows_changed_above}` });
  }
  if (spec.zero_rows_runs !== undefined && zeroStreak === spec.zero_rows_runs) {
    causes.push({ rule: 'zero_rows_runs', message: `changed no rows in ${zeroStreak} completed runs in a row (zero_rows_runs ${spec.zero_rows_runs})` });
  }
  if (spec.duration_above !== undefined && run.durationMs > spec.duration_above) {
    causes.push({ rule: 'duration_above', message: `took ${seconds(run.durationMs)}, longer than duration_above ${seconds(spec.duration_above)}` });
  }
  if (spec.backlog_above !== undefined && !run.dryRun && run.backlog !== undefined && run.backlog.rows > spec.backlog_above) {
    const oldest = run.backlog.oldest_age_seconds === undefined ? '' : ` (oldest ${ageText(run.backlog.oldest_age_seconds)})`;
    causes.push({
      rule: 'backlog_above',
      message: `left ${run.backlog.rows} eligible rows for the next run${oldest}, more than backlog_above ${spec.backlog_above}`,
    });
  }
  return causes;
}

/** Whether this run counts for `zero_rows_runs`: a real run that completed. */
export function countsForZeroRows(run: AlertRun): boolean {
  return !run.dryRun && (run.outcome === 'completed' || run.outcome === 'completed_with_errors');
}

export const DEFAULT_UI_URL = 'http://localhost:8233';

/** `<ui>/namespaces/<ns>/workflows/<workflowId>/<runId>` */
export function runLink(uiBase: string, run: Pick<AlertRun, 'namespace' | 'workflowId' | 'runId'>): string {
  return `${uiBase.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(run.namespace)}/workflows/${encodeURIComponent(run.workflowId)}/${encodeURIComponent(run.runId)}`;
}

/** The JSON a webhook receives; `slack` adds `text`, which is what Slack shows. */
export function alertPayload(format: 'slack' | 'json', run: AlertRun, causes: readonly AlertCause[], link: string): Record<string, unknown> {
  const fields = {
    task: run.taskId,
    task_type: run.type,
    database: run.database,
    dry_run: run.dryRun,
    outcome: run.outcome,
    cause: causes.map((c) => c.message).join('; '),
    causes,
    workflow_id: run.workflowId,
    run_id: run.runId,
    link,
    rows_changed: run.rowsChanged,
    ...(run.backlog !== undefined && { backlog: run.backlog }),
    tables: run.tables,
    duration_seconds: Math.round(run.durationMs) / 1000,
  };
  if (format === 'json') return fields;
  const text = `Caretaker: task ${run.taskId}${run.dryRun ? ' (dry run)' : ''} ${run.outcome.toUpperCase()}: ${fields.cause}\n<${link}|${run.workflowId}>`;
  return { text, ...fields };
}
