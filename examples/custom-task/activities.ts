import type { ActivityDeps } from '../../activities/engine/deps';
import { processRowSets } from '../../activities/rows/row-sets';
import { resolveKeyed } from '../../activities/sql/keys';
import { col } from '../../activities/sql/identifiers';
import { whole } from '../../core/column-refs';
import { exclusive } from '../../activities/engine/task-lock';
import type { TaskInput, TaskResult } from '../../core/contract';
import type { QueueReleaseLeasesConfig } from './task';

/**
 * 2. The activity. Built on Caretaker's row sets and batch engine, it gets the task lock,
 * catalog-checked names and key, batches recorded in the ledger (exact resume), the dry run,
 * max_fraction and max_rows_per_run for free.
 */
export function createQueueActivities({ databases }: ActivityDeps) {
  return {
    async releaseExpiredLeases(input: TaskInput<QueueReleaseLeasesConfig>): Promise<TaskResult> {
      const cfg = input.config;
      const c = cfg.columns;
      return exclusive(databases, input, async (session) => {
        const key = await resolveKeyed(session.client, cfg.table, c.id, [c.locked_by, c.locked_at], `task ${input.taskId}: config`);
        const table = key.table;
        return processRowSets(session, [
          {
            label: 'expired leases',
            key,
            counter: 'released',
            action: {
              kind: 'update',
              assign: [
                [whole(c.locked_by), null],
                [whole(c.locked_at), null],
              ],
            },
            where: (params) => [`t.${col(table, c.locked_at)} < now() - ${params.add(cfg.lease, 'float8')} * interval '1 millisecond'`],
          },
        ]);
      });
    },
  };
}
