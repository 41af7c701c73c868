import type { ExtractionQueueOrphansConfig } from '../tasks/extraction-queue-orphans';
import { syncTriggerRules, type SyncTriggerConfig } from '../tasks/sync-trigger';
import type { TaskInput, TaskResult } from '../core/contract';
import type { ActivityDeps } from './engine/deps';
import { processRowSets } from './rows/row-sets';
import { type Requeue, requeueSet } from './rows/requeue';
import { runRules } from './rows/rules';
import { col, colType } from './sql/identifiers';
import { resolveKeyed } from './sql/keys';
import { millis, TimestampZones } from './sql/time';
import { whole } from '../core/column-refs';
import { exclusive } from './engine/task-lock';

/** Tasks that hand rows to other work: start a workflow per row, or put rows back in the queue. */
export function createDispatchActivities({ databases }: ActivityDeps) {
  return {
    /** `sync.trigger`: a workflow per config row with the given frequency, unless one is running; the rule it is (tasks/sync-trigger.ts), run as rows.rules runs it. */
    async triggerSyncs(input: TaskInput<SyncTriggerConfig>): Promise<TaskResult> {
      const cfg = input.config;
      const { rules, texts, fixed } = syncTriggerRules(cfg);
      return exclusive(databases, { ...input, config: { ...cfg, ...fixed } }, (session) => runRules(session, rules, cfg.timestamps, texts));
    },

    /** `extraction.queue_orphans`: rows pending too long are re-queued by status or by workflow. */
    async queueOrphans(input: TaskInput<ExtractionQueueOrphansConfig>): Promise<TaskResult> {
      const cfg = input.config;
      const c = cfg.columns;
      return exclusive(databases, input, async (session) => {
        const key = await resolveKeyed(session.client, cfg.table, c.id, [c.status, c.timestamp], `task ${input.taskId}: config`);
        const table = key.table;
        const zones = new TimestampZones(cfg.timestamps);
        // Re-queued without limit: by status (its clock restarted), or by starting the configured workflow per row.
        const requeue: Requeue['requeue'] = cfg.workflow
          ? {
              kind: 'start_workflow',
              workflowType: cfg.workflow.type,
              taskQueue: cfg.workflow.task_queue,
              idPrefix: cfg.workflow.id_prefix,
              executionTimeoutMs: cfg.workflow.execution_timeout,
            }
          : [
              [whole(c.status), cfg.requeue_status ?? cfg.pending_status],
              [whole(c.timestamp), { now: true }],
            ];
        return processRowSets(session, [
          requeueSet({
            label: `${cfg.pending_status} orphans`,
            key,
            where: (params) => [
              `t.${col(table, c.status)} = ${params.add(cfg.pending_status, colType(table, c.status))}`,
              zones.olderThan(table, c.timestamp, millis(params, cfg.older_than), params),
            ],
            retries: null,
            requeue,
            final: [],
            zones,
            counters: { requeued: cfg.workflow ? 'started' : 'requeued' },
          }),
        ]);
      });
    },
  };
}
