import { z } from 'zod';
import { duration } from '../tasks/duration';
import { formatDuration } from '../core/duration';
import { scheduleSchema } from './schedule';
import { builtinCatalog, type Catalog } from '../tasks';
import { refusalText } from '../tasks/plannable';
import { timeZone } from '../tasks/fields';
import { alertsBlockSchema, effectiveAlerts } from './alerts';
import { approvalBlockSchema, effectiveApproval } from './approval';

export const OVERLAP_POLICIES = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'] as const;
export type OverlapPolicyName = (typeof OVERLAP_POLICIES)[number];

/** Temporal's retry policy for the task's activity; the defaults apply to keys the file leaves out. */
const RETRY_DEFAULTS = { maximum_attempts: 5, initial_interval: 1_000, backoff_coefficient: 2, maximum_interval: 60_000 };

const retrySchema = z
  .object({
    maximum_attempts: z.number().int().min(1).optional(),
    initial_interval: duration({ min: 1 }).optional(),
    backoff_coefficient: z.number().min(1).optional(),
    maximum_interval: duration({ min: 1 }).optional(),
  })
  .strict()
  .prefault({})
  .transform((given, ctx) => {
    const retry = {
      maximum_attempts: given.maximum_attempts ?? RETRY_DEFAULTS.maximum_attempts,
      initial_interval: given.initial_interval ?? RETRY_DEFAULTS.initial_interval,
      backoff_coefficient: given.backoff_coefficient ?? RETRY_DEFAULTS.backoff_coefficient,
      maximum_interval: given.maximum_interval ?? RETRY_DEFAULTS.maximum_interval,
    };
    // Temporal refuses such a policy when the workflow schedules the activity (unless there is only one
    // attempt), so every run would fail its workflow task until the run timeout.
    if (retry.maximum_attempts !== 1 && retry.maximum_interval < retry.initial_interval) {
      const [initial, maximum] = [formatDuration(retry.initial_interval), formatDuration(retry.maximum_interval)];
      ctx.addIssue(
        given.maximum_interval === undefined
          ? { code: 'custom', path: ['initial_interval'], message: `expected at most maximum_interval (${maximum}, the default; set it too), got ${initial}` }
          : { code: 'custom', path: ['maximum_interval'], message: `expected at least initial_interval (${initial}), got ${maximum}` },
      );
      return z.NEVER;
    }
    return retry;
  });

/** Temporal timeouts of a run; the defaults apply to keys the file leaves out. */
const TIMEOUT_DEFAULTS = { run: 7_200_000, activity: 1_800_000, heartbeat: 60_000 };

const timeoutsSchema = z
  .object({
    /** Whole workflow run (Temporal workflowExecutionTimeout). */
    run: duration({ min: 1_000 }).optional(),
    /** One activity attempt (startToCloseTimeout). */
    activity: duration({ min: 1_000 }).optional(),
    /** An activity that has not heartbeated for this long is considered lost and retried. */
    heartbeat: duration({ min: 1_000 }).optional(),
  })
  .strict()
  .prefault({})
  .transform((given, ctx) => {
    const timeouts = {
      run: given.run ?? TIMEOUT_DEFAULTS.run,
      activity: given.activity ?? TIMEOUT_DEFAULTS.activity,
      heartbeat: given.heartbeat ?? TIMEOUT_DEFAULTS.heartbeat,
    };
    // An attempt allowed to outlast the whole run is cut off by the run's timeout, which ends the run: no retry.
    if (timeouts.run < timeouts.activity) {
      const [run, activity] = [formatDuration(timeouts.run), formatDuration(timeouts.activity)];
      ctx.addIssue(
        given.run === undefined
          ? { code: 'custom', path: ['activity'], message: `expected at most run (${run}, the default; set it too), got ${activity}` }
          : {
              code: 'custom',
              path: ['run'],
              message: `expected at least activity (${activity}${given.activity === undefined ? ', the default' : ''}), got ${run}: set run to ${activity} or more, or activity to ${run} or less`,
            },
      );
      return z.NEVER;
    }
    return timeouts;
  });

/** A task's fields; `type` is checked against the catalog and `config` by its type's schema in `taskSchema`. */
const taskFields = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'expected a task id of lower-case letters, digits, "-" and "_" (it becomes the schedule id)'),
  type: z.string(),
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
  /** Replaces the global `alerts:` keys for this task; false mutes it (config/alerts.ts). */
  alerts: z.union([z.literal(false), alertsBlockSchema]).optional(),
  /** Plan → approve → apply; replaces the global `approval:`; false turns it off (config/approval.ts). */
  approval: z.union([approvalBlockSchema, z.literal(false)]).optional(),
});

/** One task of the file, its type looked up in `catalog` and its `config` validated by that type's schema. */
export function taskSchema(catalog: Catalog = builtinCatalog) {
  const typeField = z.string().refine((name) => catalog.find(name) !== undefined, {
    error: (issue) => `expected one of ${catalog.names().join(', ')}; got ${JSON.stringify(issue.input)}`,
  });
  return taskFields
    .extend({ type: typeField })
    .strict()
    .transform((task, ctx) => {
      const taskType = catalog.find(task.type)!; // the type field's own check rejected unknown names
      const parsed = taskType.configSchema.safeParse(task.config);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: ['config', ...issue.path] } as never);
        return z.NEVER;
      }
      const refusal = approvalRefusal(catalog, taskType.type, parsed.data);
      if (refusal !== undefined && task.approval !== undefined && task.approval !== false) {
        ctx.addIssue({
          code: 'custom',
          path: ['approval'],
          message: `expected no approval on a ${taskType.type} task: ${refusal}, so it cannot be planned and approved (approval is for tasks that delete, update or archive rows)`,
        });
        return z.NEVER;
      }
      // rawConfig keeps what the file said, so `caretaker run --config` can override single keys.
      // alerts: the task's own rules here; the file's transform below merges the global ones in.
      return {
        ...task,
        type: taskType.type,
        /** The workflow that runs it, from the catalog, so nothing after parsing needs the catalog to start a run. */
        workflow: taskType.workflow,
        config: parsed.data as Record<string, unknown>,
        rawConfig: task.config,
        alerts: effectiveAlerts(undefined, task.alerts),
        ownAlerts: task.alerts,
        approval: effectiveApproval(undefined, task.approval),
        ownApproval: task.approval,
      };
    });
}

/** Why a task of this type and config cannot run with approval (the catalog's `unplannable`, tasks/plannable.ts), or undefined. */
export function approvalRefusal(catalog: Catalog, type: string, config: unknown): string | undefined {
  const refusal = catalog.find(type)?.unplannable?.(config as never);
  return refusal && refusalText(refusal);
}

const DATABASE_NAME = /^[a-z][a-z0-9_]*$/;

/** Settings per named database that its tasks inherit: `databases: { default: { timestamps: { zone: UTC } } }`. */
const databasesSchema = z
  .record(
    z.string().regex(DATABASE_NAME, 'expected a database name of lower-case letters, digits and "_"'),
    z.object({ timestamps: z.object({ zone: timeZone() }).strict().optional() }).strict(),
  )
  .default({});

type RawTask = { type?: unknown; database?: unknown; config?: unknown };

/**
 * Before validation: a task of a type with `timestamps` whose config names no zone inherits its
 * database's. Done on the raw file, so the task's config (and `run --config` overrides of it)
 * carries the zone like any key the file wrote.
 */
function inheritDatabaseZones(input: unknown, catalog: Catalog): unknown {
  const file = input as { databases?: Record<string, { timestamps?: { zone?: unknown } }>; tasks?: unknown };
  if (!file || typeof file !== 'object' || !Array.isArray(file.tasks) || !file.databases || typeof file.databases !== 'object') return input;
  const tasks = (file.tasks as RawTask[]).map((task) => {
    const zone = file.databases?.[typeof task?.database === 'string' ? task.database : 'default']?.timestamps?.zone;
    const schema = typeof task?.type === 'string' ? catalog.find(task.type)?.configSchema : undefined;
    const takesZone = schema instanceof z.ZodObject && 'timestamps' in schema.shape;
    const config = (task?.config ?? {}) as { timestamps?: { zone?: unknown } };
    if (zone === undefined || !takesZone || typeof config !== 'object' || config.timestamps?.zone !== undefined) return task;
    return { ...task, config: { ...config, timestamps: { ...config.timestamps, zone } } };
  });
  return { ...file, tasks };
}

const schemas = new WeakMap<Catalog, ReturnType<typeof buildConfigSchema>>();

/** The whole file's schema for the task types of `catalog` (built once per catalog). */
export function configSchema(catalog: Catalog = builtinCatalog): ReturnType<typeof buildConfigSchema> {
  let schema = schemas.get(catalog);
  if (!schema) schemas.set(catalog, (schema = buildConfigSchema(catalog)));
  return schema;
}

function buildConfigSchema(catalog: Catalog) {
  return z.preprocess(
    (input) => inheritDatabaseZones(input, catalog),
    z
      .object({
        version: z.literal(1).default(1),
        /** Temporal task queue the worker polls and schedules start workflows on. */
        task_queue: z.string().min(1).default('caretaker'),
        databases: databasesSchema,
        /** Webhooks and rules for every task (config/alerts.ts). */
        alerts: alertsBlockSchema.optional(),
        /** Plan → approve → apply for every task (config/approval.ts); a task's own block replaces it. */
        approval: approvalBlockSchema.optional(),
        tasks: z.array(taskSchema(catalog)),
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
      })
      // Each task carries its effective alert rules (global merged with its own) into its run input,
      // and its effective approval rule (the task's own, else the global one).
      .transform((cfg) => ({
        ...cfg,
        tasks: cfg.tasks.map((task) => ({
          ...task,
          alerts: effectiveAlerts(cfg.alerts, task.ownAlerts),
          // A global approval applies to the tasks that can be planned; validate says which it skips.
          approval: approvalRefusal(catalog, task.type, task.config) === undefined ? effectiveApproval(cfg.approval, task.ownApproval) : undefined,
        })),
      })),
  );
}

export type CaretakerConfig = z.output<ReturnType<typeof buildConfigSchema>>;
export type TaskConfig = CaretakerConfig['tasks'][number];
export type ScheduleConfig = z.output<typeof scheduleSchema>;
