import type { RowBranch } from '../row-sets';
import { casesUnit } from '../row-cases';
import { keysOnly, type RowActionStrategy } from './action';
import { deleteRows } from './delete';

/** Conditional outcome (row-cases.ts): each row takes the action of the first branch whose condition holds. */
export interface CasesAction {
  kind: 'cases';
  branches: RowBranch[];
}

export const rowCases: RowActionStrategy<CasesAction> = {
  verb: 'change',
  counter: 'matched',
  transactional: true,
  fraction: () => [],
  act: keysOnly,
  setCounters: (action) => action.branches.map((b) => b.counter),
  extraCounters: (action) => action.branches.flatMap((b) => (b.action.kind === 'delete' ? (deleteRows.extraCounters?.(b.action) ?? []) : [])),
  unit: (set, action, ops) => casesUnit(set, action.branches, ops),
};
