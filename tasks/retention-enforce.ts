import { z } from 'zod';
import { duration, formatDuration } from '../config/duration';
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
    /** ... or rows whose expiry column is in the past (`expires_at < now()`). */
    expires_column: column().optional(),
    /** Extra equality filters, e.g. `{ handled: true }`. */
    where: rowFilter(),
    action: z.enum(['delete', 'mark', 'archive']).default('delete'),
    /** For `mark` (soft delete): the column to set, to now() unless a value is given. */
    mark: z.object({ column: column(), value: z.union([z.string(), z.number(), z.boolean()]).optional() }).strict().optional(),
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
      const byAge = p.timestamp_column !== undefined || p.older_than !== undefined;
      if (byAge === (p.expires_column !== undefined)) issue('timestamp_column', 'expected either timestamp_column with older_than, or expires_column');
      else if (byAge && (p.timestamp_column === undefined || p.older_than === undefined)) issue(p.older_than === undefined ? 'older_than' : 'timestamp_column', 'expected timestamp_column and older_than together');
      if (p.older_than !== undefined && p.older_than < ONE_DAY_MS && !cfg.allow_short_retention) {
        issue('older_than', `expected at least 1d (retention below one day needs allow_short_retention: true), got ${formatDuration(p.older_than)}`);
      }
      if (p.action === 'mark' && !p.mark) issue('mark', 'expected mark: { column, value? } for action mark');
      if (p.action === 'archive' && !p.archive_table) issue('archive_table', 'expected archive_table for action archive');
      if (p.action !== 'delete' && p.children.length > 0) issue('children', 'expected children only with action delete');
      if (p.partitions.action === 'archive' && !p.partitions.archive_schema) issue('partitions', 'expected partitions.archive_schema for partitions.action archive');
    });
  });

export type RetentionEnforceConfig = z.output<typeof retentionEnforceConfig>;
export type RetentionPolicy = RetentionEnforceConfig['policies'][number];

export const retentionEnforce = defineTask({
  type: 'retention.enforce',
  aliases: [],
  description:
    'Applies retention policies: rows older than a age (or past their expiry) are deleted, marked (soft delete) or moved to an archive table, in batches.',
  workflow: 'retentionEnforceWorkflow',
  destructive: true,
  configSchema: retentionEnforceConfig,
});
