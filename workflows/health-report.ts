import type { HealthReportConfig } from '../tasks/health-report';
import { runTask } from './run-task';
import type { TaskInput, TaskResult } from '../core/contract';

/** `health.report`: run the checks and alert when the result is bad enough. */
export async function healthReportWorkflow(input: TaskInput<HealthReportConfig>): Promise<TaskResult> {
  return runTask(input, (activities) => activities.reportHealth(input));
}
