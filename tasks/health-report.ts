import { z } from 'zod';
import { duration } from './duration';
import { defineTask } from './types';
import { column, detailsLimit, dryRun, statusValue, table, timestamps } from './fields';

/** `warn` and `critical` limits; a reading past one sets the check's status. */
const limits = (warn: number, critical: number) =>
  z
    .object({ warn: z.number().min(0).default(warn), critical: z.number().min(0).default(critical) })
    .strict()
    .prefault({});

/*
 * Secrets are named, not written: `url_env: REDIS_URL` names an environment variable that the
 * worker reads when the check runs (activities/engine/secrets.ts), as `database:` names a connection
 * string. Config values travel in schedules and run inputs, i.e. in Temporal's history, so a
 * credential written (or ${VAR}-interpolated) into config would be stored there in plain text.
 * Messages here never repeat a rejected value: it may be the secret.
 */
const STORED = "config values are stored in plain text in Temporal's schedules and run history";

/** The name of an environment variable on the worker that holds a secret. */
const envName = () =>
  z.string().refine((name) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name), {
    message: 'expected the name of an environment variable on the worker, such as REDIS_URL, got text that is not a name (write the name itself, not ${...})',
  });

/** A literal Redis URL is fine without credentials; with a password it is refused. */
function redisUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'expected a redis:// or rediss:// URL, got text that is not a URL';
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return `expected a redis:// or rediss:// URL, got one starting ${url.protocol}//`;
  if (url.password || url.searchParams.has('password')) {
    return `expected a URL without a password, got one with a password (${STORED}); put the URL in the worker's environment and name it: redis: { url_env: REDIS_URL }`;
  }
  return undefined;
}

/** Redis to PING: `{ url_env: REDIS_URL }` (read on the worker), or `{ url }` without a password. */
const redis = z
  .object({ url_env: envName().optional(), url: z.string().optional() })
  .strict()
  .superRefine((r, ctx) => {
    if ((r.url === undefined) === (r.url_env === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected exactly one of url_env (the environment variable on the worker that holds the Redis URL) or url (a URL without a password)',
      });
    }
    const problem = r.url === undefined ? undefined : redisUrlProblem(r.url);
    if (problem) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
  });

/** Slack-compatible webhook for a JSON alert; its URL is a credential, so only its variable is named. */
const webhook = z.object({ url_env: envName(), notify_on: z.enum(['warn', 'critical']).default('warn') }).strict();

/** The forms before secrets were named: refused with the way to write them now (checked before the schema). */
function refuseInlineSecrets(raw: unknown, ctx: z.RefinementCtx): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const { redis_url, ...config } = raw as Record<string, unknown>;
  if (redis_url !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['redis_url'],
      message: `expected redis: { url_env: REDIS_URL } (the worker reads the URL from its environment) or redis: { url: ... } without a password; redis_url is no longer read (${STORED})`,
    });
  }
  const hook = config.webhook;
  if (hook !== null && typeof hook === 'object' && 'url' in hook) {
    ctx.addIssue({
      code: 'custom',
      path: ['webhook', 'url'],
      message: `expected webhook: { url_env: ALERT_WEBHOOK_URL }, naming the environment variable on the worker that holds the webhook URL; a webhook URL is a credential (${STORED})`,
    });
  }
  return config;
}

export const healthReportConfig = z.preprocess(
  refuseInlineSecrets,
  z
    .object({
      /** Round-trip of `select 1`, in milliseconds. */
      database_latency_ms: limits(100, 1000),
      /** Redis to PING: `{ url_env: REDIS_URL }` or `{ url }` without a password; omitted: no Redis check. */
      redis: redis.optional(),
      /** Paths whose free space to check, as a percentage of the file system. */
      disk: z.array(z.object({ path: z.string().min(1), min_free_percent: limits(20, 10) }).strict()).default([]),
      /** Rows per status (queue depth); limits apply to the sum over `statuses`. */
      queues: z
        .array(
          z.object({ table: table(), status_column: column().default('status'), statuses: z.array(statusValue()).min(1), depth: limits(1000, 10000) }).strict(),
        )
        .default([]),
      /** Rows in an error status changed within `window`. */
      errors: z
        .array(
          z
            .object({
              table: table(),
              status_column: column().default('status'),
              timestamp_column: column(),
              statuses: z.array(statusValue()).min(1).default(['failed']),
              window: duration({ min: 1_000 }).prefault('1h'),
              count: limits(10, 100),
            })
            .strict(),
        )
        .default([]),
      /** Queries running longer than these many seconds. */
      long_queries_seconds: limits(300, 1800),
      /** Dead tuples / all tuples per table, for tables with at least `dead_tuples_min_rows` rows. */
      dead_tuple_ratio: limits(0.2, 0.5),
      dead_tuples_min_rows: z.number().int().min(0).default(1000),
      /** Caretaker's own schedules must have fired within this many expected intervals. */
      schedule_liveness: z.boolean().default(true),
      schedule_missed_intervals: z.number().min(1).default(2),
      /** Alert when the report is at least `notify_on`: `{ url_env: ALERT_WEBHOOK_URL }`. */
      webhook: webhook.optional(),
      details_limit: detailsLimit(),
      /** The zone of naive timestamps (the `errors` windows); see README "Real schemas". */
      timestamps: timestamps(),
      /** A dry run checks everything but sends no webhook. */
      dry_run: dryRun(),
    })
    .strict(),
);

export type HealthReportConfig = z.output<typeof healthReportConfig>;

export const healthReport = defineTask({
  type: 'health.report',
  aliases: [],
  description:
    'Database reachability and latency, Redis, free disk space, queue depths, recent errors, long-running queries, dead-tuple ratios and schedule liveness; ok / warn / critical, with an optional webhook alert.',
  workflow: 'healthReportWorkflow',
  destructive: false,
  unplannable: () => ({ work: 'read_only' }),
  configSchema: healthReportConfig,
});
