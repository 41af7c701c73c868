import type { PoolClient } from 'pg';
import type { KeyColumn } from '../../core/column-refs';
import { configError } from '../../core/errors';
import type { ChildTable } from './child-locks';
import { resolveTable } from '../sql/identifiers';
import { keyColumns, type RowKey } from '../sql/keys';

const FOREIGN_KEYS = `
  select array(select a.attname::text from unnest(c.conkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i) as columns,
         array(select a.attname::text from unnest(c.confkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i) as refs
  from pg_constraint c where c.contype = 'f' and c.conrelid = $1 and c.confrelid = $2`;

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Resolves the child tables a delete reaches, each checked to reference the parent's key (or its
 * `parent_column`) through a foreign key (the same columns, in order), unless the config says
 * `no_foreign_key: true`.
 */
export async function resolveChildren(
  client: PoolClient,
  parent: RowKey,
  children: readonly { table: string; column: KeyColumn; parent_column?: KeyColumn | undefined; no_foreign_key: boolean }[],
  where: string,
): Promise<ChildTable[]> {
  const resolved: ChildTable[] = [];
  for (const [i, c] of children.entries()) {
    const at = `${where}: children[${i}]`;
    const columns = keyColumns(c.column);
    const table = await resolveTable(client, c.table, columns, at);
    const parentColumns = c.parent_column === undefined ? parent.columns : keyColumns(c.parent_column);
    const named = c.parent_column === undefined ? 'key' : 'parent_column';
    const missing = parentColumns.find((pc) => !parent.table.columns.has(pc));
    if (missing !== undefined) {
      throw configError(
        `${at}.parent_column: column "${missing}" does not exist in table ${parent.table.name} (columns: ${parent.table.allColumns.join(', ')})`,
      );
    }
    if (columns.length !== parentColumns.length) {
      throw configError(
        `${at}: expected ${parentColumns.length} column(s) referencing ${parent.table.name} (its ${named}: ${parentColumns.join(', ')}), got ${columns.join(', ')}`,
      );
    }
    if (!c.no_foreign_key) {
      const fks = (await client.query<{ columns: string[]; refs: string[] }>(FOREIGN_KEYS, [table.oid, parent.table.oid])).rows;
      if (!fks.some((fk) => same(fk.columns, columns) && same(fk.refs, parentColumns))) {
        throw configError(
          `${at}: ${table.name} (${columns.join(', ')}) has no foreign key referencing ${parent.table.name} (${parentColumns.join(', ')}); ` +
            'child rows are deleted by a column that references the parent: declare the foreign key, or set no_foreign_key: true if the reference is not declared',
        );
      }
    }
    resolved.push({ table, columns, ...(c.parent_column !== undefined && { parentColumns }) });
  }
  return resolved;
}
