import type { RunsCleanupExpiredConfig } from '../tasks/runs-cleanup-expired';
import { runTask } from './run-task';
import type { TaskInput, TaskResult } from '../core/contract';

/** `runs.cleanup_expired`: delete terminal runs past retention, with their child rows. */
export async function runsCleanupExpiredWorkflow(input: TaskInput<RunsCleanupExpiredConfig>): Promise<TaskResult> {
  return runTask(input, (activities) => activities.cleanupExpiredRuns(input));
}
