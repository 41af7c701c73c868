import { z } from 'zod';
import { duration } from './duration';
import { defineTask } from './types';
import { childTables, column, keyColumn, rowFilter, safetyFields, sqlTaskFields, statusValue, table } from './fields';
import { columnRef, textTemplate } from './column-refs';
import { type RulesForm, uniqueName } from './presets';
import type { RowRule } from './rows-rules';
import { isJsonPath, refSql } from './sql-phrases';

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** What to do with an orphaned row: list it, delete it (and its children), or set columns. */
const rowAction = {
  action: z.enum(['report', 'delete', 'update']).default('report'),
  /** For `update`: column (or JSON path) -> value, e.g. `{ status: cancelled, error_message: "Target app no longer exists" }`. */
  set: z.record(columnRef(), scalar).default({}),
  children: childTables(),
};

const missingFile = z
  .object({
    kind: z.literal('missing_file'),
    name: z.string().optional(),
    table: table(),
    id_column: keyColumn().default('id'),
    /** The stored path: a column, a JSON path, or a template over columns (`apps/{model_slug}/app{app_number}`). */
    path_column: textTemplate(),
    /** Stored paths are relative to this directory (absolute stored paths must lie inside it). */
    base_dir: z.string().min(1),
    where: rowFilter(),
    ...rowAction,
  })
  .strict();

const missingParent = z
  .object({
    kind: z.literal('missing_parent'),
    name: z.string().optional(),
    table: table(),
    id_column: keyColumn().default('id'),
    /** The reference to the parent: a column, or a list for a composite key (`[target_model, target_app_number]`). */
    reference_column: keyColumn(),
    parent_table: table(),
    /** The parent's referenced columns, in the same order. */
    parent_id_column: keyColumn().default('id'),
    where: rowFilter(),
    ...rowAction,
  })
  .strict();

const orphanFile = z
  .object({
    kind: z.literal('orphan_file'),
    name: z.string().optional(),
    base_dir: z.string().min(1),
    pattern: z.string().min(1).default('**/*'),
    /** Dotfiles (`.gitkeep`) match only when this is true. */
    include_dotfiles: z.boolean().default(false),
    table: table(),
    /** What rows store: a column, a JSON path, or a template over columns; a file is an orphan when no row's value names it. */
    path_column: textTemplate(),
    /** Files younger than this are never touched: their row may not be committed yet. */
    min_age: duration({ min: 60_000 }).prefault('1d'),
    action: z.enum(['report', 'delete']).default('report'),
  })
  .strict();

const stuckPending = z
  .object({
    kind: z.literal('stuck_pending'),
    name: z.string().optional(),
    table: table(),
    id_column: keyColumn().default('id'),
    status_column: column().default('status'),
    timestamp_column: column().default('updated_at'),
    /** The re-queue counter: a column or a JSON path (`meta->>'retries'`). */
    retry_column: columnRef().default('retry_count'),
    pending_status: statusValue().default('pending'),
    failed_status: statusValue().default('failed'),
    older_than: duration({ min: 1_000 }).prefault('1h'),
    /** Re-queued up to this many times, then failed. */
    max_retries: z.number().int().min(0).default(3),
    error_column: column().nullable().default(null),
  })
  .strict();

export const assetsDetectOrphansConfig = z
  .object({
    rules: z.array(z.discriminatedUnion('kind', [missingFile, missingParent, orphanFile, stuckPending])).min(1),
    ...sqlTaskFields(500),
    max_rows_per_run: safetyFields.max_rows_per_run,
    max_fraction: safetyFields.max_fraction,
  })
  .strict()
  .superRefine((cfg, ctx) => {
    cfg.rules.forEach((rule, i) => {
      if ('set' in rule && rule.action === 'update' && Object.keys(rule.set).length === 0) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'set'], message: 'expected at least one column to set for action update' });
      }
      if (rule.kind === 'missing_parent' && [rule.reference_column].flat().length !== [rule.parent_id_column].flat().length) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'parent_id_column'],
          message: `expected as many parent_id_column columns as reference_column columns (${[rule.reference_column].flat().length})`,
        });
      }
      if ('children' in rule && rule.action !== 'delete' && rule.children.length > 0) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'children'], message: 'expected children only with action delete' });
      }
    });
  });

export type AssetsDetectOrphansConfig = z.output<typeof assetsDetectOrphansConfig>;
export type OrphanRule = AssetsDetectOrphansConfig['rules'][number];

type MissingParent = Extract<OrphanRule, { kind: 'missing_parent' }>;

/**
 * A `missing_parent` rule as the rows.rules rule it is: its activity compiles it through the rule
 * compiler (activities/orphans.ts), and `caretaker rules` prints it. No SQL text: a `set` value is a
 * literal (`{ value: ... }` for text), its key a column or JSON path.
 */
export function missingParentRule(r: MissingParent, name: string): RowRule {
  const set = Object.fromEntries(Object.entries(r.set).map(([target, v]) => [target, typeof v === 'string' ? { value: v } : v]));
  const action = r.action === 'delete' ? { delete: { children: r.children } } : r.action === 'update' ? { update: set } : { report: {} };
  const parent = { table: r.parent_table, column: r.reference_column, parent_column: r.parent_id_column, null_is_missing: false };
  return { name, table: r.table, key: r.id_column, ...(Object.keys(r.where).length > 0 && { match: r.where }), missing_parent: parent, ...action };
}

/**
 * The row kinds of assets.detect_orphans as rows.rules rules (`caretaker rules`; the activity keeps
 * its own path): `missing_parent` (its `set` may write a JSON path) and `stuck_pending` (re-queued
 * while its counter is below max_retries, then failed with the reason). `missing_file` and
 * `orphan_file` look at files, which no row rule does: they are `kept`, a task of this type of
 * their own.
 */
export function assetsDetectOrphansRules(cfg: AssetsDetectOrphansConfig, taskId: string): RulesForm {
  const rules: RowRule[] = [];
  const kept: number[] = [];
  const names = new Set<string>();
  cfg.rules.forEach((r, i) => {
    if (r.kind === 'missing_file' || r.kind === 'orphan_file') return void kept.push(i);
    const picked = { name: uniqueName(r.name ?? `${r.kind} ${r.table}`, names), table: r.table, key: r.id_column };
    if (r.kind === 'missing_parent') return void rules.push(missingParentRule(r, picked.name));
    // NULL counts as 0; a JSON counter is read as a number and written back as one.
    const counter = isJsonPath(r.retry_column) ? `${refSql(r.retry_column)}::numeric` : refSql(r.retry_column);
    const reason = `Stuck in ${r.pending_status} after ${r.max_retries} re-queues; marked ${r.failed_status} by Caretaker task ${taskId}`;
    rules.push({
      ...picked,
      match: { [r.status_column]: r.pending_status },
      older_than: { column: r.timestamp_column, age: r.older_than },
      cases: [
        {
          when: `coalesce(${refSql(r.retry_column)}::int, 0) < ${r.max_retries}`,
          counter: 'requeued',
          update: { [r.retry_column]: `coalesce(${counter}, 0) + 1`, [r.timestamp_column]: 'now()' },
        },
        {
          counter: 'failed',
          update: { [r.status_column]: { value: r.failed_status }, ...(r.error_column !== null && { [r.error_column]: { value: reason } }) },
        },
      ],
    });
  });
  return { rules, kept };
}

export const assetsDetectOrphans = defineTask({
  type: 'assets.detect_orphans',
  aliases: ['orphan.detect'],
  description:
    'Rows whose file is missing, rows whose parent is gone, files no row points to, and assets stuck in pending (re-queued up to max_retries); each rule reports, deletes or updates.',
  workflow: 'assetsDetectOrphansWorkflow',
  engineActivity: 'detectOrphans',
  destructive: true,
  unplannable: (cfg) => {
    const files = cfg.rules.filter((r) => r.kind === 'missing_file' || r.kind === 'orphan_file').map((r) => r.kind);
    return files.length > 0 ? { work: 'files', because: `its ${[...new Set(files)].join(' and ')} rules` } : undefined;
  },
  configSchema: assetsDetectOrphansConfig,
  rulesForm: assetsDetectOrphansRules,
});
