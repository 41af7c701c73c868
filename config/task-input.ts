import { createHash } from 'node:crypto';
import type { TaskConfig } from './schema';
import type { TaskInput } from '../core/contract';

/** JSON with object keys sorted, so equal configs digest equally whatever order the file wrote. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * sha256 of what a task does: its type, database and config with defaults applied (`dry_run` left
 * out). A plan carries it; `caretaker approve` computes it from the config file it loads and refuses
 * a plan whose task has changed since it was planned.
 */
export function taskConfigDigest(task: Pick<TaskConfig, 'type' | 'database' | 'config'>): string {
  const config = { ...task.config };
  delete config.dry_run;
  return createHash('sha256')
    .update(canonical({ type: task.type, database: task.database, config }))
    .digest('hex');
}

/**
 * Temporal's timeout of the whole run. A task with `approval:` runs its activity twice (plan, then
 * apply) and waits up to `approval.timeout` between them, so its runs get that much longer.
 */
export function runTimeoutOf(task: TaskConfig): number {
  return task.approval ? 2 * task.timeouts.run + task.approval.timeout : task.timeouts.run;
}

/** The workflow argument for one task: its validated config plus activity timeouts and retry policy. */
export function buildTaskInput(task: TaskConfig, overrides: { dryRun?: boolean; config?: Record<string, unknown> } = {}): TaskInput {
  const config = { ...(overrides.config ?? task.config) };
  if (overrides.dryRun) config.dry_run = true;
  const approval = task.approval && {
    required: task.approval.required === true,
    ...(task.approval.when && { when: task.approval.when }),
    timeoutMs: task.approval.timeout,
    maxDrift: task.approval.max_drift,
    configDigest: taskConfigDigest({ type: task.type, database: task.database, config }),
  };
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
    ...(approval && { approval }),
  };
}

/** The workflow that runs a task, as its type's catalog entry names it (recorded when the config was parsed). */
export function workflowTypeFor(task: TaskConfig): string {
  return task.workflow;
}
