import type { PoolClient } from 'pg';
import { visitSqlExpr, type SqlExpr, type SqlTypeName } from '../../tasks/sql-expr';
import type { SqlFunctionName, SqlText } from '../../tasks/sql-text';
import { closestMatch } from '../../config/did-you-mean';
import { configError } from '../../core/errors';
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
export function renderSqlText(text: SqlText, table: ResolvedTable, p: SqlParams, alias = 't', where = 'config', related?: RelatedTable): string {
  const render = (e: SqlExpr): string => renderExpr(e, render, { text, table, p, alias, where, related });
  return render(text.expr);
}

/**
 * Rendered SQL value text (`render`) as the value written into a JSON path: a bare quoted literal is
 * read as text, because `to_jsonb` cannot infer the type of an untyped one.
 */
export function asJsonValue(text: SqlText, render: (p: SqlParams) => string): (p: SqlParams) => string {
  const untyped = text.expr.kind === 'const' && text.expr.type === 'unknown';
  return untyped ? (p) => `(${render(p)})::text` : render;
}

/** Another table a text may read, its columns written `<qualifier>.<column>` (`parent.last_heartbeat_at`), rendered on `alias`. */
export interface RelatedTable {
  qualifier: string;
  table: ResolvedTable;
  alias: string;
}

interface Context {
  text: SqlText;
  table: ResolvedTable;
  p: SqlParams;
  alias: string;
  where: string;
  related: RelatedTable | undefined;
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

/** `alias."col"` for a column of the rule's table (a qualifier must name that table), or of the related table by its qualifier. */
function column(qualifier: string[], name: string, c: Context): string {
  const problem = columnProblem(qualifier, name, c.text, c.table, c.related);
  if (problem) throw configError(`${c.where}: ${problem}`);
  if (c.related && isRelated(qualifier, c.related)) return `${c.related.alias}.${c.related.table.columns.get(name)!.sql}`;
  return `${c.alias}.${c.table.columns.get(name)!.sql}`;
}

const isRelated = (qualifier: string[], related: RelatedTable) => qualifier.length === 1 && qualifier[0] === related.qualifier;

/** Why a column reference cannot be rendered over `table` (with the fix), or undefined. */
function columnProblem(qualifier: string[], name: string, text: SqlText, table: ResolvedTable, related?: RelatedTable): string | undefined {
  if (related && isRelated(qualifier, related)) {
    if (related.table.columns.has(name)) return undefined;
    const guess = closestMatch(name, related.table.allColumns);
    return `column "${name}" in "${text.source}" does not exist in ${related.qualifier} table ${related.table.name}${guess ? `; did you mean "${related.qualifier}.${guess}"?` : ''} (columns: ${related.table.allColumns.join(', ')})`;
  }
  const relation = table.name.slice(table.name.indexOf('.') + 1);
  const qualified = qualifier.join('.');
  if (qualifier.length > 0 && qualified !== relation && qualified !== table.name) {
    const other = related ? ` or ${related.qualifier} (the rule's ${related.qualifier} row)` : '';
    return `"${qualified}.${name}" in "${text.source}": a column may be qualified only by its table's name (${relation})${other}; other tables are not readable here`;
  }
  if (table.columns.has(name)) return undefined;
  const guess = closestMatch(name, table.allColumns);
  const hint = text.kind === 'value' && qualifier.length === 0 ? `; for the text write '${name}' (SQL quotes) or { value: ${name} }` : '';
  return `column "${name}" in "${text.source}" does not exist in table ${table.name}${guess ? `; did you mean "${guess}"?` : ''}${hint} (columns: ${table.allColumns.join(', ')})`;
}

/** Every column reference of `text` that does not fit `table`, each with its fix (for `caretaker check`, which lists them all). */
export function columnProblems(text: SqlText, table: ResolvedTable, related?: RelatedTable): string[] {
  const problems = new Set<string>();
  visitSqlExpr(text.expr, (e) => {
    const problem = e.kind === 'column' ? columnProblem(e.qualifier, e.name, text, table, related) : undefined;
    if (problem) problems.add(problem);
  });
  return [...problems];
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

/**
 * Refuses a function the texts call unless PostgreSQL marks it IMMUTABLE or STABLE (every overload
 * of that name the search path or the written schema reaches, since which one a call resolves to
 * depends on argument types), and refuses aggregates and window functions. A config error (not
 * retried) naming the function, the text and `where` (the rule).
 */
export async function assertStableFunctions(client: PoolClient, texts: readonly SqlText[], where = 'config'): Promise<void> {
  const [first] = await functionProblems(client, texts);
  if (first) throw configError(`${where}: ${first}`);
}

/** Every function (or operator) the texts call that a rule may not call, each once, with the fix (`caretaker check` lists them all). */
export async function functionProblems(client: PoolClient, texts: readonly SqlText[]): Promise<string[]> {
  const checked = new Set<string>();
  const problems: string[] = [];
  for (const text of texts) {
    const calls = [...text.functions.map((fn) => ['f', fn] as const), ...text.operators.map((op) => ['o', op] as const)];
    for (const [kind, fn] of calls) {
      const key = `${kind}${fn.schema ?? ''}.${fn.name}`;
      if (checked.has(key)) continue;
      checked.add(key);
      const problem: Problem | undefined = kind === 'f' ? await functionProblem(client, fn) : await operatorProblem(client, fn);
      if (problem) problems.push(`${problem.what} (in "${text.source}"); rule expressions may call only IMMUTABLE or STABLE functions${problem.fix ?? ''}`);
    }
  }
  return problems;
}

const VOLATILE_OPERATORS = `
  select n.nspname as schema, o.oprname as name, format('%s(%s)', p.oid::regproc, pg_get_function_identity_arguments(p.oid)) as function
  from pg_operator o join pg_namespace n on n.oid = o.oprnamespace join pg_proc p on p.oid = o.oprcode
  where o.oprname = $2 and p.provolatile = 'v'
    and (case when $1::text is null then n.nspname = any(current_schemas(true)) else n.nspname = $1 end)
  limit 1`;

/** An operator is a function call too: refused when some operator of that name the search path reaches runs a VOLATILE function. */
async function operatorProblem(client: PoolClient, op: SqlFunctionName): Promise<Problem | undefined> {
  const { rows } = await client.query<{ schema: string; name: string; function: string }>(VOLATILE_OPERATORS, [op.schema ?? null, op.name]);
  const found = rows[0];
  return found && { what: `operator ${found.schema}.${found.name} calls ${found.function}, which is VOLATILE (a new value or a side effect on every call)` };
}

/** What else to write, for the volatile functions people reach for in maintenance rules. */
const INSTEAD: Record<string, string> = {
  clock_timestamp: "now() (the transaction's time)",
  statement_timestamp: "now() (the transaction's time)",
  timeofday: "now() (the transaction's time)",
};

/** What is wrong, and the fix when there is one to suggest. */
interface Problem {
  what: string;
  fix?: string;
}

async function functionProblem(client: PoolClient, fn: SqlFunctionName): Promise<Problem | undefined> {
  const shown = `${fn.schema ? `${fn.schema}.` : ''}${fn.name}()`;
  const { rows } = await client.query<{ schema: string; name: string; volatility: string; kind: string; args: string }>(FUNCTIONS, [
    fn.schema ?? null,
    fn.name,
  ]);
  if (rows.length === 0) return { what: `function ${shown} does not exist in ${fn.schema ? `schema "${fn.schema}"` : 'the search path'}` };
  const aggregate = rows.find((r) => r.kind === 'a' || r.kind === 'w');
  if (aggregate) return { what: `${shown} is ${aggregate.kind === 'a' ? 'an aggregate' : 'a window function'}; a rule expression reads one row` };
  const volatile = rows.find((r) => r.volatility === 'v' || r.kind === 'p');
  if (!volatile) return undefined;
  const signature = `${volatile.schema}.${volatile.name}(${volatile.args})`;
  if (volatile.kind === 'p') return { what: `${signature} is a procedure` };
  const what = `function ${signature} is VOLATILE (a new value or a side effect on every call)`;
  if (INSTEAD[volatile.name]) return { what, fix: `; write ${INSTEAD[volatile.name]} instead` };
  if (volatile.schema === 'pg_catalog') return { what };
  const alter = `alter function ${quoteIdent(volatile.schema)}.${quoteIdent(volatile.name)}(${volatile.args}) stable`;
  return { what, fix: `; if it reads no changing state and has no side effect, mark it: ${alter}` };
}
