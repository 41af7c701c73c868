import type { WorkflowExecutionInfo } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { Counts, TaskResult } from '../workflows/types';
import { outcomeHeadline } from '../workflows/run-text';
import { OUTCOME_MEMO } from '../workflows/run-task';
import { table } from './context';

/** Failure types a task raises on purpose when a safety limit refuses a real run. */
const REFUSAL_TYPES = new Set(['SafetyLimitExceeded']);

/** How a run that did not return a result ended: its outcome word, the innermost message and type. */
export interface RunFailure {
  outcome: 'failed' | 'refused' | 'cancelled';
  cause: string;
  type?: string;
}

/** The innermost message of a failure chain (WorkflowFailedError -> ActivityFailure -> ApplicationFailure). */
export function failureOf(err: unknown): RunFailure {
  let e = err as (Error & { type?: string; cause?: unknown }) | undefined;
  let cause = e?.message ?? String(err);
  let type: string | undefined;
  let cancelled = false;
  while (e) {
    if ((e as unknown) instanceof CancelledFailure) cancelled = true;
    if (e.message) cause = e.message;
    if (e.type) type = e.type;
    e = e.cause as typeof e;
  }
  return { outcome: cancelled ? 'cancelled' : type && REFUSAL_TYPES.has(type) ? 'refused' : 'failed', cause, ...(type ? { type } : {}) };
}

function countsText(counts: Counts): string {
  return (
    Object.entries(counts)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') || 'nothing'
  );
}

/** One line about a finished run: its counts, or why it did nothing. */
export function summarizeResult(result: TaskResult): string {
  if (result.status === 'skipped') return `skipped: ${result.reason ?? ''}`;
  const head = result.status === 'completed' ? 'completed' : outcomeHeadline(result.status, result.status === 'refused' ? result.reason : undefined);
  return `${head}${result.dryRun ? ' (dry run)' : ''}: ${countsText(result.counts)}${result.errors.length ? ` errors=${result.errors.length}` : ''}`;
}

/** One line about a run that failed, was refused or was cancelled. */
export function summarizeFailure(failure: RunFailure): string {
  return outcomeHeadline(failure.outcome, failure.cause);
}

/** Per-table counts as an aligned table, for the terminal. */
export function tablesText(tables: Record<string, Counts>, indent = '  '): string {
  const names = Object.keys(tables).sort();
  if (names.length === 0) return `${indent}no rows changed`;
  const keys = [...new Set(names.flatMap((t) => Object.keys(tables[t]!)))];
  return table([
    [`${indent}TABLE`, ...keys.map((k) => k.toUpperCase())],
    ...names.map((t) => [`${indent}${t}`, ...keys.map((k) => String(tables[t]![k] ?? 0))]),
  ]);
}

/**
 * How a closed run ended: the outcome runTask recorded in its memo (refused, completed_with_errors,
 * ...), else Temporal's status in lower case (a run terminated or timed out records nothing).
 */
export function closedOutcome(info: Pick<WorkflowExecutionInfo, 'status' | 'memo'>): string {
  const recorded = (info.memo?.[OUTCOME_MEMO] as { outcome?: string } | undefined)?.outcome;
  return recorded && recorded !== 'running' ? recorded : info.status.name.toLowerCase().replace('canceled', 'cancelled');
}

/** Counts as `k=v` pairs, "nothing" when empty. */
export { countsText };
