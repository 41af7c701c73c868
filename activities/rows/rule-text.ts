import type { PoolClient } from 'pg';
import { parseSqlText, SqlTextError, visitSqlExpr, type SqlExpr, type SqlText, type SqlTextKind } from '../../tasks/sql-text';
import { configError } from '../../core/errors';
import type { ResolvedTable } from '../sql/identifiers';
import { SqlParams } from '../sql/params';
import { assertStableFunctions, renderSqlText, type RelatedTable } from '../sql/sql-text';

/** A rule's SQL text (conditions and value expressions), parsed and checked for its table (tasks/sql-text.ts, sql/sql-text.ts). */
export interface RuleTexts {
  condition(text: string, at: string): (p: SqlParams) => string;
  value(text: string, at: string): (p: SqlParams) => string;
  /** A value written into a JSON path: a bare quoted literal is read as text (`to_jsonb` cannot infer an untyped one). */
  jsonValue(text: string, at: string): (p: SqlParams) => string;
  /** Every function the texts call is IMMUTABLE or STABLE in the live database. */
  checkFunctions(client: PoolClient): Promise<void>;
  /** The columns the texts read as values, where a zone matters: not a column only tested for NULL (`col IS NULL`). */
  valueColumns(): string[];
}

/** The columns `text` reads other than as the operand of `IS [NOT] NULL`, whose answer no zone changes. */
function valueColumns(text: SqlText): string[] {
  const tested = new Set<SqlExpr>();
  const read = new Set<string>();
  visitSqlExpr(text.expr, (e) => {
    if (e.kind === 'null_test' && e.arg.kind === 'column') tested.add(e.arg);
    else if (e.kind === 'column' && !tested.has(e)) read.add(e.name);
  });
  return [...read];
}

/** How a text becomes its checked tree: parsed, or (a preset's own text) looked up as built. */
export type ParseText = (source: string, kind: SqlTextKind) => SqlText;

/**
 * Parses each text (again: the run's input is plain config), renders it once so an unknown column
 * fails while the run plans, before any batch, and returns how to render it into a statement.
 */
export function ruleTexts(table: ResolvedTable, where: string, alias = 't', parse: ParseText = parseSqlText, related?: RelatedTable): RuleTexts {
  const texts: SqlText[] = [];
  const add = (source: string, kind: SqlTextKind, at: string) => {
    let text: SqlText;
    try {
      text = parse(source, kind);
    } catch (err) {
      if (!(err instanceof SqlTextError)) throw err;
      throw configError(`${at}: ${err.message}`);
    }
    texts.push(text);
    renderSqlText(text, table, new SqlParams(), alias, at, related);
    return { text, render: (p: SqlParams) => renderSqlText(text, table, p, alias, at, related) };
  };
  return {
    condition: (source, at) => add(source, 'condition', at).render,
    value: (source, at) => add(source, 'value', at).render,
    jsonValue: (source, at) => {
      const { text, render } = add(source, 'value', at);
      const untyped = text.expr.kind === 'const' && text.expr.type === 'unknown';
      return untyped ? (p) => `(${render(p)})::text` : render;
    },
    checkFunctions: (client) => assertStableFunctions(client, texts, where),
    valueColumns: () => [...new Set(texts.flatMap(valueColumns))],
  };
}
