import type { PoolClient } from 'pg';
import { branchCounters, ruleTextSources, type RowRule, type RuleValue } from '../../tasks/rows-rules';
import { ref, type ColumnRef } from '../../core/column-refs';
import type { TaskResult } from '../../core/contract';
import { configError } from '../../core/errors';
import { resolveChildren } from './children';
import { processRowSets, type ChildTable, type RowAction, type RowBranch, type RowSet } from './row-sets';
import type { Assigned } from '../sql/expressions';
import { col, colType, resolveReadable, resolveTable, type ResolvedTable } from '../sql/identifiers';
import { keyColumns, resolveKeyed, type RowKey } from '../sql/keys';
import type { SqlParams } from '../sql/params';
import { checkWrittenZones, ruleTexts, type ParseText, type RuleTexts } from './rule-text';
import { archiveAction, lockedParent, resolveParent, withParent } from './rule-parent';
import { firstPerCondition, resolveAcquire } from './rule-slots';
import { loadSqlParser, parseSqlText, type SqlText } from '../../tasks/sql-text';
import { isNaiveTimestamp, millis, TimestampZones } from '../sql/time';
import type { TimestampSettings } from '../../tasks/fields';
import { filterColumns, filterConditions, type RowSetConfig } from './row-sets';
import type { TaskSession } from '../engine/work-unit';
import { keepNewestCondition, keepTotalSizeCondition, leftBy, type KeepScope } from './keep-bounds';

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

/**
 * `missing_parent`: the row's reference (non-null, unless `null_is_missing`) finds no row in the
 * parent table (that satisfies `where`). The reference is the rule table's `column`s, or `value`:
 * SQL value expressions over them.
 */
async function missingParent(
  client: PoolClient,
  table: ResolvedTable,
  rel: NonNullable<RowRule['missing_parent']>,
  texts: RuleTexts,
  at: string,
  zones: TimestampSettings,
  parse: ParseText,
): Promise<Condition> {
  const parentCols = keyColumns(rel.parent_column);
  const refs: ((p: SqlParams) => string)[] =
    rel.value !== undefined
      ? rel.value.map((v, i) => {
          const render = texts.value(v, `${at}.value[${i}]`);
          return (p: SqlParams) => `(${render(p)})`;
        })
      : keyColumns(rel.column ?? []).map((r) => () => `t.${col(table, r)}`);
  sameLength(at, rel.table, rel.value ?? keyColumns(rel.column ?? []), parentCols);
  const parent = await resolveReadable(client, rel.table, parentCols, at);
  const holds = await relationWhere(client, parent, 'p', rel.where, at, zones, parse);
  return (p) => {
    // An expression is read as its parent column's type (an untyped 'advisory' needs one for IS NOT NULL).
    const values = refs.map((r, i) => (rel.value === undefined ? r(p) : `${r(p)}::${colType(parent, parentCols[i]!)}`));
    const on = [...pairs(values, parentCols).map(([v, pc]) => `p.${col(parent, pc)} = ${v}`), ...holds(p)];
    const notNull = rel.null_is_missing ? [] : values.map((v) => `${v} is not null`);
    return [...notNull, `not exists (select 1 from ${parent.sql} p where ${on.join(' and ')})`].join(' and ');
  };
}

/**
 * `unreferenced_by`: no row of each listed table (that satisfies its `where`) references the row;
 * `referenced_by` (`field`), the opposite: some row of each does.
 */
async function unreferenced(
  client: PoolClient,
  key: RowKey,
  rels: NonNullable<RowRule['unreferenced_by']>,
  at: string,
  zones: TimestampSettings,
  parse: ParseText,
  field: 'unreferenced_by' | 'referenced_by' = 'unreferenced_by',
): Promise<Condition[]> {
  const out: Condition[] = [];
  const not = field === 'unreferenced_by' ? 'not ' : '';
  for (const [i, rel] of rels.entries()) {
    const where = `${at}.${field}[${i}]`;
    const refs = keyColumns(rel.column);
    const ours = rel.parent_column === undefined ? key.columns : keyColumns(rel.parent_column);
    sameLength(where, rel.table, refs, ours);
    const child = await resolveReadable(client, rel.table, refs, where);
    const holds = await relationWhere(client, child, 'c', rel.where, where, zones, parse);
    out.push((p) => {
      const on = [...pairs(refs, ours).map(([r, o]) => `c.${col(child, r)} = t.${col(key.table, o)}`), ...holds(p)];
      return `${not}exists (select 1 from ${child.sql} c where ${on.join(' and ')})`;
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
  parse: ParseText,
): Promise<(p: SqlParams) => string[]> {
  if (text === undefined) return () => [];
  const texts = ruleTexts(related, at, alias, parse);
  const condition = texts.condition(text, `${at}.where`);
  await texts.checkFunctions(client);
  checkColumnZones(related, texts.valueColumns(), zones, `${at}.where`);
  return (p) => [condition(p)];
}

/**
 * An update's assignments: literals as parameters cast to the column's type (inside JSON: as JSON),
 * strings as SQL value expressions; a target is a column or a JSON path (written with jsonb_set).
 */
function assignments(table: ResolvedTable, update: Record<string, RuleValue>, texts: RuleTexts, at: string): [ColumnRef, Assigned][] {
  return Object.entries(update).map(([target, value]): [ColumnRef, Assigned] => {
    const r = ref(target);
    const json = r.path.length > 0;
    if (json && !['json', 'jsonb'].includes(colType(table, r.column))) {
      throw configError(`${at}.update.${target}: a JSON path needs a json or jsonb column, but ${table.name}.${r.column} is ${colType(table, r.column)}`);
    }
    if (value === null || typeof value === 'number' || typeof value === 'boolean') return [r, value];
    if (typeof value === 'object') return [r, value.value];
    return [r, { sql: (json ? texts.jsonValue : texts.value)(value, `${at}.update.${target}`) }];
  });
}

/** The columns an update writes (a JSON path writes its column). */
const updatedColumns = (update: Record<string, RuleValue> | undefined) => Object.keys(update ?? {}).map((target) => ref(target).column);

/** How the text an action writes is checked: the task's zones, and how text becomes its tree (rule-text.ts `checkWrittenZones`). */
interface Written {
  zones: TimestampSettings;
  parse: ParseText;
}

/** The action of a rule or a branch. */
async function action(client: PoolClient, key: RowKey, r: Pick<RowRule, 'update' | 'delete' | 'report'>, texts: RuleTexts, at: string, written: Written) {
  if (r.update) {
    checkWrittenZones(key.table, r.update, written.zones, written.parse, `${at}.update`);
    return { kind: 'update' as const, assign: assignments(key.table, r.update, texts, at) };
  }
  if (r.delete) return { kind: 'delete' as const, children: await deleteChildren(client, key, r.delete.children, `${at}.delete`, written) };
  return { kind: 'report' as const };
}

/** A delete's child tables; a child with `update` gets its assignments, SQL text read over the child's columns. */
async function deleteChildren(
  client: PoolClient,
  key: RowKey,
  children: NonNullable<RowRule['delete']>['children'],
  at: string,
  written: Written,
): Promise<ChildTable[]> {
  const resolved = await resolveChildren(client, key, children, at);
  for (const [i, c] of children.entries()) {
    if (!c.update) continue;
    const child = resolved[i]!;
    const cat = `${at}: children[${i}]`;
    await resolveTable(client, child.table.name, updatedColumns(c.update), `${cat}.update`);
    checkWrittenZones(child.table, c.update, written.zones, written.parse, `${cat}.update`);
    const texts = ruleTexts(child.table, cat);
    child.assign = assignments(child.table, c.update, texts, cat);
    await texts.checkFunctions(client);
  }
  return resolved;
}

/** One rule as a row set, every name checked in the catalog and every text parsed and checked. */
/**
 * SQL text reads naive timestamps in the session's TimeZone, which the task's `timestamps.zone`
 * sets for the whole run: a per-column zone that differs cannot apply to it, so it is refused
 * rather than silently ignored (a column only tested for NULL reads no time: `valueColumns`).
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

/** Why a `first_per` rule is read ahead and never walked: once a batch acts on a group's first row, the next row is first. */
const FIRST_PER_AT_START = 'first_per acts only on the rows first in their group when the rule starts';

/** A rule compiled before the one at hand: its row set and its own conditions (without what it leaves to rules before it). */
interface CompiledRule {
  set: RowSet;
  own: (p: SqlParams) => string[];
}

/** The own conditions of the earlier rules `not_matched_by` names, each on the rule's table. */
function notMatchedBy(rule: RowRule, earlier: readonly CompiledRule[], table: ResolvedTable, at: string): ((p: SqlParams) => string[])[] {
  return (rule.not_matched_by ?? []).map((name, j) => {
    const found = earlier.find((e) => e.set.label === name);
    if (!found) throw configError(`${at}.not_matched_by[${j}]: expected the name of an earlier rule of this task, got "${name}"`);
    if (found.set.key.table.oid !== table.oid) {
      throw configError(`${at}.not_matched_by[${j}]: expected a rule on ${table.name}, got "${name}", a rule on ${found.set.key.table.name}`);
    }
    return found.own;
  });
}

/**
 * `keep_newest` / `keep_total_size` (keep-bounds.ts): counted among the rows of the rule's `match`
 * that the `not_matched_by` rules leave; the size cap's boundary row is read here, once.
 */
async function keepCondition(client: PoolClient, key: RowKey, rule: RowRule, before: ((p: SqlParams) => string[])[]): Promise<Condition | undefined> {
  const scope: KeepScope = (p) => [...filterConditions(key.table, rule.match ?? {}, p, 's'), ...before.map((e) => leftBy(key, e, p))];
  const newest = rule.keep_newest;
  if (newest) return (p) => keepNewestCondition(key, newest.order_by, newest.count, scope, p);
  if (rule.keep_total_size) return keepTotalSizeCondition(client, key, rule.keep_total_size, scope);
  return undefined;
}

async function ruleSet(
  client: PoolClient,
  rule: RowRule,
  at: string,
  zones: TimestampSettings,
  parse: ParseText,
  earlier: readonly CompiledRule[] = [],
  keyField = 'key',
): Promise<CompiledRule> {
  const keep = rule.keep_newest ?? rule.keep_total_size;
  const named = [
    ...(keep ? [keep.order_by] : []),
    ...(rule.keep_total_size?.size_column !== undefined ? [rule.keep_total_size.size_column] : []),
    ...filterColumns(rule.match ?? {}),
    ...(rule.older_than ? [rule.older_than.column] : []),
    ...(rule.missing_parent ? keyColumns(rule.missing_parent.column ?? []) : []),
    ...[...(rule.unreferenced_by ?? []), ...(rule.referenced_by ?? [])].flatMap((u) => (u.parent_column === undefined ? [] : keyColumns(u.parent_column))),
    ...[rule, ...(rule.cases ?? [])].flatMap((r) => updatedColumns(r.update)),
  ];
  const key = await resolveKeyed(client, rule.table, rule.key, named, at, keyField);
  const table = key.table;
  const texts = ruleTexts(table, at, 't', parse);
  const parent = rule.parent && (await resolveParent(client, table, rule.parent, `${at}.parent`));
  // `where` and archive values may read the parent row (`parent.<column>`); updates and cases read the row only.
  const parentTexts = parent ? ruleTexts(table, at, 't', parse, parent.related) : texts;
  const conds: Condition[] = [];
  const where = rule.where === undefined ? undefined : parentTexts.condition(rule.where, `${at}.where`);
  if (parent) conds.push(withParent(parent, where));
  else if (where) conds.push(where);
  const { match, older_than: old } = rule;
  if (match !== undefined) conds.push((p) => filterConditions(table, match, p).join(' and ') || 'true');
  const ageColumn = old?.column ?? keep?.order_by;
  const age = ageColumn !== undefined ? { column: ageColumn, zones: new TimestampZones(zones) } : undefined;
  if (old && age) {
    const interval = (p: SqlParams) => (old.days === undefined ? millis(p, old.age!) : `${p.add(old.days, 'float8')} * interval '1 day'`);
    conds.push((p) => age.zones.olderThan(table, old.column, interval(p), p));
  }
  if (rule.missing_parent) conds.push(await missingParent(client, table, rule.missing_parent, texts, `${at}.missing_parent`, zones, parse));
  if (rule.unreferenced_by) conds.push(...(await unreferenced(client, key, rule.unreferenced_by, at, zones, parse)));
  if (rule.referenced_by) conds.push(...(await unreferenced(client, key, rule.referenced_by, at, zones, parse, 'referenced_by')));
  const before = notMatchedBy(rule, earlier, table, at);
  const cap = await keepCondition(client, key, rule, before);
  if (cap) conds.push(cap);
  if (rule.first_per) conds.push(firstPerCondition(key, rule.first_per, at));
  const slot = rule.acquire && (await resolveAcquire(client, table, rule.acquire, at, parse, zones));
  const written: Written = { zones, parse };
  let act: RowAction;
  if (rule.cases) {
    const counters = branchCounters(rule.cases);
    const branches: RowBranch[] = [];
    for (const [j, b] of rule.cases.entries()) {
      const bat = `${at}.cases[${j}]`;
      branches.push({
        when: b.when === undefined ? null : texts.condition(b.when, `${bat}.when`),
        action: await action(client, key, b, texts, bat, written),
        counter: counters[j]!,
      });
    }
    act = { kind: 'cases', branches };
  } else if (rule.archive) {
    act = await archiveAction(client, table, rule.archive, parentTexts, parent, at);
    if (act.kind === 'archive') checkWrittenZones(act.archive, rule.archive.values, zones, parse, `${at}.archive.values`);
  } else if (rule.start_workflow) act = startAction(rule.start_workflow);
  else act = await action(client, key, rule, texts, at, written);
  for (const t of new Set([texts, parentTexts])) {
    await t.checkFunctions(client);
    checkColumnZones(table, t.valueColumns(), zones, at);
  }
  const own = (p: SqlParams) => conds.map((c) => c(p));
  const set: RowSet = {
    label: rule.name,
    key,
    action: act,
    ...(rule.counter && { counter: rule.counter }),
    ...(age && { age }),
    ...(parent && { lockedParent: lockedParent(parent) }),
    ...(slot && { acquire: { condition: slot.condition, take: slot.acquire } }),
    ...(rule.first_per && { onlyAtStart: FIRST_PER_AT_START }),
    where: (p) => [...own(p), ...before.map((e) => `(${e(p).join(' and ')}) is not true`)],
  };
  return { set, own };
}

function startAction(target: NonNullable<RowRule['start_workflow']>): RowAction {
  const { type, task_queue, id_prefix, execution_timeout } = target;
  return { kind: 'start_workflow', workflowType: type, taskQueue: task_queue, idPrefix: id_prefix, executionTimeoutMs: execution_timeout };
}

/**
 * Runs `work` with the session's TimeZone set to the task's `timestamps.zone`, so that naive
 * `timestamp` columns compared with `now()` (and `now()` written into them) mean that zone; the
 * setting is put back afterwards. Cross-type comparisons still use btree indexes.
 */
export async function inZone<T>(client: PoolClient, zone: string | null, work: () => Promise<T>): Promise<T> {
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

/**
 * Compiles rules in order (`compile`), each to a row set: table, key and columns checked in the
 * catalog, SQL text checked, `not_matched_by` resolved against the rules compiled before it.
 * `built` is SQL text a preset wrote as its checked tree (tasks/sql-build.ts): such text is looked
 * up, never parsed, so a run whose text is all built never loads the parser (about 10 MB a worker).
 */
export async function ruleCompiler(rules: readonly RowRule[], timestamps: TimestampSettings, built: readonly SqlText[] = []) {
  const parse = await textParser(rules, built);
  const compiled: CompiledRule[] = [];
  return {
    /** The rule as a row set; `at` names it in errors, `keyField` its key (retention says id_column). */
    async compile(client: PoolClient, rule: RowRule, at: string, keyField?: string): Promise<RowSet> {
      const done = await ruleSet(client, rule, at, timestamps, parse, compiled, keyField);
      compiled.push(done);
      return done.set;
    },
  };
}

/**
 * Runs `rules` in order through the batch engine: each compiled to a row set (`ruleCompiler`), then
 * `processRowSets` with the session's TimeZone set to `timestamps.zone`.
 */
export async function runRules(
  session: TaskSession<RowSetConfig>,
  rules: readonly RowRule[],
  timestamps: TimestampSettings,
  built: readonly SqlText[] = [],
): Promise<TaskResult> {
  const compiler = await ruleCompiler(rules, timestamps, built);
  const sets: RowSet[] = [];
  for (const [i, rule] of rules.entries())
    sets.push(await compiler.compile(session.client, rule, `task ${session.input.taskId}: config.rules[${i}] (${rule.name})`));
  return inZone(session.client, timestamps.zone, () => processRowSets(session, sets));
}

/** How the rules' text becomes trees: built text looked up, the parser loaded only for text it does not know. */
async function textParser(rules: readonly RowRule[], built: readonly SqlText[]): Promise<ParseText> {
  const known = (source: string, kind: string) => built.find((t) => t.source === source && t.kind === kind);
  if (!rules.flatMap(ruleTextSources).every((t) => known(t.source, t.kind))) await loadSqlParser();
  return (source, kind) => known(source, kind) ?? parseSqlText(source, kind);
}

/**
 * One rule as the row set rows.rules makes of it, for a task that runs it among units of its own
 * (assets.detect_orphans' `missing_parent`, activities/orphans.ts); `at` names it in errors. A rule
 * with SQL time comparisons needs the session's TimeZone set as `runRules` sets it.
 */
export async function compileRule(
  client: PoolClient,
  rule: RowRule,
  at: string,
  timestamps: TimestampSettings,
  built: readonly SqlText[] = [],
): Promise<RowSet> {
  return (await ruleSet(client, rule, at, timestamps, await textParser([rule], built))).set;
}
