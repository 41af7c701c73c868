import { runTask } from '../../workflows/run-task';
import type { TaskInput, TaskResult } from '../../core/contract';
import type { createQueueActivities } from './activities';
import type { QueueReleaseLeasesConfig } from './task';

type QueueActivities = ReturnType<typeof createQueueActivities>;

/** 3. The workflow: deterministic, activities as types only, named as the catalog entry says. */
export async function queueReleaseLeasesWorkflow(input: TaskInput<QueueReleaseLeasesConfig>): Promise<TaskResult> {
  return runTask<QueueReleaseLeasesConfig, QueueActivities>(input, (activities) => activities.releaseExpiredLeases(input));
}
