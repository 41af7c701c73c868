import type { PoolClient } from 'pg';
import type { RowRule } from '../../tasks/rows-rules';
import type { TimestampSettings } from '../../tasks/fields';
import { configError } from '../../core/errors';
import { col, colType, resolveReadable, type ResolvedTable } from '../sql/identifiers';
import { keyColumns, type RowKey } from '../sql/keys';
import type { SqlParams } from '../sql/params';
import { checkColumnZones, ruleTexts, type ParseText, type RuleTexts } from './rule-text';

/**
 * A rule's conditions on other tables (rules.ts compiles them into its row set): `missing_parent`,
 * the row's reference finds no parent row; `unreferenced_by` / `referenced_by`, no row (some row) of
 * another table references it; each relation's `where` read over the related table's columns, and
 * the column lists of both sides checked to pair up.
 */

type Condition = (p: SqlParams) => string;

const pairs = (a: string[], b: string[]) => a.map((c, i) => [c, b[i]!] as const);

function sameLength(at: string, what: string, ours: string[], theirs: string[]): void {
  if (ours.length !== theirs.length) {
    throw configError(`${at}: expected as many parent_column columns as column columns (${what}: ${theirs.join(', ')} against ${ours.join(', ')})`);
  }
}

/**
 * `missing_parent`: the row's reference (non-null, unless `null_is_missing`) finds no row in the
 * parent table (that satisfies `where`). The reference is the rule table's `column`s, or `value`:
 * SQL value expressions over them.
 */
export async function missingParent(
  client: PoolClient,
  table: ResolvedTable,
  rel: NonNullable<RowRule['missing_parent']>,
  texts: RuleTexts,
  at: string,
  zones: TimestampSettings,
  parse: ParseText,
): Promise<Condition> {
  const parentCols = keyColumns(rel.parent_column);
  const refs: ((p: SqlParams) => string)[] =
    rel.value !== undefined
      ? rel.value.map((v, i) => {
          const render = texts.value(v, `${at}.value[${i}]`);
          return (p: SqlParams) => `(${render(p)})`;
        })
      : keyColumns(rel.column ?? []).map((r) => () => `t.${col(table, r)}`);
  sameLength(at, rel.table, rel.value ?? keyColumns(rel.column ?? []), parentCols);
  const parent = await resolveReadable(client, rel.table, parentCols, at);
  const holds = await relationWhere(client, parent, 'p', rel.where, at, zones, parse);
  return (p) => {
    // An expression is read as its parent column's type (an untyped 'advisory' needs one for IS NOT NULL).
    const values = refs.map((r, i) => (rel.value === undefined ? r(p) : `${r(p)}::${colType(parent, parentCols[i]!)}`));
    const on = [...pairs(values, parentCols).map(([v, pc]) => `p.${col(parent, pc)} = ${v}`), ...holds(p)];
    const notNull = rel.null_is_missing ? [] : values.map((v) => `${v} is not null`);
    return [...notNull, `not exists (select 1 from ${parent.sql} p where ${on.join(' and ')})`].join(' and ');
  };
}

/**
 * `unreferenced_by`: no row of each listed table (that satisfies its `where`) references the row;
 * `referenced_by` (`field`), the opposite: some row of each does.
 */
export async function unreferenced(
  client: PoolClient,
  key: RowKey,
  rels: NonNullable<RowRule['unreferenced_by']>,
  at: string,
  zones: TimestampSettings,
  parse: ParseText,
  field: 'unreferenced_by' | 'referenced_by' = 'unreferenced_by',
): Promise<Condition[]> {
  const out: Condition[] = [];
  const not = field === 'unreferenced_by' ? 'not ' : '';
  for (const [i, rel] of rels.entries()) {
    const where = `${at}.${field}[${i}]`;
    const refs = keyColumns(rel.column);
    const ours = rel.parent_column === undefined ? key.columns : keyColumns(rel.parent_column);
    sameLength(where, rel.table, refs, ours);
    const child = await resolveReadable(client, rel.table, refs, where);
    const holds = await relationWhere(client, child, 'c', rel.where, where, zones, parse);
    out.push((p) => {
      const on = [...pairs(refs, ours).map(([r, o]) => `c.${col(child, r)} = t.${col(key.table, o)}`), ...holds(p)];
      return `${not}exists (select 1 from ${child.sql} c where ${on.join(' and ')})`;
    });
  }
  return out;
}

/**
 * A relation's `where`: SQL text over the related table's columns (alias `c` or `p` inside the
 * NOT EXISTS), checked like the rule's own text: columns in the catalog, functions STABLE or
 * IMMUTABLE, naive timestamps in the task's zone.
 */
async function relationWhere(
  client: PoolClient,
  related: ResolvedTable,
  alias: string,
  text: string | undefined,
  at: string,
  zones: TimestampSettings,
  parse: ParseText,
): Promise<(p: SqlParams) => string[]> {
  if (text === undefined) return () => [];
  const texts = ruleTexts(related, at, alias, parse);
  const condition = texts.condition(text, `${at}.where`);
  await texts.checkFunctions(client);
  checkColumnZones(related, texts.valueColumns(), zones, `${at}.where`);
  return (p) => [condition(p)];
}
