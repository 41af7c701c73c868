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
