import type { TaskConfig } from '../config/schema';
import type { TaskInput } from '../core/contract';

/** The workflow argument for one task: its validated config plus activity timeouts and retry policy. */
export function buildTaskInput(task: TaskConfig, overrides: { dryRun?: boolean; config?: Record<string, unknown> } = {}): TaskInput {
  const config = { ...(overrides.config ?? task.config) };
  if (overrides.dryRun) config.dry_run = true;
  return {
    taskId: task.id,
    type: task.type,
    database: task.database,
    config,
    ...(task.alerts && { alerts: task.alerts }),
    activity: {
      startToCloseMs: task.timeouts.activity,
      heartbeatMs: task.timeouts.heartbeat,
      retry: {
        maximumAttempts: task.retry.maximum_attempts,
        initialIntervalMs: task.retry.initial_interval,
        backoffCoefficient: task.retry.backoff_coefficient,
        maximumIntervalMs: task.retry.maximum_interval,
      },
    },
  };
}

/** The workflow that runs a task, as its type's catalog entry names it (recorded when the config was parsed). */
export function workflowTypeFor(task: TaskConfig): string {
  return task.workflow;
}
