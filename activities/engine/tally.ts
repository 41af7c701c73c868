import type { Counts, PartialResult, TaskInput, TaskResult, TaskStatus } from '../../core/contract';
import { addCounts, named } from './counters';

/** Per-item details beyond this many bytes (as JSON) are counted, not listed: a result must fit a Temporal payload. */
export const DEFAULT_DETAILS_MAX_BYTES = 256 * 1024;
const MAX_ERRORS = 100;

/** What one unit of work did in one batch (or to one item), as its `act` reports it. */
export interface BatchEffect {
  counts: Counts;
  /** One entry per item acted on (or found), for the result's `details`. */
  details: Record<string, unknown>[];
  /** Items that count against max_rows_per_run. */
  capped?: number;
  errors?: string[];
  /** The cursors of the items the batch changes (or would), when not every item's (a parent skipped for a locked child): a plan records these. */
  keys?: unknown[];
  /** Per-table counts a read-only dry run predicts (an executed batch is measured instead). */
  tables?: Record<string, Counts>;
  /** Per-table changes PostgreSQL counted for statements the batch rolled back to a savepoint (a child change that met a held row): not in the measured counts. */
  undone?: Record<string, Counts>;
}

/** One batch's effect as the ledger records it: everything a resumed run needs to report it exactly. */
export interface RecordedEffect {
  set: string;
  counts: Counts;
  tables: Record<string, Counts>;
  details: Record<string, unknown>[];
  omitted: number;
  capped: number;
  errors: string[];
  /** The first batch of a real run only: the size of each whole a later unit acts on, at the run's start (max_fraction, fraction.ts). */
  sizes?: Record<string, number>;
}

/** The running totals of a run: counts, per table, per set, bounded details, errors. */
export class Tally {
  counts: Counts;
  tables: Record<string, Counts> = {};
  sets: Record<string, Counts> = {};
  details: Record<string, unknown>[] = [];
  detailsBytes = 0;
  omitted = 0;
  capped = 0;
  batches = 0;
  errors: string[] = [];
  /** Sizes of the wholes later units act on, at the run's start: measured before the first batch, recorded with it, folded back on a retry. */
  sizes: Record<string, number> = {};

  constructor(
    private readonly limits: { details: number; bytes: number },
    counters: readonly string[],
  ) {
    this.counts = Object.fromEntries(counters.map((c) => [c, 0]));
  }

  /** The record for a batch, with as many details as still fit; the tally is unchanged until `apply`. */
  admit(set: string, effect: BatchEffect, tables: Record<string, Counts>): RecordedEffect {
    const details: Record<string, unknown>[] = [];
    let bytes = this.detailsBytes;
    for (const d of effect.details) {
      const size = detailBytes(d);
      // The list's brackets take 2 bytes; each entry its JSON and a comma.
      if (this.details.length + details.length >= this.limits.details || bytes + size > this.limits.bytes - 2) break;
      details.push(d);
      bytes += size;
    }
    return {
      set,
      counts: effect.counts,
      tables,
      details,
      omitted: effect.details.length - details.length,
      capped: effect.capped ?? 0,
      errors: (effect.errors ?? []).slice(0, Math.max(0, MAX_ERRORS - this.errors.length)),
      ...(this.batches === 0 && Object.keys(this.sizes).length > 0 && { sizes: this.sizes }),
    };
  }

  apply(e: RecordedEffect): void {
    if (e.sizes) this.sizes = e.sizes;
    addCounts(this.counts, e.counts);
    this.sets[e.set] ??= {};
    addCounts(this.sets[e.set]!, e.counts);
    for (const [table, counts] of Object.entries(e.tables)) addCounts((this.tables[table] ??= {}), counts);
    for (const d of e.details) this.detailsBytes += detailBytes(d);
    this.details.push(...e.details);
    this.omitted += e.omitted;
    this.capped += e.capped;
    this.errors.push(...e.errors);
    this.batches += 1;
  }

  warn(message: string): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push(message);
  }

  partial(dryRun: boolean): PartialResult {
    return {
      dryRun,
      counts: named(this.counts, dryRun),
      tables: namedTables(this.tables, dryRun),
      sets: namedTables(this.sets, dryRun),
      batches: this.batches,
    };
  }

  result(input: TaskInput<{ dry_run: boolean }>, startedAt: string, status?: TaskStatus, reason?: string): TaskResult {
    const dryRun = input.config.dry_run;
    return {
      status: status ?? (this.errors.length > 0 ? 'completed_with_errors' : 'completed'),
      ...(reason === undefined ? {} : { reason }),
      taskId: input.taskId,
      type: input.type,
      dryRun,
      counts: named(this.counts, dryRun),
      tables: namedTables(this.tables, dryRun),
      sets: namedTables(this.sets, dryRun),
      details: this.details,
      detailsTruncated: this.omitted > 0,
      detailsOmitted: this.omitted,
      errors: this.errors,
      batches: this.batches,
      startedAt,
      finishedAt: new Date().toISOString(),
    };
  }
}

function detailBytes(detail: Record<string, unknown>): number {
  return Buffer.byteLength(JSON.stringify(detail)) + 1;
}

function namedTables(byName: Record<string, Counts>, dryRun: boolean): Record<string, Counts> {
  return Object.fromEntries(Object.entries(byName).map(([k, v]) => [k, named(v, dryRun)]));
}
