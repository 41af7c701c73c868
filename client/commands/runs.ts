import { WorkflowNotFoundError, type Client, type ScheduleExecutionResult } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { taskSchema, type TaskConfig } from '../../config/schema';
import { describeIssue, formatPath } from '../../config/load';
import { findTaskType } from '../../tasks';
import type { BatchCheckpoint, TaskProgress, TaskResult } from '../../workflows/types';
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
      throw new UsageError(`--config: expected a JSON object, got ${JSON.stringify(text)} (${(err as Error).message})`);
    }
    if (override === null || typeof override !== 'object' || Array.isArray(override)) throw new UsageError(`--config: expected a JSON object, got ${text}`);
  }
  const raw = configured
    ? { id: configured.id, type: configured.type, database: configured.database, config: { ...configured.rawConfig, ...override } }
    : { id: name.replace(/[^a-z0-9_-]+/g, '-'), type: name, config: override };
  const parsed = taskSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${formatPath(i.path as (string | number)[])}: ${describeIssue(i, undefined)}`);
    throw new UsageError(`invalid task for ${raw.type}:\n  ${problems.join('\n  ')}`);
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
  const result = (await handle.result()) as TaskResult;
  ctx.print({ workflowId, result }, () => `${workflowId}: ${summarizeResult(result)}\n${JSON.stringify(result, null, 2)}`);
  return 0;
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
  const data = { workflowId, runId: desc.runId, status: desc.status.name, progress, activities: checkpoints, url: webUiLink(workflowId, desc.runId) };
  ctx.print(data, () => {
    const lines = [`${workflowId}: ${desc.status.name}`, `  ${data.url}`];
    if ('phase' in progress) lines.push(`  phase: ${progress.phase}${progress.result ? `; ${summarizeResult(progress.result)}` : ''}`);
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
