import { z } from 'zod';
import type * as PgQuery from 'libpg-query';
import { SqlTextError, visitSqlExpr, type SqlExpr } from './sql-expr';
import { convertExpr, unwrap } from './sql-text-convert';

/**
 * SQL expression text from config (`where: "locked_at < now() - interval '4 hours'"`), parsed by
 * PostgreSQL's own parser (libpg-query: the server's grammar compiled to WebAssembly, shipped in the
 * npm package, nothing downloaded) as the one expression of `select <text>`, then checked node by
 * node against a short allowed list (`sql-text-convert.ts`). Pure: no database. Which columns exist
 * and which functions are IMMUTABLE or STABLE is checked against the live database when the text
 * is rendered (`activities/sql/sql-text.ts`).
 *
 * The parser is WebAssembly, which loads asynchronously once per process; `parseSqlText` is
 * synchronous. So every edge awaits `loadSqlParser()` first: config loading (`loadConfigFile`),
 * the `rows.rules` activity (`applyRowRules`, on its first run in a worker), and the tests (`test/sql-parser-setup.ts`).
 */

export { SqlTextError, SQL_TEXT_ALLOWED, visitSqlExpr } from './sql-expr';
export type { SqlExpr } from './sql-expr';

export type SqlTextKind = 'condition' | 'value';

export interface SqlFunctionName {
  schema?: string;
  name: string;
}

/** Checked expression text: plain data. */
export interface SqlText {
  source: string;
  kind: SqlTextKind;
  expr: SqlExpr;
  /** Columns it reads (unqualified names, each once). */
  columns: string[];
  /** Functions it calls, as written (each once). */
  functions: SqlFunctionName[];
  /** Operators it applies, written or implied (`IN` compares with `=`), each once: an operator calls a function too. */
  operators: SqlFunctionName[];
}

let parser: typeof PgQuery | undefined;
let loading: Promise<void> | undefined;

/** Loads the parser once per process (about 0.2 s); cheap after the first call. */
export function loadSqlParser(): Promise<void> {
  loading ??= import('libpg-query').then(async (mod) => {
    await mod.loadModule();
    parser = mod;
  });
  return loading;
}

const PREFIX = 'select ';

/** Parses and checks `text`; throws `SqlTextError` naming the offending fragment and what is allowed. */
export function parseSqlText(text: string, kind: SqlTextKind): SqlText {
  if (!parser) throw new Error('the SQL expression parser is not loaded: await loadSqlParser() before parsing (config load and the rows.rules activity do)');
  const source = PREFIX + text;
  const bytes = Buffer.from(source, 'utf8');
  const cut = (start: number, end: number) => bytes.subarray(start, end).toString('utf8').trim();
  const refuseAt = (start: number, end: number, reason: string): never => {
    throw new SqlTextError(text, cut(Math.max(start, PREFIX.length), end) || text, reason);
  };
  if (text.trim() === '') refuseAt(0, 0, `expected a SQL ${kind}, got empty text`);
  // The parser reads a C string: text after a NUL would be silently ignored.
  if (text.includes('\0')) refuseAt(PREFIX.length + Buffer.byteLength(text.slice(0, text.indexOf('\0'))), bytes.length, 'a NUL character is not allowed');
  let stmts: PgQuery.RawStmt[];
  try {
    stmts = parser.parseSync(source).stmts ?? [];
  } catch (err) {
    const at = (err as PgQuery.SqlError).sqlDetails?.cursorPosition ?? PREFIX.length;
    const token = scan(parser, source).find((t) => t.end > at) ?? { start: at, end: bytes.length };
    return refuseAt(token.start, token.end, `not valid SQL (${(err as Error).message})`);
  }
  const tokens = scan(parser, source);
  for (const token of tokens) {
    if (token.tokenName === 'SQL_COMMENT' || token.tokenName === 'C_COMMENT') refuseAt(token.start, token.end, 'comments are not allowed');
    if (token.text === ';') refuseAt(token.start, bytes.length, 'only one expression is allowed (no ";")');
  }
  const [stmtKind, select] = unwrap(stmts[0]?.stmt);
  const targets = Array.isArray(select.targetList) ? select.targetList : [];
  const extra = ['distinctClause', 'intoClause', 'fromClause', 'whereClause', 'groupClause', 'havingClause', 'windowClause', 'valuesLists', 'sortClause'];
  const more = ['limitOffset', 'limitCount', 'lockingClause', 'withClause', 'larg', 'rarg'];
  if (stmts.length !== 1 || stmtKind !== 'SelectStmt' || [...extra, ...more].some((k) => select[k] !== undefined) || select.op !== 'SETOP_NONE') {
    refuseAt(0, bytes.length, `expected one SQL ${kind} (an expression, not a statement or clause)`);
  }
  if (targets.length !== 1) refuseAt(0, bytes.length, 'expected exactly one expression, got a list');
  const target = unwrap(targets[0])[1];
  if (target.name !== undefined) refuseAt(0, bytes.length, 'an alias (AS ...) is not allowed');
  const expr = convertExpr(target.val, (node, reason) => {
    const [start, last] = locationRange(node);
    const end = tokens.find((t) => t.start >= last)?.end ?? bytes.length;
    return refuseAt(start, balanced(tokens, start, end), reason);
  });
  const columns = new Set<string>();
  const functions = new Map<string, SqlFunctionName>();
  const operators = new Map<string, SqlFunctionName>();
  const operator = (name: string, schema?: string) => operators.set(`${schema ?? ''}.${name}`, schema === undefined ? { name } : { schema, name });
  visitSqlExpr(expr, (e) => {
    if (e.kind === 'column') columns.add(e.name);
    if (e.kind === 'call') functions.set(e.name.join('.'), e.name.length === 2 ? { schema: e.name[0]!, name: e.name[1]! } : { name: e.name[0]! });
    if (e.kind === 'op' || e.kind === 'quantified') operator(e.op, e.schema);
    if (e.kind === 'in') operator(e.not ? '<>' : '=');
    if (e.kind === 'distinct' || e.kind === 'nullif' || (e.kind === 'case' && e.arg)) operator('=');
    if (e.kind === 'between') ['>=', '<='].forEach((op) => operator(op));
  });
  return { source: text, kind, expr, columns: [...columns], functions: [...functions.values()], operators: [...operators.values()] };
}

/** The source's tokens (byte offsets); none when the scanner cannot report them (it fails on some invalid text). */
function scan(pg: typeof PgQuery, source: string): PgQuery.ScanToken[] {
  try {
    return pg.scanSync(source).tokens;
  } catch {
    return [];
  }
}

/** The smallest and largest `location` in a raw node's subtree (byte offsets). */
function locationRange(node: unknown): [number, number] {
  let min = Infinity;
  let max = -1;
  const walk = (v: unknown) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v === null || typeof v !== 'object') return;
    for (const [key, value] of Object.entries(v)) {
      if (key === 'location' && typeof value === 'number' && value >= 0) {
        min = Math.min(min, value);
        max = Math.max(max, value);
      } else walk(value);
    }
  };
  walk(node);
  return min === Infinity ? [PREFIX.length, Infinity] : [min, max];
}

/**
 * Extends [start, end) to the end of the token that closes every bracket opened inside it, and over
 * what directly follows without a location of its own: a call's `(...)`, a `.*`.
 */
function balanced(tokens: readonly PgQuery.ScanToken[], start: number, end: number): number {
  let depth = 0;
  let previous = '';
  for (const token of tokens) {
    if (token.start < start) continue;
    const attached = token.text === '(' || token.text === '.' || (previous === '.' && token.text === '*');
    if (token.start >= end && depth <= 0 && !attached) return end;
    if (token.text === '(' || token.text === '[') depth++;
    if (token.text === ')' || token.text === ']') depth--;
    end = Math.max(end, token.end);
    previous = token.text;
  }
  return end;
}

/** For error messages: "a SQL condition" / "a SQL value". */
function describe(kind: SqlTextKind): string {
  return kind === 'condition' ? 'a SQL condition' : 'a SQL value expression';
}

function sqlTextSchema(kind: SqlTextKind) {
  return z.string().superRefine((text, ctx) => {
    try {
      parseSqlText(text, kind);
    } catch (err) {
      if (!(err instanceof SqlTextError)) throw err;
      ctx.addIssue({ code: 'custom', message: `expected ${describe(kind)}: ${err.reason}: "${err.fragment}"; allowed: ${err.allowed.join(', ')}` });
    }
  });
}

/** A `where` / `when` condition, checked at config load. */
export const sqlCondition = () => sqlTextSchema('condition');
/** An update value written as SQL (`"'retryable'"`, `"now()"`, `"attempt + 1"`), checked at config load. */
export const sqlValue = () => sqlTextSchema('value');
