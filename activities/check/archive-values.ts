import type { PoolClient } from 'pg';
import { parseSqlText, SqlTextError, type SqlText } from '../../tasks/sql-text';
import { col, colType, resolveTable, type ResolvedTable } from '../sql/identifiers';
import { SqlParams } from '../sql/params';
import { columnProblems, functionProblems, renderSqlText, type RelatedTable } from '../sql/sql-text';
import { error, type Finding } from './findings';
import { messageOf } from './inspect-units';
import { explainOnly } from './update-values';

/** The parts of a `rows.rules` rule that archive its rows with computed values (tasks/rows-rules.ts). */
export interface RuleWithArchiveValues {
  name: string;
  table: string;
  parent?: { table: string };
  archive?: { table: string; values?: Record<string, unknown> };
}

/** One archive value as the run renders it (rule-parent.ts `archiveValues`), or undefined when its SQL text has problems. */
async function rendered(client: PoolClient, table: ResolvedTable, parent: RelatedTable | undefined, value: unknown, type: string) {
  if (typeof value !== 'string') {
    const literal = value !== null && typeof value === 'object' ? (value as { value: unknown }).value : value;
    return (p: SqlParams) => `(${literal === null ? 'NULL' : p.add(String(literal), type)})::${type}`;
  }
  let text: SqlText;
  try {
    text = parseSqlText(value, 'value');
  } catch (err) {
    if (err instanceof SqlTextError) return undefined;
    throw err;
  }
  if (columnProblems(text, table, parent).length > 0 || (await functionProblems(client, [text])).length > 0) return undefined;
  return (p: SqlParams) => `(${renderSqlText(text, table, p, 't', 'config', parent)})::${type}`;
}

/**
 * `caretaker check` for a rule's `archive.values`: for each value, the INSERT a run sends into the
 * archive table (actions/archive.ts, reading the row and its `parent`), explained, never run, so a
 * value the archive column cannot take is an error at `config.rules[i] (name).archive.values.<column>`.
 * A missing table or column and the SQL text problems of a value are left to the run's messages and
 * to rule-expressions.ts.
 */
export async function archiveValueFindings(client: PoolClient, rules: readonly RuleWithArchiveValues[], at: string): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [i, rule] of rules.entries()) {
    const values = rule.archive?.values;
    if (values === undefined) continue;
    const ruleAt = `${at}: config.rules[${i}] (${rule.name})`;
    let table: ResolvedTable;
    let archive: ResolvedTable;
    let parent: RelatedTable | undefined;
    try {
      table = await resolveTable(client, rule.table, [], ruleAt);
      archive = await resolveTable(client, rule.archive!.table, [], `${ruleAt}.archive`);
      if (rule.parent) parent = { qualifier: 'parent', table: await resolveTable(client, rule.parent.table, [], `${ruleAt}.parent`), alias: 'parent_row' };
    } catch {
      // The run (and rule-expressions.ts) name these.
      continue;
    }
    // The run joins the parent by its key (rule-parent.ts); which row it finds does not change a value's type.
    const join = parent ? ` left join ${parent.table.sql} ${parent.alias} on false` : '';
    for (const [column, value] of Object.entries(values)) {
      if (!archive.columns.has(column)) continue;
      const type = colType(archive, column);
      const render = await rendered(client, table, parent, value, type);
      if (render === undefined) continue;
      const p = new SqlParams();
      const statement = `insert into ${archive.sql} (${col(archive, column)}) select ${render(p)} from ${table.sql} t${join} where false`;
      try {
        await explainOnly(client, statement, p.values);
      } catch (err) {
        findings.push(error(`${ruleAt}.archive.values.${column}: ${archive.name}.${column} (${type}) cannot take this value: ${messageOf(err)}`));
      }
    }
  }
  return findings;
}
