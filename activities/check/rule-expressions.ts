import type { PoolClient } from 'pg';
import { parseSqlText, SqlTextError, type SqlText, type SqlTextKind } from '../../tasks/sql-text';
import { resolveReadable, resolveTable, type ResolvedTable } from '../sql/identifiers';
import { columnProblems, functionProblems, type RelatedTable } from '../sql/sql-text';
import { error, type Finding } from './findings';
import { messageOf } from './inspect-units';

/** The parts of a `rows.rules` rule that hold SQL text (tasks/rows-rules.ts). */
export interface RuleWithTexts {
  name: string;
  table: string;
  where?: string;
  parent?: { table: string };
  archive?: { values?: Record<string, unknown> };
  update?: Record<string, unknown>;
  cases?: { when?: string; update?: Record<string, unknown> }[];
  missing_parent?: Relation & { value?: string[] };
  unreferenced_by?: Relation[];
  referenced_by?: Relation[];
  acquire?: { table: string; when?: string; insert?: Record<string, unknown>; update?: Record<string, unknown> };
}

/** A related table, whose `where` reads that table's columns. */
interface Relation {
  table: string;
  where?: string;
}

/** The relations' `where` texts, each with its table and config path. */
function relationTexts(rule: RuleWithTexts): { path: string; text: string; table: string }[] {
  const rels = [
    ...(rule.missing_parent ? [{ rel: rule.missing_parent, path: '.missing_parent' }] : []),
    ...(rule.unreferenced_by ?? []).map((rel, j) => ({ rel, path: `.unreferenced_by[${j}]` })),
    ...(rule.referenced_by ?? []).map((rel, j) => ({ rel, path: `.referenced_by[${j}]` })),
  ];
  return rels.flatMap(({ rel, path }) => (rel.where === undefined ? [] : [{ path: `${path}.where`, text: rel.where, table: rel.table }]));
}

/** `acquire`'s texts over the slot table: `when`, and `update` values written as strings. */
function slotTexts(rule: RuleWithTexts): { path: string; text: string; kind: SqlTextKind; table: string }[] {
  const a = rule.acquire;
  if (!a) return [];
  return [
    ...(a.when === undefined ? [] : [{ path: '.acquire.when', text: a.when, kind: 'condition' as const, table: a.table }]),
    ...Object.entries(a.update ?? {}).flatMap(([column, v]) =>
      typeof v === 'string' ? [{ path: `.acquire.update.${column}`, text: v, kind: 'value' as const, table: a.table }] : [],
    ),
  ];
}

/** Each SQL text of a rule with its config path: conditions, and update values written as strings. */
function textsOf(rule: RuleWithTexts): { path: string; text: string; kind: SqlTextKind; parent?: boolean }[] {
  const values = (update: Record<string, unknown> | undefined, path: string) =>
    Object.entries(update ?? {}).flatMap(([column, v]) =>
      typeof v === 'string' ? [{ path: `${path}.update.${column}`, text: v, kind: 'value' as const }] : [],
    );
  return [
    ...(rule.where === undefined ? [] : [{ path: '.where', text: rule.where, kind: 'condition' as const, parent: true }]),
    ...(rule.missing_parent?.value ?? []).map((text, i) => ({ path: `.missing_parent.value[${i}]`, text, kind: 'value' as const })),
    ...Object.entries(rule.archive?.values ?? {}).flatMap(([column, v]) =>
      typeof v === 'string' ? [{ path: `.archive.values.${column}`, text: v, kind: 'value' as const, parent: true }] : [],
    ),
    ...Object.entries(rule.acquire?.insert ?? {}).flatMap(([column, v]) =>
      typeof v === 'string' ? [{ path: `.acquire.insert.${column}`, text: v, kind: 'value' as const }] : [],
    ),
    ...values(rule.update, ''),
    ...(rule.cases ?? []).flatMap((b, j) => [
      ...(b.when === undefined ? [] : [{ path: `.cases[${j}].when`, text: b.when, kind: 'condition' as const }]),
      ...values(b.update, `.cases[${j}]`),
    ]),
  ];
}

/**
 * `caretaker check` for rule expressions: every column a rule's SQL text names that its table
 * lacks (with did-you-mean, and for a value how to write text) and every function it calls that is
 * not IMMUTABLE or STABLE in this database (with what to write instead), all of them at once; a
 * run stops at the first. `at` leads each message (`task jobs-maintenance`).
 */
export async function ruleExpressionFindings(client: PoolClient, rules: readonly RuleWithTexts[], at: string): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [i, rule] of rules.entries()) {
    const ruleAt = `${at}: config.rules[${i}] (${rule.name})`;
    let table: ResolvedTable;
    let related: RelatedTable | undefined;
    try {
      table = await resolveTable(client, rule.table, [], ruleAt);
      if (rule.parent) related = { qualifier: 'parent', table: await resolveTable(client, rule.parent.table, [], `${ruleAt}.parent`), alias: 'parent_row' };
    } catch (err) {
      findings.push(error(messageOf(err)));
      continue;
    }
    const texts = [
      ...textsOf(rule).map((t) => ({ ...t, table: () => Promise.resolve(table) })),
      ...relationTexts(rule).map((t) => ({
        ...t,
        kind: 'condition' as const,
        parent: false,
        table: () => resolveReadable(client, t.table, [], `${ruleAt}${t.path}`),
      })),
      ...slotTexts(rule).map((t) => ({ ...t, parent: false, table: () => resolveTable(client, t.table, [], `${ruleAt}.acquire`) })),
    ];
    for (const { path, text, kind, table: of, parent } of texts) {
      let parsed: SqlText;
      let over: ResolvedTable;
      try {
        parsed = parseSqlText(text, kind);
        over = await of();
      } catch (err) {
        // Config loading refuses bad text already; a config built another way still gets a finding.
        if (err instanceof SqlTextError) findings.push(error(`${ruleAt}${path}: ${err.message}`));
        else findings.push(error(messageOf(err)));
        continue;
      }
      findings.push(...columnProblems(parsed, over, parent ? related : undefined).map((p) => error(`${ruleAt}${path}: ${p}`)));
      findings.push(...(await functionProblems(client, [parsed])).map((p) => error(`${ruleAt}${path}: ${p}`)));
    }
  }
  return findings;
}
