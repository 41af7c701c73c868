import { onTable } from '../../engine/failures';
import type { SqlParams } from '../../sql/params';
import { col, type ResolvedTable } from '../../sql/identifiers';
import { ownTarget, predicted, type RowActionStrategy } from './action';

/** Rows moved to `archive`: `columns` copied, `values` computed over the row (and the `join`ed row its values read). */
export interface ArchiveAction {
  kind: 'archive';
  archive: ResolvedTable;
  columns: string[];
  values?: { column: string; value: (p: SqlParams) => string }[];
  join?: { sql: string; on: string };
}

export const archiveRows: RowActionStrategy<ArchiveAction> = {
  verb: 'archive',
  counter: 'archived',
  transactional: true,
  fraction: (set, _action, own) => [ownTarget(set, 'archive', own)],
  async act(b) {
    if (b.mode === 'predict') return { affected: await predicted(b), children: 0, childrenUpdated: 0 };
    const { action, p } = b;
    const table = b.set.key.table;
    const copied = action.columns.map((c) => col(table, c));
    const values = action.values ?? [];
    const into = [...copied, ...values.map((v) => col(action.archive, v.column))].join(', ');
    const select = [...copied.map((c) => `t.${c}`), ...values.map((v) => v.value(p))].join(', ');
    const join = action.join ? ` left join ${action.join.sql} on ${action.join.on}` : '';
    const res = await onTable(
      table.name,
      b.tx.query(
        `with moved as (delete from ${table.sql} t where ${b.cond} returning t.*) insert into ${action.archive.sql} (${into}) select ${select} from moved t${join}`,
        p.values,
      ),
    );
    return { affected: res.rowCount ?? 0, children: 0, childrenUpdated: 0 };
  },
};
