import type { PoolClient } from 'pg';
import { branchCounters, type RowRule, type RowsRulesConfig, type RuleValue } from '../tasks/rows-rules';
import { whole, type ColumnRef } from '../core/column-refs';
import type { TaskInput, TaskResult } from '../core/contract';
import type { ActivityDeps } from './deps';
import { configError } from './errors';
import { resolveChildren } from './rows/children';
import { processRowSets, type RowAction, type RowBranch, type RowSet } from './row-sets';
import type { Assigned } from './sql/expressions';
import { col, resolveTable, type ResolvedTable } from './sql/identifiers';
import { keyColumns, resolveKeyed, type RowKey } from './sql/keys';
import type { SqlParams } from './sql/params';
import { ruleTexts, type RuleTexts } from './rule-text';
import { loadSqlParser } from '../tasks/sql-text';
import { exclusive } from './task-lock';
import { isNaiveTimestamp } from './sql/time';
import type { TimestampSettings } from '../tasks/fields';

/**
 * `rows.rules`: each rule of the config becomes one `RowSet` (row-sets.ts; cases: row-cases.ts)
 * with its table, key and conditions checked against the catalog, and the sets run in order
 * through the batch engine, so every rule gets the engine's guarantees.
 */

type Condition = (p: SqlParams) => string;

const pairs = (a: string[], b: string[]) => a.map((c, i) => [c, b[i]!] as const);

function sameLength(at: string, what: string, ours: string[], theirs: string[]): void {
  if (ours.length !== theirs.length) {
    throw configError(`${at}: expected as many parent_column columns as column columns (${what}: ${theirs.join(', ')} against ${ours.join(', ')})`);
  }
}

/** `missing_parent`: the row's reference (non-null, unless `null_is_missing`) finds no row in the parent table (that satisfies `where`). */
async function missingParent(
  client: PoolClient,
  table: ResolvedTable,
  rel: NonNullable<RowRule['missing_parent']>,
  at: string,
  zones: TimestampSettings,
): Promise<Condition> {
  const refs = keyColumns(rel.column);
  const parentCols = keyColumns(rel.parent_column);
  sameLength(at, rel.table, refs, parentCols);
  const parent = await resolveTable(client, rel.table, parentCols, at);
  const holds = await relationWhere(client, parent, 'p', rel.where, at, zones);
  return (p) => {
    const on = [...pairs(refs, parentCols).map(([r, pc]) => `p.${col(parent, pc)} = t.${col(table, r)}`), ...holds(p)];
    const notNull = rel.null_is_missing ? [] : refs.map((r) => `t.${col(table, r)} is not null`);
    return [...notNull, `not exists (select 1 from ${parent.sql} p where ${on.join(' and ')})`].join(' and ');
  };
}

/** `unreferenced_by`: no row of each listed table (that satisfies its `where`) references the row. */
async function unreferenced(
  client: PoolClient,
  key: RowKey,
  rels: NonNullable<RowRule['unreferenced_by']>,
  at: string,
  zones: TimestampSettings,
): Promise<Condition[]> {
  const out: Condition[] = [];
  for (const [i, rel] of rels.entries()) {
    const where = `${at}.unreferenced_by[${i}]`;
    const refs = keyColumns(rel.column);
    const ours = rel.parent_column === undefined ? key.columns : keyColumns(rel.parent_column);
    sameLength(where, rel.table, refs, ours);
    const child = await resolveTable(client, rel.table, refs, where);
    const holds = await relationWhere(client, child, 'c', rel.where, where, zones);
    out.push((p) => {
      const on = [...pairs(refs, ours).map(([r, o]) => `c.${col(child, r)} = t.${col(key.table, o)}`), ...holds(p)];
      return `not exists (select 1 from ${child.sql} c where ${on.join(' and ')})`;
    });
  }
  return out;
}

/**
 * A relation's `where`: SQL text over the related table's columns (alias `c` or `p` inside the
 * NOT EXISTS), checked like the rule's own text: columns in the catalog, functions STABLE or
 * IMMUTABLE, naive timestamps in the task's zone.
 */
async function relationWhere(
  client: PoolClient,
  related: ResolvedTable,
  alias: string,
  text: string | undefined,
  at: string,
  zones: TimestampSettings,
): Promise<(p: SqlParams) => string[]> {
  if (text === undefined) return () => [];
  const texts = ruleTexts(related, at, alias);
  const condition = texts.condition(text, `${at}.where`);
  await texts.checkFunctions(client);
  checkColumnZones(related, texts.columns(), zones, `${at}.where`);
  return (p) => [condition(p)];
}

/** An update's assignments: literals as parameters cast to the column's type, strings as SQL value expressions. */
function assignments(table: ResolvedTable, update: Record<string, RuleValue>, texts: RuleTexts, at: string): [ColumnRef, Assigned][] {
  return Object.entries(update).map(([column, value]): [ColumnRef, Assigned] => {
    if (value === null || typeof value === 'number' || typeof value === 'boolean') return [whole(column), value];
    if (typeof value === 'object') return [whole(column), value.value];
    return [whole(column), { sql: texts.value(value, `${at}.update.${column}`) }];
  });
}

/** The action of a rule or a branch. */
async function action(client: PoolClient, key: RowKey, r: Pick<RowRule, 'update' | 'delete' | 'report'>, texts: RuleTexts, at: string) {
  if (r.update) return { kind: 'update' as const, assign: assignments(key.table, r.update, texts, at) };
  if (r.delete) return { kind: 'delete' as const, children: await resolveChildren(client, key, r.delete.children, `${at}.delete`) };
  return { kind: 'report' as const };
}

/** The archive table's columns the source also has, or the ones named (each checked in both). */
async function archiveAction(client: PoolClient, table: ResolvedTable, cfg: NonNullable<RowRule['archive']>, at: string): Promise<RowAction> {
  const archive = await resolveTable(client, cfg.table, cfg.columns ?? [], `${at}.archive`);
  if (cfg.columns) await resolveTable(client, table.name, cfg.columns, `${at}.archive.columns`);
  const columns = cfg.columns ?? archive.allColumns.filter((c) => table.columns.has(c));
  if (columns.length === 0) throw configError(`${at}.archive: ${archive.name} has no column of ${table.name}; name the columns to copy in archive.columns`);
  return { kind: 'archive', archive, columns };
}

/** One rule as a row set, every name checked in the catalog and every text parsed and checked. */
/**
 * SQL text reads naive timestamps in the session's TimeZone, which the task's `timestamps.zone`
 * sets for the whole run: a per-column zone that differs cannot apply to it, so it is refused
 * rather than silently ignored.
 */
function checkColumnZones(table: ResolvedTable, columns: string[], zones: TimestampSettings, at: string): void {
  for (const c of columns) {
    const zone = zones.columns[c];
    if (zone !== undefined && zone !== zones.zone && isNaiveTimestamp(table.columns.get(c)?.type ?? '')) {
      const current = zones.zone ?? "the session's TimeZone";
      throw configError(
        `${at}: timestamps.columns gives ${c} the zone ${zone}, but SQL text reads every naive timestamp in timestamps.zone (${current}); ` +
          `set timestamps.zone: ${zone} for this task (the rules of one task read their naive timestamps in one zone)`,
      );
    }
  }
}

async function ruleSet(client: PoolClient, rule: RowRule, at: string, zones: TimestampSettings): Promise<RowSet> {
  const named = [
    ...(rule.missing_parent ? keyColumns(rule.missing_parent.column) : []),
    ...(rule.unreferenced_by ?? []).flatMap((u) => (u.parent_column === undefined ? [] : keyColumns(u.parent_column))),
    ...[rule, ...(rule.cases ?? [])].flatMap((r) => Object.keys(r.update ?? {})),
  ];
  const key = await resolveKeyed(client, rule.table, rule.key, named, at, 'key');
  const table = key.table;
  const texts = ruleTexts(table, at);
  const conds: Condition[] = [];
  if (rule.where !== undefined) conds.push(texts.condition(rule.where, `${at}.where`));
  if (rule.missing_parent) conds.push(await missingParent(client, table, rule.missing_parent, `${at}.missing_parent`, zones));
  if (rule.unreferenced_by) conds.push(...(await unreferenced(client, key, rule.unreferenced_by, at, zones)));
  let act: RowAction;
  if (rule.cases) {
    const counters = branchCounters(rule.cases);
    const branches: RowBranch[] = [];
    for (const [j, b] of rule.cases.entries()) {
      const bat = `${at}.cases[${j}]`;
      branches.push({
        when: b.when === undefined ? null : texts.condition(b.when, `${bat}.when`),
        action: await action(client, key, b, texts, bat),
        counter: counters[j]!,
      });
    }
    act = { kind: 'cases', branches };
  } else if (rule.archive) act = await archiveAction(client, table, rule.archive, at);
  else act = await action(client, key, rule, texts, at);
  await texts.checkFunctions(client);
  checkColumnZones(table, texts.columns(), zones, at);
  return { label: rule.name, key, action: act, ...(rule.counter && { counter: rule.counter }), where: (p) => conds.map((c) => c(p)) };
}

/**
 * Runs `work` with the session's TimeZone set to the task's `timestamps.zone`, so that naive
 * `timestamp` columns compared with `now()` (and `now()` written into them) mean that zone; the
 * setting is put back afterwards. Cross-type comparisons still use btree indexes.
 */
async function inZone<T>(client: PoolClient, zone: string | null, work: () => Promise<T>): Promise<T> {
  if (zone === null) return work();
  const before = (await client.query<{ zone: string }>(`select current_setting('TimeZone') as zone`)).rows[0]!.zone;
  await client.query(`select set_config('TimeZone', $1, false)`, [zone]).catch((err: Error) => {
    throw configError(`config.timestamps.zone: ${err.message} (see pg_timezone_names for the zones this PostgreSQL knows)`);
  });
  try {
    return await work();
  } finally {
    await client.query(`select set_config('TimeZone', $1, false)`, [before]).catch(() => undefined);
  }
}

export function createRulesActivities({ databases }: ActivityDeps) {
  return {
    /** `rows.rules`: every rule in order, in batches, through the batch engine. */
    async applyRowRules(input: TaskInput<RowsRulesConfig>): Promise<TaskResult> {
      // The rules' SQL text is parsed here; the parser loads once per worker, on the first rows.rules run.
      await loadSqlParser();
      return exclusive(databases, input, async (session) => {
        const sets: RowSet[] = [];
        for (const [i, rule] of input.config.rules.entries())
          sets.push(await ruleSet(session.client, rule, `task ${input.taskId}: config.rules[${i}] (${rule.name})`, input.config.timestamps));
        return inZone(session.client, input.config.timestamps.zone, () => processRowSets(session, sets));
      });
    },
  };
}
