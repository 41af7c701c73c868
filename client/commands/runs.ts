import { WorkflowNotFoundError, type Client, type ScheduleExecutionResult } from '@temporalio/client';
import { taskSchema, type TaskConfig } from '../../config/schema';
import { explainIssues, formatPath } from '../../config/load';
import { dryRunCaveats } from '../../config/warnings';
import type { TaskResult } from '../../core/contract';
import { buildTaskInput, runTimeoutOf, workflowTypeFor } from '../../config/task-input';
import { type CliContext, UsageError, webUiLink } from '../context';
import { closedOutcome, summarizeResult } from '../run-report';
import { runStartOptions } from '../run-start';
import { warnIfNoWorker } from '../pollers';
import { waitForRun } from '../wait-for-run';
import { closestMatch } from '../../config/did-you-mean';
import { manualWorkflowId } from '../../core/workflow-ids';
import { missingSearchAttributeMessage } from '../missing-search-attribute';

export { summarizeResult };

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
  if (!configured && !ctx.catalog.find(name)) {
    const guess = closestMatch(
      name,
      tasks.map((t) => t.id),
    );
    throw new UsageError(
      `"${name}" is neither a task id in ${ctx.configFile} (${tasks.map((t) => t.id).join(', ') || 'none'}) nor a task type (see \`caretaker tasks\`)${guess ? `; did you mean "${guess}"?` : ''}`,
    );
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
  const parsed = taskSchema(ctx.catalog).safeParse(raw);
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
  const workflowId = manualWorkflowId(task.id, new Date());
  const dryRun = Boolean(ctx.flags['dry-run']);
  const handle = await client.workflow
    .start(workflowTypeFor(task), {
      workflowId,
      taskQueue: cfg.task_queue,
      args: [buildTaskInput(task, { dryRun })],
      workflowExecutionTimeout: runTimeoutOf(task),
      ...runStartOptions(task, { dryRun, how: 'started by hand' }),
    })
    .catch((err: unknown) => {
      const missing = missingSearchAttributeMessage(err, client.options.namespace);
      throw missing ? new Error(missing) : err;
    });
  const url = webUiLink(workflowId);
  if (!ctx.json) console.log(`started ${workflowId}${dryRun ? ' (DRY RUN)' : ''}\n  ${url}`);
  if (!ctx.json && dryRun) for (const caveat of dryRunCaveats(task)) console.log(`  note: ${caveat}`);
  await warnIfNoWorker(client, cfg.task_queue);
  if (!ctx.flags.wait) {
    if (ctx.json) ctx.print({ workflowId, runId: handle.firstExecutionRunId, url }, () => '');
    return 0;
  }
  return waitForRun(ctx, handle);
}

/**
 * `caretaker cancel <workflowId>`: the running batch finishes, then the run stops. A run that has
 * already ended cannot be cancelled: it says so with the run's outcome and exits 2, like an unknown id.
 */
export async function cancel(ctx: CliContext): Promise<number> {
  const workflowId = ctx.arg(0, 'workflow id');
  const handle = (await ctx.client()).workflow.getHandle(workflowId);
  try {
    const desc = await handle.describe();
    if (desc.status.name !== 'RUNNING') {
      const outcome = closedOutcome(desc);
      if (ctx.json)
        ctx.print(
          { workflowId, cancelRequested: false, alreadyEnded: true, status: desc.status.name, outcome, url: webUiLink(workflowId, desc.runId) },
          () => '',
        );
      console.error(
        `caretaker cancel: ${workflowId} already ended (${outcome}, ${desc.closeTime?.toISOString() ?? 'closed'}); nothing to cancel\n  ${webUiLink(workflowId, desc.runId)}`,
      );
      return 2;
    }
    await handle.cancel();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UsageError(`no workflow "${workflowId}"`);
    throw err;
  }
  ctx.print({ workflowId, cancelRequested: true }, () => `${workflowId}: cancellation requested; it stops at the next batch boundary`);
  return 0;
}
