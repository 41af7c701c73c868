import { z } from 'zod';
import { duration } from './duration';
import { formatDuration } from '../core/duration';
import { size } from './size';
import { defineTask } from './types';
import { ONE_DAY_MS, childTables, column, keyColumn, rowFilter, safetyFields, sqlTaskFields, table } from './fields';

const policy = z
  .object({
    /** Shown in results; defaults to the table name. */
    name: z.string().min(1).optional(),
    table: table(),
    id_column: keyColumn().default('id'),
    /** Rows whose timestamp_column is older than older_than ... */
    timestamp_column: column().optional(),
    older_than: duration().optional(),
    /** ... or rows whose expiry column is in the past (`expires_at < now()`) ... */
    expires_column: column().optional(),
    /** ... or all but the newest N rows by timestamp_column (a count cap) ... */
    keep_newest: z.number().int().min(0).optional(),
    /**
     * ... or the oldest rows by timestamp_column (a last-used column: least recently used) until
     * the rest totals at most this size: the sum of size_column, else each row's data size.
     */
    max_total_size: size().optional(),
    size_column: column().optional(),
    /** Extra equality filters, e.g. `{ handled: true }`. */
    where: rowFilter(),
    action: z.enum(['delete', 'mark', 'archive']).default('delete'),
    /** For `mark` (soft delete): the column to set, to now() unless a value is given. */
    mark: z
      .object({ column: column(), value: z.union([z.string(), z.number(), z.boolean()]).optional() })
      .strict()
      .optional(),
    /** For `archive`: a table with (at least) the same columns; rows move there in the same transaction. */
    archive_table: table().optional(),
    children: childTables(),
    /**
     * A table partitioned by RANGE on the retention column: partitions wholly past retention are
     * detached and dropped (`drop`) or moved to `archive_schema` (`archive`); `rows` deletes row by row.
     */
    partitions: z
      .object({ action: z.enum(['drop', 'archive', 'rows']).default('drop'), archive_schema: column().optional() })
      .strict()
      .prefault({}),
  })
  .strict();

export const retentionEnforceConfig = z
  .object({
    policies: z.array(policy).min(1),
    ...sqlTaskFields(1000),
    ...safetyFields,
  })
  .strict()
  .superRefine((cfg, ctx) => {
    cfg.policies.forEach((p, i) => {
      const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: ['policies', i, path], message });
      const rules = (['older_than', 'expires_column', 'keep_newest', 'max_total_size'] as const).filter((k) => p[k] !== undefined);
      if (rules.length !== 1) {
        issue(
          rules[1] ?? 'older_than',
          `expected exactly one of older_than, expires_column, keep_newest, max_total_size; got ${rules.length === 0 ? 'none' : rules.join(' and ')}`,
        );
      } else if (rules[0] !== 'expires_column' && p.timestamp_column === undefined) {
        issue(
          'timestamp_column',
          `expected timestamp_column with ${rules[0]} (${rules[0] === 'older_than' ? 'the age of a row' : 'which rows are newest; a last-used column evicts the least recently used'})`,
        );
      } else if (rules[0] === 'expires_column' && p.timestamp_column !== undefined) {
        issue('timestamp_column', 'expected no timestamp_column with expires_column (the expiry is the timestamp)');
      }
      if (p.size_column !== undefined && p.max_total_size === undefined) issue('size_column', 'expected size_column only with max_total_size');
      if (p.older_than !== undefined && p.older_than < ONE_DAY_MS && !cfg.allow_short_retention) {
        issue('older_than', `expected at least 1d (retention below one day needs allow_short_retention: true), got ${formatDuration(p.older_than)}`);
      }
      if (p.action === 'mark' && !p.mark) issue('mark', 'expected mark: { column, value? } for action mark');
      if (p.action === 'archive' && !p.archive_table) issue('archive_table', 'expected archive_table for action archive');
      if (p.action !== 'delete' && p.children.length > 0) issue('children', 'expected children only with action delete');
      if (p.partitions.action === 'archive' && !p.partitions.archive_schema)
        issue('partitions', 'expected partitions.archive_schema for partitions.action archive');
    });
  });

export type RetentionEnforceConfig = z.output<typeof retentionEnforceConfig>;
export type RetentionPolicy = RetentionEnforceConfig['policies'][number];

export const retentionEnforce = defineTask({
  type: 'retention.enforce',
  aliases: [],
  description:
    'Applies retention policies: rows older than an age, past their expiry, beyond the newest N, or beyond a total size (oldest or least recently used first) are deleted, marked (soft delete) or moved to an archive table, in batches.',
  workflow: 'retentionEnforceWorkflow',
  engineActivity: 'enforceRetention',
  destructive: true,
  configSchema: retentionEnforceConfig,
});
