import { userInfo } from 'node:os';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowExecutionDescription } from '@temporalio/client';
import { ageText } from '../../core/duration';
import { APPROVAL_MEMO, APPROVAL_UPDATE, type ApprovalAnswer, type ApprovalDecision, type ApprovalMemo } from '../../core/approval';
import { decisionCommands, planLine } from '../../core/approval-text';
import { OUTCOME, TASK_ID } from '../../core/search-attributes';
import { type CliContext, table, UsageError, webUiLink } from '../context';
import { taskConfigDigest } from '../../config/task-input';

/** Who decides: `--as NAME`, else the OS user running the CLI. */
function approver(ctx: CliContext): string {
  const given = ctx.flag('as')?.trim();
  if (given) return given;
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** The run's plan, when it is waiting for a decision; a usage error (exit 2) otherwise. */
async function waitingPlan(ctx: CliContext, workflowId: string): Promise<{ desc: WorkflowExecutionDescription; memo: ApprovalMemo }> {
  const handle = (await ctx.client()).workflow.getHandle(workflowId);
  const desc = await handle.describe().catch((err: unknown) => {
    throw err instanceof WorkflowNotFoundError ? new UsageError(`no workflow "${workflowId}"`) : err;
  });
  const memo = desc.memo?.[APPROVAL_MEMO] as ApprovalMemo | undefined;
  if (desc.status.name !== 'RUNNING' || memo?.state !== 'awaiting') {
    const state = memo ? `its plan is ${memo.state}${memo.decidedBy ? ` (by ${memo.decidedBy})` : ''}` : 'it has no plan (its task has no approval:)';
    throw new UsageError(
      `${workflowId} is not waiting for approval: the run is ${desc.status.name.toLowerCase()} and ${state}\n  ${webUiLink(workflowId, desc.runId)}`,
    );
  }
  return { desc, memo };
}

/** `caretaker approve|reject <workflowId> [--note TEXT] [--as NAME]`: the decision, as a Temporal update the run validates. */
async function decide(ctx: CliContext, decision: ApprovalDecision['decision']): Promise<number> {
  const workflowId = ctx.arg(0, 'workflow id');
  const note = ctx.flag('note');
  if (decision === 'reject' && !note?.trim()) throw new UsageError('reject: expected --note TEXT saying why (it is kept in the run’s history and memo)');
  const { desc, memo } = await waitingPlan(ctx, workflowId);
  const taskId = desc.typedSearchAttributes.get(TASK_ID) ?? '';
  const cfg = await ctx.config();
  const task = cfg.tasks.find((t) => t.id === taskId);
  if (decision === 'approve') {
    // The plan was made with the task's config then; approving applies it only if the config file still says the same.
    const digest = task && taskConfigDigest(task);
    if (digest !== memo.configDigest) {
      const why = task ? `its config in ${ctx.configFile} changed since the plan was made` : `${ctx.configFile} has no task "${taskId}" any more`;
      console.error(
        `caretaker approve: refused: ${why}; plan again: caretaker reject ${workflowId} --note "config changed", then caretaker run ${taskId} (or wait for its schedule)`,
      );
      return 1;
    }
  }
  const request: ApprovalDecision = {
    decision,
    by: approver(ctx),
    ...(note?.trim() && { note: note.trim() }),
    configDigest: task ? taskConfigDigest(task) : memo.configDigest,
    planId: memo.planId,
  };
  const handle = (await ctx.client()).workflow.getHandle(workflowId, desc.runId);
  let answer: ApprovalAnswer;
  try {
    answer = await handle.executeUpdate<ApprovalAnswer, [ApprovalDecision]>(APPROVAL_UPDATE, { args: [request] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      console.error(`caretaker ${decision}: refused by the run: ${(err.cause as Error | undefined)?.message ?? err.message}`);
      return 1;
    }
    throw err;
  }
  const verb = decision === 'approve' ? 'approved' : 'rejected';
  ctx.print({ workflowId, runId: desc.runId, ...answer, note: request.note }, () =>
    [
      `${verb} plan ${answer.planId} as ${answer.by}${request.note ? ` (${request.note})` : ''}: ${planLine(memo)}`,
      decision === 'approve' ? `  applying now; follow it with: caretaker status ${workflowId}` : '  nothing is changed; the run ends as rejected',
      `  ${webUiLink(workflowId, desc.runId)}`,
    ].join('\n'),
  );
  return 0;
}

export const approve = (ctx: CliContext) => decide(ctx, 'approve');
export const reject = (ctx: CliContext) => decide(ctx, 'reject');

/** The plan and its decision in one line, for `caretaker status`. */
export function approvalLine(workflowId: string, memo: ApprovalMemo): string {
  const plan = `plan ${planLine(memo)}`;
  if (memo.state === 'awaiting') return `${plan}; waiting since ${memo.plannedAt} (expires ${memo.expiresAt}): ${decisionCommands(workflowId).approve}`;
  if (memo.state === 'not_needed') return `${plan}; applied without waiting (no approval.when condition held)`;
  const by = memo.decidedBy ? ` by ${memo.decidedBy}${memo.note ? ` (${memo.note})` : ''}` : '';
  return `${plan}; ${memo.state}${by}`;
}

/** `caretaker plans [--json]`: runs waiting for approval, oldest plan first, with their counts and age. */
export async function plans(ctx: CliContext): Promise<number> {
  const client = await ctx.client();
  const found: (ApprovalMemo & { workflowId: string; runId: string; taskId: string; ageSeconds: number; approve: string; reject: string })[] = [];
  const query = `${OUTCOME.name} = "awaiting_approval" AND ExecutionStatus = "Running"`;
  for await (const info of client.workflow.list({ query })) {
    const memo = info.memo?.[APPROVAL_MEMO] as ApprovalMemo | undefined;
    if (memo?.state !== 'awaiting') continue;
    const ageSeconds = Math.max(0, Math.round((Date.now() - Date.parse(memo.plannedAt)) / 1000));
    found.push({
      ...memo,
      workflowId: info.workflowId,
      runId: info.runId,
      taskId: info.typedSearchAttributes.get(TASK_ID) ?? '',
      ageSeconds,
      ...decisionCommands(info.workflowId),
    });
  }
  found.sort((a, b) => a.plannedAt.localeCompare(b.plannedAt));
  ctx.print(found, () =>
    found.length === 0
      ? 'no plans are waiting for approval'
      : table([
          ['AGE', 'TASK', 'ROWS', 'EXPIRES', 'PLAN', 'APPROVE WITH'],
          ...found.map((p) => [ageText(p.ageSeconds), p.taskId, String(p.rows), p.expiresAt ?? '', planLine(p), p.approve]),
        ]),
  );
  return 0;
}
