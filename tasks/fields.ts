import { z } from 'zod';
import { duration } from './duration';
import { size } from './size';
import { resolveTimeZone, type TimestampSettings } from '../core/time-zones';
import { columnRef } from './column-refs';
import type { KeyColumn } from '../core/column-refs';
import { IDENTIFIER, QUALIFIED_NAME } from '../core/identifiers';

/** Field builders shared by the catalog's config schemas. */

const IDENT = new RegExp(`^${IDENTIFIER}$`);

/** A column name as written in the user's schema. Checked against the catalog before use. */
export const column = () => z.string().regex(IDENT, 'expected a column name (letters, digits, _ and $; not starting with a digit)');

/**
 * The columns that identify a row: one column, or a list for a composite key. It must be the
 * primary key or a unique index's NOT NULL columns (checked in the catalog).
 */
export const keyColumn = () => z.union([column(), z.array(column()).min(1).max(8)]);
export type { KeyColumn };

/** `table` or `schema.table`. Checked against the catalog before use. */
export const table = () => z.string().regex(QUALIFIED_NAME, 'expected a table name like "runs" or "app.runs"');

/** A status value stored in the user's status column. */
export const statusValue = () => z.string().min(1, 'expected a non-empty status value');

const BATCH_MAX = 50_000;
const batchCount = () => z.number().int().min(1).max(BATCH_MAX);

/**
 * `batch_size: 500` is fixed. `batch_size: { min, max, target, start }` (the default, all optional)
 * adapts each batch towards a target transaction time (activities/engine/batch-size.ts), starting
 * at the task's usual size.
 */
export const batchSize = (fallback: number) =>
  z
    .union([
      batchCount(),
      z
        .object({
          min: batchCount().default(10),
          max: batchCount().default(BATCH_MAX),
          target: duration({ min: 1 }).prefault('250ms'),
          start: batchCount().default(fallback),
        })
        .strict()
        .refine((b) => b.min <= b.max, { message: 'expected min <= max' }),
    ])
    .prefault({});

/**
 * `throttle:` pauses a run while the database is busy and paces it (activities/engine/throttle.ts).
 * Absent: no throttle.
 */
export const throttle = () =>
  z
    .object({
      max_rows_per_second: z.number().gt(0).nullable().default(null),
      pause_between_batches: duration().prefault('0s'),
      nice_ratio: z.number().min(0).max(100).default(0),
      max_active_connections: z.number().int().min(0).nullable().default(null),
      max_lock_waits: z.number().int().min(0).nullable().default(null),
      max_replication_lag: duration().nullable().default(null),
      check_interval: duration({ min: 1 }).prefault('100ms'),
      max_check_interval: duration({ min: 1 }).prefault('5s'),
    })
    .strict()
    .optional();

/** How many per-item details a summary carries; counts are always complete. */
export const detailsLimit = () => z.number().int().min(0).max(10_000).default(100);

/** Details beyond this size (JSON) are counted, not listed: a result has to fit a Temporal payload. */
export const detailsMaxBytes = () =>
  size()
    .pipe(
      z
        .number()
        .min(1024, 'expected at least 1KiB')
        .max(1024 * 1024, 'expected at most 1MiB (a result must fit a Temporal payload)'),
    )
    .prefault('256KiB');

export const dryRun = () => z.boolean().default(false);

/**
 * How a dry run looks: `execute` runs each batch's real statements and rolls them back (cascades,
 * triggers, constraint and type errors show up as in a real run; row locks are taken for the
 * batch); `read_only` only reads (for replicas, or to take no locks), predicting counts by queries.
 */
export const dryRunMode = () => z.enum(['execute', 'read_only']).default('execute');

/** PostgreSQL's largest lock_timeout and statement_timeout, in milliseconds (INT_MAX): about 24 days. */
const PG_MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Per-batch transaction limits: every batch runs with these as SET LOCAL. */
export const sqlLimits = () =>
  z
    .object({
      lock_timeout: duration({ min: 1, max: PG_MAX_TIMEOUT_MS }).prefault('5s'),
      statement_timeout: duration({ min: 1, max: PG_MAX_TIMEOUT_MS }).prefault('60s'),
    })
    .prefault({});

export type SqlLimits = z.output<ReturnType<typeof sqlLimits>>;

/** Limits every destructive task accepts (issue: safe by default). */
export const safetyFields = {
  /** Stop after this many rows in one run; the rest waits for the next run. */
  max_rows_per_run: z.number().int().min(1).nullable().default(null),
  /** Refuse (before changing anything) a run that would touch more than this share of a table. */
  max_fraction: z.number().gt(0).max(1).default(0.5),
  /** Retention below one day is refused unless this is true. */
  allow_short_retention: z.boolean().default(false),
};

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/**
 * Equality filters: `{ status: [completed, failed], archived: false, deleted_at: null }`. A key may
 * be a JSON path (`"settings->>'smart'": "false"`), compared as text.
 */
export const rowFilter = () => equalities().default({});
/** The same filter without a default (`rows.rules`' `match`, where its absence means "no such condition"). */
export const equalities = () => z.record(columnRef(), z.union([scalar, z.array(scalar).min(1), z.null()]));
export type RowFilter = z.output<ReturnType<typeof rowFilter>>;

/**
 * Child rows deleted with their parent, in the same transaction: `{ table, column }`, where
 * column (a list for a composite key) references the parent's key through a foreign key, or the
 * parent's `parent_column` (a unique or any other column: good_job's executions reference a job's
 * `active_job_id`). `no_foreign_key: true` accepts a reference the schema does not declare.
 */
export const childTable = () =>
  z.object({ table: table(), column: keyColumn(), parent_column: keyColumn().optional(), no_foreign_key: z.boolean().default(false) }).strict();
export const childTables = () => z.array(childTable()).default([]);

export const ONE_DAY_MS = 86_400_000;

/** An IANA time zone name PostgreSQL and Node both know, e.g. `UTC`, `Europe/Berlin`. */
export const timeZone = () =>
  z.string().refine((zone) => resolveTimeZone(zone) !== undefined, {
    error: (i) => `expected an IANA time zone like UTC or Europe/Berlin; got ${JSON.stringify(i.input)}`,
  });

/**
 * The zone that `timestamp without time zone` columns hold wall times of: every age comparison
 * reads them in it. Null: the database session's TimeZone (PostgreSQL's own rule). `columns`
 * overrides it per column. A task's zone falls back to its database's (`databases.<name>.timestamps`).
 */
export const timestamps = () =>
  z
    .object({ zone: timeZone().nullable().default(null), columns: z.record(column(), timeZone()).default({}) })
    .strict()
    .prefault({});
export type { TimestampSettings };

/** Compile-time check: the fields yield exactly core's types (core cannot import zod's inference). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const fieldsMatchCore: Same<z.output<ReturnType<typeof keyColumn>>, KeyColumn> & Same<z.output<ReturnType<typeof timestamps>>, TimestampSettings> = true;

/** The fields every batched SQL task takes: batch size, details kept, dry run, per-batch limits. */
/**
 * How many keys of a sparse set a run reads in one pass when the set starts, per set
 * (activities/engine/read-ahead.ts); a set with more is batched in key order, but a first_per rule
 * takes the first read_ahead keys and leaves the rest for the next run. 0: never read ahead (refused with first_per).
 */
export const readAhead = () => z.number().int().min(0).max(1_000_000).default(100_000);

export const sqlTaskFields = (defaultBatchSize: number) => ({
  batch_size: batchSize(defaultBatchSize),
  read_ahead: readAhead(),
  throttle: throttle(),
  details_limit: detailsLimit(),
  details_max_bytes: detailsMaxBytes(),
  dry_run: dryRun(),
  dry_run_mode: dryRunMode(),
  sql: sqlLimits(),
  timestamps: timestamps(),
});
