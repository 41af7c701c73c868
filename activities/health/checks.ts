import { statfs } from 'node:fs/promises';
import type { Client } from '@temporalio/client';
import { Redis } from 'ioredis';
import type { PoolClient } from 'pg';
import type { HealthReportConfig } from '../../tasks/health-report';
import { isOwnedBy } from '../../config/ownership';
import { col, resolveTable } from '../sql/identifiers';
import { SqlParams } from '../sql/params';
import { millis, type TimestampZones } from '../sql/time';
import { lastRunOutcome } from './schedule-outcome';

export type HealthStatus = 'ok' | 'warn' | 'critical';

export interface HealthCheck {
  check: string;
  target: string;
  status: HealthStatus;
  value: number | string | null;
  message: string;
}

type Limits = { warn: number; critical: number };

/** Higher is worse (latency, depth). */
export function above(value: number, l: Limits): HealthStatus {
  return value >= l.critical ? 'critical' : value >= l.warn ? 'warn' : 'ok';
}

/** Lower is worse (free space). */
export function below(value: number, l: Limits): HealthStatus {
  return value <= l.critical ? 'critical' : value <= l.warn ? 'warn' : 'ok';
}

export async function databaseLatency(client: PoolClient, cfg: HealthReportConfig, name: string): Promise<HealthCheck> {
  const started = process.hrtime.bigint();
  await client.query('select 1');
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return {
    check: 'database',
    target: name,
    status: above(ms, cfg.database_latency_ms),
    value: Math.round(ms * 10) / 10,
    message: `select 1 took ${ms.toFixed(1)} ms`,
  };
}

/** `url` may hold a password (read on the worker from `redis.url_env`): the check reports the host only. */
export async function redisPing(url: string): Promise<HealthCheck> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  const target = new URL(url).host;
  try {
    await redis.connect();
    const started = Date.now();
    const reply = await redis.ping();
    return { check: 'redis', target, status: reply === 'PONG' ? 'ok' : 'critical', value: Date.now() - started, message: `PING -> ${reply}` };
  } catch (err) {
    return { check: 'redis', target, status: 'critical', value: null, message: `unreachable: ${(err as Error).message}` };
  } finally {
    redis.disconnect();
  }
}

export async function diskFree(path: string, l: Limits): Promise<HealthCheck> {
  try {
    const s = await statfs(path);
    const pct = (Number(s.bavail) / Number(s.blocks)) * 100;
    return {
      check: 'disk',
      target: path,
      status: below(pct, l),
      value: Math.round(pct * 10) / 10,
      message: `${pct.toFixed(1)}% free (${Math.round((Number(s.bavail) * Number(s.bsize)) / 2 ** 30)} GiB)`,
    };
  } catch (err) {
    return { check: 'disk', target: path, status: 'critical', value: null, message: `cannot stat: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
}

export async function queueDepth(client: PoolClient, q: HealthReportConfig['queues'][number], where: string): Promise<HealthCheck> {
  const t = await resolveTable(client, q.table, [q.status_column], where);
  const { rows } = await client.query<{ status: string; n: string }>(
    `select t.${col(t, q.status_column)}::text as status, count(*) as n from ${t.sql} t
     where t.${col(t, q.status_column)}::text = any($1::text[]) group by 1`,
    [q.statuses],
  );
  const per = Object.fromEntries(q.statuses.map((s) => [s, Number(rows.find((r) => r.status === s)?.n ?? 0)]));
  const total = Object.values(per).reduce((a, b) => a + b, 0);
  return {
    check: 'queue_depth',
    target: t.name,
    status: above(total, q.depth),
    value: total,
    message: Object.entries(per)
      .map(([s, n]) => `${s}=${n}`)
      .join(' '),
  };
}

export async function recentErrors(client: PoolClient, e: HealthReportConfig['errors'][number], zones: TimestampZones, where: string): Promise<HealthCheck> {
  const t = await resolveTable(client, e.table, [e.status_column, e.timestamp_column], where);
  const p = new SqlParams();
  const { rows } = await client.query<{ n: string }>(
    `select count(*) as n from ${t.sql} t where t.${col(t, e.status_column)}::text = any(${p.add(e.statuses, 'text[]')})
       and not ${zones.olderThan(t, e.timestamp_column, millis(p, e.window), p)}`,
    p.values,
  );
  const n = Number(rows[0]?.n ?? 0);
  return {
    check: 'recent_errors',
    target: t.name,
    status: above(n, e.count),
    value: n,
    message: `${n} row(s) in ${e.statuses.join('/')} within ${e.window / 60_000} min`,
  };
}

export async function longQueries(client: PoolClient, l: Limits): Promise<HealthCheck> {
  const { rows } = await client.query<{ pid: number; seconds: number; query: string }>(
    `select pid, extract(epoch from now() - query_start)::float8 as seconds, left(query, 120) as query
     from pg_stat_activity
     where state <> 'idle' and pid <> pg_backend_pid() and datname = current_database() and backend_type = 'client backend'
       and query_start < now() - $1::float8 * interval '1 second'
     order by query_start`,
    [l.warn],
  );
  const longest = rows[0]?.seconds ?? 0;
  const message =
    rows.length === 0
      ? 'none'
      : rows
          .slice(0, 3)
          .map((r) => `pid ${r.pid} ${Math.round(r.seconds)}s: ${r.query}`)
          .join('; ');
  return { check: 'long_queries', target: 'pg_stat_activity', status: above(longest, l), value: rows.length, message };
}

export async function deadTuples(client: PoolClient, l: Limits, minRows: number): Promise<HealthCheck[]> {
  const { rows } = await client.query<{ name: string; live: string; dead: string }>(
    `select schemaname || '.' || relname as name, n_live_tup as live, n_dead_tup as dead
     from pg_stat_user_tables where n_live_tup + n_dead_tup >= $1 order by 1`,
    [minRows],
  );
  return rows.map((r) => {
    const ratio = Number(r.dead) / (Number(r.live) + Number(r.dead));
    return {
      check: 'dead_tuples',
      target: r.name,
      status: above(ratio, l),
      value: Math.round(ratio * 1000) / 1000,
      message: `${r.dead} dead of ${Number(r.live) + Number(r.dead)} tuples`,
    };
  });
}

/**
 * A schedule can stop firing silently (paused by pause-on-failure, a server problem): every
 * unpaused Caretaker schedule must have acted within `missed` expected intervals, and its last run
 * must not have failed (schedule-outcome.ts).
 */
export async function scheduleLiveness(client: Client, missed: number, now = Date.now()): Promise<HealthCheck[]> {
  const checks: HealthCheck[] = [];
  for await (const s of client.schedule.list()) {
    if (!isOwnedBy(s.memo) || s.state.paused) continue;
    const d = await client.schedule.getHandle(s.scheduleId).describe();
    const [next, after] = d.info.nextActionTimes;
    if (!next || !after) continue;
    const interval = after.getTime() - next.getTime();
    const lastAction = d.info.recentActions.at(-1)?.takenAt ?? d.info.createdAt;
    const late = now - lastAction.getTime() > missed * interval + (d.spec.jitter ?? 0) + 60_000;
    // Firing is not enough: a schedule whose runs fail is not healthy either.
    const last = await lastRunOutcome(client, d);
    const fired = late
      ? `has not fired since ${lastAction.toISOString()} (expected every ${Math.round(interval / 1000)}s)`
      : `last fired ${lastAction.toISOString()}`;
    checks.push({
      check: 'schedule',
      target: s.scheduleId,
      status: [late ? 'warn' : 'ok', last?.status ?? 'ok'].includes('critical') ? 'critical' : late || last?.status === 'warn' ? 'warn' : 'ok',
      value: lastAction.toISOString(),
      message: last ? `${fired}; ${last.message}` : fired,
    });
  }
  return checks;
}
