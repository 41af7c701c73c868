import { z } from 'zod';
import { duration } from './duration';
import { findTaskType, knownTaskTypeNames } from '../tasks';

export const OVERLAP_POLICIES = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'] as const;
export type OverlapPolicyName = (typeof OVERLAP_POLICIES)[number];

const rangeValue = z.union([
  z.number().int(),
  z.string().min(1),
  z.object({ start: z.union([z.number().int(), z.string()]), end: z.union([z.number().int(), z.string()]).optional(), step: z.number().int().min(1).optional() }).strict(),
]);
const calendarField = z.union([rangeValue, z.array(rangeValue).min(1)]).optional();

/** Temporal CalendarSpec in snake_case; omitted fields follow Temporal's defaults (second 0, minute 0, hour 0, every day). */
const calendar = z
  .object({
    second: calendarField,
    minute: calendarField,
    hour: calendarField,
    day_of_month: calendarField,
    month: calendarField,
    year: calendarField,
    day_of_week: calendarField,
    comment: z.string().optional(),
  })
  .strict();

const interval = z.union([
  duration({ min: 1_000 }).transform((every) => ({ every, offset: 0 })),
  z.object({ every: duration({ min: 1_000 }), offset: duration().prefault('0s') }).strict(),
]);

const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

export const scheduleSchema = z
  .object({
    cron: oneOrMany(z.string().min(1)).optional(),
    every: oneOrMany(interval).optional(),
    calendars: z.array(calendar).min(1).optional(),
    timezone: z.string().min(1).default('UTC'),
    jitter: duration().prefault('0s'),
  })
  .strict()
  .refine((s) => s.cron || s.every || s.calendars, { message: 'expected at least one of cron, every or calendars' })
  .refine((s) => isKnownTimeZone(s.timezone), { path: ['timezone'], message: 'expected an IANA time zone such as "UTC" or "Europe/Berlin"' });

function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const retrySchema = z
  .object({
    maximum_attempts: z.number().int().min(1).default(5),
    initial_interval: duration({ min: 1 }).prefault('1s'),
    backoff_coefficient: z.number().min(1).default(2),
    maximum_interval: duration({ min: 1 }).prefault('1m'),
  })
  .strict()
  .prefault({});

const timeoutsSchema = z
  .object({
    /** Whole workflow run (Temporal workflowExecutionTimeout). */
    run: duration({ min: 1_000 }).prefault('2h'),
    /** One activity attempt (startToCloseTimeout). */
    activity: duration({ min: 1_000 }).prefault('30m'),
    /** An activity that has not heartbeated for this long is considered lost and retried. */
    heartbeat: duration({ min: 1_000 }).prefault('1m'),
  })
  .strict()
  .prefault({});

export const taskSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'expected a task id of lower-case letters, digits, "-" and "_" (it becomes the schedule id)'),
    type: z.string().refine((name) => findTaskType(name) !== undefined, {
      error: (issue) => `expected one of ${knownTaskTypeNames().join(', ')}; got ${JSON.stringify(issue.input)}`,
    }),
    description: z.string().optional(),
    /** Named target database; the worker maps it to a connection string (see worker/databases.ts). */
    database: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, 'expected a database name of lower-case letters, digits and "_"')
      .default('default'),
    schedule: scheduleSchema.optional(),
    overlap: z.enum(OVERLAP_POLICIES).default('skip'),
    /** Always sent to Temporal: the SDK documents two different defaults (1 minute and 1 year). */
    catchup_window: duration({ min: 10_000 }).prefault('10m'),
    pause_on_failure: z.boolean().default(false),
    /** Unset: sync keeps whatever pause state the schedule has (an operator's pause survives). */
    paused: z.boolean().optional(),
    /** false: the task has no schedule (sync deletes one it owns); it can still be run ad hoc. */
    enabled: z.boolean().default(true),
    run_on_startup: z.boolean().default(false),
    timeouts: timeoutsSchema,
    retry: retrySchema,
    config: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .transform((task, ctx) => {
    const taskType = findTaskType(task.type)!; // the type field's own check rejected unknown names
    const parsed = taskType.configSchema.safeParse(task.config);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: ['config', ...issue.path] } as never);
      return z.NEVER;
    }
    // rawConfig keeps what the file said, so `caretaker run --config` can override single keys.
    return { ...task, type: taskType.type, config: parsed.data as Record<string, unknown>, rawConfig: task.config };
  });

export const configSchema = z
  .object({
    version: z.literal(1).default(1),
    /** Temporal task queue the worker polls and schedules start workflows on. */
    task_queue: z.string().min(1).default('caretaker'),
    tasks: z.array(taskSchema),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    cfg.tasks.forEach((task, index) => {
      const first = seen.get(task.id);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['tasks', index, 'id'], message: `expected a unique id; "${task.id}" is also tasks[${first}].id` });
      }
      seen.set(task.id, index);
    });
  });

export type CaretakerConfig = z.output<typeof configSchema>;
export type TaskConfig = CaretakerConfig['tasks'][number];
export type ScheduleConfig = z.output<typeof scheduleSchema>;
