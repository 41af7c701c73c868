import { z } from 'zod';
import { defineTask } from './types';
import { duration } from './duration';
import { size } from './size';
import { childTable, column, equalities, keyColumn, safetyFields, sqlTaskFields, table } from './fields';
import { sqlCondition, sqlValue } from './sql-text';
import { columnRef } from './column-refs';
import { parseColumnRef } from '../core/column-refs';
import { workflowTarget } from './sync-trigger';

/**
 * `rows.rules`: a list of row rules, each a selection (a table, its key, SQL conditions, related
 * tables) and one action, run one after another through the row-set engine (activities/rows/rules.ts).
 */

const literal = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/**
 * A value in `update`: `null` (SQL NULL), a number or boolean (that literal), `{ value: <scalar> }`
 * (that literal, never parsed), or a string: a SQL value expression over the rule table's columns
 * (`"'retryable'"`, `"now()"`, `"attempts + 1"`, `"locked_at"`).
 */
export const ruleValue = () => z.union([z.null(), z.number(), z.boolean(), sqlValue(), z.object({ value: literal }).strict()]);
export type RuleValue = z.output<ReturnType<typeof ruleValue>>;

/**
 * Column -> value; every column not listed is left as it is. A target may be a JSON path into a
 * json/jsonb column (`"meta->>'reason'"`): written with jsonb_set, so the column's other keys stay.
 */
const update = () =>
  z.record(columnRef(), ruleValue()).refine((u) => Object.keys(u).length > 0, { message: 'expected at least one column to set, e.g. { locked_at: null }' });

/**
 * Delete the rows, and first their child rows (`{ table, column }`, as in retention's children); a
 * child with `update` keeps its rows and sets those columns instead (ON DELETE SET NULL for a
 * reference the schema does not declare: good_job unlocks the jobs of a process it deletes).
 */
const del = () => z.object({ children: z.array(childTable().extend({ update: update().optional() }).strict()).default([]) }).strict();

/**
 * Move the rows into another table: `columns` defaults to the archive table's columns the source
 * table has; `values` fills other archive columns (or overrides copied ones) from SQL value
 * expressions over the row and its `parent` row (`parent.<column>`), or literals.
 */
const archive = () => z.object({ table: table(), columns: z.array(column()).min(1).optional(), values: z.record(column(), ruleValue()).optional() }).strict();

/** List the rows in the run's details, change nothing. */
const report = () => z.object({}).strict();

/**
 * Rows whose `column` is older than `age` (an exact duration: `30m`, `4h`, `30d` is 30 × 24 h) or
 * `days` (calendar days, what a day is in the session's TimeZone across a DST change; `0.5` is 12 h).
 * A naive `timestamp` column is read in its `timestamps.columns` zone, else `timestamps.zone`.
 */
const olderThan = () =>
  z
    .object({ column: column(), age: duration().optional(), days: z.number().gt(0).optional() })
    .strict()
    .refine((o) => (o.age === undefined) !== (o.days === undefined), { message: 'expected exactly one of age (a duration, e.g. 4h) or days (a number)' });

/**
 * All but the newest `count` rows by `order_by` (ties: the higher key is newer), counted among the
 * rows the rule's `match` selects (and `not_matched_by` leaves it); rows without an `order_by`
 * value are never counted and never picked. The boundary is read by each statement, so acting on
 * rows at or before it leaves it where it is. `where`, `older_than` and related rows then narrow
 * which rows past the boundary the rule acts on ("older than 30d, but keep the newest 10").
 */
const keepNewest = () => z.object({ count: z.number().int().min(0), order_by: column() }).strict();

/**
 * The oldest rows by `order_by` (a last-used column: least recently used; rows without a value
 * count as the oldest, the lower key first) until the rest totals at most `max` (a size: "10GiB",
 * or bytes): the sum of `size_column`, else each row's data size (`pg_column_size`). Counted among
 * the rows the rule's `match` selects (and `not_matched_by` leaves it). The boundary row is read
 * once, when the run starts, so the real run acts on exactly the rows its dry run reports.
 */
const keepTotalSize = () => z.object({ max: size(), order_by: column(), size_column: column().optional() }).strict();

/** A counter name: what the rule's (or branch's) rows count as in the result, e.g. `cancelled`. */
const counter = () => z.string().regex(/^[a-z][a-z0-9_]*$/, 'expected a counter name in lower case, e.g. "requeued"');

/** Rows whose (non-null) reference finds no row in `table` (that satisfies `where`); `table` may be a view such as pg_stat_activity or pg_locks. */
const missingParent = () =>
  z
    .object({
      table: table(),
      /** The rule table's reference column (a list for a composite reference). */
      column: keyColumn().optional(),
      /**
       * Instead of `column`: the reference as SQL value expressions over the rule table's columns, one
       * per parent_column (good_job finds a process's advisory lock in pg_locks by a hash of its id).
       */
      value: z.array(sqlValue()).min(1).optional(),
      /** The parent's referenced columns, in the same order. */
      parent_column: keyColumn().default('id'),
      /** SQL condition over the parent's columns: a parent row counts only when it holds ("the job is missing or not running"). */
      where: sqlCondition().optional(),
      /** A row whose reference is NULL counts as missing its parent too (default: a NULL reference is no reference). */
      null_is_missing: z.boolean().default(false),
    })
    .strict();

/**
 * Rows whose reference finds a row in `table` by `parent_column` (a unique key there): its columns
 * are readable as `parent.<column>` in `where` and `archive.values`, and the rule skips a row whose
 * parent another transaction holds locked (the parent row is share-locked while the rule acts on it).
 */
const parent = () =>
  z
    .object({
      table: table(),
      /** The rule table's reference column (a list for a composite reference). */
      column: keyColumn(),
      /** The parent's unique key columns, in the same order. */
      parent_column: keyColumn().default('id'),
    })
    .strict();

/** Rows that no row of `table` references through `column` (no row that satisfies `where`). */
const referencedBy = () =>
  z
    .object({
      table: table(),
      column: keyColumn(),
      /** The rule table's columns the reference points at; default: the rule's key. */
      parent_column: keyColumn().optional(),
      /** SQL condition over that table's columns: a referencing row counts only when it holds ("no unfinished job uses the queue"). */
      where: sqlCondition().optional(),
    })
    .strict();

/**
 * Only the first row of each group: rows with equal `columns` are a group (a row with a NULL there is
 * in none, and never picked), ordered by `order_by` (NOT NULL columns, ascending), then the key. A row
 * is picked only when no row of the whole table comes before it in its group, judged as the rows stand
 * when each batch selects (Solid Queue releases one blocked execution per concurrency key).
 */
const firstPer = () => z.object({ columns: keyColumn(), order_by: z.array(column()).default([]) }).strict();

/**
 * Take a slot in another table before acting on the row, in the same transaction (a counting
 * semaphore: Solid Queue's Semaphore.wait). The row's `column` names a row of `table` by its unique
 * `parent_column`. When there is none, one is inserted (`parent_column` = the reference, `insert`: other
 * columns, SQL text over the rule's row); when there is one and `when` (SQL over its columns) holds,
 * `update` is applied to it (SQL text over its columns, e.g. `value - 1`); otherwise the row is not
 * picked. A row acts only when its slot was taken. Needs `first_per` on `column` (one row per slot).
 */
const acquire = () =>
  z
    .object({
      table: table(),
      column: column(),
      parent_column: column(),
      insert: z.record(column(), ruleValue()).default({}),
      when: sqlCondition().optional(),
      /** Column -> value over the slot row (plain columns: a slot is a counter, not a document). */
      update: z
        .record(column(), ruleValue())
        .refine((u) => Object.keys(u).length > 0, { message: 'expected at least one column to set, e.g. { value: "value - 1" }' })
        .optional(),
    })
    .strict();

/** One branch of `cases`: the first branch whose `when` holds decides the row's action. */
const branch = () =>
  z
    .object({
      /** SQL condition; absent: the else branch (only as the last case). */
      when: sqlCondition().optional(),
      counter: counter().optional(),
      update: update().optional(),
      delete: del().optional(),
      report: report().optional(),
    })
    .strict();

const ACTIONS = ['update', 'delete', 'archive', 'report', 'cases', 'start_workflow'] as const;
const BRANCH_ACTIONS = ['update', 'delete', 'report'] as const;

const rule = () =>
  z
    .object({
      /** Unique within the task: names the rule's counts (`sets[<name>]`) and details. */
      name: z.string().min(1).max(100),
      table: table(),
      /** The row key: the primary key or a unique NOT NULL column set (a list for composite keys). */
      key: keyColumn().default('id'),
      /** SQL condition over the table's columns (optional when a relation is given). */
      where: sqlCondition().optional(),
      /** Equality conditions without SQL: `{ status: [completed, failed], enabled: true, deleted_at: null }` (a JSON path compares as text); `{}`: every row. */
      match: equalities().optional(),
      older_than: olderThan().optional(),
      missing_parent: missingParent().optional(),
      unreferenced_by: z.array(referencedBy()).min(1).optional(),
      /** The opposite: rows that some row of each listed table (that satisfies its `where`) references. */
      referenced_by: z.array(referencedBy()).min(1).optional(),
      parent: parent().optional(),
      keep_newest: keepNewest().optional(),
      keep_total_size: keepTotalSize().optional(),
      /**
       * Names of earlier rules on the same table whose rows this rule leaves alone: in a real run those
       * rules have taken them (deleted, archived, or set the same values) before this one starts; in a
       * dry run, whose batches roll back, the rows would otherwise count twice. A count or size cap
       * does not count them either.
       */
      not_matched_by: z.array(z.string().min(1)).min(1).optional(),
      first_per: firstPer().optional(),
      acquire: acquire().optional(),
      /** The result counter; default the action's past tense (`deleted`, `updated`, `archived`, `reported`). */
      counter: counter().optional(),
      update: update().optional(),
      delete: del().optional(),
      archive: archive().optional(),
      report: report().optional(),
      /** Start a workflow per row (id `id_prefix` + the row's key, its argument `{ id }`) outside any transaction, unless one with that id is running. */
      start_workflow: workflowTarget().optional(),
      /** Conditional outcome: the first matching branch wins (SQL CASE); a row no branch matches is left alone. */
      cases: z.array(branch()).min(1).optional(),
    })
    .strict();

export const rowsRulesConfig = z
  .object({
    rules: z.array(rule()).min(1),
    ...sqlTaskFields(500),
    max_rows_per_run: safetyFields.max_rows_per_run,
    max_fraction: safetyFields.max_fraction,
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const names = new Map<string, number>();
    cfg.rules.forEach((r, i) => {
      const at = ['rules', i];
      const first = names.get(r.name);
      if (first !== undefined)
        ctx.addIssue({ code: 'custom', path: [...at, 'name'], message: `expected a unique rule name; "${r.name}" is also rules[${first}]` });
      else names.set(r.name, i);
      const count = (k: string | string[]) => [k].flat().length;
      const actions = ACTIONS.filter((a) => r[a] !== undefined);
      if (actions.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          path: at,
          message: `expected exactly one action of ${ACTIONS.join(', ')}; got ${actions.length === 0 ? 'none' : actions.join(' and ')}`,
        });
      }
      if (
        [r.where, r.match, r.older_than, r.missing_parent, r.unreferenced_by, r.referenced_by, r.parent, r.keep_newest, r.keep_total_size, r.first_per].every(
          (c) => c === undefined,
        )
      ) {
        ctx.addIssue({
          code: 'custom',
          path: at,
          // keep_newest, keep_total_size and first_per are conditions too; the message names the usual ones.
          message: 'expected a condition: where, match, older_than, missing_parent or unreferenced_by (write where: "true" or match: {} for every row)',
        });
      }
      if (r.keep_newest && r.keep_total_size) {
        ctx.addIssue({ code: 'custom', path: [...at, 'keep_total_size'], message: 'expected one of keep_newest and keep_total_size, got both' });
      }
      r.not_matched_by?.forEach((name, j) => {
        const earlier = names.get(name);
        if (earlier === undefined || earlier >= i) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'not_matched_by', j],
            message: `expected the name of an earlier rule of this task, got "${name}"`,
          });
        }
      });
      if (r.parent && count(r.parent.column) !== count(r.parent.parent_column)) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'parent', 'parent_column'],
          message: `expected as many parent_column columns as column columns (${count(r.parent.column)})`,
        });
      }
      const mp = r.missing_parent;
      if (mp && (mp.column === undefined) === (mp.value === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'missing_parent'],
          message: `expected exactly one of column (the rule table's reference columns) and value (SQL value expressions); got ${mp.column === undefined ? 'neither' : 'both'}`,
        });
      }
      const refs = mp?.column !== undefined ? count(mp.column) : (mp?.value?.length ?? 0);
      if (mp && refs > 0 && refs !== count(mp.parent_column)) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'missing_parent', 'parent_column'],
          message: `expected as many parent_column columns as ${mp.column !== undefined ? 'column columns' : 'value expressions'} (${refs})`,
        });
      }
      (['unreferenced_by', 'referenced_by'] as const).forEach((field) =>
        r[field]?.forEach((u, j) => {
          const ours = u.parent_column ?? r.key;
          if (count(u.column) !== count(ours)) {
            ctx.addIssue({
              code: 'custom',
              path: [...at, field, j, 'column'],
              message: `expected as many columns as ${u.parent_column === undefined ? "the rule's key" : 'parent_column'} has (${count(ours)})`,
            });
          }
        }),
      );
      // Batches walk the key: a rule that rewrote it would move rows behind or ahead of its own cursor.
      const keys = [r.key].flat();
      [{ u: r.update, path: [...at, 'update'] }, ...(r.cases ?? []).map((b, j) => ({ u: b.update, path: [...at, 'cases', j, 'update'] }))].forEach(
        ({ u, path }) => {
          const hit = Object.keys(u ?? {}).filter((c) => keys.includes(parseColumnRef(c)?.column ?? c));
          if (hit.length > 0)
            ctx.addIssue({
              code: 'custom',
              path,
              message: `expected columns other than the rule's key (${hit.join(', ')}): a rule does not change the key it walks`,
            });
        },
      );
      if (r.first_per && cfg.read_ahead === 0) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'first_per'],
          message:
            'expected read_ahead > 0 with first_per: read_ahead: 0 walks the rows in key order, and once a batch acts on the first row of a group the next row is first and would be acted on too',
        });
      }
      if (r.first_per && r.start_workflow) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'first_per'],
          message:
            'expected first_per without start_workflow: a rule that starts workflows walks the rows in key order instead of reading its keys ahead, and a workflow that removes the first row of a group makes the next row first',
        });
      }
      if (r.acquire) {
        const a = r.acquire;
        if (!r.archive && !r.update && !(r.delete && r.delete.children.length === 0))
          ctx.addIssue({ code: 'custom', path: [...at, 'acquire'], message: 'expected acquire with archive, update or delete without children' });
        if (!r.first_per || count(r.first_per.columns) !== 1 || [r.first_per.columns].flat()[0] !== a.column)
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'acquire'],
            message: `expected first_per: { columns: ${a.column} } with acquire: one row per slot (two rows taking one slot in one statement would both act)`,
          });
        if (a.when !== undefined && a.update === undefined)
          ctx.addIssue({ code: 'custom', path: [...at, 'acquire', 'when'], message: 'expected update with when: what taking an existing slot writes' });
        if (a.parent_column in a.insert)
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'acquire', 'insert'],
            message: `expected columns other than parent_column (${a.parent_column}): it is the row's reference`,
          });
      }
      if (r.counter !== undefined && r.cases !== undefined) {
        ctx.addIssue({ code: 'custom', path: [...at, 'counter'], message: 'expected counter on each case, not on a rule with cases' });
      }
      r.cases?.forEach((b, j) => {
        const kinds = BRANCH_ACTIONS.filter((a) => b[a] !== undefined);
        if (kinds.length !== 1) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'cases', j],
            message: `expected exactly one action of ${BRANCH_ACTIONS.join(', ')} in a case; got ${kinds.length === 0 ? 'none' : kinds.join(' and ')}`,
          });
        }
        if (b.when === undefined && j < r.cases!.length - 1) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'cases', j],
            message: 'expected "when" on every case but the last (a case without "when" is the else branch)',
          });
        }
      });
      const counters = branchCounters(r.cases ?? []);
      const seen = new Set<string>();
      counters.forEach((c, j) => {
        if (seen.has(c))
          ctx.addIssue({ code: 'custom', path: [...at, 'cases', j, 'counter'], message: `expected a counter unique within the rule; "${c}" repeats` });
        seen.add(c);
      });
    });
  });

export type RowsRulesConfig = z.output<typeof rowsRulesConfig>;
export type RowRule = RowsRulesConfig['rules'][number];
export type RuleBranch = NonNullable<RowRule['cases']>[number];

/** Every SQL text a rule holds (conditions and values written as strings), for the parser or a lookup of built text. */
export function ruleTextSources(rule: RowRule): { source: string; kind: 'condition' | 'value' }[] {
  const condition = (source: string | undefined) => (source === undefined ? [] : [{ source, kind: 'condition' as const }]);
  const values = (u: Record<string, RuleValue> | undefined) =>
    Object.values(u ?? {}).flatMap((v) => (typeof v === 'string' ? [{ source: v, kind: 'value' as const }] : []));
  return [
    ...condition(rule.where),
    ...condition(rule.missing_parent?.where),
    ...(rule.missing_parent?.value ?? []).map((source) => ({ source, kind: 'value' as const })),
    ...[...(rule.unreferenced_by ?? []), ...(rule.referenced_by ?? [])].flatMap((u) => condition(u.where)),
    ...values(rule.archive?.values),
    ...(rule.delete?.children ?? []).flatMap((c) => values(c.update)),
    ...condition(rule.acquire?.when),
    ...values(rule.acquire?.insert),
    ...values(rule.acquire?.update),
    ...values(rule.update),
    ...(rule.cases ?? []).flatMap((b) => [...condition(b.when), ...values(b.update), ...(b.delete?.children ?? []).flatMap((c) => values(c.update))]),
  ];
}

const PAST = { update: 'updated', delete: 'deleted', report: 'reported' } as const;

/**
 * Each branch's counter: its `counter`, else its action's past tense, numbered (`updated_2`) when
 * another branch of the rule has the same action.
 */
export function branchCounters(cases: readonly Pick<RuleBranch, 'counter' | 'update' | 'delete' | 'report'>[]): string[] {
  const verbs = cases.map((b) => PAST[BRANCH_ACTIONS.find((a) => b[a] !== undefined) ?? 'update']);
  return cases.map((b, j) => b.counter ?? (verbs.filter((v) => v === verbs[j]).length > 1 ? `${verbs[j]}_${j + 1}` : verbs[j]!));
}

export const rowsRules = defineTask({
  type: 'rows.rules',
  aliases: [],
  description:
    'Row rules in order: each picks rows of a table by SQL conditions, equalities and age (and missing or unreferenced related rows) and updates, deletes, archives, reports them or starts a workflow per row, or picks per row the first matching case.',
  workflow: 'rowsRulesWorkflow',
  engineActivity: 'applyRowRules',
  destructive: true,
  unplannable: (cfg) => {
    const starts = cfg.rules.filter((r) => r.start_workflow !== undefined).map((r) => JSON.stringify(r.name));
    return starts.length > 0
      ? { work: 'workflow_starts', because: `its rule${starts.length > 1 ? 's' : ''} ${starts.join(', ')} (start_workflow)` }
      : undefined;
  },
  configSchema: rowsRulesConfig,
});
