import type { Counts } from '../../core/contract';

/**
 * What a dry run calls a counter: it predicts, so it does not speak in the past tense
 * (`deleted` -> `would_delete`). Counters that describe what was found (`matched`, `stale`,
 * `drifted`) read the same in both.
 */
const DRY_NAMES: Record<string, string> = {
  deleted: 'would_delete',
  updated: 'would_update',
  inserted: 'would_insert',
  archived: 'would_archive',
  started: 'would_start',
  marked: 'would_mark',
  reset: 'would_reset',
  requeued: 'would_requeue',
  cancelled: 'would_cancel',
  discarded: 'would_discard',
  released: 'would_release',
  failed: 'would_fail',
  finalized: 'would_finalize',
  fixed: 'would_fix',
  vacuumed: 'would_vacuum',
  reindexed: 'would_reindex',
  called: 'would_call',
  children_deleted: 'would_delete_children',
  children_updated: 'would_update_children',
  files_deleted: 'would_delete_files',
  bytes_freed: 'would_free_bytes',
  partitions_dropped: 'would_drop_partitions',
  partitions_archived: 'would_archive_partitions',
};

const REAL_NAMES = Object.fromEntries(Object.entries(DRY_NAMES).map(([real, dry]) => [dry, real]));

export function dryName(name: string): string {
  return DRY_NAMES[name] ?? name;
}

/** The real run's name of a dry-run counter (`would_delete` -> `deleted`), to compare the two. */
export function realName(name: string): string {
  return REAL_NAMES[name] ?? name;
}

/** Dry-run counts under the real run's names. */
export function realNames(counts: Counts): Counts {
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [realName(k), v]));
}

/** Counts under the names a run of this kind shows. */
export function named(counts: Counts, dryRun: boolean): Counts {
  return dryRun ? Object.fromEntries(Object.entries(counts).map(([k, v]) => [dryName(k), v])) : { ...counts };
}

/** Adds `b` into `a`. */
export function addCounts(a: Counts, b: Counts): void {
  for (const [k, v] of Object.entries(b)) a[k] = (a[k] ?? 0) + v;
}
