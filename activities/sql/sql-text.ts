import type { PoolClient } from 'pg';
import type { SqlExpr, SqlTypeName } from '../../tasks/sql-expr';
import type { SqlFunctionName, SqlText } from '../../tasks/sql-text';
import { closestMatch } from '../../config/did-you-mean';
import { configError } from '../errors';
import { quoteIdent, type ResolvedTable } from './identifiers';
import type { SqlParams } from './params';

/**
 * Renders checked expression text (`tasks/sql-text.ts`) as SQL over one table: every column as
 * `alias."col"` quoted from the catalog (an unknown one is a config error with did-you-mean), every
 * constant a bound parameter. A quoted literal is sent untyped, so PostgreSQL infers its type from
 * where it stands exactly as it does for the literal (`payload ->> 'k'`, `state = any('{a,b}')`);
 * numbers and booleans keep their literal's type, explicit casts stay (`interval '4 hours'`
 * → `$1::"pg_catalog"."interval"`). Every sub-expression is parenthesised, so precedence is the parse tree's.
 */
export function renderSqlText(text: SqlText, table: ResolvedTable, p: SqlParams, alias = 't', where = 'config'): string {
  const render = (e: SqlExpr): string => renderExpr(e, render, { text, table, p, alias, where });
  return render(text.expr);
}

interface Context {
  text: SqlText;
  table: ResolvedTable;
  p: SqlParams;
  alias: string;
  where: string;
}

function renderExpr(e: SqlExpr, r: (e: SqlExpr) => string, c: Context): string {
  const all = (xs: SqlExpr[]) => xs.map(r).join(', ');
  switch (e.kind) {
    case 'column':
      return column(e.qualifier, e.name, c);
    case 'const':
      return e.type === 'unknown' ? c.p.add(e.value) : c.p.add(e.value, e.type);
    case 'null':
      return 'NULL';
    case 'cast':
      return `(${r(e.arg)})::${typeSql(e.type)}`;
    case 'op':
      return `(${e.left ? `${r(e.left)} ` : ''}${operator(e.op, e.schema)} ${r(e.right)})`;
    case 'quantified':
      return `(${r(e.left)} ${operator(e.op, e.schema)} ${e.quantifier} (${r(e.right)}))`;
    case 'distinct':
      return `(${r(e.left)} IS ${e.not ? 'NOT ' : ''}DISTINCT FROM ${r(e.right)})`;
    case 'nullif':
      return `NULLIF(${r(e.left)}, ${r(e.right)})`;
    case 'in':
      return `(${r(e.left)} ${e.not ? 'NOT ' : ''}IN (${all(e.list)}))`;
    case 'between':
      return `(${r(e.arg)} ${e.not ? 'NOT ' : ''}BETWEEN ${e.symmetric ? 'SYMMETRIC ' : ''}${r(e.low)} AND ${r(e.high)})`;
    case 'bool':
      return e.op === 'NOT' ? `(NOT ${r(e.args[0]!)})` : `(${e.args.map(r).join(` ${e.op} `)})`;
    case 'null_test':
      return `(${r(e.arg)} IS ${e.not ? 'NOT ' : ''}NULL)`;
    case 'bool_test':
      return `(${r(e.arg)} ${e.test})`;
    case 'case': {
      const whens = e.whens.map((w) => ` WHEN ${r(w.when)} THEN ${r(w.then)}`).join('');
      return `(CASE${e.arg ? ` ${r(e.arg)}` : ''}${whens}${e.otherwise ? ` ELSE ${r(e.otherwise)}` : ''} END)`;
    }
    case 'call': {
      const args = e.args.map((a, i) => `${e.variadic && i === e.args.length - 1 ? 'VARIADIC ' : ''}${a.name ? `${quoteIdent(a.name)} => ` : ''}${r(a.value)}`);
      return `${e.name.map(quoteIdent).join('.')}(${args.join(', ')})`;
    }
    case 'coalesce':
    case 'greatest':
    case 'least':
      return `${e.kind.toUpperCase()}(${all(e.args)})`;
    case 'array':
      return `ARRAY[${all(e.args)}]`;
    case 'row':
      return `ROW(${all(e.args)})`;
    case 'subscript': {
      const bound = (x: SqlExpr | undefined) => (x ? r(x) : '');
      return `(${r(e.arg)})${e.indices.map((i) => (i.slice ? `[${bound(i.lower)}:${bound(i.upper)}]` : `[${bound(i.upper)}]`)).join('')}`;
    }
    case 'keyword':
      return e.precision === undefined ? e.word : `${e.word}(${Math.trunc(e.precision)})`;
  }
}

/** `alias."col"` for a column of the rule's table; a qualifier must name that table. */
function column(qualifier: string[], name: string, c: Context): string {
  const relation = c.table.name.slice(c.table.name.indexOf('.') + 1);
  const qualified = qualifier.join('.');
  if (qualifier.length > 0 && qualified !== relation && qualified !== c.table.name) {
    throw configError(
      `${c.where}: "${qualified}.${name}" in "${c.text.source}": a column may be qualified only by its table's name (${relation}); other tables are not readable here`,
    );
  }
  const found = c.table.columns.get(name);
  if (found) return `${c.alias}.${found.sql}`;
  const guess = closestMatch(name, c.table.allColumns);
  const hint = c.text.kind === 'value' && qualifier.length === 0 ? `; for the text write '${name}' (SQL quotes) or { value: ${name} }` : '';
  throw configError(
    `${c.where}: column "${name}" in "${c.text.source}" does not exist in table ${c.table.name}${guess ? `; did you mean "${guess}"?` : ''}${hint} (columns: ${c.table.allColumns.join(', ')})`,
  );
}

function operator(op: string, schema: string | undefined): string {
  // The parser admits only operator characters here (sql-text-convert.ts); checked again before it reaches SQL.
  if (!/^[+\-*/<>=~!@#%^&|`?]+$/.test(op)) throw new Error(`not an operator: ${op}`);
  return schema === undefined ? op : `OPERATOR(${quoteIdent(schema)}.${op})`;
}

function typeSql(t: SqlTypeName): string {
  const modifiers = t.modifiers.length > 0 ? `(${t.modifiers.map((m) => Math.trunc(m)).join(', ')})` : '';
  return `${t.names.map(quoteIdent).join('.')}${modifiers}${'[]'.repeat(t.arrayDims)}`;
}

const FUNCTIONS = `
  select n.nspname as schema, p.proname as name, p.provolatile as volatility, p.prokind as kind,
         pg_get_function_identity_arguments(p.oid) as args
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where p.proname = $2
    and (case when $1::text is null then n.nspname = any(current_schemas(true)) else n.nspname = $1 end)`;

const VOLATILITY: Record<string, string> = { i: 'IMMUTABLE', s: 'STABLE', v: 'VOLATILE' };

/**
 * Refuses a function the texts call unless PostgreSQL marks it IMMUTABLE or STABLE (every overload
 * of that name the search path or the written schema reaches, since which one a call resolves to
 * depends on argument types), and refuses aggregates and window functions. A config error (not
 * retried) naming the function, the text and `where` (the rule).
 */
export async function assertStableFunctions(client: PoolClient, texts: readonly SqlText[], where = 'config'): Promise<void> {
  const checked = new Set<string>();
  for (const text of texts) {
    for (const fn of text.functions) {
      const key = `${fn.schema ?? ''}.${fn.name}`;
      if (checked.has(key)) continue;
      checked.add(key);
      const problem = await functionProblem(client, fn);
      if (problem) throw configError(`${where}: ${problem} (in "${text.source}"); rule expressions may call only IMMUTABLE or STABLE functions`);
    }
  }
}

async function functionProblem(client: PoolClient, fn: SqlFunctionName): Promise<string | undefined> {
  const shown = `${fn.schema ? `${fn.schema}.` : ''}${fn.name}()`;
  const { rows } = await client.query<{ schema: string; name: string; volatility: string; kind: string; args: string }>(FUNCTIONS, [
    fn.schema ?? null,
    fn.name,
  ]);
  if (rows.length === 0) return `function ${shown} does not exist in ${fn.schema ? `schema "${fn.schema}"` : 'the search path'}`;
  const aggregate = rows.find((r) => r.kind === 'a' || r.kind === 'w');
  if (aggregate) return `${shown} is ${aggregate.kind === 'a' ? 'an aggregate' : 'a window function'}; a rule expression reads one row`;
  const volatile = rows.find((r) => r.volatility === 'v' || r.kind === 'p');
  if (volatile) {
    const what = volatile.kind === 'p' ? 'a procedure' : `${VOLATILITY[volatile.volatility]} (a new value or a side effect on every call)`;
    return `function ${volatile.schema}.${volatile.name}(${volatile.args}) is ${what}`;
  }
  return undefined;
}
