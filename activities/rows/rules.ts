import type { PoolClient } from 'pg';
import { branchCounters, ruleTextSources, type RowRule } from '../../tasks/rows-rules';
import type { TaskResult } from '../../core/contract';
import { configError } from '../../core/errors';
import { filterColumns, filterConditions, processRowSets, type RowAction, type RowBranch, type RowSet, type RowSetConfig } from './row-sets';
import { keyColumns, resolveKeyed } from '../sql/keys';
import type { SqlParams } from '../sql/params';
import { checkColumnZones, checkWrittenZones, ruleTexts, type ParseText } from './rule-text';
import { archiveAction, lockedParent, resolveParent, withParent } from './rule-parent';
import { FIRST_PER_AT_START, firstPerCondition, resolveAcquire } from './rule-slots';
import { missingParent, unreferenced } from './rule-relations';
import { keepCondition, notMatchedBy, type CompiledRule } from './rule-caps';
import { ruleAction, startAction, updatedColumns, type Written } from './rule-actions';
import { loadSqlParser, parseSqlText, type SqlText } from '../../tasks/sql-text';
import { millis, TimestampZones } from '../sql/time';
import type { TimestampSettings } from '../../tasks/fields';
import type { TaskSession } from '../engine/work-unit';
import { foreignKeyViolation, withNote } from '../engine/failures';
import { dryRunRefusalNote } from '../sql/refusing-keys';

/**
 * `rows.rules`: each rule of the config becomes one `RowSet` (row-sets.ts; cases: row-cases.ts)
 * with its table, key and conditions checked against the catalog, and the sets run in order
 * through the batch engine, so every rule gets the engine's guarantees. The compiler is here; the
 * parts it compiles a rule from are beside it: rule-text.ts (SQL text), rule-relations.ts
 * (missing_parent, unreferenced_by / referenced_by), rule-caps.ts (not_matched_by, keep caps),
 * rule-slots.ts (first_per, acquire), rule-parent.ts (parent, archive), rule-actions.ts (update,
 * delete, report, start_workflow).
 */

type Condition = (p: SqlParams) => string;

/** One rule as a row set, every name checked in the catalog and every text parsed and checked. */
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
        action: await ruleAction(client, key, b, texts, bat, written),
        counter: counters[j]!,
      });
    }
    act = { kind: 'cases', branches };
  } else if (rule.archive) {
    act = await archiveAction(client, table, rule.archive, parentTexts, parent, at);
    if (act.kind === 'archive') checkWrittenZones(act.archive, rule.archive.values, zones, parse, `${at}.archive.values`);
  } else if (rule.start_workflow) act = startAction(rule.start_workflow);
  else act = await ruleAction(client, key, rule, texts, at, written);
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
  // A dry run rolls each rule back: a delete a foreign key refuses until an earlier rule cleared the references fails there, and says so.
  const explain = async (err: unknown) => {
    const violation = foreignKeyViolation(err);
    const note = violation && (await dryRunRefusalNote(session.client, rules, violation, `task ${session.input.taskId}`));
    if (note) withNote(err, note);
  };
  return inZone(session.client, timestamps.zone, () => processRowSets(session, sets, explain));
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
