/**
 * What a person reads about a run in Temporal Web and the CLI: the summary line, the details
 * (markdown), the outcome's headline. Pure functions over plain data: the workflow bundle, the CLI
 * and `npm start` share them, so every view says the same words.
 */
import type { BatchCheckpoint, Counts } from './contract';
import type { RunEnd, RunOutcome } from './outcome';

/** What a run is, for its summary: "DRY RUN · Caretaker runs.cleanup_stale (stale-runs), started by hand". */
export function runSummary(task: { taskId: string; type: string; dryRun: boolean }, how?: string): string {
  return `${task.dryRun ? 'DRY RUN · ' : ''}Caretaker ${task.type} (${task.taskId})${how ? `, ${how}` : ''}`;
}

/** The static details: the task's own description and what kind of run this is. */
export function runDetails(task: { taskId: string; type: string; dryRun: boolean; description?: string }): string {
  return [
    `**${task.dryRun ? 'DRY RUN: nothing is changed; counts say what a real run would change' : 'Real run: changes are committed batch by batch'}**`,
    '',
    `Task \`${task.taskId}\` (type \`${task.type}\`)${task.description ? `: ${task.description}` : ''}`,
  ].join('\n');
}

/** The outcome in capitals with its reason, e.g. "REFUSED: max_fraction ..." or "COMPLETED WITH ERRORS". */
export function outcomeHeadline(outcome: RunOutcome | 'running' | 'awaiting_approval', reason?: string): string {
  const word = outcome.replace(/_/g, ' ').toUpperCase();
  return reason ? `${word}: ${reason}` : word;
}

/**
 * Temporal Web (2.42) sizes the frame that shows the current details a little short of their
 * content, which clipped the last line (the per-table table's last row): an empty last paragraph
 * (a no-break space) takes the clipped strip instead.
 */
function keepLastLineVisible(markdown: string): string {
  return `${markdown}\n\n\u00a0`;
}

/**
 * Live progress for the current details: counts, batches, rate, elapsed, how old the checkpoint is.
 * The rate counts rows acted on (the task's counters but `matched`), not rows changed (core/outcome.ts).
 */
export function liveDetails(dryRun: boolean, startedAtMs: number, checkpoint: BatchCheckpoint, nowMs: number): string {
  const elapsedS = Math.max(1, Math.round((nowMs - startedAtMs) / 1000));
  const actedOn = Object.entries(checkpoint.counts)
    .filter(([k]) => k !== 'matched')
    .reduce((n, [, v]) => n + v, 0);
  const waiting = checkpoint.pace?.waiting ? ` · waiting: ${checkpoint.pace.waiting}` : '';
  return keepLastLineVisible(
    [
      `**${outcomeHeadline('running')}**${dryRun ? ' (DRY RUN)' : ''} · ${checkpoint.batches} batch(es) · ${countsText(checkpoint.counts)} · ~${Math.round(actedOn / elapsedS)} rows/s · elapsed ${elapsedS}s${waiting}`,
      '',
      `Checkpoint at ${checkpoint.at}; refreshed every 30 s here (at most 20 times an attempt), every few seconds in \`caretaker status\`.`,
    ].join('\n'),
  );
}

function cell(counts: Counts, key: string): string {
  return String(counts[key] ?? 0);
}

/** A markdown table of what changed per table; "no rows changed" when nothing did. */
export function tablesMarkdown(tables: Record<string, Counts>): string {
  const names = Object.keys(tables).sort();
  if (names.length === 0) return 'No rows changed.';
  const keys = [...new Set(names.flatMap((t) => Object.keys(tables[t]!)))];
  return [
    `| table | ${keys.join(' | ')} |`,
    `|---|${keys.map(() => '---:').join('|')}|`,
    ...names.map((t) => `| ${t} | ${keys.map((k) => cell(tables[t]!, k)).join(' | ')} |`),
  ].join('\n');
}

function countsText(counts: Counts): string {
  return (
    Object.entries(counts)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') || 'nothing'
  );
}

/** The end-of-run details: headline, counts, and the per-table table. */
export function finalDetails(
  end: Pick<RunEnd, 'outcome' | 'dryRun' | 'reason' | 'counts' | 'tables' | 'batches' | 'durationMs' | 'errors' | 'stopped'>,
): string {
  const lines = [
    `**${outcomeHeadline(end.outcome, end.reason)}**${end.dryRun ? ' (DRY RUN: nothing was changed)' : ''}`,
    '',
    `${end.dryRun ? 'Would change' : end.outcome === 'failed' || end.outcome === 'cancelled' || end.stopped ? 'Changed before it stopped' : 'Changed'}: ${countsText(end.counts)} in ${end.batches} batch(es), ${(end.durationMs / 1000).toFixed(1)} s`,
    '',
    tablesMarkdown(end.tables),
  ];
  if (end.errors.length) lines.push('', `Errors (${end.errors.length}):`, ...end.errors.slice(0, 10).map((e) => `- ${e}`));
  return keepLastLineVisible(lines.join('\n'));
}
