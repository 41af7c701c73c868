import { WorkflowNotFoundError } from '@temporalio/client';
import { PROGRESS_QUERY, type TaskProgress } from '../../core/contract';
import { readOutcomeMemo } from '../../core/outcome';
import { APPROVAL_MEMO, type ApprovalMemo } from '../../core/approval';
import { type CliContext, UsageError, webUiLink } from '../context';
import { countsText, failureOf, summarizeResult, tablesText } from '../run-report';
import { activityProgress, progressLine } from '../run-progress';
import { approvalLine } from './approval';

const FAILED_STATES = new Set(['FAILED', 'TERMINATED', 'TIMED_OUT']);

/**
 * `caretaker status <workflowId>`: the run's real phase (a closed run's from Temporal, not from the
 * last query answer), its progress and the age of its last checkpoint, a failure's cause and what it
 * changed before it stopped. Exit 1 when the run failed.
 */
export async function status(ctx: CliContext): Promise<number> {
  const workflowId = ctx.arg(0, 'workflow id');
  const handle = (await ctx.client()).workflow.getHandle(workflowId);
  let desc;
  try {
    desc = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UsageError(`no workflow "${workflowId}"`);
    throw err;
  }
  const state = desc.status.name;
  const progress = await handle.query<TaskProgress>(PROGRESS_QUERY).catch((err: Error) => ({ unavailable: err.message }));
  const activities = activityProgress(desc);
  // A finished run's outcome is in its memo, readable without a worker; a failed or cancelled one's
  // counts there are what it changed before it stopped.
  const outcome = readOutcomeMemo(desc.memo);
  const failed = FAILED_STATES.has(state);
  // A run that failed without recording an outcome (terminated, timed out) still has its cause in Temporal.
  const failure = failed
    ? (outcome?.failure ??
      (await handle.result().then(
        () => undefined,
        (err: unknown) => failureOf(err).cause,
      )))
    : outcome?.failure;
  const approval = desc.memo?.[APPROVAL_MEMO] as ApprovalMemo | undefined;
  const waiting = state === 'RUNNING' && approval?.state === 'awaiting';
  const phase = waiting
    ? 'awaiting_approval'
    : state === 'RUNNING'
      ? 'phase' in progress
        ? progress.phase
        : 'running'
      : (outcome?.outcome ?? state.toLowerCase());
  const data = {
    workflowId,
    runId: desc.runId,
    status: state,
    phase,
    failure,
    progress,
    outcome,
    approval,
    activities,
    url: webUiLink(workflowId, desc.runId),
  };
  ctx.print(data, () => {
    const lines = [
      `${workflowId}: ${state}`,
      `  ${data.url}`,
      `  phase: ${phase}${'phase' in progress && progress.result ? `; ${summarizeResult(progress.result)}` : ''}`,
    ];
    if (failure) lines.push(`  cause: ${failure}`);
    if (approval) lines.push(`  approval: ${approvalLine(workflowId, approval)}`);
    if (state === 'RUNNING' && !waiting) lines.push(`  progress: ${progressLine(desc)}`);
    if (outcome && outcome.outcome !== 'completed') {
      lines.push(
        `  ${state === 'RUNNING' || outcome.outcome === 'refused' || outcome.outcome.startsWith('completed') || outcome.outcome === 'skipped' ? 'counts' : 'changed before it stopped'}: ${countsText(outcome.counts)}`,
      );
      if (outcome.tables) lines.push(tablesText(outcome.tables, '    '));
    }
    return lines.join('\n');
  });
  return failed ? 1 : 0;
}
