import type { RowsRulesConfig } from '../tasks/rows-rules';
import { runTask } from './run-task';
import type { TaskInput, TaskResult } from './types';

/** `rows.rules`: row rules in order, each through the batch engine. */
export async function rowsRulesWorkflow(input: TaskInput<RowsRulesConfig>): Promise<TaskResult> {
  return runTask(input, (activities) => activities.applyRowRules(input));
}
