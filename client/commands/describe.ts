import { type CliContext, table, webUiLink } from '../context';
import { describeSchedule } from './schedules';
import { describeRecentRun } from './runs';
import { durationText, listRuns } from '../run-history';
import { scheduleWords } from '../schedule-words';
import { ageText } from '../../core/duration';
import type { Backlog } from '../../core/contract';

/** "backlog: 12 rows, oldest 3h": what the last run left for the next one (a dry run: what the real run would). */
export function backlogLine(backlog: Backlog, dryRun: boolean): string {
  const oldest = backlog.oldest_age_seconds === undefined ? '' : `, oldest ${ageText(backlog.oldest_age_seconds)}`;
  return `backlog: ${backlog.rows} rows${oldest}${dryRun ? ' (dry run: what the real run would leave)' : ''}`;
}

/**
 * `caretaker describe <id>`: the schedule as the user wrote it (from the config when the task is
 * in it), pause note, next fire times, the last outcome and failure reasons, and recent runs of
 * every kind (scheduled, triggered, manual, startup) from Temporal's visibility.
 */
export async function describe(ctx: CliContext): Promise<number> {
  const id = ctx.arg(0, 'schedule id');
  const d = await describeSchedule(ctx, id);
  const client = await ctx.client();
  const task = (await ctx.config().catch(() => undefined))?.tasks.find((t) => t.id === id);
  const recent = await Promise.all(d.info.recentActions.slice(-5).map((a) => describeRecentRun(client, a)));
  const runs = await listRuns(client, id, { limit: 10 }).catch(() => []);
  const last = runs.find((r) => r.outcome !== 'running');
  const failures = runs.filter((r) => r.failure).map((r) => ({ workflowId: r.workflowId, startTime: r.startTime, outcome: r.outcome, failure: r.failure }));
  const data = {
    id,
    schedule: task ? scheduleWords(task.schedule) : undefined,
    spec: d.spec,
    policies: d.policies,
    state: d.state,
    nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
    lastOutcome: last
      ? { outcome: last.outcome, workflowId: last.workflowId, startTime: last.startTime, failure: last.failure, backlog: last.backlog }
      : undefined,
    failures,
    recentRuns: recent,
    runs,
    runningWorkflows: d.info.runningActions.map((r) => r.workflow.workflowId),
  };
  ctx.print(data, () =>
    [
      `schedule ${id}: ${d.state.paused ? 'PAUSED' : 'active'}${d.state.note ? ` (note: ${d.state.note})` : ''}`,
      `when: ${data.schedule ?? `${JSON.stringify(d.spec)} (not in ${ctx.configFile}; as Temporal stores it)`}`,
      `overlap ${d.policies.overlap}, catch-up window ${d.policies.catchupWindow / 1000}s, pause on failure ${d.policies.pauseOnFailure}`,
      `next runs: ${data.nextActionTimes.slice(0, 5).join(', ') || 'none'}`,
      `running: ${data.runningWorkflows.join(', ') || 'none'}`,
      `last outcome: ${last ? `${last.outcome}${last.failure ? `: ${last.failure}` : ''} (${last.startTime}, ${last.startedBy})` : 'no finished runs yet'}`,
      ...(last?.backlog ? [backlogLine(last.backlog, last.dryRun)] : []),
      ...(failures.length ? ['failures among the last runs:', ...failures.map((f) => `  ${f.startTime}  ${f.outcome}: ${f.failure}`)] : []),
      'recent runs (scheduled, triggered, manual, startup; `caretaker history` for all):',
      runs.length === 0
        ? '  none yet'
        : table(
            runs.map((r) => [
              `  ${r.startTime}`,
              r.startedBy,
              `${r.outcome}${r.dryRun ? ' (dry run)' : ''}`,
              r.rowsChanged === undefined ? '' : `${r.rowsChanged} rows`,
              durationText(r.durationMs),
              webUiLink(r.workflowId, r.runId),
            ]),
          ),
    ].join('\n'),
  );
  return 0;
}
