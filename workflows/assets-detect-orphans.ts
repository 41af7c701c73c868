import type { AssetsDetectOrphansConfig } from '../tasks/assets-detect-orphans';
import { runTask } from './run-task';
import type { TaskInput, TaskResult } from '../core/contract';

/** `assets.detect_orphans`: rows without files or parents, files without rows, stuck pending assets. */
export async function assetsDetectOrphansWorkflow(input: TaskInput<AssetsDetectOrphansConfig>): Promise<TaskResult> {
  return runTask(input, (activities) => activities.detectOrphans(input));
}
