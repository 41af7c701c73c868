import { z } from 'zod';
import { defineTask } from './types';
import { ONE_DAY_MS, childTables, column, keyColumn, safetyFields, sqlTaskFields, statusValue, table } from './fields';
import type { PresetRules } from './presets';

export const runsCleanupExpiredConfig = z
  .object({
    table: table(),
    columns: z
      .object({
        id: keyColumn().default('id'),
        status: column().default('status'),
        /** Age is measured from this timestamp (when the run finished). */
        timestamp: column().default('completed_at'),
      })
      .strict()
      .prefault({}),
    /** Only runs in these statuses are ever deleted. */
    terminal_statuses: z.array(statusValue()).min(1).default(['completed', 'failed', 'cancelled', 'timed_out']),
    retention_days: z.number().gt(0).default(30),
    /** Child rows (e.g. log events) deleted in the same transaction as their run. */
    children: childTables(),
    ...sqlTaskFields(1000),
    ...safetyFields,
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.retention_days * ONE_DAY_MS < ONE_DAY_MS && !cfg.allow_short_retention) {
      ctx.addIssue({
        code: 'custom',
        path: ['retention_days'],
        message: `expected retention_days >= 1 (below one day needs allow_short_retention: true), got ${cfg.retention_days}`,
      });
    }
  });

export type RunsCleanupExpiredConfig = z.output<typeof runsCleanupExpiredConfig>;

/** The rule runs.cleanup_expired is: runs in a terminal status, finished more than `retention_days` calendar days ago, deleted with their children. */
export function runsCleanupExpiredRules(cfg: RunsCleanupExpiredConfig): PresetRules {
  const c = cfg.columns;
  return {
    rules: [
      {
        name: 'expired runs',
        table: cfg.table,
        key: c.id,
        match: { [c.status]: cfg.terminal_statuses },
        older_than: { column: c.timestamp, days: cfg.retention_days },
        delete: { children: cfg.children },
      },
    ],
    texts: [],
  };
}

export const runsCleanupExpired = defineTask({
  type: 'runs.cleanup_expired',
  aliases: ['gc.cleanup'],
  description:
    'Deletes runs in a terminal status older than retention_days, with their child rows in the same transaction. Never touches a non-terminal run; never deletes files.',
  workflow: 'runsCleanupExpiredWorkflow',
  engineActivity: 'cleanupExpiredRuns',
  destructive: true,
  configSchema: runsCleanupExpiredConfig,
  preset: runsCleanupExpiredRules,
});
