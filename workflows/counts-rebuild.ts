import type { CountsRebuildConfig } from '../tasks/counts-rebuild';
import { runTask } from './run-task';
import type { TaskInput, TaskResult } from '../core/contract';

/** `counts.rebuild`: verify denormalised counters and fix their drift. */
export async function countsRebuildWorkflow(input: TaskInput<CountsRebuildConfig>): Promise<TaskResult> {
  return runTask(input, (activities) => activities.rebuildCounts(input));
}
