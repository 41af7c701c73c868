import type { AssignedValue } from '../core/column-refs';
import type { RulesForm } from './presets';
import type { RowRule, RuleValue } from './rows-rules';
import type { RunsCleanupStaleConfig } from './runs-cleanup-stale';
import { durationSql, formatDuration } from '../core/duration';
import { intervalSql, isJsonPath, literal, refSql } from './sql-phrases';
import { nowValue } from './sql-build';
import { parseColumnRef } from '../core/column-refs';

/**
 * runs.cleanup_stale as the rows.rules rule `caretaker rules` prints: the rows `staleRequeue`
 * (activities/runs.ts) picks, as SQL text, and its re-queue and final outcomes as `cases`, with the
 * reason in the words the activity writes. The activity keeps its own path (its result's `stale`,
 * `requeued`, `finalized` counts and details stay); test/presets.test.ts runs both on the same rows.
 */

/** A reference read as `type` (a JSON path reads as text first), as `readAs` (activities/sql/expressions.ts) reads it. */
const readAs = (reference: string, type: string) => `${refSql(reference)}::${type}`;

/**
 * What an assignment of `requeue_set` / `final_set` writes, as a rows.rules update value. `now`: with
 * `zone` (the column's own, from timestamps.columns, other than timestamps.zone), now() at time zone
 * it, as the activity writes a naive column (activities/sql/time.ts `TimestampZones.now`).
 */
function assignedRuleValue(target: string, value: AssignedValue, zone?: string): RuleValue {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string') return { value };
  if ('now' in value) return nowValue(zone).source;
  // NULL counts as 0; inside JSON the sum is a JSON number.
  return `coalesce(${isJsonPath(target) ? readAs(target, 'numeric') : refSql(target)}, 0) + ${value.increment}`;
}

/**
 * The zone now() is written in for `target`: a plain column that timestamps.columns gives a zone other
 * than timestamps.zone (the session's during a rules run); undefined for the session's. The printed
 * text cannot see the column's type: for a timestamptz column so listed, a rules run refuses it
 * (rule-text.ts `checkWrittenZones`), where the activity ignores the zone.
 */
function ownZone(cfg: RunsCleanupStaleConfig, target: string): string | undefined {
  const column = parseColumnRef(target);
  if (column === null || column.path.length > 0) return undefined;
  const zone = cfg.timestamps.columns[column.column];
  return zone !== undefined && zone !== cfg.timestamps.zone ? zone : undefined;
}

/** The counter of a final outcome: `finalized`, or per final status when there are several (rows.rules counts each case on its own). */
function finalCounters(finals: string[]): string[] {
  if (finals.length === 1) return ['finalized'];
  const taken = new Set<string>();
  return finals.map((f, i) => {
    const slug = `finalized_${f.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
    const name = taken.has(slug) ? `${slug}_${i + 1}` : slug;
    taken.add(name);
    return name;
  });
}

export function runsCleanupStaleRules(cfg: RunsCleanupStaleConfig, taskId: string): RulesForm {
  const c = cfg.columns;
  const assigned = (set: Record<string, AssignedValue>) =>
    Object.fromEntries(Object.entries(set).map(([t, v]) => [t, assignedRuleValue(t, v, ownZone(cfg, t))]));
  const now = (column: string) => nowValue(ownZone(cfg, column)).source;
  const status = refSql(c.status);
  const statuses = Object.keys(cfg.thresholds);
  const ageColumn = (s: string) => refSql(cfg.age_columns[s] ?? c.timestamp);
  const jobTypes = c.job_type === null ? [] : Object.entries(cfg.job_type_thresholds);
  const jobType = c.job_type === null ? '' : isJsonPath(c.job_type) ? refSql(c.job_type) : readAs(c.job_type, 'text');
  /** `CASE <job type> WHEN 'analysis' THEN <x> END`, or null without job type thresholds. */
  const byJob = (value: (ms: number) => string) =>
    jobTypes.length === 0 ? null : `CASE ${jobType} ${jobTypes.map(([j, ms]) => `WHEN ${literal(j)} THEN ${value(ms)}`).join(' ')} END`;
  const ages = [...new Set(statuses.map(ageColumn))];
  /** `CASE status WHEN 'running' THEN <x> ... END`, or the one value all statuses share. */
  const perStatus = (value: (ms: number) => string) =>
    new Set(statuses.map((s) => cfg.thresholds[s])).size === 1
      ? value(cfg.thresholds[statuses[0]!]!)
      : `CASE ${status}::text ${statuses.map((s) => `WHEN ${literal(s)} THEN ${value(cfg.thresholds[s]!)}`).join(' ')} END`;
  /** The threshold: the job type's, else the status's. */
  const threshold = (value: (ms: number) => string, byStatus: string) => {
    const job = byJob(value);
    return job === null ? byStatus : `coalesce(${job}, ${byStatus})`;
  };
  // One age column: one comparison; else each status with its own column.
  const old =
    ages.length === 1
      ? `${ages[0]} < now() - ${threshold(intervalSql, perStatus(intervalSql))}`
      : `(${statuses.map((s) => `(${status} = ${literal(s)} AND ${ageColumn(s)} < now() - ${threshold(intervalSql, intervalSql(cfg.thresholds[s]!))})`).join(' OR ')})`;
  const where = [
    `${status} IN (${statuses.map(literal).join(', ')})`,
    old,
    ...(c.heartbeat === null ? [] : [`(${refSql(c.heartbeat)} IS NULL OR ${refSql(c.heartbeat)} < now() - ${intervalSql(cfg.heartbeat_timeout)})`]),
  ].join(' AND ');

  // The reason: "Stale: running for 3h (limit 2h); retries exhausted (3/3); marked failed by Caretaker task nightly".
  const since = ages.length === 1 ? ages[0]! : `CASE ${status}::text ${statuses.map((s) => `WHEN ${literal(s)} THEN ${ageColumn(s)}`).join(' ')} END`;
  const age = durationSql(`round((extract(epoch FROM now() - ${since}) * 1000) / 60000) * 60000`, 'm');
  const text = (ms: number) => literal(formatDuration(ms));
  const limit = threshold(text, perStatus(text));
  const retry = c.retry_count;
  const exhausted = retry === null ? '' : ` || '; retries exhausted (' || coalesce(${readAs(retry, 'int')}, 0)::text || ${literal(`/${cfg.max_retries})`)}`;
  const reason = (final: string) =>
    `'Stale: ' || ${status}::text || ' for ' || ${age} || ' (limit ' || ${limit} || ')'${exhausted} || ` +
    literal(`; marked ${final} by Caretaker task ${taskId}`);

  const cases: NonNullable<RowRule['cases']> = [];
  if (retry !== null && cfg.max_retries > 0) {
    cases.push({
      when: `coalesce(${readAs(retry, 'int')}, 0) < ${cfg.max_retries}`,
      counter: 'requeued',
      update: {
        [retry]: assignedRuleValue(retry, { increment: 1 }),
        [c.status]: { value: cfg.requeue_status },
        [c.timestamp]: now(c.timestamp),
        ...assigned(cfg.requeue_set),
      },
    });
  }
  const finals = [...new Set(statuses.map((s) => cfg.final_status[s]!))];
  const counters = finalCounters(finals);
  finals.forEach((f, i) => {
    const from = statuses.filter((s) => cfg.final_status[s] === f);
    cases.push({
      when: `${status} IN (${from.map(literal).join(', ')})`,
      counter: counters[i]!,
      update: {
        [c.status]: { value: f },
        // The counter as read: a JSON counter is written back as a number (or null when missing).
        ...(retry !== null && { [retry]: readAs(retry, 'int') }),
        ...(c.error !== null && { [c.error]: reason(f) }),
        ...(c.finished_at !== null && { [c.finished_at]: now(c.finished_at) }),
        ...assigned(cfg.final_set[f] ?? {}),
      },
    });
  });
  return { rules: [{ name: 'stale runs', table: cfg.table, key: c.id, where, cases }] };
}
