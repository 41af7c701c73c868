import { z } from 'zod';
import { duration } from './duration';
import { defineTask } from './types';
import { column, keyColumn, safetyFields, sqlTaskFields, statusValue, table } from './fields';
import { workflowTarget } from './sync-trigger';
import type { RulesForm } from './presets';

export const extractionQueueOrphansConfig = z
  .object({
    table: table(),
    columns: z
      .object({ id: keyColumn().default('id'), status: column().default('status'), timestamp: column().default('updated_at') })
      .strict()
      .prefault({}),
    pending_status: statusValue().default('pending'),
    older_than: duration({ min: 1_000 }).prefault('30m'),
    /** Re-queue by status: set this status (or keep pending_status) and restart the row's clock. */
    requeue_status: statusValue().optional(),
    /** Or re-queue by starting this workflow per row (the row's clock is left alone). */
    workflow: workflowTarget().optional(),
    ...sqlTaskFields(100),
    max_rows_per_run: safetyFields.max_rows_per_run,
    max_fraction: safetyFields.max_fraction,
  })
  .strict()
  .refine((c) => !(c.requeue_status && c.workflow), { path: ['workflow'], message: 'expected either requeue_status or workflow, not both' });

export type ExtractionQueueOrphansConfig = z.output<typeof extractionQueueOrphansConfig>;

/**
 * The rule extraction.queue_orphans is (`caretaker rules`; its activity keeps its own path): rows in
 * pending_status older than older_than go to requeue_status with their clock restarted, or, with
 * `workflow`, get that workflow started per row (their clock left alone).
 */
export function extractionQueueOrphansRules(cfg: ExtractionQueueOrphansConfig): RulesForm {
  const c = cfg.columns;
  const picked = {
    name: `${cfg.pending_status} orphans`,
    table: cfg.table,
    key: c.id,
    match: { [c.status]: cfg.pending_status },
    older_than: { column: c.timestamp, age: cfg.older_than },
  };
  if (cfg.workflow) return { rules: [{ ...picked, start_workflow: cfg.workflow, counter: 'started' }] };
  return { rules: [{ ...picked, update: { [c.status]: { value: cfg.requeue_status ?? cfg.pending_status }, [c.timestamp]: 'now()' }, counter: 'requeued' }] };
}

export const extractionQueueOrphans = defineTask({
  type: 'extraction.queue_orphans',
  aliases: ['extraction.queue_pending'],
  description: 'A safety net for work queues: rows pending past a threshold are re-queued, by a status change or by starting a configured workflow per row.',
  workflow: 'extractionQueueOrphansWorkflow',
  engineActivity: 'queueOrphans',
  destructive: true,
  unplannable: (cfg) => (cfg.workflow ? { work: 'workflow_starts', because: 'with workflow' } : undefined),
  configSchema: extractionQueueOrphansConfig,
  rulesForm: extractionQueueOrphansRules,
});
