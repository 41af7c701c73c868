import type { WorkflowExecutionInfo } from '@temporalio/client';
import type { Counts, TaskResult } from '../workflows/types';
import { outcomeHeadline } from '../workflows/run-text';
import { classifyFailure } from '../core/failures';
import { readOutcomeMemo, runOutcomeOf } from '../core/outcome';
import { table } from './context';

/** How a run that did not return a result ended: its outcome word, the innermost message and type. */
export interface RunFailure {
  outcome: 'failed' | 'refused' | 'cancelled';
  cause: string;
  type?: string;
}

/** How a run's failure (WorkflowFailedError -> ActivityFailure -> ApplicationFailure) reads: core/failures.ts's classifyFailure. */
export function failureOf(err: unknown): RunFailure {
  const { outcome, message, type } = classifyFailure(err);
  return { outcome, cause: message, ...(type !== undefined && { type }) };
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
  return runOutcomeOf(info.status.name, readOutcomeMemo(info.memo)?.outcome);
}

/** Counts as `k=v` pairs, "nothing" when empty. */
export { countsText };
