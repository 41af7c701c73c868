import type { ProcedureExecuteConfig } from '../tasks/procedure-execute';
import { runTask } from './run-task';
import type { TaskInput, TaskResult } from '../core/contract';

/** `procedure.execute`: call allowlisted SQL routines, one after another, with a timeout. */
export async function procedureExecuteWorkflow(input: TaskInput<ProcedureExecuteConfig>): Promise<TaskResult> {
  return runTask(input, (activities) => activities.executeProcedures(input));
}
