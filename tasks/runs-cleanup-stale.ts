import { z } from 'zod';
import { duration } from './duration';
import { formatDuration } from '../core/duration';
import { defineTask } from './types';
import { column, keyColumn, sqlTaskFields, statusValue, table } from './fields';
import { assignments, columnRef } from './column-refs';
import { runsCleanupStaleRules } from './runs-cleanup-stale-rules';

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
        /** Retry counter (a column or a JSON path like `config->>'retry_count'`); null disables re-queueing (stale runs go straight to their final status). */
        retry_count: columnRef().nullable().default(null),
        /** Receives the reason when a run is failed or cancelled (a column or JSON path); null to leave messages alone. */
        error: columnRef().nullable().default(null),
        /** Set to now() when a run is put in its final status (e.g. `completed_at`), so retention by finish time sees it. */
        finished_at: column().nullable().default(null),
        /** Job type (a column or JSON path), to apply `job_type_thresholds`. */
        job_type: columnRef().nullable().default(null),
        /** Liveness: a run whose heartbeat is younger than `heartbeat_timeout` is never stale. */
        heartbeat: column().nullable().default(null),
      })
      .strict()
      .prefault({}),
    /** Status value -> the column its age is measured from, when not `columns.timestamp` (e.g. `{ pending: created_at }`). */
    age_columns: z.record(statusValue(), column()).default({}),
    /** Status value -> age after which a run in that status is stale. */
    thresholds: z.record(statusValue(), duration({ min: 1_000 })).prefault({ submitted: '30m', pending: '1h', running: '2h' }),
    /** Per job type overrides of the threshold, whatever the status. */
    job_type_thresholds: z.record(z.string(), duration({ min: 1_000 })).prefault({}),
    /** Status value -> final status once retries are exhausted (by default running fails, pending is cancelled). */
    final_status: z.record(statusValue(), statusValue()).default({ submitted: 'failed', pending: 'cancelled', running: 'failed' }),
    /** Status a re-queued run is put back to. */
    requeue_status: statusValue().default('pending'),
    /**
     * What a re-queue also writes, besides status, the age column (now) and the retry count:
     * `{ started_at: null, broker_task_id: null }`; values: a literal, null, `{ now: true }`, `{ increment: N }`.
     */
    requeue_set: assignments(),
    /** Final status -> what finalizing also writes, besides status, error and finished_at: `{ failed: { exit_code: -1 } }`. */
    final_set: z.record(statusValue(), assignments()).default({}),
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
    for (const status of Object.keys(cfg.age_columns)) {
      if (!(status in cfg.thresholds)) {
        ctx.addIssue({
          code: 'custom',
          path: ['age_columns', status],
          message: `expected a status with a threshold (${Object.keys(cfg.thresholds).join(', ')}), got "${status}"`,
        });
      }
    }
    const requeueAge = cfg.age_columns[cfg.requeue_status];
    if (cfg.max_retries > 0 && requeueAge !== undefined && requeueAge !== cfg.columns.timestamp && !(requeueAge in cfg.requeue_set)) {
      ctx.addIssue({
        code: 'custom',
        path: ['requeue_set'],
        message: `expected requeue_set to say what a re-queue writes to ${requeueAge}: re-queued runs go to "${cfg.requeue_status}", whose age counts from ${requeueAge}, so left alone they are stale again at once (e.g. requeue_set: { ${requeueAge}: { now: true } }, or measure "${cfg.requeue_status}" from a column the re-queue resets)`,
      });
    }
    const finals = new Set(Object.values(cfg.final_status));
    for (const status of Object.keys(cfg.final_set)) {
      if (!finals.has(status)) {
        ctx.addIssue({ code: 'custom', path: ['final_set', status], message: `expected a final status (${[...finals].join(', ')}), got "${status}"` });
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
  engineActivity: 'cleanupStaleRuns',
  destructive: true,
  configSchema: runsCleanupStaleConfig,
  rulesForm: runsCleanupStaleRules,
});
