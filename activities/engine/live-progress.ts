import type { Context } from '@temporalio/activity';
import { type BatchCheckpoint, PROGRESS_SIGNAL } from '../../core/contract';

/** How often, and how many times a run at most, a checkpoint is signalled to the workflow. */
export const LIVE_PROGRESS = { everyMs: 30_000, maxPerRun: 20 };

/**
 * Sends checkpoints to the run's workflow, which shows them as current details in Temporal Web.
 * A signal is an event in the run's history, so they are spaced (`everyMs`) and capped
 * (`maxPerRun`, per attempt; attempts are capped by the retry policy): a run's history stays bounded whatever its length. Heartbeats, which add no
 * events, stay the fresh source for `caretaker status`. A failed signal is dropped: display only.
 */
export function liveProgress(ctx: Context, limits = LIVE_PROGRESS): (checkpoint: BatchCheckpoint) => void {
  const run = ctx.info.workflowExecution;
  let sent = 0;
  let last = -Infinity;
  return (checkpoint) => {
    const now = Date.now();
    if (!run || sent >= limits.maxPerRun || now - last < limits.everyMs) return;
    sent += 1;
    last = now;
    ctx.client.workflow
      .getHandle(run.workflowId, run.runId)
      .signal(PROGRESS_SIGNAL, checkpoint)
      .catch(() => undefined);
  };
}
