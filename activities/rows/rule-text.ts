import type { PoolClient } from 'pg';
import { parseSqlText, SqlTextError, visitSqlExpr, type SqlExpr, type SqlText, type SqlTextKind } from '../../tasks/sql-text';
import type { RuleValue } from '../../tasks/rows-rules';
import type { TimestampSettings } from '../../core/time-zones';
import { ref } from '../../core/column-refs';
import { configError } from '../../core/errors';
import { resolveTimeZone } from '../../core/time-zones';
import { colType, type ResolvedTable } from '../sql/identifiers';
import { isNaiveTimestamp } from '../sql/time';
import { SqlParams } from '../sql/params';
import { asJsonValue, assertStableFunctions, renderSqlText, type RelatedTable } from '../sql/sql-text';

/** A rule's SQL text (conditions and value expressions), parsed and checked for its table (tasks/sql-text.ts, sql/sql-text.ts). */
export interface RuleTexts {
  condition(text: string, at: string): (p: SqlParams) => string;
  value(text: string, at: string): (p: SqlParams) => string;
  /** A value written into a JSON path: a bare quoted literal is read as text (sql/sql-text.ts `asJsonValue`). */
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
      return asJsonValue(text, render);
    },
    checkFunctions: (client) => assertStableFunctions(client, texts, where),
    valueColumns: () => [...new Set(texts.flatMap(valueColumns))],
  };
}

/** Whether two zone names are one zone ("utc" is "UTC"). */
const sameZone = (a: string, b: string) => a === b || (resolveTimeZone(a) !== undefined && resolveTimeZone(a) === resolveTimeZone(b));

/**
 * Whether `expr` written into a naive column gives the wall time of `zone` whatever the session's
 * TimeZone: a constant (its text is the wall time), or `<instant> AT TIME ZONE '<zone>'` over an
 * instant that reads no column (now(), now() + interval '3 minutes').
 */
function writesZone(expr: SqlExpr, zone: string): boolean {
  if (expr.kind === 'null' || expr.kind === 'const') return true;
  if (expr.kind === 'cast') return (expr.arg.kind === 'const' || expr.arg.kind === 'null') && expr.type.names.at(-1) === 'timestamp';
  if (expr.kind !== 'call' || expr.name.at(-1) !== 'timezone' || (expr.name.length === 2 && expr.name[0] !== 'pg_catalog')) return false;
  const [at, instant] = expr.args.map((a) => a.value);
  if (expr.args.length !== 2 || at?.kind !== 'const' || !sameZone(at.value, zone)) return false;
  let readsColumn = false;
  visitSqlExpr(instant!, (e) => {
    if (e.kind === 'column') readsColumn = true;
  });
  return !readsColumn;
}

/**
 * SQL text an update, a case, archive values, a child's update or a slot writes into `table`
 * (`values`, by column or JSON path; `at` names the field). During a rules run the session's
 * TimeZone is `timestamps.zone`, so now() (any instant) written into a naive column becomes that
 * zone's wall time: a naive column that `timestamps.columns` gives a zone of its own gets text that
 * says its zone (`now() at time zone '<zone>'`) or a constant, else the rule is refused. Text written
 * as a zone's wall time into a timestamptz column given a zone is refused too: it holds instants.
 */
export function checkWrittenZones(
  table: ResolvedTable,
  values: Record<string, RuleValue> | undefined,
  zones: TimestampSettings,
  parse: ParseText,
  at: string,
): void {
  for (const [target, value] of Object.entries(values ?? {})) {
    const { column, path } = ref(target);
    const zone = zones.columns[column];
    if (typeof value !== 'string' || path.length > 0 || zone === undefined || (zones.zone !== null && sameZone(zone, zones.zone))) continue;
    const type = table.columns.has(column) ? colType(table, column) : '';
    const naive = isNaiveTimestamp(type);
    if (!naive && !type.startsWith('timestamp')) continue;
    let expr: SqlExpr;
    try {
      expr = parse(value, 'value').expr;
    } catch (err) {
      if (!(err instanceof SqlTextError)) throw err;
      throw configError(`${at}.${target}: ${err.message}`);
    }
    if (naive && !writesZone(expr, zone)) {
      throw configError(
        `${at}.${target}: timestamps.columns gives ${column} the zone ${zone}, but SQL text writes a naive timestamp as the wall time of timestamps.zone ` +
          `(${zones.zone ?? "the session's TimeZone"}): write the time in the column's zone, e.g. now() at time zone '${zone}'`,
      );
    }
    if (!naive && expr.kind === 'call' && expr.name.at(-1) === 'timezone') {
      throw configError(
        `${at}.${target}: timestamps.columns gives ${column} the zone ${zone}, but ${table.name}.${column} is ${type}, which holds instants, not wall times: remove it from timestamps.columns`,
      );
    }
  }
}

/**
 * SQL text reads naive timestamps in the session's TimeZone, which the task's `timestamps.zone`
 * sets for the whole run: a per-column zone that differs cannot apply to it, so it is refused
 * rather than silently ignored (a column only tested for NULL reads no time: `valueColumns`).
 */
export function checkColumnZones(table: ResolvedTable, columns: string[], zones: TimestampSettings, at: string): void {
  for (const c of columns) {
    const zone = zones.columns[c];
    if (zone !== undefined && zone !== zones.zone && isNaiveTimestamp(table.columns.get(c)?.type ?? '')) {
      const current = zones.zone ?? "the session's TimeZone";
      throw configError(
        `${at}: timestamps.columns gives ${c} the zone ${zone}, but SQL text reads every naive timestamp in timestamps.zone (${current}); ` +
          `set timestamps.zone: ${zone} for this task (the rules of one task read their naive timestamps in one zone)`,
      );
    }
  }
}
