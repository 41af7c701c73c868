import { WorkflowFailedError, WorkflowNotFoundError, type Client, type ScheduleExecutionResult } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { taskSchema, type TaskConfig } from '../../config/schema';
import { explainIssues, formatPath } from '../../config/load';
import { findTaskType } from '../../tasks';
import type { BatchCheckpoint, TaskProgress, TaskResult } from '../../workflows/types';
import { OUTCOME_MEMO } from '../../workflows/run-task';
import { buildTaskInput, workflowTypeFor } from '../task-input';
import { type CliContext, UsageError, webUiLink } from '../context';

/** One line about a finished run: its counts, or why it did nothing. */
export function summarizeResult(result: TaskResult): string {
  if (result.status === 'skipped') return `skipped: ${result.reason ?? ''}`;
  const counts = Object.entries(result.counts).map(([k, v]) => `${k}=${v}`).join(' ');
  return `${result.status}${result.dryRun ? ' (dry run)' : ''}: ${counts}${result.errors.length ? ` errors=${result.errors.length}` : ''}`;
}

export async function describeRecentRun(client: Client, action: ScheduleExecutionResult) {
  const { workflowId, firstExecutionRunId: runId } = action.action.workflow;
  const handle = client.workflow.getHandle(workflowId, runId);
  const desc = await handle.describe();
  const status = desc.status.name;
  const summary = status === 'COMPLETED' ? summarizeResult((await handle.result()) as TaskResult) : '';
  return { scheduledAt: action.scheduledAt.toISOString(), workflowId, runId, status, summary };
}

/** The task to run: a configured task id (with --config keys overriding its config), or a task type. */
function resolveRunTarget(ctx: CliContext, name: string, tasks: readonly TaskConfig[]): TaskConfig {
  const configured = tasks.find((t) => t.id === name);
  if (!configured && !findTaskType(name)) {
    throw new UsageError(`"${name}" is neither a task id in ${ctx.configFile} (${tasks.map((t) => t.id).join(', ') || 'none'}) nor a task type (see \`caretaker tasks\`)`);
  }
  let override: Record<string, unknown> = {};
  const text = ctx.flag('config');
  if (text !== undefined) {
    try {
      override = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      const hint = /^[\w.]+=/.test(text) ? ` (keys as JSON, e.g. --config '{"${text.split('=')[0]}": ...}')` : ` (${(err as Error).message})`;
      throw new UsageError(`--config: expected a JSON object, got ${JSON.stringify(text)}${hint}`);
    }
    if (override === null || typeof override !== 'object' || Array.isArray(override)) throw new UsageError(`--config: expected a JSON object, got ${text}`);
  }
  const raw = configured
    ? { id: configured.id, type: configured.type, database: configured.database, config: { ...configured.rawConfig, ...override } }
    : { id: name.replace(/[^a-z0-9_-]+/g, '-'), type: name, config: override };
  const parsed = taskSchema.safeParse(raw);
  if (!parsed.success) {
    // Name the key, the value it was given (from --config or the file) and what it takes.
    const problems = explainIssues(parsed.error.issues, raw).map((p) => `${formatPath(p.path)}: ${p.message}`);
    throw new UsageError(`invalid task for ${raw.type}${text === undefined ? '' : ` with --config ${text}`}:\n  ${problems.join('\n  ')}`);
  }
  // Timeouts and retry stay as configured; only the config block comes from the override.
  return configured ? { ...configured, config: parsed.data.config } : parsed.data;
}

/** `caretaker run <task> [--config JSON] [--dry-run] [--wait]`: an ad hoc run, outside the schedule. */
export async function run(ctx: CliContext): Promise<number> {
  const cfg = await ctx.config();
  const task = resolveRunTarget(ctx, ctx.arg(0, 'task id or type'), cfg.tasks);
  const client = await ctx.client();
  const workflowId = `${task.id}-manual-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const handle = await client.workflow.start(workflowTypeFor(task), {
    workflowId,
    taskQueue: cfg.task_queue,
    args: [buildTaskInput(task, { dryRun: Boolean(ctx.flags['dry-run']) })],
    workflowExecutionTimeout: task.timeouts.run,
    staticSummary: `Caretaker ${task.type} (${task.id}), started by hand`,
  });
  if (!ctx.flags.wait) {
    ctx.print({ workflowId, runId: handle.firstExecutionRunId, url: webUiLink(workflowId) }, () => `started ${workflowId}\n  ${webUiLink(workflowId)}`);
    return 0;
  }
  let result: TaskResult;
  try {
    result = (await handle.result()) as TaskResult;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    // A dry run fails exactly where the real run would (a type error, a constraint, a refusal).
    const cause = rootCause(err);
    ctx.print({ workflowId, failed: true, cause }, () => `${workflowId}: failed: ${cause}\n  ${webUiLink(workflowId)}`);
    return 1;
  }
  ctx.print({ workflowId, result }, () => `${workflowId}: ${summarizeResult(result)}\n${JSON.stringify(result, null, 2)}`);
  // A dry run that finds the real run would be refused by a safety limit says so with its exit code.
  return result.status === 'refused' ? 1 : 0;
}

/** The innermost message of a failure chain: what actually went wrong. */
function rootCause(err: Error): string {
  let e: Error | undefined = err;
  let message = err.message;
  while (e) {
    message = e.message || message;
    e = e.cause as Error | undefined;
  }
  return message;
}

/** `caretaker status <workflowId>`: state, progress (workflow query) and the running batch's checkpoint. */
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
  const progress = await handle.query<TaskProgress>('progress').catch((err: Error) => ({ unavailable: err.message }));
  const checkpoints = (desc.raw.pendingActivities ?? []).map((a) => ({
    activity: a.activityType?.name,
    attempt: a.attempt,
    checkpoint: a.heartbeatDetails?.payloads?.[0] ? defaultPayloadConverter.fromPayload<BatchCheckpoint>(a.heartbeatDetails.payloads[0]) : undefined,
  }));
  // A finished run's outcome is in its memo, readable without a worker; a failed or cancelled one's
  // counts there are what it changed before it stopped.
  const outcome = desc.memo?.[OUTCOME_MEMO] as { outcome: string; failure?: string; counts: Record<string, number> } | undefined;
  const data = { workflowId, runId: desc.runId, status: desc.status.name, progress, outcome, activities: checkpoints, url: webUiLink(workflowId, desc.runId) };
  ctx.print(data, () => {
    const lines = [`${workflowId}: ${desc.status.name}`, `  ${data.url}`];
    if ('phase' in progress) lines.push(`  phase: ${progress.phase}${progress.result ? `; ${summarizeResult(progress.result)}` : ''}`);
    if (outcome && outcome.outcome !== 'completed') {
      lines.push(`  outcome: ${outcome.outcome}${outcome.failure ? ` (${outcome.failure})` : ''}`);
      lines.push(`  changed before it stopped: ${Object.entries(outcome.counts).map(([k, v]) => `${k}=${v}`).join(' ') || 'nothing'}`);
    }
    for (const a of checkpoints) {
      const c = a.checkpoint;
      lines.push(`  ${a.activity} attempt ${a.attempt}${c ? `: ${c.batches} batch(es) done, ${Object.entries(c.counts).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`);
    }
    return lines.join('\n');
  });
  return 0;
}

/** `caretaker cancel <workflowId>`: the running batch finishes, then the run stops. */
export async function cancel(ctx: CliContext): Promise<number> {
  const workflowId = ctx.arg(0, 'workflow id');
  try {
    await (await ctx.client()).workflow.getHandle(workflowId).cancel();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UsageError(`no workflow "${workflowId}"`);
    throw err;
  }
  ctx.print({ workflowId, cancelRequested: true }, () => `${workflowId}: cancellation requested; it stops at the next batch boundary`);
  return 0;
}
