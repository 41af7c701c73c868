import type { PoolClient } from 'pg';
import { ref } from '../../core/column-refs';
import { parseSqlText, SqlTextError, type SqlText } from '../../tasks/sql-text';
import { assignmentList, jsonPathProblem, type Assigned } from '../sql/expressions';
import { resolveTable, type ResolvedTable } from '../sql/identifiers';
import { SqlParams } from '../sql/params';
import { asJsonValue, columnProblems, functionProblems, renderSqlText } from '../sql/sql-text';
import { error, type Finding } from './findings';
import { messageOf } from './inspect-units';

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

/** `explain` of `text` in a read-only transaction, rolled back: the statement is planned and its parameters bound, never run. */
async function explainOnly(client: PoolClient, text: string, values: unknown[]): Promise<void> {
  await client.query('begin read only');
  try {
    await client.query(`explain ${text}`, values);
  } finally {
    await client.query('rollback');
  }
}

/**
 * One value of a child's update as the run assigns it (tasks/rows-rules.ts `ruleValue`; into a JSON
 * path a bare quoted literal is text, as a run reads it: sql/sql-text.ts `asJsonValue`), or the problems of its SQL text.
 */
async function assigned(client: PoolClient, table: ResolvedTable, value: unknown, json: boolean): Promise<{ value: Assigned } | { problems: string[] }> {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return { value };
  if (typeof value === 'object') return { value: (value as { value: string | number | boolean | null }).value };
  let text: SqlText;
  try {
    text = parseSqlText(String(value), 'value');
  } catch (err) {
    if (err instanceof SqlTextError) return { problems: [err.message] };
    throw err;
  }
  const problems = [...columnProblems(text, table), ...(await functionProblems(client, [text]))];
  if (problems.length > 0) return { problems };
  const render = (p: SqlParams) => renderSqlText(text, table, p, 't');
  return { value: { sql: json ? asJsonValue(text, render) : render } };
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
        const type = table.columns.get(column)!.type;
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
        const p = new SqlParams();
        const set = assignmentList(table, [[r, got.value]], p, where);
        try {
          await explainOnly(client, `update ${table.sql} t set ${set.join(', ')} where false`, p.values);
        } catch (err) {
          findings.push(error(`${where}: ${table.name}.${column} (${type}) cannot take this value: ${messageOf(err)}`));
        }
      }
    }
  }
  return findings;
}
