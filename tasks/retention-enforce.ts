import { z } from 'zod';
import { duration } from './duration';
import { formatDuration } from '../core/duration';
import { size } from './size';
import { defineTask } from './types';
import { ONE_DAY_MS, childTables, column, keyColumn, rowFilter, safetyFields, sqlTaskFields, table } from './fields';
import type { PresetRules } from './presets';
import type { RowRule } from './rows-rules';
import type { SqlText } from './sql-text';
import { isNull, nowValue } from './sql-build';

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

/**
 * Whether a real run of `earlier` leaves the rows it takes out of `policy`'s reach: deleted or
 * archived rows are gone; rows marked are left alone by a mark of the same column and value.
 */
function takes(earlier: RetentionPolicy, policy: RetentionPolicy): boolean {
  if (earlier.action !== 'mark') return true;
  return policy.action === 'mark' && earlier.mark!.column === policy.mark!.column && earlier.mark!.value === policy.mark!.value;
}

/**
 * Whether policies `i` and `j` are on one table. The activity answers from the catalog (one table
 * under two spellings, `jobs` on the search path and `app.jobs`, is one); `caretaker rules`, which
 * has no database, by name as written, `public.` aside.
 */
export type SameTable = (i: number, j: number) => boolean;
const byName =
  (cfg: RetentionEnforceConfig): SameTable =>
  (i, j) => {
    const name = (k: number) => cfg.policies[k]!.table.replace(/^public\./, '');
    return name(i) === name(j);
  };

/** Whether the policy may drop or archive whole partitions (activities/retention/partitions.ts), if its table is RANGE-partitioned on its column. */
export function mayUsePartitions(cfg: RetentionEnforceConfig, policy: RetentionPolicy): boolean {
  if (policy.partitions.action === 'rows' || policy.action !== 'delete' || cfg.max_rows_per_run !== null) return false;
  return (policy.older_than !== undefined || policy.expires_column !== undefined) && Object.keys(policy.where).length === 0 && policy.children.length === 0;
}

/**
 * The rules retention.enforce is, one per policy in order: its age (`older_than`), expiry
 * (`older_than` 0s on the expiry column), count cap (`keep_newest`) or size cap (`keep_total_size`),
 * its `where` as `match`, its action (mark: an update to the value, or to now() for rows not yet
 * marked; counted as `marked`), and the earlier policies on its table whose rows it leaves to them
 * (`not_matched_by`: in a real run those rows are gone or marked the same before it starts). A
 * label two policies share gets the policy's place, so rule names stay unique. Whole partitions are
 * not rules: the activity plans them per policy, and `retentionPresetNotes` says which policies may.
 */
export function retentionEnforceRules(cfg: RetentionEnforceConfig, sameTable: SameTable = byName(cfg)): PresetRules {
  const names: string[] = [];
  const texts = new Map<string, SqlText>();
  const rules = cfg.policies.map((p, i): RowRule => {
    const label = p.name ?? p.table;
    const name = names.includes(label) ? `${label} (policies[${i}])` : label;
    const before = cfg.policies.slice(0, i).flatMap((e, j) => (sameTable(j, i) && takes(e, p) ? [names[j]!] : []));
    names.push(name);
    const ts = p.timestamp_column!;
    let action: Partial<RowRule>;
    let guard: SqlText | undefined;
    if (p.action === 'mark') {
      const { column: marked, value } = p.mark!;
      if (value !== undefined) action = { update: { [marked]: { value } }, counter: 'marked' };
      else {
        // A naive column that timestamps.columns gives a zone of its own gets now() in that zone, as
        // retention always wrote it (its IS NULL guard reads no time: rules.ts checkColumnZones).
        const zone = cfg.timestamps.columns[marked];
        const now = nowValue(zone !== undefined && zone !== cfg.timestamps.zone ? zone : undefined);
        guard = isNull(marked);
        texts.set(guard.source, guard).set(now.source, now);
        action = { update: { [marked]: now.source }, counter: 'marked' };
      }
    } else if (p.action === 'archive') action = { archive: { table: p.archive_table! } };
    else action = { delete: { children: p.children } };
    return {
      name,
      table: p.table,
      key: p.id_column,
      ...(guard && { where: guard.source }),
      ...(Object.keys(p.where).length > 0 && { match: p.where }),
      ...(p.older_than !== undefined && { older_than: { column: ts, age: p.older_than } }),
      ...(p.expires_column !== undefined && { older_than: { column: p.expires_column, age: 0 } }),
      ...(p.keep_newest !== undefined && { keep_newest: { count: p.keep_newest, order_by: ts } }),
      ...(p.max_total_size !== undefined && {
        keep_total_size: { max: p.max_total_size, order_by: ts, ...(p.size_column !== undefined && { size_column: p.size_column }) },
      }),
      ...(before.length > 0 && { not_matched_by: before }),
      ...action,
    };
  });
  return { rules, texts: [...texts.values()] };
}

/**
 * What `caretaker rules` cannot print: whole partitions. Whether a table is RANGE-partitioned is
 * the catalog's to say, so each policy that would use them if it is gets named.
 */
export function retentionPresetNotes(cfg: RetentionEnforceConfig): string[] {
  const may = cfg.policies.flatMap((p, i) => (mayUsePartitions(cfg, p) ? [`policies[${i}] (${p.name ?? p.table})`] : []));
  if (may.length === 0) return [];
  return [
    `Not in these rules: where a policy's table is RANGE-partitioned on its timestamp_column (or expires_column), retention.enforce first ` +
      `drops (partitions.action: drop, the default) or moves (archive) the partitions wholly past retention, which no row rule can say; ` +
      `these rules would delete those rows one by one instead. Policies that would: ${may.join(', ')} (partitions.action: rows keeps them rows).`,
  ];
}

export const retentionEnforce = defineTask({
  type: 'retention.enforce',
  aliases: [],
  description:
    'Applies retention policies: rows older than an age, past their expiry, beyond the newest N, or beyond a total size (oldest or least recently used first) are deleted, marked (soft delete) or moved to an archive table, in batches.',
  workflow: 'retentionEnforceWorkflow',
  engineActivity: 'enforceRetention',
  destructive: true,
  configSchema: retentionEnforceConfig,
  preset: retentionEnforceRules,
  presetNotes: retentionPresetNotes,
});
