import type { PoolClient } from 'pg';
import type { ColumnRef } from '../../core/column-refs';
import { parseSqlText, SqlTextError, type SqlText } from '../../tasks/sql-text';
import { assignmentList, type Assigned } from '../sql/expressions';
import type { ResolvedTable } from '../sql/identifiers';
import { SqlParams } from '../sql/params';
import { asJsonValue, columnProblems, functionProblems, renderSqlText } from '../sql/sql-text';
import { error, type Finding } from './findings';
import { messageOf } from './inspect-units';

/** `explain` of `text` in a read-only transaction, rolled back: the statement is planned and its parameters bound, never run. */
export async function explainOnly(client: PoolClient, text: string, values: unknown[]): Promise<void> {
  await client.query('begin read only');
  try {
    await client.query(`explain ${text}`, values);
  } finally {
    await client.query('rollback');
  }
}

/**
 * One value of an update as the run assigns it (tasks/rows-rules.ts `ruleValue`; into a JSON path a
 * bare quoted literal is text, as a run reads it: sql/sql-text.ts `asJsonValue`), or the problems of its SQL text.
 */
export async function assigned(client: PoolClient, table: ResolvedTable, value: unknown, json: boolean): Promise<{ value: Assigned } | { problems: string[] }> {
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
 * The UPDATE a run sends for one assignment (actions/update.ts: `update <table> t set <assignmentList>`),
 * explained with its parameters bound and `where false`, never run: an error finding at `where` when
 * the column's type cannot take the value (`invalid input syntax for type integer`, `cannot cast
 * type integer to timestamp with time zone`, `function ... does not exist`).
 */
export async function assignmentFinding(client: PoolClient, table: ResolvedTable, target: ColumnRef, value: Assigned, where: string): Promise<Finding[]> {
  const p = new SqlParams();
  const set = assignmentList(table, [[target, value]], p, where);
  try {
    await explainOnly(client, `update ${table.sql} t set ${set.join(', ')} where false`, p.values);
    return [];
  } catch (err) {
    const type = table.columns.get(target.column)!.type;
    return [error(`${where}: ${table.name}.${target.column} (${type}) cannot take this value: ${messageOf(err)}`)];
  }
}
