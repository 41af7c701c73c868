import { startWorkflowUnit, type StartAction } from '../start-workflows';
import { keysOnly, type RowActionStrategy } from './action';

/** Starts one workflow per row (id `<idPrefix><row id>`) outside any transaction; a row whose workflow is running is skipped (start-workflows.ts). */
export const startWorkflows: RowActionStrategy<StartAction> = {
  verb: 'start',
  counter: 'started',
  transactional: false,
  fraction: () => [],
  act: keysOnly,
  extraCounters: () => ['already_running'],
  unit: (set, action, ops) =>
    startWorkflowUnit(
      {
        label: set.label,
        counter: set.counter,
        table: set.key.table.name,
        read: async (client, after, limit) => (await ops.selectRows(client, set, { after, limit }, 'predict')).map((r) => r.key),
      },
      action,
    ),
};
