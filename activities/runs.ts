import type { PoolClient } from 'pg';
import { formatDuration } from '../config/duration';
import type { RunsCleanupStaleConfig } from '../tasks/runs-cleanup-stale';
import type { RunsCleanupExpiredConfig } from '../tasks/runs-cleanup-expired';
import type { TaskInput, TaskResult } from '../workflows/types';
import { runBatches } from './batch-loop';
import { processRowSets } from './row-sets';
import { resolveChildren } from './retention';
import type { ActivityDeps } from './deps';
import { col, colType, resolveTable, type ResolvedTable } from './sql/identifiers';
import { SqlParams } from './sql/params';
import { exclusive } from './task-lock';

/** A run the candidate query found stale. */
export interface StaleRun {
  id: string;
  status: string;
  job_type: string | null;
  retry_count: number | null;
  elapsed_ms: number;
  threshold_ms: number;
}

export interface StaleDecision {
  id: string;
  action: 'requeue' | 'finalize';
  newStatus: string;
  newRetryCount: number | null;
  message: string | null;
}

/** What happens to one stale run: re-queue while retries remain, else its final status with a reason. */
export function decideStaleRun(run: StaleRun, cfg: RunsCleanupStaleConfig, taskId: string): StaleDecision {
  const retries = run.retry_count ?? 0;
  const age = `${run.status} for ${formatDuration(Math.round(run.elapsed_ms / 60_000) * 60_000)} (limit ${formatDuration(run.threshold_ms)})`;
  if (cfg.columns.retry_count !== null && retries < cfg.max_retries) {
    return { id: run.id, action: 'requeue', newStatus: cfg.requeue_status, newRetryCount: retries + 1, message: null };
  }
  const finalStatus = cfg.final_status[run.status];
  if (finalStatus === undefined) throw new Error(`no final status for "${run.status}" (the config schema requires one)`);
  const retryNote = cfg.columns.retry_count !== null ? `; retries exhausted (${retries}/${cfg.max_retries})` : '';
  return {
    id: run.id,
    action: 'finalize',
    newStatus: finalStatus,
    newRetryCount: run.retry_count,
    message: `Stale: ${age}${retryNote}; marked ${finalStatus} by Caretaker task ${taskId}`,
  };
}

/** Columns of the run table that the task reads, in the order it checks them. */
function staleColumns(cfg: RunsCleanupStaleConfig): (string | null)[] {
  const c = cfg.columns;
  return [c.id, c.status, c.timestamp, c.retry_count, c.error, c.job_type, c.heartbeat];
}

/**
 * Stale candidates after `cursor`, in id order. The same statement serves the dry run and the real
 * run (which adds the row lock), so the preview lists exactly the rows a real run would change.
 */
function selectStale(t: ResolvedTable, cfg: RunsCleanupStaleConfig, cursor: string | null, lockRows: boolean) {
  const c = cfg.columns;
  const p = new SqlParams();
  const id = col(t, c.id);
  const statuses = Object.keys(cfg.thresholds);
  const jobTypes = Object.keys(cfg.job_type_thresholds);
  const jobType = c.job_type ? `t.${col(t, c.job_type)}::text` : 'null::text';
  const limit = c.job_type ? 'coalesce(jt.ms, st.ms)' : 'st.ms';
  const conds = [`t.${col(t, c.timestamp)} < now() - ${limit} * interval '1 millisecond'`];
  if (c.heartbeat) {
    const hb = `t.${col(t, c.heartbeat)}`;
    conds.push(`(${hb} is null or ${hb} < now() - ${p.add(cfg.heartbeat_timeout, 'float8')} * interval '1 millisecond')`);
  }
  if (cursor !== null) conds.push(`t.${id} > ${p.add(cursor, colType(t, c.id))}`);
  const text = `
    with st(status, ms) as (select * from unnest(${p.add(statuses, 'text[]')}, ${p.add(statuses.map((s) => cfg.thresholds[s]), 'float8[]')})),
         jt(job_type, ms) as (select * from unnest(${p.add(jobTypes, 'text[]')}, ${p.add(jobTypes.map((j) => cfg.job_type_thresholds[j]), 'float8[]')}))
    select t.${id}::text as id,
           t.${col(t, c.status)}::text as status,
           ${jobType} as job_type,
           ${c.retry_count ? `t.${col(t, c.retry_count)}::int` : 'null::int'} as retry_count,
           extract(epoch from now() - t.${col(t, c.timestamp)}) * 1000 as elapsed_ms,
           ${limit} as threshold_ms
    from ${t.sql} t
    join st on st.status = t.${col(t, c.status)}::text
    ${c.job_type ? `left join jt on jt.job_type = ${jobType}` : ''}
    where ${conds.join(' and ')}
    order by t.${id}
    limit ${p.add(cfg.batch_size, 'int')}
    ${lockRows ? 'for update of t skip locked' : ''}`;
  return { text, values: p.values };
}

function updateStaleSql(t: ResolvedTable, cfg: RunsCleanupStaleConfig): string {
  const c = cfg.columns;
  const sets = [`${col(t, c.status)} = u.new_status`, `${col(t, c.timestamp)} = case when u.requeue then now() else t.${col(t, c.timestamp)} end`];
  if (c.retry_count) sets.push(`${col(t, c.retry_count)} = u.new_retry`);
  if (c.error) sets.push(`${col(t, c.error)} = case when u.requeue then t.${col(t, c.error)} else u.message end`);
  return `
    update ${t.sql} t set ${sets.join(', ')}
    from unnest($1::text[], $2::text[], $3::int[], $4::bool[], $5::text[]) as u(id, new_status, new_retry, requeue, message)
    where t.${col(t, c.id)} = u.id::${colType(t, c.id)}`;
}

export function createRunsActivities({ databases }: ActivityDeps) {
  return {
    /** `runs.cleanup_stale`: re-queue or finalize runs stuck in a non-terminal status. */
    async cleanupStaleRuns(input: TaskInput<RunsCleanupStaleConfig>): Promise<TaskResult> {
      const cfg = input.config;
      return exclusive(databases, input, async (client) => {
        const table = await resolveTable(client, cfg.table, staleColumns(cfg), `task ${input.taskId}: config`);
        const update = updateStaleSql(table, cfg);
        return runBatches<string | null>({
          client,
          input,
          initialCursor: null,
          counters: ['stale', 'requeued', 'finalized'],
          step: async (tx: PoolClient, cursor, summary) => {
            const q = selectStale(table, cfg, cursor, !cfg.dry_run);
            const { rows } = await tx.query<StaleRun>(q.text, q.values);
            const decisions = rows.map((run) => decideStaleRun(run, cfg, input.taskId));
            if (!cfg.dry_run && decisions.length > 0) {
              await tx.query(update, [
                decisions.map((d) => d.id),
                decisions.map((d) => d.newStatus),
                decisions.map((d) => d.newRetryCount),
                decisions.map((d) => d.action === 'requeue'),
                decisions.map((d) => d.message),
              ]);
            }
            rows.forEach((run, i) => {
              const d = decisions[i]!;
              summary.count('stale');
              summary.count(d.action === 'requeue' ? 'requeued' : 'finalized');
              summary.detail({
                id: run.id,
                job_type: run.job_type,
                status: run.status,
                action: d.action === 'requeue' ? 'requeued' : 'finalized',
                new_status: d.newStatus,
                retry_count: d.newRetryCount,
                elapsed_minutes: Math.round(run.elapsed_ms / 6_000) / 10,
                threshold_minutes: Math.round(run.threshold_ms / 6_000) / 10,
              });
            });
            const last = rows.at(-1);
            return { cursor: last ? last.id : cursor, done: rows.length < cfg.batch_size };
          },
        });
      });
    },

    /** `runs.cleanup_expired`: delete terminal runs past retention, children first, batch by batch. */
    async cleanupExpiredRuns(input: TaskInput<RunsCleanupExpiredConfig>): Promise<TaskResult> {
      const cfg = input.config;
      return exclusive(databases, input, async (client) => {
        const where = `task ${input.taskId}: config`;
        const c = cfg.columns;
        const table = await resolveTable(client, cfg.table, [c.id, c.status, c.timestamp], where);
        const children = await resolveChildren(client, cfg.children, where);
        return processRowSets(client, input, [
          {
            label: 'expired runs',
            table,
            idColumn: c.id,
            action: { kind: 'delete', children },
            where: (params) => [
              `t.${col(table, c.status)}::text = any(${params.add(cfg.terminal_statuses, 'text[]')})`,
              `t.${col(table, c.timestamp)} < now() - ${params.add(cfg.retention_days, 'float8')} * interval '1 day'`,
            ],
          },
        ]);
      });
    },
  };
}
