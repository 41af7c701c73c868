import type { StatusResetConfig } from '../tasks/status-reset';
import type { TaskInput, TaskResult } from '../core/contract';
import type { ActivityDeps } from './deps';
import { processRowSets } from './row-sets';
import { col, colType, resolveTable } from './sql/identifiers';
import { resolveKeyed } from './sql/keys';
import { millis, TimestampZones } from './sql/time';
import { whole } from '../core/column-refs';
import { exclusive } from './task-lock';

export function createStatusActivities({ databases }: ActivityDeps) {
  return {
    /** `status.reset`: rows stuck in a status whose job is gone or not running are reset. */
    async resetStuckStatus(input: TaskInput<StatusResetConfig>): Promise<TaskResult> {
      const cfg = input.config;
      return exclusive(databases, input, async (session) => {
        const c = cfg.columns;
        const key = await resolveKeyed(session.client, cfg.table, c.id, [c.status, c.job, c.timestamp], `task ${input.taskId}: config`);
        const table = key.table;
        const zones = new TimestampZones(cfg.timestamps);
        const jobs = await resolveTable(session.client, cfg.jobs.table, [cfg.jobs.id_column, cfg.jobs.status_column], `task ${input.taskId}: config.jobs`);
        return processRowSets(session, [
          {
            label: `${cfg.from_status} -> ${cfg.to_status}`,
            key,
            action: { kind: 'update', assign: [[whole(c.status), cfg.to_status]] },
            counter: 'reset',
            where: (params) => {
              const conds = [
                `t.${col(table, c.status)} = ${params.add(cfg.from_status, colType(table, c.status))}`,
                `not exists (select 1 from ${jobs.sql} j
                   where j.${col(jobs, cfg.jobs.id_column)} = t.${col(table, c.job)}
                     and j.${col(jobs, cfg.jobs.status_column)}::text = any(${params.add(cfg.jobs.running_statuses, 'text[]')}))`,
              ];
              if (c.timestamp) conds.push(zones.olderThan(table, c.timestamp, millis(params, cfg.min_age), params));
              return conds;
            },
          },
        ]);
      });
    },
  };
}
