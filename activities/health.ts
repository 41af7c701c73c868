import { Context } from '@temporalio/activity';
import type { HealthReportConfig } from '../tasks/health-report';
import type { TaskInput, TaskResult } from '../core/contract';
import { taskResult } from './engine/results';
import type { ActivityDeps } from './engine/deps';
import { configError } from '../core/errors';
import { WorkerSecrets } from './engine/secrets';
import { TimestampZones } from './sql/time';
import {
  databaseLatency,
  deadTuples,
  diskFree,
  type HealthCheck,
  type HealthStatus,
  longQueries,
  queueDepth,
  recentErrors,
  redisPing,
  scheduleLiveness,
} from './health/checks';

const RANK: Record<HealthStatus, number> = { ok: 0, warn: 1, critical: 2 };

export function worst(checks: readonly HealthCheck[]): HealthStatus {
  return checks.reduce<HealthStatus>((w, c) => (RANK[c.status] > RANK[w] ? c.status : w), 'ok');
}

/** Slack-compatible: `text` is what Slack shows; the rest is for other receivers. */
export function alertPayload(taskId: string, status: HealthStatus, checks: readonly HealthCheck[]) {
  const bad = checks.filter((c) => c.status !== 'ok');
  const lines = bad.map((c) => `• ${c.status.toUpperCase()} ${c.check} ${c.target}: ${c.message}`);
  return { text: `Caretaker health (${taskId}): ${status.toUpperCase()}\n${lines.join('\n')}`, status, task: taskId, checks: bad };
}

/**
 * The Redis and webhook URLs, read on the worker (`url_env`) so they never enter the history. A
 * run whose input still has the old inline fields (a schedule synced before they were refused)
 * fails: re-syncing writes the named form.
 */
export function healthSecrets(cfg: HealthReportConfig, where: string, secrets: WorkerSecrets): { redisUrl?: string; webhookUrl?: string } {
  const old = cfg as { redis_url?: unknown; webhook?: { url?: unknown } };
  if (old.redis_url !== undefined || old.webhook?.url !== undefined) {
    throw configError(
      `${where}: expected redis.url_env / webhook.url_env, got the inline redis_url / webhook.url this worker no longer reads; update the config and run \`caretaker schedules sync\``,
    );
  }
  return {
    redisUrl: cfg.redis && (cfg.redis.url_env ? secrets.url(cfg.redis.url_env, `${where}.redis.url_env`, ['redis:', 'rediss:']) : cfg.redis.url),
    webhookUrl: cfg.webhook && secrets.url(cfg.webhook.url_env, `${where}.webhook.url_env`, ['https:', 'http:']),
  };
}

export function createHealthActivities({ databases }: ActivityDeps) {
  return {
    /** `health.report`: read-only checks, ok / warn / critical, optional webhook. */
    async reportHealth(input: TaskInput<HealthReportConfig>): Promise<TaskResult> {
      const cfg = input.config;
      const startedAt = new Date().toISOString();
      const where = `task ${input.taskId}: config`;
      const secrets = new WorkerSecrets();
      const { redisUrl, webhookUrl } = healthSecrets(cfg, where, secrets);
      let checks: HealthCheck[] = [];
      const errors: string[] = [];
      let client;
      try {
        client = await databases.get(input.database).connect();
      } catch (err) {
        checks.push({ check: 'database', target: input.database, status: 'critical', value: null, message: `unreachable: ${(err as Error).message}` });
      }
      if (client) {
        try {
          checks.push(await databaseLatency(client, cfg, input.database));
          for (const [i, q] of cfg.queues.entries()) checks.push(await queueDepth(client, q, `${where}.queues[${i}]`));
          for (const [i, e] of cfg.errors.entries()) checks.push(await recentErrors(client, e, new TimestampZones(cfg.timestamps), `${where}.errors[${i}]`));
          checks.push(await longQueries(client, cfg.long_queries_seconds));
          checks.push(...(await deadTuples(client, cfg.dead_tuple_ratio, cfg.dead_tuples_min_rows)));
        } finally {
          client.release();
        }
      }
      if (redisUrl) checks.push(await redisPing(redisUrl));
      for (const d of cfg.disk) checks.push(await diskFree(d.path, d.min_free_percent));
      if (cfg.schedule_liveness) checks.push(...(await scheduleLiveness(Context.current().client, cfg.schedule_missed_intervals)));

      checks = checks.map((c) => ({ ...c, message: secrets.scrub(c.message) }));
      const overall = worst(checks);
      if (cfg.webhook && webhookUrl && !cfg.dry_run && RANK[overall] >= RANK[cfg.webhook.notify_on]) {
        try {
          const res = await fetch(webhookUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(alertPayload(input.taskId, overall, checks)),
            signal: AbortSignal.timeout(10_000),
          });
          if (!res.ok) errors.push(`webhook answered ${res.status} ${res.statusText}`);
        } catch (err) {
          errors.push(secrets.scrub(`webhook failed: ${(err as Error).message}`));
        }
      }
      const sorted = [...checks].sort((a, b) => RANK[b.status] - RANK[a.status]);
      const counts = Object.fromEntries((['ok', 'warn', 'critical'] as const).map((s) => [s, checks.filter((c) => c.status === s).length]));
      const details = sorted.slice(0, cfg.details_limit) as unknown as Record<string, unknown>[];
      return taskResult(
        input,
        { counts, details, detailsTruncated: sorted.length > cfg.details_limit, errors, batches: 1, startedAt },
        { reason: `overall ${overall}` },
      );
    },
  };
}
