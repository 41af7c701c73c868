import type { PoolClient } from 'pg';
import { CancelledFailure, Context } from '@temporalio/activity';
import type { BatchCheckpoint, TaskInput, TaskResult, TaskStatus } from '../workflows/types';
import type { SqlLimits } from '../tasks/fields';

/** Collects a run's counts, per-item details (up to a limit) and errors. */
export class RunSummary {
  constructor(
    private readonly state: BatchCheckpoint,
    private readonly detailsLimit: number,
  ) {}

  count(name: string, by = 1): void {
    this.state.counts[name] = (this.state.counts[name] ?? 0) + by;
  }

  detail(item: Record<string, unknown>): void {
    if (this.state.details.length < this.detailsLimit) this.state.details.push(item);
    else this.state.detailsTruncated = true;
  }

  get(name: string): number {
    return this.state.counts[name] ?? 0;
  }

  error(message: string): void {
    if (this.state.errors.length < 100) this.state.errors.push(message);
  }
}

export interface BatchStep<Cursor> {
  /** Runs one batch inside an open transaction; returns the next cursor, or done. */
  (tx: PoolClient, cursor: Cursor, summary: RunSummary): Promise<{ cursor: Cursor; done: boolean }>;
}

export interface BatchLoopOptions<Cursor> {
  client: PoolClient;
  input: TaskInput<{ dry_run: boolean; details_limit: number; sql?: SqlLimits }>;
  /**
   * false for statements that cannot run in a transaction block (VACUUM, REINDEX CONCURRENTLY,
   * procedures that commit): each step then runs on the bare connection and sets its own limits.
   */
  transaction?: boolean;
  initialCursor: Cursor;
  /** Names of counters that always appear in the result, even when zero. */
  counters: readonly string[];
  step: BatchStep<Cursor>;
}

/**
 * The loop behind every SQL task: one transaction per batch, with `lock_timeout` and
 * `statement_timeout` as SET LOCAL (read only in a dry run, so a dry run cannot change a row),
 * a heartbeat with the cursor after each committed batch, resume from the last heartbeat on retry,
 * and a stop at a batch boundary when the run is cancelled.
 */
export async function runBatches<Cursor>(opts: BatchLoopOptions<Cursor>): Promise<TaskResult> {
  const ctx = Context.current();
  const { config } = opts.input;
  const resumed = ctx.info.heartbeatDetails as BatchCheckpoint<Cursor> | undefined;
  const state: BatchCheckpoint<Cursor> = resumed ?? {
    cursor: opts.initialCursor,
    batches: 0,
    counts: Object.fromEntries(opts.counters.map((c) => [c, 0])),
    details: [],
    detailsTruncated: false,
    errors: [],
    startedAt: new Date().toISOString(),
  };
  const summary = new RunSummary(state, config.details_limit);

  for (;;) {
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure('cancelled at a batch boundary');
    const next = opts.transaction === false ? await opts.step(opts.client, state.cursor, summary) : await inTransaction(opts, state.cursor, summary);
    state.cursor = next.cursor;
    state.batches += 1;
    ctx.heartbeat(state);
    if (next.done) break;
  }

  return taskResult(opts.input, state);
}

/** What a run collected, as its result; the status follows from the errors unless given. */
export function taskResult(
  input: TaskInput<{ dry_run: boolean }>,
  run: Pick<BatchCheckpoint, 'counts' | 'details' | 'detailsTruncated' | 'errors' | 'batches' | 'startedAt'>,
  extra: { status?: TaskStatus; reason?: string } = {},
): TaskResult {
  return {
    status: extra.status ?? (run.errors.length > 0 ? 'completed_with_errors' : 'completed'),
    ...(extra.reason === undefined ? {} : { reason: extra.reason }),
    taskId: input.taskId,
    type: input.type,
    dryRun: input.config.dry_run,
    counts: run.counts,
    details: run.details,
    detailsTruncated: run.detailsTruncated,
    errors: run.errors,
    batches: run.batches,
    startedAt: run.startedAt,
    finishedAt: new Date().toISOString(),
  };
}

/** One step inside its own transaction, read only in a dry run, with the task's SET LOCAL limits. */
async function inTransaction<Cursor>(opts: BatchLoopOptions<Cursor>, cursor: Cursor, summary: RunSummary): Promise<{ cursor: Cursor; done: boolean }> {
  const { config } = opts.input;
  await opts.client.query(config.dry_run ? 'begin read only' : 'begin');
  try {
    if (config.sql) {
      await opts.client.query(`set local lock_timeout = ${Math.ceil(config.sql.lock_timeout)}`);
      await opts.client.query(`set local statement_timeout = ${Math.ceil(config.sql.statement_timeout)}`);
    }
    const next = await opts.step(opts.client, cursor, summary);
    await opts.client.query('commit');
    return next;
  } catch (err) {
    await opts.client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/** The result of a run that found its task already running. */
export function skippedResult(input: TaskInput<{ dry_run: boolean }>, reason: string): TaskResult {
  const empty = { counts: {}, details: [], detailsTruncated: false, errors: [], batches: 0, startedAt: new Date().toISOString() };
  return taskResult(input, empty, { status: 'skipped', reason });
}
