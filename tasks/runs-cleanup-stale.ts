import { z } from 'zod';
import { duration, formatDuration } from '../config/duration';
import { defineTask } from './types';
import { column, keyColumn, sqlTaskFields, statusValue, table } from './fields';

/** The shortest stale threshold accepted without allow_short_thresholds. */
export const STALE_FLOOR_MS = 5 * 60_000;

export const runsCleanupStaleConfig = z
  .object({
    /** The run/job table, e.g. `job_runs` or `app.runs`. Required: Caretaker never assumes table names. */
    table: table(),
    columns: z
      .object({
        id: keyColumn().default('id'),
        status: column().default('status'),
        /** Staleness is measured from this timestamp (and it is reset when a run is re-queued). */
        timestamp: column().default('updated_at'),
        /** Retry counter; null disables re-queueing (stale runs go straight to their final status). */
        retry_count: column().nullable().default(null),
        /** Receives the reason when a run is failed or cancelled; null to leave messages alone. */
        error: column().nullable().default(null),
        /** Job type, to apply `job_type_thresholds`. */
        job_type: column().nullable().default(null),
        /** Liveness: a run whose heartbeat is younger than `heartbeat_timeout` is never stale. */
        heartbeat: column().nullable().default(null),
      })
      .strict()
      .prefault({}),
    /** Status value -> age after which a run in that status is stale. */
    thresholds: z.record(statusValue(), duration({ min: 1_000 })).prefault({ submitted: '30m', pending: '1h', running: '2h' }),
    /** Per job type overrides of the threshold, whatever the status. */
    job_type_thresholds: z.record(z.string(), duration({ min: 1_000 })).prefault({}),
    /** Status value -> final status once retries are exhausted (by default running fails, pending is cancelled). */
    final_status: z.record(statusValue(), statusValue()).default({ submitted: 'failed', pending: 'cancelled', running: 'failed' }),
    /** Status a re-queued run is put back to. */
    requeue_status: statusValue().default('pending'),
    max_retries: z.number().int().min(0).max(100).default(3),
    heartbeat_timeout: duration({ min: 1_000 }).prefault('5m'),
    /** Stop after this many runs in one run of the task; the rest waits for the next. */
    max_rows_per_run: z.number().int().min(1).nullable().default(null),
    /** Refuse (before changing anything) to touch more than this share of the table's rows. */
    max_fraction: z.number().gt(0).max(1).default(0.5),
    /** Thresholds below STALE_FLOOR are refused unless this is true: a healthy run is rarely that quiet. */
    allow_short_thresholds: z.boolean().default(false),
    ...sqlTaskFields(500),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const short = (group: 'thresholds' | 'job_type_thresholds') =>
      Object.entries(cfg[group]).forEach(([name, ms]) => {
        if (ms < STALE_FLOOR_MS && !cfg.allow_short_thresholds) {
          ctx.addIssue({
            code: 'custom',
            path: [group, name],
            message: `expected at least ${formatDuration(STALE_FLOOR_MS)} (a shorter threshold needs allow_short_thresholds: true), got ${formatDuration(ms)}`,
          });
        }
      });
    short('thresholds');
    short('job_type_thresholds');
    for (const status of Object.keys(cfg.thresholds)) {
      if (!(status in cfg.final_status)) {
        ctx.addIssue({
          code: 'custom',
          path: ['final_status'],
          message: `expected a final status for "${status}" (it has a threshold), got none`,
        });
      }
    }
    if (cfg.max_retries > 0 && cfg.columns.retry_count === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['columns', 'retry_count'],
        message: `expected a retry counter column when max_retries is ${cfg.max_retries} (or set max_retries: 0)`,
      });
    }
  });

export type RunsCleanupStaleConfig = z.output<typeof runsCleanupStaleConfig>;

export const runsCleanupStale = defineTask({
  type: 'runs.cleanup_stale',
  aliases: ['stale_run.cleanup'],
  description:
    'Finds runs stuck in a non-terminal status past a threshold; re-queues them up to max_retries, then marks them failed or cancelled with a message.',
  workflow: 'runsCleanupStaleWorkflow',
  destructive: true,
  configSchema: runsCleanupStaleConfig,
});
