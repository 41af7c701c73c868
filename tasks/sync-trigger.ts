import { z } from 'zod';
import { duration } from './duration';
import { defineTask } from './types';
import { column, keyColumn, rowFilter, sqlTaskFields, table } from './fields';
import type { PresetRules } from './presets';

/** A workflow started per row; its id is `id_prefix` + the row id, so one row never has two running. */
export const workflowTarget = () =>
  z
    .object({
      type: z.string().min(1),
      task_queue: z.string().min(1),
      id_prefix: z.string().min(1),
      /** Optional cap on each started run (Temporal workflowExecutionTimeout). */
      execution_timeout: duration({ min: 1_000 }).optional(),
    })
    .strict();

export const syncTriggerConfig = z
  .object({
    /** The table of sync configurations (e.g. one row per data source to sync). */
    table: table(),
    id_column: keyColumn().default('id'),
    /** Rows with this frequency get a run, e.g. "hourly". */
    frequency: z.string().min(1).optional(),
    frequency_column: column().default('frequency'),
    /** More equality filters, e.g. `{ enabled: true, archived: false }`. */
    where: rowFilter(),
    workflow: workflowTarget(),
    ...sqlTaskFields(100),
  })
  .strict();

export type SyncTriggerConfig = z.output<typeof syncTriggerConfig>;

/**
 * The rule sync.trigger is: a workflow per row with the frequency (and the `where` equalities),
 * unless one is running for the row; every matching row, so no max_rows_per_run or max_fraction.
 */
export function syncTriggerRules(cfg: SyncTriggerConfig): Required<PresetRules> {
  const match = cfg.frequency === undefined ? cfg.where : { ...cfg.where, [cfg.frequency_column]: cfg.frequency };
  return {
    rules: [{ name: cfg.frequency ?? cfg.table, table: cfg.table, key: cfg.id_column, match, start_workflow: cfg.workflow }],
    texts: [],
    fixed: { max_rows_per_run: null, max_fraction: 1 },
  };
}

export const syncTrigger = defineTask({
  type: 'sync.trigger',
  aliases: ['sharepoint.trigger_sync', 'sharepoint.scheduled_sync', 'sam.trigger_pull', 'sam.scheduled_pull', 'forecast.trigger_pull'],
  description: 'Starts a configured workflow for each row of a config table with the given frequency, unless one is already running for that row.',
  workflow: 'syncTriggerWorkflow',
  engineActivity: 'triggerSyncs',
  destructive: false,
  unplannable: () => ({ work: 'workflow_starts' }),
  configSchema: syncTriggerConfig,
  preset: syncTriggerRules,
});
