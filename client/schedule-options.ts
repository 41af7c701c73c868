import { createHash } from 'node:crypto';
import { type CalendarSpec, DAYS_OF_WEEK, MONTHS, type ScheduleOptions, type ScheduleOverlapPolicy } from '@temporalio/client';
import { CALENDAR_FIELDS, type CalendarFieldName, type CalendarRange } from '../config/calendar';
import type { OverlapPolicyName, ScheduleConfig, TaskConfig } from '../config/schema';
import { OWNER_MEMO_KEY, type OwnerMemo } from '../config/ownership';
import { buildTaskInput, runTimeoutOf, workflowTypeFor } from '../config/task-input';
import { runStartOptions } from './run-start';

/** Key in the schedule action's memo holding the hash of what config produced it. */
export const CONFIG_HASH_KEY = 'caretakerConfigHash';

export function overlapPolicy(name: OverlapPolicyName): ScheduleOverlapPolicy {
  return name.toUpperCase() as ScheduleOverlapPolicy;
}

/**
 * A task with `approval:` always skips: while a plan waits for its decision (up to a day), a fire
 * must neither stack a second plan (buffer_*, allow_all), nor cancel or terminate the waiting one
 * (cancel_other, terminate_other), so an hourly plan could never be approved.
 */
export function effectiveOverlap(task: TaskConfig): OverlapPolicyName {
  return task.approval ? 'skip' : task.overlap;
}

const CALENDAR_KEYS = {
  second: 'second',
  minute: 'minute',
  hour: 'hour',
  day_of_month: 'dayOfMonth',
  month: 'month',
  year: 'year',
  day_of_week: 'dayOfWeek',
} as const;

/**
 * A parsed calendar field in the SDK's own terms (numbers, MONTHS/DAYS_OF_WEEK names, ranges, "*"),
 * in the shortest form, so a config already written that way hashes as it always did.
 */
function sdkCalendarField(field: CalendarFieldName, ranges: CalendarRange[]) {
  const { min, max } = CALENDAR_FIELDS[field];
  const last = field === 'day_of_week' ? 6 : max; // parsing folded 7 into Sunday (0)
  const [only] = ranges;
  if (ranges.length === 1 && only && only.start === min && only.end === last && only.step === 1) return '*';
  const unit = (n: number) => (field === 'month' ? MONTHS[n - 1]! : field === 'day_of_week' ? DAYS_OF_WEEK[n]! : n);
  const items = ranges.map((r) => {
    if (r.start === r.end) return unit(r.start);
    return r.step === 1 ? { start: unit(r.start), end: unit(r.end) } : { start: unit(r.start), end: unit(r.end), step: r.step };
  });
  return items.length === 1 ? items[0] : items;
}

function calendarSpec(calendar: NonNullable<ScheduleConfig['calendars']>[number]): CalendarSpec {
  const spec: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(calendar)) {
    if (value === undefined) continue;
    if (key === 'comment') spec.comment = value;
    else spec[CALENDAR_KEYS[key as CalendarFieldName]] = sdkCalendarField(key as CalendarFieldName, value as CalendarRange[]);
  }
  return spec as CalendarSpec;
}

function scheduleSpec(schedule: ScheduleConfig): ScheduleOptions['spec'] {
  return {
    cronExpressions: schedule.cron,
    intervals: schedule.every?.map((i) => ({ every: i.every, offset: i.offset })),
    calendars: schedule.calendars?.map(calendarSpec),
    timezone: schedule.timezone,
    jitter: schedule.jitter,
  };
}

/** Everything sync owns about a schedule; the hash of it tells whether Temporal's copy is current. */
function desiredParts(task: TaskConfig, taskQueue: string) {
  if (!task.schedule) throw new Error(`task ${task.id} has no schedule`);
  return {
    spec: scheduleSpec(task.schedule),
    action: {
      type: 'startWorkflow' as const,
      workflowType: workflowTypeFor(task),
      workflowId: task.id,
      taskQueue,
      args: [buildTaskInput(task)],
      workflowExecutionTimeout: runTimeoutOf(task),
      ...runStartOptions(task, { how: 'scheduled' }),
    },
    policies: { overlap: overlapPolicy(effectiveOverlap(task)), catchupWindow: task.catchup_window, pauseOnFailure: task.pause_on_failure },
  };
}

export function configHash(task: TaskConfig, taskQueue: string): string {
  return createHash('sha256')
    .update(JSON.stringify(desiredParts(task, taskQueue)))
    .digest('hex')
    .slice(0, 16);
}

/** The full ScheduleOptions for creating a task's schedule. */
export function scheduleOptionsFor(task: TaskConfig, taskQueue: string): ScheduleOptions {
  const parts = desiredParts(task, taskQueue);
  const owner: OwnerMemo = { managed: true, taskQueue };
  return {
    scheduleId: task.id,
    ...parts,
    action: { ...parts.action, memo: { [CONFIG_HASH_KEY]: configHash(task, taskQueue) } },
    memo: { [OWNER_MEMO_KEY]: owner },
    state: {
      paused: task.paused ?? false,
      note: task.paused ? 'paused in maintenance config' : `managed by Caretaker (${task.type})`,
    },
  };
}
