import type { TaskInput, TaskResult, TaskStatus } from '../../core/contract';

/** A result built outside the batch engine (health.report, a skipped run); the status follows from the errors unless given. */
export function taskResult(
  input: TaskInput<{ dry_run: boolean }>,
  run: {
    counts: Record<string, number>;
    details: Record<string, unknown>[];
    detailsTruncated: boolean;
    errors: string[];
    batches: number;
    startedAt: string;
    detailsOmitted?: number;
  },
  extra: { status?: TaskStatus; reason?: string } = {},
): TaskResult {
  return {
    status: extra.status ?? (run.errors.length > 0 ? 'completed_with_errors' : 'completed'),
    ...(extra.reason === undefined ? {} : { reason: extra.reason }),
    taskId: input.taskId,
    type: input.type,
    dryRun: input.config.dry_run,
    counts: run.counts,
    tables: {},
    sets: {},
    details: run.details,
    detailsTruncated: run.detailsTruncated,
    detailsOmitted: run.detailsOmitted ?? 0,
    errors: run.errors,
    batches: run.batches,
    startedAt: run.startedAt,
    finishedAt: new Date().toISOString(),
  };
}

/** The result of a run that found its task already running. */
export function skippedResult(input: TaskInput<{ dry_run: boolean }>, reason: string): TaskResult {
  const empty = { counts: {}, details: [], detailsTruncated: false, errors: [], batches: 0, startedAt: new Date().toISOString() };
  return taskResult(input, empty, { status: 'skipped', reason });
}
