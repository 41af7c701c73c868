import type { RetentionEnforceConfig } from '../tasks/retention-enforce';
import { runTask } from './run-task';
import type { TaskInput, TaskResult } from '../core/contract';

/** `retention.enforce`: delete, mark or archive rows past their retention, policy by policy. */
export async function retentionEnforceWorkflow(input: TaskInput<RetentionEnforceConfig>): Promise<TaskResult> {
  return runTask(input, (activities) => activities.enforceRetention(input));
}
