import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { DRY_RUN, OUTCOME, ROWS_CHANGED, TASK_ID } from '../workflows/search-attributes';
import { readOutcomeMemo, runOutcomeOf } from '../core/outcome';
import type { Backlog } from '../workflows/types';
import { formatDuration, parseDuration } from '../config/duration';
import { UsageError } from './context';

/** One run of a task, from Temporal's visibility store. */
export interface RunRecord {
  workflowId: string;
  runId: string;
  /** How it was started: schedule (scheduled, triggered, backfilled), manual, startup. */
  startedBy: 'schedule' | 'manual' | 'startup';
  status: string;
  /** completed, completed_with_errors, skipped, refused, failed, cancelled; running until it ends. */
  outcome: string;
  dryRun: boolean;
  rowsChanged?: number;
  /** Eligible rows the run left for the next one (tasks that pick rows; from its outcome memo). */
  backlog?: Backlog;
  failure?: string;
  startTime: string;
  closeTime?: string;
  durationMs?: number;
}

function startedBy(info: WorkflowExecutionInfo, taskId: string): RunRecord['startedBy'] {
  const rest = info.workflowId.slice(taskId.length);
  if (rest.startsWith('-manual-')) return 'manual';
  if (rest.startsWith('-startup-')) return 'startup';
  return 'schedule';
}

/** A visibility row as a RunRecord; a run that ended without recording an outcome gets Temporal's status. */
function toRecord(info: WorkflowExecutionInfo, taskId: string): RunRecord {
  const sa = info.typedSearchAttributes;
  const memo = readOutcomeMemo(info.memo);
  const outcome = runOutcomeOf(info.status.name, sa.get(OUTCOME));
  const rows = sa.get(ROWS_CHANGED);
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    startedBy: startedBy(info, taskId),
    status: info.status.name,
    outcome,
    dryRun: sa.get(DRY_RUN) ?? false,
    ...(rows === undefined ? {} : { rowsChanged: rows }),
    ...(memo?.failure ? { failure: memo.failure } : {}),
    ...(memo?.backlog ? { backlog: memo.backlog } : {}),
    startTime: info.startTime.toISOString(),
    ...(info.closeTime ? { closeTime: info.closeTime.toISOString(), durationMs: info.closeTime.getTime() - info.startTime.getTime() } : {}),
  };
}

/** `--since`: a duration back from now ("7d", "12h") or an ISO date/time. */
export function parseSince(text: string): Date {
  const ms = parseDuration(text);
  const date = ms === undefined ? new Date(text) : new Date(Date.now() - ms);
  if (Number.isNaN(date.getTime()))
    throw new UsageError(`--since: expected a duration like 7d or 12h, or an ISO date like 2026-01-31T00:00:00Z; got ${JSON.stringify(text)}`);
  return date;
}

/** Every run of a task (newest first), by its CaretakerTaskId search attribute. */
export async function listRuns(client: Client, taskId: string, opts: { since?: Date; limit?: number } = {}): Promise<RunRecord[]> {
  if (!/^[\w.-]+$/.test(taskId)) throw new UsageError(`task id: expected letters, digits, ".", "_" or "-", got ${JSON.stringify(taskId)}`);
  const query = `${TASK_ID.name} = "${taskId}"${opts.since ? ` AND StartTime >= "${opts.since.toISOString()}"` : ''}`;
  const runs: RunRecord[] = [];
  for await (const info of client.workflow.list({ query })) {
    runs.push(toRecord(info, taskId));
    if (opts.limit && runs.length >= opts.limit) break;
  }
  return runs.sort((a, b) => b.startTime.localeCompare(a.startTime));
}

/** A run's duration for people: "3.5s" under ten seconds, whole seconds above ("1m12s"). */
export function durationText(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : formatDuration(Math.round(ms / 1000) * 1000);
}
