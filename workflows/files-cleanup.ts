import type { FilesCleanupConfig } from '../tasks/files-cleanup';
import { runTask } from './run-task';
import type { TaskInput, TaskResult } from '../core/contract';

/** `files.cleanup`: cache and log directories by age, count, total size; archive oversized files. */
export async function filesCleanupWorkflow(input: TaskInput<FilesCleanupConfig>): Promise<TaskResult> {
  return runTask(input, (activities) => activities.cleanupFiles(input));
}
