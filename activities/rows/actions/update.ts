import type { ColumnRef } from '../../../core/column-refs';
import { onTable } from '../../engine/failures';
import { assignmentList, type Assigned, changesRow } from '../../sql/expressions';
import type { TimestampZones } from '../../sql/time';
import { ownTarget, predicted, type RowActionStrategy } from './action';

/** Assignments to columns or JSON paths (`tasks/column-refs.ts`); `now` in a naive column is written in `zones`' zone. */
export interface UpdateAction {
  kind: 'update';
  assign: [ColumnRef, Assigned][];
  zones?: TimestampZones;
}

export const updateRows: RowActionStrategy<UpdateAction> = {
  verb: 'update',
  counter: 'updated',
  transactional: true,
  // A row that already holds the values is neither picked nor counted, run after run.
  narrow: (set, action, p) => changesRow(set.key.table, action.assign, p),
  fraction: (set, _action, own) => [ownTarget(set, 'update', own)],
  async act(b) {
    if (b.mode === 'predict') return { affected: await predicted(b), children: 0, childrenUpdated: 0 };
    const table = b.set.key.table;
    const assignments = assignmentList(table, b.action.assign, b.p, b.set.label, b.action.zones);
    return {
      affected: (await onTable(table.name, b.tx.query(`update ${table.sql} t set ${assignments.join(', ')} where ${b.cond}`, b.p.values))).rowCount ?? 0,
      children: 0,
      childrenUpdated: 0,
    };
  },
};
