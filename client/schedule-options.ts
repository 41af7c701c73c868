import { createHash } from 'node:crypto';
import type { CalendarSpec, ScheduleOptions, ScheduleOverlapPolicy } from '@temporalio/client';
import type { OverlapPolicyName, ScheduleConfig, TaskConfig } from '../config/schema';
import { OWNER_MEMO_KEY, type OwnerMemo } from '../config/ownership';
import { buildTaskInput, workflowTypeFor } from './task-input';


/** Key in the schedule action's memo holding the hash of what config produced it. */
export const CONFIG_HASH_KEY = 'caretakerConfigHash';

export function overlapPolicy(name: OverlapPolicyName): ScheduleOverlapPolicy {
  return name.toUpperCase() as ScheduleOverlapPolicy;
}

const CALENDAR_KEYS = { second: 'second', minute: 'minute', hour: 'hour', day_of_month: 'dayOfMonth', month: 'month', year: 'year', day_of_week: 'dayOfWeek', comment: 'comment' } as const;

function scheduleSpec(schedule: ScheduleConfig): ScheduleOptions['spec'] {
  return {
    cronExpressions: schedule.cron,
    intervals: schedule.every?.map((i) => ({ every: i.every, offset: i.offset })),
    calendars: schedule.calendars?.map(
      (c) => Object.fromEntries(Object.entries(c).map(([k, v]) => [CALENDAR_KEYS[k as keyof typeof CALENDAR_KEYS], v])) as CalendarSpec,
    ),
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
      workflowExecutionTimeout: task.timeouts.run,
      staticSummary: `Caretaker ${task.type} (${task.id})`,
    },
    policies: { overlap: overlapPolicy(task.overlap), catchupWindow: task.catchup_window, pauseOnFailure: task.pause_on_failure },
  };
}

export function configHash(task: TaskConfig, taskQueue: string): string {
  return createHash('sha256').update(JSON.stringify(desiredParts(task, taskQueue))).digest('hex').slice(0, 16);
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

