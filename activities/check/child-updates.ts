import type { PoolClient } from 'pg';
import { ref } from '../../core/column-refs';
import { jsonPathProblem } from '../sql/expressions';
import { resolveTable, type ResolvedTable } from '../sql/identifiers';
import { error, type Finding } from './findings';
import { messageOf } from './inspect-units';
import { assigned, assignmentFinding } from './update-values';

/** A child table of a rule's delete that is updated instead of deleted (`delete.children[].update`, tasks/rows-rules.ts). */
interface ChildUpdate {
  table: string;
  update?: Record<string, unknown>;
}

/** The parts of a `rows.rules` rule whose deletes reach child tables. */
export interface RuleWithChildUpdates {
  name: string;
  delete?: { children?: ChildUpdate[] };
  cases?: { delete?: { children?: ChildUpdate[] } }[];
}

/** Each child of a rule (and of its cases) that has `update`, with its config path. */
function childUpdates(rule: RuleWithChildUpdates): { path: string; child: ChildUpdate & { update: Record<string, unknown> } }[] {
  const of = (children: ChildUpdate[] | undefined, path: string) =>
    (children ?? []).flatMap((child, j) =>
      child.update === undefined ? [] : [{ path: `${path}.delete.children[${j}]`, child: { ...child, update: child.update } }],
    );
  return [...of(rule.delete?.children, ''), ...(rule.cases ?? []).flatMap((b, k) => of(b.delete?.children, `.cases[${k}]`))];
}

/**
 * `caretaker check` for the child tables a rule's delete updates instead of deleting: every column
 * `update` sets that the child table lacks, every SQL text problem of its values (unknown columns,
 * volatile functions), and every value the column's type cannot take (the run's own UPDATE, explained
 * with its parameters bound: `invalid input syntax for type integer`, `column "x" is of type ...`),
 * all of them at once, in the form check gives the rule's own `update` (`<rule>.update.<column>: ...`);
 * a run stops at the first.
 */
export async function childUpdateFindings(client: PoolClient, rules: readonly RuleWithChildUpdates[], at: string): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [i, rule] of rules.entries()) {
    for (const { path, child } of childUpdates(rule)) {
      const childAt = `${at}: config.rules[${i}] (${rule.name})${path}`;
      let table: ResolvedTable;
      try {
        table = await resolveTable(client, child.table, [], childAt);
      } catch (err) {
        findings.push(error(messageOf(err)));
        continue;
      }
      for (const [target, value] of Object.entries(child.update)) {
        const r = ref(target);
        const column = r.column;
        if (!table.columns.has(column)) {
          // The message the run gives (resolveTable), with the config path of the update.
          await resolveTable(client, child.table, [column], `${childAt}.update`).catch((err: unknown) => findings.push(error(messageOf(err))));
          continue;
        }
        const where = `${childAt}.update.${target}`;
        const json = r.path.length > 0;
        const problem = json ? jsonPathProblem(table, column) : undefined;
        if (problem !== undefined) {
          findings.push(error(`${where}: ${problem}`));
          continue;
        }
        const got = await assigned(client, table, value, json);
        if ('problems' in got) {
          findings.push(...got.problems.map((p) => error(`${where}: ${p}`)));
          continue;
        }
        findings.push(...(await assignmentFinding(client, table, r, got.value, where)));
      }
    }
  }
  return findings;
}
