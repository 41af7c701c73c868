import { type AssignedValue, type ColumnRef, formatRef, type TextTemplate } from '../../core/column-refs';
import { configError } from '../../core/errors';
import { col, colType, type ResolvedTable } from './identifiers';
import type { SqlParams } from './params';
import type { TimestampZones } from './time';

/**
 * SQL for the column references of `tasks/column-refs.ts`: columns quoted from the catalog,
 * JSON paths and literal text as parameters.
 */

/** A JSON path must point into a json or jsonb column; anything else is a config error naming it. */
function jsonColumn(table: ResolvedTable, ref: ColumnRef): string {
  if (!['json', 'jsonb'].includes(colType(table, ref.column))) {
    throw configError(`config: ${formatRef(ref)} reads a JSON path, but ${table.name}.${ref.column} is ${colType(table, ref.column)}, not json or jsonb`);
  }
  return col(table, ref.column);
}

/** Why an update cannot write a JSON path into `column` (it is not json or jsonb), or undefined when it can. */
export function jsonPathProblem(table: ResolvedTable, column: string): string | undefined {
  const type = colType(table, column);
  return ['json', 'jsonb'].includes(type) ? undefined : `a JSON path needs a json or jsonb column, but ${table.name}.${column} is ${type}`;
}

/** The reference as text: `t."c"::text`, or `t."c" #>> $1::text[]`. */
export function readText(table: ResolvedTable, ref: ColumnRef, p: SqlParams, alias = 't'): string {
  if (ref.path.length === 0) return `${alias}.${col(table, ref.column)}::text`;
  return `(${alias}.${jsonColumn(table, ref)} #>> ${p.add(ref.path, 'text[]')})`;
}

/** The reference as a value of `type` (a JSON value is read as text, then cast). */
export function readAs(table: ResolvedTable, ref: ColumnRef, type: string, p: SqlParams, alias = 't'): string {
  return ref.path.length === 0 ? `${alias}.${col(table, ref.column)}::${type}` : `${readText(table, ref, p, alias)}::${type}`;
}

/** A text template: `($1::text || t."a"::text || ...)`; NULL when any reference is NULL. */
export function templateText(table: ResolvedTable, tpl: TextTemplate, p: SqlParams, alias = 't'): string {
  return `(${tpl.map((part) => (typeof part === 'string' ? p.add(part, 'text') : readText(table, part, p, alias))).join(' || ')})`;
}

/**
 * An expression computed by the task (e.g. `u.new_retry` from an unnest), or rendered with its
 * values as parameters of the statement it goes into (a rule's SQL value text).
 */
export interface Computed {
  sql: string | ((p: SqlParams) => string);
}
export type Assigned = AssignedValue | Computed;
const isComputed = (v: Assigned): v is Computed => typeof v === 'object' && v !== null && 'sql' in v;
const computedSql = (v: Computed, p: SqlParams): string => (typeof v.sql === 'string' ? v.sql : v.sql(p));

function plainValue(table: ResolvedTable, column: string, value: Assigned, p: SqlParams, zones: TimestampZones | undefined): string {
  const c = col(table, column);
  const type = colType(table, column);
  if (value === null) return 'null';
  if (isComputed(value)) return `(${computedSql(value, p)})::${type}`;
  if (typeof value === 'object' && 'now' in value) return zones ? zones.now(table, column, p) : 'now()';
  if (typeof value === 'object') return `coalesce(t.${c}, 0) + ${p.add(value.increment, 'int')}`;
  return p.add(String(value), type);
}

function jsonValue(table: ResolvedTable, ref: ColumnRef, value: Assigned, p: SqlParams): string {
  if (value === null) return `'null'::jsonb`;
  // jsonb_set with a NULL value returns NULL: the whole column would be blanked.
  if (isComputed(value)) return `coalesce(to_jsonb(${computedSql(value, p)}), 'null'::jsonb)`;
  if (typeof value === 'object' && 'now' in value) return 'to_jsonb(now())';
  if (typeof value === 'object') return `to_jsonb(coalesce(${readAs(table, ref, 'numeric', p)}, 0) + ${p.add(value.increment, 'int')})`;
  return `to_jsonb(${p.add(value, typeof value === 'string' ? 'text' : typeof value === 'number' ? 'numeric' : 'boolean')})`;
}

/** The assignments that take effect: a later entry for the same reference wins. */
function effective(entries: readonly [ColumnRef, Assigned][]): (readonly [ColumnRef, Assigned])[] {
  return [...new Map(entries.map(([r, v]) => [formatRef(r), [r, v] as const])).values()];
}

/**
 * The condition that an update would change the row: some assigned column (or JSON path) is
 * distinct from the value it would get (alias `t`). A whole column compares as text (what is stored; every type
 * has a text form), a JSON path as jsonb. Null when some assignment always changes the row (`now`,
 * an increment, a computed value): then every row qualifies.
 */
export function changesRow(table: ResolvedTable, entries: readonly [ColumnRef, Assigned][], p: SqlParams): string | null {
  const list = effective(entries);
  if (list.length === 0 || list.some(([, v]) => v !== null && typeof v === 'object')) return null;
  const differs = list.map(([r, v]) => {
    if (r.path.length > 0) return `(t.${jsonColumn(table, r)}::jsonb #> ${p.add(r.path, 'text[]')}) is distinct from ${jsonValue(table, r, v, p)}`;
    return `t.${col(table, r.column)}::text is distinct from (${plainValue(table, r.column, v, p, undefined)})::text`;
  });
  return `(${differs.join(' or ')})`;
}

/** Groups the effective assignments by column (a later entry for the same reference wins). */
function byColumn(entries: readonly [ColumnRef, Assigned][]): Map<string, (readonly [ColumnRef, Assigned])[]> {
  const columns = new Map<string, (readonly [ColumnRef, Assigned])[]>();
  for (const entry of effective(entries)) columns.set(entry[0].column, [...(columns.get(entry[0].column) ?? []), entry]);
  return columns;
}

/** The value an update gives `column` from its assignments there (alias `t` is the row before it). */
function columnValue(
  table: ResolvedTable,
  column: string,
  list: readonly (readonly [ColumnRef, Assigned])[],
  p: SqlParams,
  where: string,
  zones: TimestampZones | undefined,
): string {
  const plain = list.filter(([r]) => r.path.length === 0);
  if (plain.length > 0 && list.length > 1) {
    throw configError(`${where}: ${column} is assigned both as a whole and inside (${list.map(([r]) => formatRef(r)).join(', ')}); assign one or the other`);
  }
  if (plain.length > 0) return plainValue(table, column, plain[0]![1], p, zones);
  jsonColumn(table, list[0]![0]);
  // jsonb_set creates only the last key of a path: create each missing parent object first.
  const parents = (acc: string, path: string[]) =>
    path.slice(0, -1).reduce((a, _, i) => {
      const prefix = p.add(path.slice(0, i + 1), 'text[]');
      return `jsonb_set(${a}, ${prefix}, coalesce(${a} #> ${prefix}, '{}'::jsonb), true)`;
    }, acc);
  const json = list.reduce(
    (acc, [r, v]) => `jsonb_set(${parents(acc, r.path)}, ${p.add(r.path, 'text[]')}, ${jsonValue(table, r, v, p)}, true)`,
    `coalesce(t.${col(table, column)}::jsonb, '{}'::jsonb)`,
  );
  return `(${json})::${colType(table, column)}`;
}

/**
 * The SET list of an update (alias `t` is the row before it): later entries for the same reference
 * win; several JSON paths in one column nest `jsonb_set`, creating missing keys.
 */
export function assignmentList(table: ResolvedTable, entries: readonly [ColumnRef, Assigned][], p: SqlParams, where: string, zones?: TimestampZones): string[] {
  return [...byColumn(entries).entries()].map(([column, list]) => `${col(table, column)} = ${columnValue(table, column, list, p, where, zones)}`);
}

/**
 * What an update with these assignments leaves in `target` (a column or JSON path), as text, read
 * from the row before it (alias `t`): the value it writes there, or the value the row holds where it
 * assigns nothing. Evaluated on a locked row in the update's transaction, it is what the update writes.
 */
export function writtenText(
  table: ResolvedTable,
  entries: readonly [ColumnRef, Assigned][],
  target: ColumnRef,
  p: SqlParams,
  where: string,
  zones?: TimestampZones,
): string {
  const list = byColumn(entries).get(target.column);
  const value = list === undefined ? `t.${col(table, target.column)}` : columnValue(table, target.column, list, p, where, zones);
  if (target.path.length === 0) return `(${value})::text`;
  jsonColumn(table, target);
  return `((${value})::jsonb #>> ${p.add(target.path, 'text[]')})`;
}
