import { z } from 'zod';
import { duration } from '../config/duration';

/** Field builders shared by the catalog's config schemas. */

const IDENT = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/** A column name as written in the user's schema. Checked against the catalog before use. */
export const column = () => z.string().regex(IDENT, 'expected a column name (letters, digits, _ and $; not starting with a digit)');

/** `table` or `schema.table`. Checked against the catalog before use. */
export const table = () =>
  z
    .string()
    .regex(
      /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/,
      'expected a table name like "runs" or "app.runs"',
    );

/** A status value stored in the user's status column. */
export const statusValue = () => z.string().min(1, 'expected a non-empty status value');

export const batchSize = (fallback: number) => z.number().int().min(1).max(50_000).default(fallback);

/** How many per-item details a summary carries; counts are always complete. */
export const detailsLimit = () => z.number().int().min(0).max(10_000).default(100);

export const dryRun = () => z.boolean().default(false);

/** Per-batch transaction limits: every batch runs with these as SET LOCAL. */
export const sqlLimits = () =>
  z
    .object({
      lock_timeout: duration({ min: 1 }).prefault('5s'),
      statement_timeout: duration({ min: 1 }).prefault('60s'),
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

/** Equality filters: `{ status: [completed, failed], archived: false, deleted_at: null }`. */
export const rowFilter = () => z.record(column(), z.union([scalar, z.array(scalar).min(1), z.null()])).default({});
export type RowFilter = z.output<ReturnType<typeof rowFilter>>;

/** Child rows deleted with their parent, in the same transaction: `{ table, column }` (column references the parent id). */
export const childTables = () => z.array(z.object({ table: table(), column: column() }).strict()).default([]);

export const ONE_DAY_MS = 86_400_000;

/** The fields every batched SQL task takes: batch size, details kept, dry run, per-batch limits. */
export const sqlTaskFields = (defaultBatchSize: number) => ({
  batch_size: batchSize(defaultBatchSize),
  details_limit: detailsLimit(),
  dry_run: dryRun(),
  sql: sqlLimits(),
});
