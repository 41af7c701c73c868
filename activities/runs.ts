import type { PoolClient } from 'pg';
import { formatDuration } from '../core/duration';
import type { RunsCleanupStaleConfig } from '../tasks/runs-cleanup-stale';
import { runsCleanupExpiredRules, type RunsCleanupExpiredConfig } from '../tasks/runs-cleanup-expired';
import type { TaskInput, TaskResult } from '../core/contract';
import { runUnits } from './engine/engine';
import type { ActMode, WorkUnit } from './engine/work-unit';
import { runRules } from './rules';
import type { ActivityDeps } from './deps';
import { col, colType } from './sql/identifiers';
import { keyLabel, keyOf, keyOrder, keySelect, type KeyValue, keysUpTo, keyWindow, type KeyWindow, resolveKeyed, type RowKey } from './sql/keys';
import { SqlParams } from './sql/params';
import { assignmentList, type Assigned, readAs, readText } from './sql/expressions';
import { millis, TimestampZones } from './sql/time';
import { rowsLeft } from './sql/rows-left';
import { type Assignments, type ColumnRef, formatRef, ref, whole } from '../core/column-refs';
import { exclusive } from './task-lock';
import { rowSample } from './engine/plan-sample';

/** A run the candidate query found stale. */
export interface StaleRun {
  id: string;
  key: KeyValue;
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

/** What a decision writes to the retry counter: `counted`, unless `extra` (requeue_set, final_set) assigns the counter itself, which wins. */
function retryWritten(cfg: RunsCleanupStaleConfig, extra: Assignments, retries: number, counted: number | null): number | null {
  const counter = cfg.columns.retry_count;
  if (counter === null) return counted;
  const own = formatRef(ref(counter));
  const entry = Object.entries(extra)
    .filter(([target]) => formatRef(ref(target)) === own)
    .at(-1);
  if (entry === undefined) return counted;
  const value = entry[1];
  if (value === null || typeof value === 'boolean') return null;
  if (typeof value === 'object') return 'increment' in value ? retries + value.increment : null;
  return Number.isFinite(Number(value)) ? Number(value) : null;
}

/** What happens to one stale run: re-queue while retries remain, else its final status with a reason. */
export function decideStaleRun(run: StaleRun, cfg: RunsCleanupStaleConfig, taskId: string): StaleDecision {
  const retries = run.retry_count ?? 0;
  const age = `${run.status} for ${formatDuration(Math.round(run.elapsed_ms / 60_000) * 60_000)} (limit ${formatDuration(run.threshold_ms)})`;
  if (cfg.columns.retry_count !== null && retries < cfg.max_retries) {
    return {
      id: run.id,
      action: 'requeue',
      newStatus: cfg.requeue_status,
      newRetryCount: retryWritten(cfg, cfg.requeue_set, retries, retries + 1),
      message: null,
    };
  }
  const finalStatus = cfg.final_status[run.status];
  if (finalStatus === undefined) throw new Error(`no final status for "${run.status}" (the config schema requires one)`);
  const retryNote = cfg.columns.retry_count !== null ? `; retries exhausted (${retries}/${cfg.max_retries})` : '';
  return {
    id: run.id,
    action: 'finalize',
    newStatus: finalStatus,
    newRetryCount: retryWritten(cfg, cfg.final_set[finalStatus] ?? {}, retries, run.retry_count),
    message: `Stale: ${age}${retryNote}; marked ${finalStatus} by Caretaker task ${taskId}`,
  };
}

/** Columns of the run table that the task reads or writes, besides its key. */
function staleColumns(cfg: RunsCleanupStaleConfig): (string | null)[] {
  const c = cfg.columns;
  const assigned = [cfg.requeue_set, ...Object.values(cfg.final_set)].flatMap((a) => Object.keys(a).map((target) => ref(target).column));
  const refs = [c.retry_count, c.error, c.job_type].map((r) => (r === null ? null : ref(r).column));
  return [c.status, c.timestamp, c.heartbeat, c.finished_at, ...refs, ...Object.values(cfg.age_columns), ...assigned];
}

/** The column a run's age is measured from, by status. */
const ageColumn = (cfg: RunsCleanupStaleConfig, status: string) => cfg.age_columns[status] ?? cfg.columns.timestamp;

/**
 * A run is stale when it is in a status with a threshold and its age column (per status) is older
 * than the threshold (its job type's, if it has one), and, with a liveness column, its heartbeat
 * is old too. The same conditions pick the batch, guard max_fraction and are re-applied by the update.
 */
function staleConditions(key: RowKey, cfg: RunsCleanupStaleConfig, zones: TimestampZones, p: SqlParams): string[] {
  const c = cfg.columns;
  const t = key.table;
  const statuses = Object.keys(cfg.thresholds);
  const jobTypes = Object.keys(cfg.job_type_thresholds);
  const status = `t.${col(t, c.status)}`;
  const byJob = c.job_type
    ? `(select ms from unnest(${p.add(jobTypes, 'text[]')}, ${p.add(
        jobTypes.map((j) => cfg.job_type_thresholds[j]),
        'float8[]',
      )}) jt(job_type, ms) where jt.job_type = ${readText(t, ref(c.job_type), p)})`
    : 'null';
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

/** The stale runs in a window (the next `limit` after a cursor, or among keys read ahead), in key order; row-locked (skip locked) unless predicting. */
async function selectStale(
  tx: PoolClient,
  key: RowKey,
  cfg: RunsCleanupStaleConfig,
  zones: TimestampZones,
  window: KeyWindow,
  mode: ActMode,
): Promise<StaleRun[]> {
  const c = cfg.columns;
  const t = key.table;
  const p = new SqlParams();
  const since = `case ${Object.keys(cfg.thresholds)
    .map((s) => `when t.${col(t, c.status)}::text = ${p.add(s, 'text')} then ${zones.instant(t, ageColumn(cfg, s), p)}`)
    .join(' ')} end`;
  const jobType = c.job_type ? readText(t, ref(c.job_type), p) : 'null::text';
  const retries = c.retry_count ? readAs(t, ref(c.retry_count), 'int', p) : 'null::int';
  const bound = keyWindow(key, window, p);
  const conds = [...staleConditions(key, cfg, zones, p), ...bound.conds];
  const { rows } = await tx.query<Record<string, unknown> & { status: string; job_type: string | null; retry_count: number | null; elapsed_ms: string }>(
    `select ${keySelect(key)}, t.${col(t, c.status)}::text as status, ${jobType} as job_type, ${retries} as retry_count,
            extract(epoch from now() - ${since}) * 1000 as elapsed_ms
     from ${t.sql} t where ${conds.join(' and ')}
     order by ${keyOrder(key)} ${bound.limit} ${mode === 'predict' ? '' : 'for update of t skip locked'}`,
    p.values,
  );
  return rows.map((r) => {
    const k = keyOf(r, key);
    const threshold_ms = (r.job_type !== null ? cfg.job_type_thresholds[r.job_type] : undefined) ?? cfg.thresholds[r.status]!;
    return {
      id: String(keyLabel(k)),
      key: k,
      status: r.status,
      job_type: r.job_type,
      retry_count: r.retry_count,
      elapsed_ms: Number(r.elapsed_ms),
      threshold_ms,
    };
  });
}

/**
 * What a decision writes. Re-queue: status, `columns.timestamp` (now), the retry count, then
 * `requeue_set` (the schema makes it name the requeue status's own age column, if it has one). Finalize: status, retry count, error message, `finished_at` (now),
 * then `final_set[status]`. A column the user assigns overrides the default for it.
 */
function decisionAssignments(cfg: RunsCleanupStaleConfig, d: StaleDecision): [ColumnRef, Assigned][] {
  const c = cfg.columns;
  const list: [ColumnRef, Assigned][] = [[whole(c.status), d.newStatus]];
  if (d.action === 'requeue') list.push([whole(c.timestamp), { now: true }]);
  if (c.retry_count) list.push([ref(c.retry_count), { sql: 'u.new_retry' }]);
  if (d.action === 'finalize' && c.error) list.push([ref(c.error), { sql: 'u.message' }]);
  if (d.action === 'finalize' && c.finished_at) list.push([whole(c.finished_at), { now: true }]);
  const extra = d.action === 'requeue' ? cfg.requeue_set : (cfg.final_set[d.newStatus] ?? {});
  return [...list, ...Object.entries(extra).map(([target, value]): [ColumnRef, Assigned] => [ref(target), value])];
}

/**
 * Writes the decisions, one statement per outcome (re-queue, each final status): only for rows that
 * are still stale. A status is cast to the column's type, so an ENUM gets an ENUM.
 */
async function applyDecisions(
  tx: PoolClient,
  key: RowKey,
  cfg: RunsCleanupStaleConfig,
  zones: TimestampZones,
  runs: StaleRun[],
  decisions: StaleDecision[],
): Promise<void> {
  const t = key.table;
  const groups = new Map<string, number[]>();
  decisions.forEach((d, i) => groups.set(`${d.action}:${d.newStatus}`, [...(groups.get(`${d.action}:${d.newStatus}`) ?? []), i]));
  for (const indexes of groups.values()) {
    const p = new SqlParams();
    const keyArrays = key.columns.map((k, i) =>
      p.add(
        indexes.map((j) => runs[j]!.key[i]),
        `${colType(t, k)}[]`,
      ),
    );
    const retries = p.add(
      indexes.map((j) => decisions[j]!.newRetryCount),
      'int[]',
    );
    const messages = p.add(
      indexes.map((j) => decisions[j]!.message),
      'text[]',
    );
    const u = `unnest(${keyArrays.join(', ')}, ${retries}, ${messages}) as u(${key.columns.map((_, i) => `k${i}`).join(', ')}, new_retry, message)`;
    const sets = assignmentList(t, decisionAssignments(cfg, decisions[indexes[0]!]!), p, `config`, zones);
    const join = key.columns.map((k, i) => `t.${col(t, k)} = u.k${i}`);
    await tx.query(`update ${t.sql} t set ${sets.join(', ')} from ${u} where ${[...join, ...staleConditions(key, cfg, zones, p)].join(' and ')}`, p.values);
  }
}

/** Stale runs as a unit of work: pick a batch, decide per run, write the decisions. */
function staleUnit(key: RowKey, cfg: RunsCleanupStaleConfig, taskId: string): WorkUnit<StaleRun, KeyValue> {
  const zones = new TimestampZones(cfg.timestamps);
  return {
    label: key.table.name,
    transactional: true,
    fraction: [{ table: key.table, verb: 'update', condition: (p) => staleConditions(key, cfg, zones, p).join(' and '), picked: true }],
    nextBatch: (tx, after, limit, mode) => selectStale(tx, key, cfg, zones, { after, limit }, mode),
    readAhead: {
      cursors: (client, after, limit) => keysUpTo(client, key, (p) => staleConditions(key, cfg, zones, p), after, limit),
      among: (tx, keys, mode) => selectStale(tx, key, cfg, zones, { among: keys }, mode),
    },
    rowsLeft: (client, after) => rowsLeft(client, key, (p) => staleConditions(key, cfg, zones, p), after, { column: cfg.columns.timestamp, zones }),
    cursorOf: (run) => run.key,
    sample: (client, keys) => rowSample(client, key, keys),
    act: async (tx, runs, mode) => {
      const decisions = runs.map((run) => decideStaleRun(run, cfg, taskId));
      // Rows are locked by the batch's select, so the update changes exactly these runs.
      if (mode !== 'predict' && runs.length > 0) await applyDecisions(tx, key, cfg, zones, runs, decisions);
      const requeued = decisions.filter((d) => d.action === 'requeue').length;
      return {
        counts: { stale: runs.length, requeued, finalized: runs.length - requeued },
        capped: runs.length,
        details: runs.map((run, i) => ({
          id: run.id,
          job_type: run.job_type,
          status: run.status,
          action: decisions[i]!.action === 'requeue' ? 'requeued' : 'finalized',
          new_status: decisions[i]!.newStatus,
          retry_count: decisions[i]!.newRetryCount,
          elapsed_minutes: Math.round(run.elapsed_ms / 6_000) / 10,
          threshold_minutes: Math.round(run.threshold_ms / 6_000) / 10,
        })),
      };
    },
  };
}

export function createRunsActivities({ databases }: ActivityDeps) {
  return {
    /** `runs.cleanup_stale`: re-queue or finalize runs stuck in a non-terminal status. */
    async cleanupStaleRuns(input: TaskInput<RunsCleanupStaleConfig>): Promise<TaskResult> {
      const cfg = input.config;
      return exclusive(databases, input, async (session) => {
        const key = await resolveKeyed(session.client, cfg.table, cfg.columns.id, staleColumns(cfg), `task ${input.taskId}: config`);
        return runUnits(session, [staleUnit(key, cfg, input.taskId)], { counters: ['stale', 'requeued', 'finalized'] });
      });
    },

    /** `runs.cleanup_expired`: delete terminal runs past retention, children first, batch by batch; the rule it is (tasks/runs-cleanup-expired.ts), run as rows.rules runs it. */
    async cleanupExpiredRuns(input: TaskInput<RunsCleanupExpiredConfig>): Promise<TaskResult> {
      const { rules, texts } = runsCleanupExpiredRules(input.config);
      return exclusive(databases, input, (session) => runRules(session, rules, input.config.timestamps, texts));
    },
  };
}
