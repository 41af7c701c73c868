import type { SyncTriggerConfig } from '../tasks/sync-trigger';
import { runTask } from './run-task';
import type { TaskInput, TaskResult } from '../core/contract';

/** `sync.trigger`: start a workflow per config row unless one is running. */
export async function syncTriggerWorkflow(input: TaskInput<SyncTriggerConfig>): Promise<TaskResult> {
  return runTask(input, (activities) => activities.triggerSyncs(input));
}
