import type { PoolClient } from 'pg';
import type { RowRule, RuleValue } from '../../tasks/rows-rules';
import { configError } from '../../core/errors';
import type { RuleTexts } from './rule-text';
import type { RowAction } from './row-sets';
import { col, colType, resolveTable, type ResolvedTable } from '../sql/identifiers';
import { keyColumns, resolveKeyed } from '../sql/keys';
import type { SqlParams } from '../sql/params';
import type { RelatedTable } from '../sql/sql-text';

/**
 * A rule's `parent`: the row its reference finds in another table by a unique key, readable as
 * `parent.<column>` in the rule's `where` and `archive.values` (Solid Queue fails a pruned worker's
 * claims with the process's last heartbeat in the error). The rule's `where` is evaluated with the
 * parent row in scope; a row whose parent another transaction holds locked is skipped, and the
 * parent row stays share-locked until the batch commits, so it cannot change under the rule.
 */
export interface RuleParent {
  related: RelatedTable;
  /** `<parent>.<parent_column> = t.<column>`, the join of a rule row and its parent (alias `t` the rule's row). */
  on: string;
}

const ALIAS = 'parent_row';

export async function resolveParent(client: PoolClient, table: ResolvedTable, rel: NonNullable<RowRule['parent']>, at: string): Promise<RuleParent> {
  const refs = keyColumns(rel.column);
  const parentColumns = keyColumns(rel.parent_column);
  if (refs.length !== parentColumns.length) throw configError(`${at}: expected as many parent_column columns as column columns (${refs.length})`);
  const missing = refs.find((r) => !table.columns.has(r));
  if (missing !== undefined) throw configError(`${at}: column "${missing}" does not exist in table ${table.name} (columns: ${table.allColumns.join(', ')})`);
  // The parent must be one row: its columns are read into the rule's values.
  const key = await resolveKeyed(client, rel.table, parentColumns, [], at, 'parent_column');
  const on = parentColumns.map((pc, i) => `${ALIAS}.${col(key.table, pc)} = t.${col(table, refs[i]!)}`).join(' and ');
  return { related: { qualifier: 'parent', table: key.table, alias: ALIAS }, on };
}

/** The rows that have a parent (and, when given, whose `condition`, which may read the parent, holds). */
export function withParent(parent: RuleParent, condition?: (p: SqlParams) => string): (p: SqlParams) => string {
  return (p) => `exists (select 1 from ${parent.related.table.sql} ${ALIAS} where ${parent.on}${condition ? ` and ${condition(p)}` : ''})`;
}

/** The same, share-locking the parent row and skipping a row whose parent another transaction holds (not in a read-only transaction). */
export function lockedParent(parent: RuleParent): (p: SqlParams) => string {
  return () => `exists (select 1 from ${parent.related.table.sql} ${ALIAS} where ${parent.on} for share of ${ALIAS} skip locked)`;
}

/** An archive's `values`: each archive column's value, literals as parameters of its type, strings as SQL text over the row (and its parent). */
function archiveValues(archive: ResolvedTable, values: Record<string, RuleValue>, texts: RuleTexts, at: string) {
  return Object.entries(values).map(([column, value]) => {
    const type = colType(archive, column);
    let render: (p: SqlParams) => string;
    if (value === null) render = () => 'NULL';
    else if (typeof value === 'string') render = texts.value(value, `${at}.${column}`);
    else {
      const literal = typeof value === 'object' ? value.value : value;
      render = (p) => (literal === null ? 'NULL' : p.add(String(literal), type));
    }
    return { column, value: (p: SqlParams) => `(${render(p)})::${type}` };
  });
}

/**
 * The archive table's columns the source also has (or the ones named, each checked in both), less
 * those `values` fills; `values` checked in the archive table and parsed over the row and its parent.
 */
export async function archiveAction(
  client: PoolClient,
  table: ResolvedTable,
  cfg: NonNullable<RowRule['archive']>,
  texts: RuleTexts,
  parent: RuleParent | undefined,
  at: string,
): Promise<RowAction> {
  const filled = Object.keys(cfg.values ?? {});
  const archive = await resolveTable(client, cfg.table, [...(cfg.columns ?? []), ...filled], `${at}.archive`);
  if (cfg.columns) await resolveTable(client, table.name, cfg.columns, `${at}.archive.columns`);
  const columns = (cfg.columns ?? archive.allColumns.filter((c) => table.columns.has(c))).filter((c) => !filled.includes(c));
  if (columns.length === 0 && filled.length === 0) {
    throw configError(`${at}.archive: ${archive.name} has no column of ${table.name}; name the columns to copy in archive.columns`);
  }
  const values = cfg.values ? archiveValues(archive, cfg.values, texts, `${at}.archive.values`) : [];
  return { kind: 'archive', archive, columns, values, ...(parent && { join: { sql: `${parent.related.table.sql} ${ALIAS}`, on: parent.on } }) };
}
