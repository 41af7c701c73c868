import { ScheduleAlreadyRunning, ScheduleNotFoundError, type Client, type ScheduleDescription, type ScheduleHandle } from '@temporalio/client';
import type { CaretakerConfig, TaskConfig } from '../config/schema';
import { isOwnedBy } from '../config/ownership';
import { CONFIG_HASH_KEY, configHash, scheduleOptionsFor } from './schedule-options';
import { missingSearchAttributeMessage } from './missing-search-attribute';

export type SyncActionKind = 'create' | 'update' | 'unchanged' | 'delete' | 'conflict' | 'orphaned';

export interface SyncAction {
  id: string;
  action: SyncActionKind;
  detail: string;
}

async function describeOrNull(client: Client, id: string): Promise<ScheduleDescription | null> {
  try {
    return await client.schedule.getHandle(id).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return null;
    throw err;
  }
}

function planTask(task: TaskConfig, existing: ScheduleDescription | null, taskQueue: string): SyncAction | null {
  const wanted = task.enabled && task.schedule !== undefined;
  if (existing && !isOwnedBy(existing.memo, taskQueue)) {
    return wanted ? { id: task.id, action: 'conflict', detail: 'a schedule with this id exists and is not managed by Caretaker; left alone' } : null;
  }
  if (!wanted) {
    if (!existing) return null;
    return { id: task.id, action: 'delete', detail: task.enabled ? 'task has no schedule in config' : 'task is disabled in config' };
  }
  if (!existing) return { id: task.id, action: 'create', detail: task.paused ? 'paused' : '' };
  const changes: string[] = [];
  if (existing.action.memo?.[CONFIG_HASH_KEY] !== configHash(task, taskQueue)) changes.push('definition');
  if (task.paused !== undefined && task.paused !== existing.state.paused) changes.push(task.paused ? 'pause' : 'unpause');
  if (changes.length === 0) {
    return { id: task.id, action: 'unchanged', detail: existing.state.paused ? 'paused (kept)' : '' };
  }
  return { id: task.id, action: 'update', detail: changes.join(', ') };
}

/**
 * Compares the config with Temporal's schedules. Only schedules carrying Caretaker's owner memo
 * for this task queue are ever updated or deleted; a pause an operator set is kept unless the
 * config sets `paused` itself.
 */
export async function planSync(client: Client, cfg: CaretakerConfig, opts: { prune: boolean }): Promise<SyncAction[]> {
  const plan: SyncAction[] = [];
  for (const task of cfg.tasks) {
    const action = planTask(task, await describeOrNull(client, task.id), cfg.task_queue);
    if (action) plan.push(action);
  }
  const configured = new Set(cfg.tasks.map((t) => t.id));
  for await (const summary of client.schedule.list()) {
    if (configured.has(summary.scheduleId) || !isOwnedBy(summary.memo, cfg.task_queue)) continue;
    plan.push(
      opts.prune
        ? { id: summary.scheduleId, action: 'delete', detail: 'not in config (--prune)' }
        : { id: summary.scheduleId, action: 'orphaned', detail: 'not in config; run with --prune to delete' },
    );
  }
  return plan.sort((a, b) => a.id.localeCompare(b.id));
}

/** A change Temporal refused; the steps after it were still tried. */
export interface SyncFailure {
  id: string;
  action: SyncActionKind;
  error: string;
}

/** The server's reason: the SDK puts it in the gRPC cause ("Failed to create schedule" alone says little). */
function failureMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as (Error & { details?: string }) | undefined;
  const reason = cause?.details || cause?.message;
  return reason && !err.message.includes(reason) ? `${err.message}: ${reason}` : err.message;
}

/** What applying a plan did: each step as it turned out, and the ones Temporal refused. */
export interface SyncOutcome {
  steps: SyncAction[];
  failures: SyncFailure[];
}

/**
 * Applies the plan step by step. A step Temporal refuses does not stop the others: every task that
 * can have its schedule gets it, and the refusals come back for the caller to report. Another sync
 * running at the same time may get there first: a schedule it created is compared with the config
 * like any existing one (unchanged, or updated), and one it deleted is gone as planned.
 */
export async function applySync(client: Client, cfg: CaretakerConfig, plan: readonly SyncAction[]): Promise<SyncOutcome> {
  const tasks = new Map(cfg.tasks.map((t) => [t.id, t]));
  const outcome: SyncOutcome = { steps: [], failures: [] };
  for (const step of plan) {
    try {
      outcome.steps.push(await applyStep(client, cfg.task_queue, step, tasks.get(step.id)));
    } catch (err) {
      outcome.failures.push({ id: step.id, action: step.action, error: missingSearchAttributeMessage(err, client.options.namespace) ?? failureMessage(err) });
    }
  }
  return outcome;
}

async function applyStep(client: Client, taskQueue: string, step: SyncAction, task: TaskConfig | undefined): Promise<SyncAction> {
  const handle = client.schedule.getHandle(step.id);
  if (step.action === 'create' && task) {
    try {
      await client.schedule.create(scheduleOptionsFor(task, taskQueue));
      return step;
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    }
    const now = planTask(task, await describeOrNull(client, step.id), taskQueue);
    if (!now || now.action === 'create') throw new Error(`schedule ${step.id} was created and deleted again while this sync ran; run sync again`);
    const concurrently = { ...now, detail: [now.detail, 'created by another sync meanwhile'].filter(Boolean).join('; ') };
    if (now.action === 'update') await updateSchedule(handle, task, taskQueue);
    return concurrently;
  }
  if (step.action === 'update' && task) {
    await updateSchedule(handle, task, taskQueue);
  } else if (step.action === 'delete') {
    try {
      await handle.delete();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      return { ...step, detail: [step.detail, 'already deleted by another sync'].filter(Boolean).join('; ') };
    }
  }
  return step;
}

async function updateSchedule(handle: ScheduleHandle, task: TaskConfig, taskQueue: string): Promise<void> {
  const desired = scheduleOptionsFor(task, taskQueue);
  await handle.update((prev) => ({
    spec: desired.spec,
    action: desired.action,
    policies: desired.policies,
    state:
      task.paused === undefined
        ? { paused: prev.state.paused, note: prev.state.note, remainingActions: prev.state.remainingActions }
        : { paused: task.paused, note: desired.state?.note, remainingActions: prev.state.remainingActions },
  }));
}
