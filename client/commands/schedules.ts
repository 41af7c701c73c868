import { ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import { applySync, planSync } from '../sync';
import { effectiveOverlap, overlapPolicy } from '../schedule-options';
import { isOwnedBy } from '../../config/ownership';
import { type CliContext, table, UsageError } from '../context';
import { lastScheduledRun } from '../../core/outcome';
import { warnIfNoWorker } from '../pollers';
import { closestMatch } from '../../config/did-you-mean';

/** `caretaker schedules sync [--dry-run] [--prune]`: exit 1 when a step failed or a schedule is someone else's. */
export async function sync(ctx: CliContext): Promise<number> {
  const cfg = await ctx.config();
  const client = await ctx.client();
  const plan = await planSync(client, cfg, { prune: Boolean(ctx.flags.prune) });
  const dryRun = Boolean(ctx.flags['dry-run']);
  // Applied: each step as it turned out (another sync running at the same time may have made a schedule first).
  const { steps, failures } = dryRun ? { steps: plan, failures: [] } : await applySync(client, cfg, plan);
  const failed = new Set(failures.map((f) => f.id));
  ctx.print({ dryRun, plan: [...steps, ...plan.filter((p) => failed.has(p.id))].sort((a, b) => a.id.localeCompare(b.id)), failures }, () => {
    if (plan.length === 0) return 'nothing to sync: no scheduled tasks in config and no Caretaker schedules in Temporal';
    const head = dryRun ? 'sync plan (dry run, nothing changed):' : 'synced:';
    const done = steps;
    const lines = [head, ...(done.length ? [table(done.map((p) => [p.action, p.id, p.detail]))] : ['(nothing)'])];
    if (failures.length) lines.push(`failed (${failures.length} of ${plan.length}):`, table(failures.map((f) => [`  ${f.action}`, f.id, f.error])));
    return lines.join('\n');
  });
  if (failures.length) console.error(`caretaker schedules sync: ${failures.length} change(s) failed: ${failures.map((f) => `${f.action} ${f.id}`).join(', ')}`);
  return failures.length > 0 || steps.some((p) => p.action === 'conflict') ? 1 : 0;
}

/** The outcome of the latest run the schedule itself started (core/outcome.ts's lastScheduledRun); none when it never fired. */
async function lastOutcome(client: Client, scheduleId: string): Promise<{ outcome: string; at: string } | undefined> {
  // The schedule's own description, not the list's copy of it, which visibility updates later.
  const recent =
    (
      await client.schedule
        .getHandle(scheduleId)
        .describe()
        .catch(() => undefined)
    )?.info.recentActions ?? [];
  const last = await lastScheduledRun(recent, (workflowId) => client.workflow.getHandle(workflowId).describe()).catch(() => undefined);
  return last && { outcome: last.outcome, at: last.startTime.toISOString() };
}

/** `caretaker schedules list`: every schedule, its state, next run and the outcome of its last run. */
export async function list(ctx: CliContext): Promise<number> {
  const client = await ctx.client();
  const rows: {
    id: string;
    workflowType?: string;
    paused: boolean;
    note?: string;
    nextActionTimes: string[];
    managedByCaretaker: boolean;
    lastOutcome?: string;
    lastRunAt?: string;
  }[] = [];
  for await (const s of client.schedule.list()) {
    rows.push({
      id: s.scheduleId,
      workflowType: s.action?.workflowType,
      paused: s.state.paused,
      note: s.state.note,
      nextActionTimes: s.info.nextActionTimes.map((d) => d.toISOString()),
      managedByCaretaker: isOwnedBy(s.memo),
      ...(await lastOutcome(client, s.scheduleId).then((l) => (l ? { lastOutcome: l.outcome, lastRunAt: l.at } : {}))),
    });
  }
  ctx.print(rows, () =>
    rows.length === 0
      ? 'no schedules'
      : table([
          ['ID', 'WORKFLOW', 'STATE', 'NEXT RUN', 'LAST OUTCOME'],
          ...rows.map((r) => [
            r.id,
            r.workflowType ?? '',
            r.paused ? 'paused' : 'active',
            r.nextActionTimes[0] ?? '',
            r.lastOutcome ? `${r.lastOutcome} (${r.lastRunAt})` : 'no runs yet',
          ]),
        ]),
  );
  return 0;
}

export async function describeSchedule(ctx: CliContext, id: string): Promise<ScheduleDescription> {
  try {
    return await (await ctx.client()).schedule.getHandle(id).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) {
      const ids = (await ctx.config().catch(() => undefined))?.tasks.map((t) => t.id) ?? [];
      const guess = closestMatch(id, ids);
      throw new UsageError(`no schedule "${id}" in Temporal${guess ? `; did you mean "${guess}"?` : ' (run `caretaker schedules sync`?)'}`);
    }
    throw err;
  }
}

/** `caretaker pause|unpause <id> [--note]` */
export async function setPaused(ctx: CliContext, paused: boolean): Promise<number> {
  const id = ctx.arg(0, 'schedule id');
  const current = await describeSchedule(ctx, id);
  const handle = (await ctx.client()).schedule.getHandle(id);
  const given = ctx.flag('note');
  // Pausing a paused schedule (or unpausing an active one) without --note keeps the operator's note.
  if (given === undefined && current.state.paused === paused) {
    const note = current.state.note ?? '';
    ctx.print({ id, paused, note, unchanged: true }, () => `${id}: already ${paused ? 'paused' : 'active'}; note kept (${note})`);
    return 0;
  }
  const note = given ?? `${paused ? 'paused' : 'unpaused'} with caretaker CLI by ${process.env.USER ?? 'operator'}`;
  await (paused ? handle.pause(note) : handle.unpause(note));
  const warning = paused ? undefined : await pausedByConfig(ctx, id);
  ctx.print({ id, paused, note, ...(warning && { warning }) }, () => `${id}: ${paused ? 'paused' : 'unpaused'} (${note})`);
  if (warning) console.error(`warning: ${warning}`);
  return 0;
}

/**
 * Why an unpause will not last: the config sets `paused: true` for the task, so the next sync (npm
 * start, `schedules sync`) pauses it again (sync.ts: the config wins where it sets `paused`). No
 * config file, or one that does not load, says nothing here.
 */
async function pausedByConfig(ctx: CliContext, id: string): Promise<string | undefined> {
  const task = await ctx.config().then(
    (cfg) => cfg.tasks.find((t) => t.id === id),
    () => undefined,
  );
  if (task?.paused !== true) return undefined;
  return `${ctx.configFile} sets paused: true for ${id}: the next npm start or caretaker schedules sync pauses it again; delete that line to keep it running`;
}

/** The overlap policy for a manual action: the task's own, never the SDK's ALLOW_ALL default. */
async function taskOverlap(ctx: CliContext, id: string) {
  const cfg = await ctx.config().catch(() => undefined);
  const task = cfg?.tasks.find((t) => t.id === id);
  return task ? overlapPolicy(effectiveOverlap(task)) : (await describeSchedule(ctx, id)).policies.overlap;
}

/** `caretaker trigger <id>`: run now, under the task's overlap policy. */
export async function trigger(ctx: CliContext): Promise<number> {
  const id = ctx.arg(0, 'schedule id');
  const overlap = await taskOverlap(ctx, id);
  const described = await describeSchedule(ctx, id);
  const client = await ctx.client();
  await client.schedule.getHandle(id).trigger(overlap);
  ctx.print({ id, triggered: true, overlap }, () => `${id}: triggered (overlap policy ${overlap}); see \`caretaker describe ${id}\``);
  if (described.action.type === 'startWorkflow') await warnIfNoWorker(client, described.action.taskQueue);
  return 0;
}

function parseDate(value: string | undefined, flag: string): Date {
  const date = value ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime()))
    throw new UsageError(`--${flag}: expected an ISO date/time like 2026-01-31T00:00:00Z, got ${JSON.stringify(value ?? '')}`);
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
