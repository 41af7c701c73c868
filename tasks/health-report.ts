import { z } from 'zod';
import { duration } from '../config/duration';
import { defineTask } from './types';
import { column, detailsLimit, dryRun, statusValue, table } from './fields';

/** `warn` and `critical` limits; a reading past one sets the check's status. */
const limits = (warn: number, critical: number) =>
  z.object({ warn: z.number().min(0).default(warn), critical: z.number().min(0).default(critical) }).strict().prefault({});

export const healthReportConfig = z
  .object({
    /** Round-trip of `select 1`, in milliseconds. */
    database_latency_ms: limits(100, 1000),
    /** Redis to PING (seed 000), e.g. ${REDIS_URL}; omitted: no Redis check. */
    redis_url: z.string().url().optional(),
    /** Paths whose free space to check, as a percentage of the file system. */
    disk: z.array(z.object({ path: z.string().min(1), min_free_percent: limits(20, 10) }).strict()).default([]),
    /** Rows per status (queue depth); limits apply to the sum over `statuses`. */
    queues: z
      .array(z.object({ table: table(), status_column: column().default('status'), statuses: z.array(statusValue()).min(1), depth: limits(1000, 10000) }).strict())
      .default([]),
    /** Rows in an error status changed within `window`. */
    errors: z
      .array(
        z
          .object({ table: table(), status_column: column().default('status'), timestamp_column: column(), statuses: z.array(statusValue()).min(1).default(['failed']), window: duration({ min: 1_000 }).prefault('1h'), count: limits(10, 100) })
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
    /** Slack-compatible webhook for a JSON alert when the report is at least `notify_on`. */
    webhook: z.object({ url: z.string().url(), notify_on: z.enum(['warn', 'critical']).default('warn') }).strict().optional(),
    details_limit: detailsLimit(),
    /** A dry run checks everything but sends no webhook. */
    dry_run: dryRun(),
  })
  .strict();

export type HealthReportConfig = z.output<typeof healthReportConfig>;

export const healthReport = defineTask({
  type: 'health.report',
  aliases: [],
  description:
    'Database reachability and latency, Redis, free disk space, queue depths, recent errors, long-running queries, dead-tuple ratios and schedule liveness; ok / warn / critical, with an optional webhook alert.',
  workflow: 'healthReportWorkflow',
  destructive: false,
  configSchema: healthReportConfig,
});
