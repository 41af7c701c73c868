import type { RunsCleanupStaleConfig } from '../tasks/runs-cleanup-stale';
import { runsCleanupExpiredRules, type RunsCleanupExpiredConfig } from '../tasks/runs-cleanup-expired';
import type { TaskInput, TaskResult } from '../core/contract';
import { rowSetUnit, type RowSet } from './rows/row-sets';
import { runRules } from './rows/rules';
import { runUnits } from './engine/engine';
import type { ActivityDeps } from './engine/deps';
import { col, colType } from './sql/identifiers';
import { resolveKeyed, type RowKey } from './sql/keys';
import type { SqlParams } from './sql/params';
import { type Assigned, readAs, readText } from './sql/expressions';
import { millis, TimestampZones } from './sql/time';
import { durationSql } from '../core/duration';
import { type AssignedValue, type ColumnRef, ref, whole } from '../core/column-refs';
import { exclusive } from './engine/task-lock';
import { type FinalOutcome, requeueSet } from './rows/requeue';

/** Columns of the run table that the task reads or writes, besides its key. */
function staleColumns(cfg: RunsCleanupStaleConfig): (string | null)[] {
  const c = cfg.columns;
  const assigned = [cfg.requeue_set, ...Object.values(cfg.final_set)].flatMap((a) => Object.keys(a).map((target) => ref(target).column));
  const refs = [c.retry_count, c.error, c.job_type].map((r) => (r === null ? null : ref(r).column));
  return [c.status, c.timestamp, c.heartbeat, c.finished_at, ...refs, ...Object.values(cfg.age_columns), ...assigned];
}

/** The column a run's age is measured from, by status. */
const ageColumn = (cfg: RunsCleanupStaleConfig, status: string) => cfg.age_columns[status] ?? cfg.columns.timestamp;

/** A run's threshold by its job type (`job_type_thresholds`), or NULL. */
function jobTypeThreshold(key: RowKey, cfg: RunsCleanupStaleConfig, p: SqlParams): string {
  const jobType = cfg.columns.job_type;
  if (jobType === null) return 'null';
  const types = Object.keys(cfg.job_type_thresholds);
  const ms = types.map((j) => cfg.job_type_thresholds[j]);
  return `(select ms from unnest(${p.add(types, 'text[]')}, ${p.add(ms, 'float8[]')}) jt(job_type, ms) where jt.job_type = ${readText(key.table, ref(jobType), p)})`;
}

/**
 * A run is stale when it is in a status with a threshold and its age column (per status) is older
 * than the threshold (its job type's, if it has one), and, with a liveness column, its heartbeat
 * is old too. The same conditions pick the batch, guard max_fraction and are re-applied by the update.
 */
function staleConditions(key: RowKey, cfg: RunsCleanupStaleConfig, zones: TimestampZones, p: SqlParams): string[] {
  const c = cfg.columns;
  const t = key.table;
  const statuses = Object.keys(cfg.thresholds);
  const status = `t.${col(t, c.status)}`;
  const byJob = jobTypeThreshold(key, cfg, p);
  // Cast to the column's type: a status an ENUM does not have fails loudly instead of matching nothing.
  const type = colType(t, c.status);
  const perStatus = statuses.map(
    (s) =>
      `(${status} = ${p.add(s, type)} and ${zones.olderThan(t, ageColumn(cfg, s), `coalesce(${byJob}, ${p.add(cfg.thresholds[s], 'float8')}) * interval '1 millisecond'`, p)})`,
  );
  const conds = [`${status} = any(${p.add(statuses, `${type}[]`)})`, `(${perStatus.join(' or ')})`];
  if (c.heartbeat) {
    const hb = `t.${col(t, c.heartbeat)}`;
    conds.push(`(${hb} is null or ${zones.olderThan(t, c.heartbeat, millis(p, cfg.heartbeat_timeout), p)})`);
  }
  return conds;
}

/** A stale run's threshold in milliseconds: its job type's, else its status's. */
function thresholdMs(key: RowKey, cfg: RunsCleanupStaleConfig, p: SqlParams): string {
  const status = `t.${col(key.table, cfg.columns.status)}::text`;
  const byStatus = Object.entries(cfg.thresholds).map(([s, ms]) => `when ${p.add(s, 'text')} then ${p.add(ms, 'float8')}`);
  return `coalesce(${jobTypeThreshold(key, cfg, p)}, case ${status} ${byStatus.join(' ')} end)`;
}

/** How long a stale run has been in its status, in milliseconds (from its status's age column). */
function elapsedMs(key: RowKey, cfg: RunsCleanupStaleConfig, zones: TimestampZones, p: SqlParams): string {
  const t = key.table;
  const since = Object.keys(cfg.thresholds).map((s) => `when ${p.add(s, 'text')} then ${zones.instant(t, ageColumn(cfg, s), p)}`);
  return `extract(epoch from now() - case t.${col(t, cfg.columns.status)}::text ${since.join(' ')} end) * 1000`;
}

/**
 * The reason a run is given up on, written by its final outcome: "Stale: running for 3h (limit 2h);
 * retries exhausted (3/3); marked failed by Caretaker task nightly" (the age to the minute).
 */
function staleMessage(key: RowKey, cfg: RunsCleanupStaleConfig, zones: TimestampZones, finalStatus: string, taskId: string, p: SqlParams): string {
  const c = cfg.columns;
  const text = (v: string) => p.add(v, 'text');
  const age = durationSql(`round((${elapsedMs(key, cfg, zones, p)}) / 60000) * 60000`, 'm');
  const retries =
    c.retry_count === null
      ? ''
      : ` || ${text('; retries exhausted (')} || coalesce(${readAs(key.table, ref(c.retry_count), 'int', p)}, 0)::text || ${text(`/${cfg.max_retries})`)}`;
  return (
    `${text('Stale: ')} || t.${col(key.table, c.status)}::text || ${text(' for ')} || ${age} || ${text(' (limit ')} || ` +
    `${durationSql(thresholdMs(key, cfg, p))} || ${text(')')}${retries} || ${text(`; marked ${finalStatus} by Caretaker task ${taskId}`)}`
  );
}

const entries = (set: Record<string, AssignedValue>): [ColumnRef, Assigned][] => Object.entries(set).map(([target, value]) => [ref(target), value]);

/** A count the detail shows as a number, or null (what `retry_count` holds when it is not a number). */
const countOrNull = (text: string | null) => (text !== null && Number.isFinite(Number(text)) ? Number(text) : null);

/**
 * Stale runs as a re-queue (requeue.ts): while the retry counter is below max_retries a run goes back
 * to requeue_status (its age column and the counter reset and incremented, then requeue_set);
 * else each run's status gives its final status, with the counter as read (so a missing JSON counter
 * is written as null), the reason in `error`, now() in `finished_at`, then `final_set`.
 */
export function staleRequeue(key: RowKey, cfg: RunsCleanupStaleConfig, taskId: string): RowSet {
  const c = cfg.columns;
  const t = key.table;
  const zones = new TimestampZones(cfg.timestamps);
  const counter = c.retry_count === null ? null : ref(c.retry_count);
  const type = colType(t, c.status);
  const finals = [...new Set(Object.keys(cfg.thresholds).map((s) => cfg.final_status[s]!))];
  const final = finals.map((f): FinalOutcome => {
    const from = Object.keys(cfg.thresholds).filter((s) => cfg.final_status[s] === f);
    const assign: [ColumnRef, Assigned][] = [[whole(c.status), f]];
    if (counter) assign.push([counter, { sql: (p) => readAs(t, counter, 'int', p) }]);
    if (c.error) assign.push([ref(c.error), { sql: (p) => staleMessage(key, cfg, zones, f, taskId, p) }]);
    if (c.finished_at) assign.push([whole(c.finished_at), { now: true }]);
    return {
      when: (p) => `t.${col(t, c.status)} = any(${p.add(from, `${type}[]`)})`,
      assign: [...assign, ...entries(cfg.final_set[f] ?? {})],
      counter: 'finalized',
    };
  });
  return requeueSet({
    label: t.name,
    key,
    where: (p) => staleConditions(key, cfg, zones, p),
    // max_retries: 0 re-queues nothing: no re-queue branch, whose status an ENUM may lack.
    retries: counter === null || cfg.max_retries === 0 ? null : { counter, limit: cfg.max_retries },
    requeue: [[whole(c.status), cfg.requeue_status], [whole(c.timestamp), { now: true }], ...entries(cfg.requeue_set)],
    final,
    zones,
    counters: { matched: 'stale' },
    age: { column: c.timestamp, zones },
    details: {
      read: {
        job_type: (p) => (c.job_type ? readText(t, ref(c.job_type), p) : 'null'),
        status: () => `t.${col(t, c.status)}`,
        elapsed_ms: (p) => elapsedMs(key, cfg, zones, p),
        threshold_ms: (p) => thresholdMs(key, cfg, p),
      },
      written: { new_status: whole(c.status), ...(counter && { retry_count: counter }) },
      shape: (d, v) => ({
        id: d.id,
        job_type: v.job_type,
        status: v.status,
        action: d.outcome,
        new_status: v.new_status,
        retry_count: countOrNull(v.retry_count ?? null),
        elapsed_minutes: Math.round(Number(v.elapsed_ms) / 6_000) / 10,
        threshold_minutes: Math.round(Number(v.threshold_ms) / 6_000) / 10,
      }),
    },
  });
}

export function createRunsActivities({ databases }: ActivityDeps) {
  return {
    /** `runs.cleanup_stale`: re-queue or finalize runs stuck in a non-terminal status. */
    async cleanupStaleRuns(input: TaskInput<RunsCleanupStaleConfig>): Promise<TaskResult> {
      const cfg = input.config;
      return exclusive(databases, input, async (session) => {
        const key = await resolveKeyed(session.client, cfg.table, cfg.columns.id, staleColumns(cfg), `task ${input.taskId}: config`);
        // Every counter, also `requeued` when the config re-queues nothing (max_retries: 0).
        return runUnits(session, [rowSetUnit(staleRequeue(key, cfg, input.taskId))], { counters: ['stale', 'requeued', 'finalized'] });
      });
    },

    /** `runs.cleanup_expired`: delete terminal runs past retention, children first, batch by batch; the rule it is (tasks/runs-cleanup-expired.ts), run as rows.rules runs it. */
    async cleanupExpiredRuns(input: TaskInput<RunsCleanupExpiredConfig>): Promise<TaskResult> {
      const { rules, texts } = runsCleanupExpiredRules(input.config);
      return exclusive(databases, input, (session) => runRules(session, rules, input.config.timestamps, texts));
    },
  };
}
