import type { PoolClient } from 'pg';
import { ref } from '../../core/column-refs';
import { resolveTable, type ResolvedTable } from '../sql/identifiers';
import { jsonPathProblem } from '../sql/expressions';
import type { Finding } from './findings';
import { assigned, assignmentFinding } from './update-values';

/** The parts of a `rows.rules` rule that update its own rows (tasks/rows-rules.ts). */
export interface RuleWithUpdates {
  name: string;
  table: string;
  update?: Record<string, unknown>;
  cases?: { update?: Record<string, unknown> }[];
}

/** The rule's `update` and each case's, with its config path. */
const updatesOf = (rule: RuleWithUpdates) => [
  ...(rule.update === undefined ? [] : [{ path: '.update', update: rule.update }]),
  ...(rule.cases ?? []).flatMap((b, k) => (b.update === undefined ? [] : [{ path: `.cases[${k}].update`, update: b.update }])),
];

/**
 * `caretaker check` for the values a rule's `update` (and each case's) writes into the rule's own
 * table: the UPDATE a run sends for each value, explained, never run (update-values.ts), so a value
 * the column's type cannot take fails the check as it fails every run (`'abc'` into an integer,
 * an integer column into a timestamptz, `array_append(errors, 'oops')` on a jsonb[] column). A
 * column the table lacks, a JSON path into a column that is not json, and the SQL text problems of
 * a value are left to the run's own messages and to rule-expressions.ts, which name them already.
 */
export async function ruleUpdateFindings(client: PoolClient, rules: readonly RuleWithUpdates[], at: string): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [i, rule] of rules.entries()) {
    const updates = updatesOf(rule);
    if (updates.length === 0) continue;
    const ruleAt = `${at}: config.rules[${i}] (${rule.name})`;
    let table: ResolvedTable;
    try {
      table = await resolveTable(client, rule.table, [], ruleAt);
    } catch {
      // rule-expressions.ts reports the table already.
      continue;
    }
    for (const { path, update } of updates) {
      for (const [target, value] of Object.entries(update)) {
        const r = ref(target);
        const json = r.path.length > 0;
        if (!table.columns.has(r.column) || (json && jsonPathProblem(table, r.column) !== undefined)) continue;
        const got = await assigned(client, table, value, json);
        if ('problems' in got) continue;
        findings.push(...(await assignmentFinding(client, table, r, got.value, `${ruleAt}${path}.${target}`)));
      }
    }
  }
  return findings;
}
