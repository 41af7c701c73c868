import { keysOnly, type RowActionStrategy } from './action';

/** Changes nothing: the rows are counted and listed. */
export interface ReportAction {
  kind: 'report';
}

export const reportRows: RowActionStrategy<ReportAction> = {
  verb: 'report',
  counter: 'reported',
  transactional: true,
  fraction: () => [],
  act: keysOnly,
};
