import { quoteIdent as identifier } from '../core/identifiers';
import type { SqlText } from './sql-text';
import { literal } from './sql-phrases';

/**
 * SQL text a preset writes (tasks/status-reset.ts), built together with the checked tree the
 * parser would make of it, so a run of the preset looks the tree up instead of loading the parser
 * (activities/rows/rules.ts `runRules`): the worker stays without it unless a `rows.rules` task has
 * text of its own. The text is what `caretaker rules` prints and a user may edit; the tests parse
 * it and compare the tree (test/presets.test.ts). Pure.
 */

/** `"column"::text IN ('a', 'b')`: the column, read as text, is one of `values`. */
export function textIn(column: string, values: readonly string[]): SqlText {
  return {
    source: `${identifier(column)}::text IN (${values.map(literal).join(', ')})`,
    kind: 'condition',
    expr: {
      kind: 'in',
      not: false,
      left: { kind: 'cast', arg: { kind: 'column', qualifier: [], name: column }, type: { names: ['text'], modifiers: [], arrayDims: 0 } },
      list: values.map((value) => ({ kind: 'const', type: 'unknown', value })),
    },
    columns: [column],
    functions: [],
    operators: [{ name: '=' }],
  };
}

/** `"column" IS NULL` (retention's mark to now() leaves a row already marked alone). */
export function isNull(column: string): SqlText {
  return {
    source: `${identifier(column)} IS NULL`,
    kind: 'condition',
    expr: { kind: 'null_test', not: false, arg: { kind: 'column', qualifier: [], name: column } },
    columns: [column],
    functions: [],
    operators: [],
  };
}

/**
 * `now()` as a value: the transaction's start, written in the session's TimeZone (the task's
 * timestamps.zone); with `zone`, `now() AT TIME ZONE '<zone>'`: the wall time in that zone, for a
 * naive column that `timestamps.columns` gives a zone of its own.
 */
export function nowValue(zone?: string): SqlText {
  const now = { kind: 'call' as const, name: ['now'], args: [], variadic: false };
  if (zone === undefined) return { source: 'now()', kind: 'value', expr: now, columns: [], functions: [{ name: 'now' }], operators: [] };
  return {
    source: `now() AT TIME ZONE ${literal(zone)}`,
    kind: 'value',
    expr: {
      kind: 'call',
      name: ['pg_catalog', 'timezone'],
      args: [{ value: { kind: 'const', type: 'unknown', value: zone } }, { value: now }],
      variadic: false,
    },
    columns: [],
    functions: [{ schema: 'pg_catalog', name: 'timezone' }, { name: 'now' }],
    operators: [],
  };
}
