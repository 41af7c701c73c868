import { ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import type { CaretakerConfig, TaskConfig } from '../config/schema';
import { isOwnedBy } from '../config/ownership';
import { CONFIG_HASH_KEY, configHash, scheduleOptionsFor } from './schedule-options';

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

export async function applySync(client: Client, cfg: CaretakerConfig, plan: readonly SyncAction[]): Promise<void> {
  const tasks = new Map(cfg.tasks.map((t) => [t.id, t]));
  for (const step of plan) {
    const handle = client.schedule.getHandle(step.id);
    const task = tasks.get(step.id);
    if (step.action === 'create' && task) {
      await client.schedule.create(scheduleOptionsFor(task, cfg.task_queue));
    } else if (step.action === 'update' && task) {
      const desired = scheduleOptionsFor(task, cfg.task_queue);
      await handle.update((prev) => ({
        spec: desired.spec,
        action: desired.action,
        policies: desired.policies,
        state:
          task.paused === undefined
            ? { paused: prev.state.paused, note: prev.state.note, remainingActions: prev.state.remainingActions }
            : { paused: task.paused, note: desired.state?.note, remainingActions: prev.state.remainingActions },
      }));
    } else if (step.action === 'delete') {
      await handle.delete();
    }
  }
}
