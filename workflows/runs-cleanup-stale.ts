import type { RunsCleanupStaleConfig } from '../tasks/runs-cleanup-stale';
import { runTask } from './run-task';
import type { TaskInput, TaskResult } from '../core/contract';

/** `runs.cleanup_stale`: one activity, batched and resumable, holding the task's lock. */
export async function runsCleanupStaleWorkflow(input: TaskInput<RunsCleanupStaleConfig>): Promise<TaskResult> {
  return runTask(input, (activities) => activities.cleanupStaleRuns(input));
}
