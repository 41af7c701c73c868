/**
 * The checked form of a SQL expression from config (`where`, `when`, update values): a small,
 * closed tree that `activities/sql/sql-text.ts` renders. Only these shapes exist, so the renderer
 * cannot meet anything the check did not allow. Plain data (JSON-safe), no I/O.
 */

/** A type as written in a cast: each name part quoted when rendered, integer modifiers, `[]` dimensions. */
export interface SqlTypeName {
  names: string[];
  modifiers: number[];
  arrayDims: number;
}

/**
 * The type a constant is sent as. `unknown` is a quoted literal ('text'): sent untyped, so PostgreSQL
 * infers its type from where it stands, as it does for the literal. `text` is such a literal where
 * PostgreSQL itself would read it as text but cannot infer a parameter's type (an argument of
 * `jsonb_build_object(...)`, `concat(...)`, `IS NULL`). Numbers keep the literal's own type.
 */
export type SqlConstType = 'unknown' | 'text' | 'int4' | 'int8' | 'numeric' | 'bool';

export type SqlExpr =
  | { kind: 'column'; qualifier: string[]; name: string }
  | { kind: 'const'; type: SqlConstType; value: string }
  | { kind: 'null' }
  | { kind: 'cast'; arg: SqlExpr; type: SqlTypeName }
  /** `left op right`, or prefix `op right`; `schema` for `OPERATOR(schema.op)`. */
  | { kind: 'op'; op: string; schema?: string; left?: SqlExpr; right: SqlExpr }
  | { kind: 'quantified'; op: string; schema?: string; quantifier: 'ANY' | 'ALL'; left: SqlExpr; right: SqlExpr }
  | { kind: 'distinct'; not: boolean; left: SqlExpr; right: SqlExpr }
  | { kind: 'nullif'; left: SqlExpr; right: SqlExpr }
  | { kind: 'in'; not: boolean; left: SqlExpr; list: SqlExpr[] }
  | { kind: 'between'; not: boolean; symmetric: boolean; arg: SqlExpr; low: SqlExpr; high: SqlExpr }
  | { kind: 'bool'; op: 'AND' | 'OR' | 'NOT'; args: SqlExpr[] }
  | { kind: 'null_test'; not: boolean; arg: SqlExpr }
  | { kind: 'bool_test'; test: BoolTest; arg: SqlExpr }
  | { kind: 'case'; arg?: SqlExpr; whens: { when: SqlExpr; then: SqlExpr }[]; otherwise?: SqlExpr }
  | { kind: 'call'; name: string[]; args: { name?: string; value: SqlExpr }[]; variadic: boolean }
  | { kind: 'coalesce' | 'greatest' | 'least' | 'array' | 'row'; args: SqlExpr[] }
  | { kind: 'subscript'; arg: SqlExpr; indices: { lower?: SqlExpr; upper?: SqlExpr; slice: boolean }[] }
  /** CURRENT_DATE, CURRENT_TIMESTAMP(3), LOCALTIMESTAMP, ... */
  | { kind: 'keyword'; word: string; precision?: number };

export type BoolTest = 'IS TRUE' | 'IS NOT TRUE' | 'IS FALSE' | 'IS NOT FALSE' | 'IS UNKNOWN' | 'IS NOT UNKNOWN';

/** What an expression may contain, for error messages. */
export const SQL_TEXT_ALLOWED: readonly string[] = [
  'column names',
  'constants',
  'casts',
  'operators (incl. IN, LIKE, BETWEEN, IS [NOT] DISTINCT FROM, = ANY(...), JSON operators)',
  'AND/OR/NOT',
  'IS [NOT] NULL, IS [NOT] TRUE/FALSE',
  'CASE, COALESCE, NULLIF, GREATEST, LEAST',
  'ARRAY[...] and subscripts',
  'row comparisons',
  "calls of IMMUTABLE or STABLE functions (now(), lower(...), interval '...')",
];

/** Refused expression text: `fragment` is the offending part as written, `allowed` what may stand there. */
export class SqlTextError extends Error {
  override readonly name = 'SqlTextError';
  readonly allowed = SQL_TEXT_ALLOWED;
  constructor(
    readonly source: string,
    readonly fragment: string,
    readonly reason: string,
  ) {
    super(`${reason}: "${fragment}" in "${source}"; allowed: ${SQL_TEXT_ALLOWED.join(', ')}`);
  }
}

/** Calls each sub-expression once, depth first, parents before children. */
export function visitSqlExpr(expr: SqlExpr, visit: (e: SqlExpr) => void): void {
  visit(expr);
  const each = (xs: (SqlExpr | undefined)[]) => xs.forEach((x) => x && visitSqlExpr(x, visit));
  switch (expr.kind) {
    case 'column':
    case 'const':
    case 'null':
    case 'keyword':
      return;
    case 'cast':
    case 'null_test':
    case 'bool_test':
      return each([expr.arg]);
    case 'op':
    case 'quantified':
    case 'distinct':
    case 'nullif':
      return each([expr.left, expr.right]);
    case 'in':
      return each([expr.left, ...expr.list]);
    case 'between':
      return each([expr.arg, expr.low, expr.high]);
    case 'bool':
    case 'coalesce':
    case 'greatest':
    case 'least':
    case 'array':
    case 'row':
      return each(expr.args);
    case 'case':
      return each([expr.arg, ...expr.whens.flatMap((w) => [w.when, w.then]), expr.otherwise]);
    case 'call':
      return each(expr.args.map((a) => a.value));
    case 'subscript':
      return each([expr.arg, ...expr.indices.flatMap((i) => [i.lower, i.upper])]);
  }
}
