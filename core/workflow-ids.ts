/**
 * The workflow-id scheme: every id Caretaker gives a workflow, and how the CLI reads one back.
 * A schedule's runs are `<task id>-<fire time>` (Temporal appends the time to the schedule's
 * `workflowId`, which is the task id); a run started by hand or by `npm start` says so after the
 * task id; a run's alert delivery sits beside it.
 */

/** How a run of a task was started, from its workflow id. */
export type StartedBy = 'schedule' | 'manual' | 'startup';

/** A timestamp usable in an id: `2026-01-31T00-00-00-000Z`. */
function stamp(at: Date): string {
  return at.toISOString().replace(/[:.]/g, '-');
}

/** `caretaker run`: `<task id>-manual-<time>`. */
export function manualWorkflowId(taskId: string, at: Date): string {
  return `${taskId}-manual-${stamp(at)}`;
}

/** `npm start`'s startup runs: `<task id>-startup-<time>`. */
export function startupWorkflowId(taskId: string, at: Date): string {
  return `${taskId}-startup-${stamp(at)}`;
}

/** The id of the workflow that delivers one run's alerts: one per run, beside the run in Temporal Web. */
export function alertWorkflowId(workflowId: string, runId: string): string {
  return `${workflowId}/alerts/${runId}`;
}

/** How a run of `taskId` was started: by hand, by `npm start`, else by its schedule (fired, triggered, backfilled). */
export function startedByOf(workflowId: string, taskId: string): StartedBy {
  const rest = workflowId.slice(taskId.length);
  if (rest.startsWith('-manual-')) return 'manual';
  if (rest.startsWith('-startup-')) return 'startup';
  return 'schedule';
}
