import { type CliContext, table } from '../context';
import { durationText, listRuns, parseSince } from '../run-history';

/** `caretaker history <task> [--since 7d] [--json]`: every run of a task, from Temporal's visibility. */
export async function history(ctx: CliContext): Promise<number> {
  const taskId = ctx.arg(0, 'task id');
  const since = ctx.flag('since');
  const runs = await listRuns(await ctx.client(), taskId, since ? { since: parseSince(since) } : {});
  ctx.print(runs, () =>
    runs.length === 0
      ? `no runs of "${taskId}"${since ? ` since ${since}` : ''} (runs are found by the CaretakerTaskId search attribute)`
      : table([
          ['STARTED', 'BY', 'OUTCOME', 'DRY RUN', 'ROWS', 'DURATION', 'WORKFLOW ID'],
          ...runs.map((r) => [
            r.startTime,
            r.startedBy,
            r.failure ? `${r.outcome}: ${r.failure.split('\n')[0]!.slice(0, 80)}` : r.outcome,
            r.dryRun ? 'yes' : 'no',
            r.rowsChanged === undefined ? '' : String(r.rowsChanged),
            durationText(r.durationMs),
            r.workflowId,
          ]),
        ]),
  );
  return 0;
}
