import {
  ActivityCancellationType,
  type ActivityInterfaceFor,
  defineQuery,
  isCancellation,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { TaskInput, TaskProgress, TaskResult } from './types';

/** `caretaker status <workflowId>` asks every Caretaker workflow this. */
export const progressQuery = defineQuery<TaskProgress>('progress');

/** Failure types an activity raises for problems a retry cannot fix. */
const NON_RETRYABLE = ['ConfigError', 'SafetyLimitExceeded'];

/**
 * The activities, with the timeouts and retry policy the task's config asked for. A plugin passes
 * its own activity type: `taskActivities<typeof myActivities>(input)`.
 */
export function taskActivities<A extends object = Activities>(input: TaskInput): ActivityInterfaceFor<A> {
  const { startToCloseMs, heartbeatMs, retry } = input.activity;
  return proxyActivities<A>({
    startToCloseTimeout: startToCloseMs,
    heartbeatTimeout: heartbeatMs,
    // Wait for the activity to stop at its batch boundary before the workflow reports cancelled.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      maximumAttempts: retry.maximumAttempts,
      initialInterval: retry.initialIntervalMs,
      backoffCoefficient: retry.backoffCoefficient,
      maximumInterval: retry.maximumIntervalMs,
      nonRetryableErrorTypes: NON_RETRYABLE,
    },
  });
}

/**
 * The frame of every task workflow: registers the progress query, runs `body` with the task's
 * activities, and records the result (or that it is being cancelled) for the query.
 */
export async function runTask<C, A extends object = Activities>(
  input: TaskInput<C & { dry_run: boolean }>,
  body: (activities: ActivityInterfaceFor<A>) => Promise<TaskResult>,
): Promise<TaskResult> {
  const progress: TaskProgress = {
    taskId: input.taskId,
    type: input.type,
    dryRun: input.config.dry_run,
    phase: 'starting',
    startedAt: new Date().toISOString(),
  };
  setHandler(progressQuery, () => progress);
  progress.phase = 'running';
  try {
    const result = await body(taskActivities<A>(input as TaskInput));
    progress.phase = 'done';
    progress.result = result;
    return result;
  } catch (err) {
    if (isCancellation(err)) progress.phase = 'cancelling';
    throw err;
  }
}
