import type { ActivityDeps } from '../../activities/deps';
import { processRowSets } from '../../activities/row-sets';
import { col, resolveTable } from '../../activities/sql/identifiers';
import { exclusive } from '../../activities/task-lock';
import type { TaskInput, TaskResult } from '../../workflows/types';
import type { QueueReleaseLeasesConfig } from './task';

/**
 * 2. The activity. Built on Caretaker's row-set engine, it gets the task lock, catalog-checked
 * names, batches with heartbeats and resume, dry run, max_fraction and max_rows_per_run for free.
 */
export function createQueueActivities({ databases }: ActivityDeps) {
  return {
    async releaseExpiredLeases(input: TaskInput<QueueReleaseLeasesConfig>): Promise<TaskResult> {
      const cfg = input.config;
      const c = cfg.columns;
      return exclusive(databases, input, async (client) => {
        const table = await resolveTable(client, cfg.table, [c.id, c.locked_by, c.locked_at], `task ${input.taskId}: config`);
        return processRowSets(client, input, [
          {
            label: 'expired leases',
            table,
            idColumn: c.id,
            counter: 'released',
            action: { kind: 'update', sets: [{ column: c.locked_by, value: { value: null } }, { column: c.locked_at, value: { value: null } }] },
            where: (params) => [`t.${col(table, c.locked_at)} < now() - ${params.add(cfg.lease, 'float8')} * interval '1 millisecond'`],
          },
        ]);
      });
    },
  };
}
