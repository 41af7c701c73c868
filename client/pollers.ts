import type { Client } from '@temporalio/client';

/** temporal.api.enums.v1.TaskQueueType */
const QUEUE_TYPES = { workflow: 1, activity: 2 } as const;
/** A poller seen this recently counts as a live worker (workers long-poll about once a minute). */
const RECENT_MS = 2 * 60_000;

/** Which kinds of task (workflow, activity) no worker has polled on `taskQueue` recently. */
export async function unpolledQueueTypes(client: Client, taskQueue: string): Promise<string[]> {
  const missing: string[] = [];
  for (const [kind, taskQueueType] of Object.entries(QUEUE_TYPES)) {
    const { pollers } = await client.workflowService.describeTaskQueue({ namespace: client.options.namespace, taskQueue: { name: taskQueue }, taskQueueType });
    const now = Date.now();
    const live = (pollers ?? []).some((p) => {
      const seconds = Number(p.lastAccessTime?.seconds ?? 0);
      return now - seconds * 1000 < RECENT_MS;
    });
    if (!live) missing.push(kind);
  }
  return missing;
}

/**
 * No silent waits: warns on stderr at once when no worker polls the queue a run is waiting on, and
 * says which queue. A failure to ask is not a reason to stop the command.
 */
export async function warnIfNoWorker(client: Client, taskQueue: string): Promise<string | undefined> {
  const missing = await unpolledQueueTypes(client, taskQueue).catch(() => []);
  if (missing.length === 0) return undefined;
  const warning = `warning: no worker has polled task queue "${taskQueue}" (${missing.join(' and ')} tasks) in the last ${RECENT_MS / 60_000} minutes; the run waits until one does (start one: CARETAKER_TASK_QUEUE=${taskQueue} npm run worker)`;
  console.error(`caretaker: ${warning}`);
  return warning;
}
