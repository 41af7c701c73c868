import { ScheduleNotFoundError, type ScheduleDescription } from '@temporalio/client';
import { applySync, planSync } from '../sync';
import { overlapPolicy } from '../schedule-options';
import { isOwnedBy } from '../../config/ownership';
import { type CliContext, table, UsageError, webUiLink } from '../context';
import { describeRecentRun } from './runs';

/** `caretaker schedules sync [--dry-run] [--prune]`: exit 1 when a step failed or a schedule is someone else's. */
export async function sync(ctx: CliContext): Promise<number> {
  const cfg = await ctx.config();
  const client = await ctx.client();
  const plan = await planSync(client, cfg, { prune: Boolean(ctx.flags.prune) });
  const dryRun = Boolean(ctx.flags['dry-run']);
  const failures = dryRun ? [] : await applySync(client, cfg, plan);
  const failed = new Set(failures.map((f) => f.id));
  ctx.print({ dryRun, plan, failures }, () => {
    if (plan.length === 0) return 'nothing to sync: no scheduled tasks in config and no Caretaker schedules in Temporal';
    const head = dryRun ? 'sync plan (dry run, nothing changed):' : 'synced:';
    const done = plan.filter((p) => !failed.has(p.id));
    const lines = [head, ...(done.length ? [table(done.map((p) => [p.action, p.id, p.detail]))] : ['(nothing)'])];
    if (failures.length) lines.push(`failed (${failures.length} of ${plan.length}):`, table(failures.map((f) => [`  ${f.action}`, f.id, f.error])));
    return lines.join('\n');
  });
  if (failures.length) console.error(`caretaker schedules sync: ${failures.length} change(s) failed: ${failures.map((f) => `${f.action} ${f.id}`).join(', ')}`);
  return failures.length > 0 || plan.some((p) => p.action === 'conflict') ? 1 : 0;
}

/** `caretaker schedules list` */
export async function list(ctx: CliContext): Promise<number> {
  const client = await ctx.client();
  const rows: { id: string; workflowType?: string; paused: boolean; note?: string; nextActionTimes: string[]; managedByCaretaker: boolean }[] = [];
  for await (const s of client.schedule.list()) {
    rows.push({
      id: s.scheduleId,
      workflowType: s.action?.workflowType,
      paused: s.state.paused,
      note: s.state.note,
      nextActionTimes: s.info.nextActionTimes.map((d) => d.toISOString()),
      managedByCaretaker: isOwnedBy(s.memo),
    });
  }
  ctx.print(rows, () =>
    rows.length === 0
      ? 'no schedules'
      : table([
          ['ID', 'WORKFLOW', 'STATE', 'NEXT RUN'],
          ...rows.map((r) => [r.id, r.workflowType ?? '', r.paused ? 'paused' : 'active', r.nextActionTimes[0] ?? '']),
        ]),
  );
  return 0;
}

async function describeSchedule(ctx: CliContext, id: string): Promise<ScheduleDescription> {
  try {
    return await (await ctx.client()).schedule.getHandle(id).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new UsageError(`no schedule "${id}" in Temporal (run \`caretaker schedules sync\`?)`);
    throw err;
  }
}

/** `caretaker describe <id>`: spec, next fire times, recent runs with results, pause note. */
export async function describe(ctx: CliContext): Promise<number> {
  const id = ctx.arg(0, 'schedule id');
  const d = await describeSchedule(ctx, id);
  const client = await ctx.client();
  const recent = await Promise.all(d.info.recentActions.slice(-5).map((a) => describeRecentRun(client, a)));
  const data = {
    id,
    spec: d.spec,
    policies: d.policies,
    state: d.state,
    nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
    recentRuns: recent,
    runningWorkflows: d.info.runningActions.map((r) => r.workflow.workflowId),
  };
  ctx.print(data, () =>
    [
      `schedule ${id}: ${d.state.paused ? 'PAUSED' : 'active'}${d.state.note ? ` (note: ${d.state.note})` : ''}`,
      `spec: ${JSON.stringify(d.spec)}`,
      `overlap ${d.policies.overlap}, catch-up window ${d.policies.catchupWindow / 1000}s, pause on failure ${d.policies.pauseOnFailure}`,
      `next runs: ${data.nextActionTimes.slice(0, 5).join(', ') || 'none'}`,
      `running: ${data.runningWorkflows.join(', ') || 'none'}`,
      'recent runs:',
      recent.length === 0
        ? '  none yet'
        : table(recent.map((r) => [`  ${r.scheduledAt}`, r.status, r.summary, webUiLink(r.workflowId, r.runId)])),
    ].join('\n'),
  );
  return 0;
}

/** `caretaker pause|unpause <id> [--note]` */
export async function setPaused(ctx: CliContext, paused: boolean): Promise<number> {
  const id = ctx.arg(0, 'schedule id');
  await describeSchedule(ctx, id);
  const handle = (await ctx.client()).schedule.getHandle(id);
  const note = ctx.flag('note') ?? `${paused ? 'paused' : 'unpaused'} with caretaker CLI by ${process.env.USER ?? 'operator'}`;
  await (paused ? handle.pause(note) : handle.unpause(note));
  ctx.print({ id, paused, note }, () => `${id}: ${paused ? 'paused' : 'unpaused'} (${note})`);
  return 0;
}

/** The overlap policy for a manual action: the task's own, never the SDK's ALLOW_ALL default. */
async function taskOverlap(ctx: CliContext, id: string) {
  const cfg = await ctx.config().catch(() => undefined);
  const task = cfg?.tasks.find((t) => t.id === id);
  return task ? overlapPolicy(task.overlap) : (await describeSchedule(ctx, id)).policies.overlap;
}

/** `caretaker trigger <id>`: run now, under the task's overlap policy. */
export async function trigger(ctx: CliContext): Promise<number> {
  const id = ctx.arg(0, 'schedule id');
  await describeSchedule(ctx, id);
  const overlap = await taskOverlap(ctx, id);
  await (await ctx.client()).schedule.getHandle(id).trigger(overlap);
  ctx.print({ id, triggered: true, overlap }, () => `${id}: triggered (overlap policy ${overlap}); see \`caretaker describe ${id}\``);
  return 0;
}

function parseDate(value: string | undefined, flag: string): Date {
  const date = value ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new UsageError(`--${flag}: expected an ISO date/time like 2026-01-31T00:00:00Z, got ${JSON.stringify(value ?? '')}`);
  return date;
}

/** `caretaker backfill <id> --from <time> --to <time>` */
export async function backfill(ctx: CliContext): Promise<number> {
  const id = ctx.arg(0, 'schedule id');
  const start = parseDate(ctx.flag('from'), 'from');
  const end = parseDate(ctx.flag('to'), 'to');
  if (end <= start) throw new UsageError(`--to (${end.toISOString()}) must be after --from (${start.toISOString()})`);
  await describeSchedule(ctx, id);
  const overlap = await taskOverlap(ctx, id);
  await (await ctx.client()).schedule.getHandle(id).backfill({ start, end, overlap });
  ctx.print({ id, start, end, overlap }, () => `${id}: backfill ${start.toISOString()} .. ${end.toISOString()} requested (overlap ${overlap})`);
  return 0;
}

/** `caretaker delete <id>` */
export async function remove(ctx: CliContext): Promise<number> {
  const id = ctx.arg(0, 'schedule id');
  await describeSchedule(ctx, id);
  await (await ctx.client()).schedule.getHandle(id).delete();
  ctx.print({ id, deleted: true }, () => `${id}: schedule deleted (run history stays in Temporal)`);
  return 0;
}
