import type { ExtractionQueueOrphansConfig } from '../tasks/extraction-queue-orphans';
import { runTask } from './run-task';
import type { TaskInput, TaskResult } from '../core/contract';

/** `extraction.queue_orphans`: re-queue rows left pending past a threshold. */
export async function extractionQueueOrphansWorkflow(input: TaskInput<ExtractionQueueOrphansConfig>): Promise<TaskResult> {
  return runTask(input, (activities) => activities.queueOrphans(input));
}
