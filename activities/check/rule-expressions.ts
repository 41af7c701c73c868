import type { PoolClient } from 'pg';
import { parseSqlText, SqlTextError, type SqlText, type SqlTextKind } from '../../tasks/sql-text';
import { resolveTable, type ResolvedTable } from '../sql/identifiers';
import { columnProblems, functionProblems } from '../sql/sql-text';
import { error, type Finding } from './findings';
import { messageOf } from './inspect-units';

/** The parts of a `rows.rules` rule that hold SQL text (tasks/rows-rules.ts). */
export interface RuleWithTexts {
  name: string;
  table: string;
  where?: string;
  update?: Record<string, unknown>;
  cases?: { when?: string; update?: Record<string, unknown> }[];
  missing_parent?: Relation;
  unreferenced_by?: Relation[];
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
  ];
  return rels.flatMap(({ rel, path }) => (rel.where === undefined ? [] : [{ path: `${path}.where`, text: rel.where, table: rel.table }]));
}

/** Each SQL text of a rule with its config path: conditions, and update values written as strings. */
function textsOf(rule: RuleWithTexts): { path: string; text: string; kind: SqlTextKind }[] {
  const values = (update: Record<string, unknown> | undefined, path: string) =>
    Object.entries(update ?? {}).flatMap(([column, v]) =>
      typeof v === 'string' ? [{ path: `${path}.update.${column}`, text: v, kind: 'value' as const }] : [],
    );
  return [
    ...(rule.where === undefined ? [] : [{ path: '.where', text: rule.where, kind: 'condition' as const }]),
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
    try {
      table = await resolveTable(client, rule.table, [], ruleAt);
    } catch (err) {
      findings.push(error(messageOf(err)));
      continue;
    }
    const texts = [
      ...textsOf(rule).map((t) => ({ ...t, table: () => Promise.resolve(table) })),
      ...relationTexts(rule).map((t) => ({ ...t, kind: 'condition' as const, table: () => resolveTable(client, t.table, [], `${ruleAt}${t.path}`) })),
    ];
    for (const { path, text, kind, table: of } of texts) {
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
      findings.push(...columnProblems(parsed, over).map((p) => error(`${ruleAt}${path}: ${p}`)));
      findings.push(...(await functionProblems(client, [parsed])).map((p) => error(`${ruleAt}${path}: ${p}`)));
    }
  }
  return findings;
}
