import { z } from 'zod';
import { duration } from './duration';
import { defineTask } from './types';
import { column, keyColumn, safetyFields, sqlTaskFields, statusValue, table } from './fields';
import type { PresetRules } from './presets';
import { textIn } from './sql-build';

export const statusResetConfig = z
  .object({
    /** The table whose rows get stuck, e.g. plans that wait for an analysis job. */
    table: table(),
    columns: z
      .object({
        id: keyColumn().default('id'),
        status: column().default('status'),
        /** The reference to the job that should be working on the row. */
        job: column().default('job_id'),
        /** Optional: only rows last changed longer ago than `min_age` (avoids racing a job that is starting). */
        timestamp: column().nullable().default(null),
      })
      .strict()
      .prefault({}),
    from_status: statusValue(),
    to_status: statusValue(),
    min_age: duration().prefault('0s'),
    /** The job table; a row is stuck when its job is missing or not in one of `running_statuses`. */
    jobs: z
      .object({
        table: table(),
        id_column: column().default('id'),
        status_column: column().default('status'),
        running_statuses: z.array(statusValue()).min(1).default(['pending', 'running']),
      })
      .strict(),
    ...sqlTaskFields(500),
    max_rows_per_run: safetyFields.max_rows_per_run,
    max_fraction: safetyFields.max_fraction,
  })
  .strict()
  .refine((c) => c.from_status !== c.to_status, { path: ['to_status'], message: 'expected to_status to differ from from_status' });

export type StatusResetConfig = z.output<typeof statusResetConfig>;

/**
 * The rule status.reset is: rows in `from_status` (old enough) whose job is missing, not running,
 * or not set go to `to_status`. "Running" compares the job's status as text, as it always has (a
 * status an ENUM lacks matches nothing), so it is built SQL text, not parsed.
 */
export function statusResetRules(cfg: StatusResetConfig): PresetRules {
  const c = cfg.columns;
  const running = textIn(cfg.jobs.status_column, cfg.jobs.running_statuses);
  return {
    rules: [
      {
        name: `${cfg.from_status} -> ${cfg.to_status}`,
        table: cfg.table,
        key: c.id,
        match: { [c.status]: cfg.from_status },
        ...(c.timestamp !== null && { older_than: { column: c.timestamp, age: cfg.min_age } }),
        missing_parent: { table: cfg.jobs.table, column: c.job, parent_column: cfg.jobs.id_column, where: running.source, null_is_missing: true },
        update: { [c.status]: { value: cfg.to_status } },
        counter: 'reset',
      },
    ],
    texts: [running],
  };
}

export const statusReset = defineTask({
  type: 'status.reset',
  aliases: [],
  description: 'Rows in from_status whose linked job is missing or not running go back to to_status (e.g. pending plans back to draft).',
  workflow: 'statusResetWorkflow',
  engineActivity: 'resetStuckStatus',
  destructive: true,
  configSchema: statusResetConfig,
  preset: statusResetRules,
});
