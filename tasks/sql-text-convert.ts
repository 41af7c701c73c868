import type { BoolTest, SqlExpr, SqlTypeName } from './sql-expr';

/**
 * PostgreSQL's raw parse tree (libpg-query's JSON) of one expression → `SqlExpr`, refusing every
 * node that is not on the allowed list. The raw tree is read as untyped JSON on purpose: whatever
 * this function does not recognise is refused, so a newer parser's new node kinds cannot slip through.
 */

type Raw = Record<string, unknown>;
/** Throws the refusal for a raw node (its text is cut from the source by its locations). */
export type Refuse = (node: unknown, reason: string) => never;

const obj = (v: unknown): Raw => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** A `String` node's text (`{ String: { sval } }`). */
const sval = (v: unknown): string | undefined => str(obj(obj(v).String).sval);

/** The node's one kind and its fields (`{ ColumnRef: {...} }` → ['ColumnRef', {...}]). */
export function unwrap(node: unknown): [string, Raw] {
  const entries = Object.entries(obj(node));
  return entries.length === 1 ? [entries[0]![0], obj(entries[0]![1])] : ['', {}];
}

/** Functions whose parameters are declared `"any"`: PostgreSQL reads a quoted literal there as text but cannot infer a parameter's type. */
const ANY_ARGUMENT_FUNCTIONS = new Set([
  'concat',
  'concat_ws',
  'format',
  'json_build_array',
  'json_build_object',
  'jsonb_build_array',
  'jsonb_build_object',
  'num_nonnulls',
  'num_nulls',
  'pg_typeof',
  'pg_column_size',
  'pg_column_compression',
]);

/** Built-in aggregates and window functions, refused here already (user-defined ones are refused against the catalog). */
const AGGREGATES = new Set(
  (
    'count sum avg min max array_agg string_agg bool_and bool_or every json_agg jsonb_agg json_object_agg jsonb_object_agg ' +
    'bit_and bit_or bit_xor stddev stddev_pop stddev_samp variance var_pop var_samp corr covar_pop covar_samp mode ' +
    'percentile_cont percentile_disc xmlagg range_agg range_intersect_agg any_value regr_count regr_avgx regr_avgy ' +
    'row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value'
  ).split(' '),
);

const OPERATOR = /^[+\-*/<>=~!@#%^&|`?]+$/;

const BOOL_TESTS: Record<string, BoolTest> = {
  IS_TRUE: 'IS TRUE',
  IS_NOT_TRUE: 'IS NOT TRUE',
  IS_FALSE: 'IS FALSE',
  IS_NOT_FALSE: 'IS NOT FALSE',
  IS_UNKNOWN: 'IS UNKNOWN',
  IS_NOT_UNKNOWN: 'IS NOT UNKNOWN',
};

const TIME_KEYWORDS: Record<string, string> = {
  SVFOP_CURRENT_DATE: 'CURRENT_DATE',
  SVFOP_CURRENT_TIME: 'CURRENT_TIME',
  SVFOP_CURRENT_TIME_N: 'CURRENT_TIME',
  SVFOP_CURRENT_TIMESTAMP: 'CURRENT_TIMESTAMP',
  SVFOP_CURRENT_TIMESTAMP_N: 'CURRENT_TIMESTAMP',
  SVFOP_LOCALTIME: 'LOCALTIME',
  SVFOP_LOCALTIME_N: 'LOCALTIME',
  SVFOP_LOCALTIMESTAMP: 'LOCALTIMESTAMP',
  SVFOP_LOCALTIMESTAMP_N: 'LOCALTIMESTAMP',
};

/** Context a constant stands in: whether an untyped parameter there would leave PostgreSQL unable to infer its type. */
interface Place {
  textOnly: boolean;
}
const ANYWHERE: Place = { textOnly: false };
const TEXT_ONLY: Place = { textOnly: true };

export function convertExpr(node: unknown, refuse: Refuse, place: Place = ANYWHERE): SqlExpr {
  const [kind, n] = unwrap(node);
  const sub = (v: unknown, p: Place = ANYWHERE) => convertExpr(v, refuse, p);
  switch (kind) {
    case 'ColumnRef': {
      const fields = list(n.fields);
      if (fields.some((f) => unwrap(f)[0] === 'A_Star')) refuse(node, '* (all columns) is not allowed: name the columns');
      const names = fields.map((f) => sval(f) ?? refuse(node, 'not a column name'));
      if (names.length > 3) refuse(node, 'a column is written as column, table.column or schema.table.column');
      return { kind: 'column', qualifier: names.slice(0, -1), name: names[names.length - 1]! };
    }
    case 'A_Const':
      return constant(node, n, place, refuse);
    case 'TypeCast':
      return { kind: 'cast', arg: sub(n.arg), type: typeName(node, obj(n.typeName), refuse) };
    case 'ParamRef':
      return refuse(node, 'parameters ($1) are not allowed: write the value itself');
    case 'SubLink':
      return refuse(node, 'subqueries are not allowed: a rule reads its own table (related tables through missing_parent / unreferenced_by)');
    case 'A_Expr':
      return operatorExpr(node, n, refuse);
    case 'BoolExpr': {
      const op = ({ AND_EXPR: 'AND', OR_EXPR: 'OR', NOT_EXPR: 'NOT' } as const)[str(n.boolop) as 'AND_EXPR'];
      if (!op) return refuse(node, 'not an allowed expression');
      return { kind: 'bool', op, args: list(n.args).map((a) => sub(a)) };
    }
    case 'NullTest':
      return { kind: 'null_test', not: n.nulltesttype === 'IS_NOT_NULL', arg: sub(n.arg, TEXT_ONLY) };
    case 'BooleanTest': {
      const test = BOOL_TESTS[str(n.booltesttype) ?? ''];
      return test ? { kind: 'bool_test', test, arg: sub(n.arg) } : refuse(node, 'not an allowed expression');
    }
    case 'CaseExpr': {
      const whens = list(n.args).map((w) => {
        const [wk, wn] = unwrap(w);
        if (wk !== 'CaseWhen') return refuse(w, 'not an allowed expression');
        return { when: sub(wn.expr), then: sub(wn.result) };
      });
      return { kind: 'case', arg: n.arg ? sub(n.arg) : undefined, whens, otherwise: n.defresult ? sub(n.defresult) : undefined };
    }
    case 'CoalesceExpr':
      return { kind: 'coalesce', args: list(n.args).map((a) => sub(a)) };
    case 'MinMaxExpr':
      return { kind: n.op === 'IS_LEAST' ? 'least' : 'greatest', args: list(n.args).map((a) => sub(a)) };
    case 'A_ArrayExpr':
      return { kind: 'array', args: list(n.elements).map((a) => sub(a)) };
    case 'RowExpr':
      return { kind: 'row', args: list(n.args).map((a) => sub(a)) };
    case 'A_Indirection': {
      const indices = list(n.indirection).map((i) => {
        const [ik, idx] = unwrap(i);
        if (ik !== 'A_Indices') return refuse(node, 'only array subscripts ([1], [1:2]) may follow an expression');
        return { lower: idx.lidx ? sub(idx.lidx) : undefined, upper: idx.uidx ? sub(idx.uidx) : undefined, slice: idx.is_slice === true };
      });
      return { kind: 'subscript', arg: sub(n.arg), indices };
    }
    case 'FuncCall':
      return functionCall(node, n, refuse);
    case 'SQLValueFunction': {
      const word = TIME_KEYWORDS[str(n.op) ?? ''];
      if (!word) return refuse(node, 'not an allowed expression');
      const precision = typeof n.typmod === 'number' && n.typmod >= 0 ? n.typmod : undefined;
      return { kind: 'keyword', word, precision };
    }
    default:
      return refuse(node, kind === 'SelectStmt' ? 'statements are not allowed' : 'not an allowed expression');
  }
}

function constant(node: unknown, n: Raw, place: Place, refuse: Refuse): SqlExpr {
  if (n.isnull === true) return { kind: 'null' };
  // Protocol-buffer JSON leaves out zero values: `{ ival: {} }` is 0, `{ boolval: {} }` is false.
  if (n.ival !== undefined) return { kind: 'const', type: 'int4', value: String(obj(n.ival).ival ?? 0) };
  if (n.boolval !== undefined) return { kind: 'const', type: 'bool', value: String(obj(n.boolval).boolval === true) };
  if (n.sval !== undefined) return { kind: 'const', type: place.textOnly ? 'text' : 'unknown', value: str(obj(n.sval).sval) ?? '' };
  if (n.fval !== undefined) {
    const text = (str(obj(n.fval).fval) ?? '').replace(/_/g, '');
    // PostgreSQL's rule: an integer that does not fit int4 is int8 when it fits, else numeric.
    if (/^(0[xob])?[0-9a-f]+$/i.test(text)) {
      const value = BigInt(text);
      return { kind: 'const', type: value <= 9223372036854775807n ? 'int8' : 'numeric', value: value.toString() };
    }
    return { kind: 'const', type: 'numeric', value: text };
  }
  return refuse(node, 'bit-string constants are not allowed');
}

function typeName(node: unknown, t: Raw, refuse: Refuse): SqlTypeName {
  if (t.setof === true || t.pct_type === true) refuse(node, 'not an allowed type');
  const names = list(t.names).map((part) => sval(part) ?? refuse(node, 'not a type name'));
  const modifiers = list(t.typmods).map((m) => {
    const [mk, mn] = unwrap(m);
    if (mk !== 'A_Const' || mn.ival === undefined) return refuse(node, 'type modifiers must be numbers (varchar(10), numeric(10,2))');
    return Number(obj(mn.ival).ival ?? 0);
  });
  if (modifiers.length > 0 && names[names.length - 1] === 'interval') refuse(node, "write interval '4 hours' instead of interval fields");
  return { names, modifiers, arrayDims: list(t.arrayBounds).length };
}

function operatorName(node: unknown, n: Raw, refuse: Refuse): { op: string; schema?: string } {
  const parts = list(n.name).map((p) => sval(p) ?? refuse(node, 'not an operator'));
  const op = parts[parts.length - 1] ?? '';
  if (!OPERATOR.test(op) || parts.length > 2) refuse(node, 'not an operator');
  return parts.length === 2 ? { op, schema: parts[0]! } : { op };
}

function operatorExpr(node: unknown, n: Raw, refuse: Refuse): SqlExpr {
  const sub = (v: unknown) => convertExpr(v, refuse);
  const kind = str(n.kind);
  switch (kind) {
    case 'AEXPR_OP':
    case 'AEXPR_LIKE':
    case 'AEXPR_ILIKE':
    case 'AEXPR_SIMILAR': // the parser already wrote these as their operators (~~, ~~*, ~ with similar_to_escape)
      return { kind: 'op', ...operatorName(node, n, refuse), left: n.lexpr ? sub(n.lexpr) : undefined, right: sub(n.rexpr) };
    case 'AEXPR_OP_ANY':
    case 'AEXPR_OP_ALL':
      return {
        kind: 'quantified',
        ...operatorName(node, n, refuse),
        quantifier: kind === 'AEXPR_OP_ANY' ? 'ANY' : 'ALL',
        left: sub(n.lexpr),
        right: sub(n.rexpr),
      };
    case 'AEXPR_DISTINCT':
    case 'AEXPR_NOT_DISTINCT':
      return { kind: 'distinct', not: kind === 'AEXPR_NOT_DISTINCT', left: sub(n.lexpr), right: sub(n.rexpr) };
    case 'AEXPR_NULLIF':
      return { kind: 'nullif', left: sub(n.lexpr), right: sub(n.rexpr) };
    case 'AEXPR_IN': {
      const [rk, rn] = unwrap(n.rexpr);
      if (rk !== 'List') return refuse(node, 'IN takes a list of values');
      return { kind: 'in', not: sval(list(n.name)[0]) === '<>', left: sub(n.lexpr), list: list(rn.items).map(sub) };
    }
    case 'AEXPR_BETWEEN':
    case 'AEXPR_NOT_BETWEEN':
    case 'AEXPR_BETWEEN_SYM':
    case 'AEXPR_NOT_BETWEEN_SYM': {
      const [low, high] = list(obj(obj(n.rexpr).List).items);
      if (!low || !high) return refuse(node, 'BETWEEN takes two bounds');
      return { kind: 'between', not: kind.includes('NOT'), symmetric: kind.endsWith('SYM'), arg: sub(n.lexpr), low: sub(low), high: sub(high) };
    }
    default:
      return refuse(node, 'not an allowed operator');
  }
}

function functionCall(node: unknown, n: Raw, refuse: Refuse): SqlExpr {
  const name = list(n.funcname).map((p) => sval(p) ?? refuse(node, 'not a function name'));
  const bare = name[name.length - 1] ?? '';
  const builtin = name.length === 1 || name[0] === 'pg_catalog';
  if (n.agg_star === true || n.agg_distinct === true || list(n.agg_order).length > 0 || n.agg_filter || n.agg_within_group === true) {
    refuse(node, 'aggregates are not allowed: a condition reads one row');
  }
  if (n.over) refuse(node, 'window functions are not allowed: a condition reads one row');
  if (builtin && AGGREGATES.has(bare)) refuse(node, 'aggregates and window functions are not allowed: a condition reads one row');
  if (name.length > 2) refuse(node, 'a function is written as name(...) or schema.name(...)');
  const place = builtin && ANY_ARGUMENT_FUNCTIONS.has(bare) ? TEXT_ONLY : ANYWHERE;
  const args = list(n.args).map((a) => {
    const [ak, an] = unwrap(a);
    if (ak === 'NamedArgExpr') return { name: str(an.name) ?? refuse(a, 'not an argument name'), value: convertExpr(an.arg, refuse, place) };
    return { value: convertExpr(a, refuse, place) };
  });
  return { kind: 'call', name, args, variadic: n.func_variadic === true };
}
