import type { StatusResetConfig } from '../tasks/status-reset';
import { runTask } from './run-task';
import type { TaskInput, TaskResult } from '../core/contract';

/** `status.reset`: reset rows stuck in a status whose job is not running. */
export async function statusResetWorkflow(input: TaskInput<StatusResetConfig>): Promise<TaskResult> {
  return runTask(input, (activities) => activities.resetStuckStatus(input));
}
