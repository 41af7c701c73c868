import { describe, expect, it } from 'vitest';
import { scheduleLiveness } from '../activities/health-checks';
import { buildTaskInput, workflowTypeFor } from '../client/task-input';
import { parseTask } from './fixtures';
import { useTaskEnvironment } from './support';

const env = useTaskEnvironment('schedule_outcome');

describe("health.report's schedule liveness", () => {
  it("includes each schedule's last outcome: critical when its last run failed, ok when it completed", async () => {
    await env.db.pool.query('create table sessions (id bigserial primary key, seen_at timestamptz not null)');
    const policies = (table: string) => [{ table, timestamp_column: 'seen_at', older_than: '7d' }];
    const failing = parseTask({ id: 'broken', type: 'retention.enforce', config: { policies: policies('no_such_table') }, retry: { maximum_attempts: 1 } });
    const working = parseTask({ id: 'fine', type: 'retention.enforce', config: { policies: policies('sessions') } });
    const ids = { broken: `${env.temporal.taskQueue}-broken`, fine: `${env.temporal.taskQueue}-fine` };
    for (const [task, scheduleId] of [[failing, ids.broken], [working, ids.fine]] as const) {
      const handle = await env.temporal.client.schedule.create({
        scheduleId,
        spec: { intervals: [{ every: '1h' }] },
        action: { type: 'startWorkflow', workflowType: workflowTypeFor(task), taskQueue: env.temporal.taskQueue, args: [buildTaskInput(task)] },
        memo: { caretaker: { managed: true, taskQueue: env.temporal.taskQueue } },
      });
      await handle.trigger();
    }
    try {
      // Wait for both runs to end (and the schedule list, which is eventually consistent, to show them).
      const checks = async () => (await scheduleLiveness(env.temporal.client, 2)).filter((c) => Object.values(ids).includes(c.target));
      const lastOutcomes = async () => {
        return Object.fromEntries((await checks()).map((c) => [c.target, /; last run \S+ (\w+)/.exec(c.message)?.[1] ?? 'none yet']));
      };
      await expect.poll(lastOutcomes, { timeout: 50_000 }).toEqual({ [ids.broken]: 'FAILED', [ids.fine]: 'completed' });
      const byTarget = Object.fromEntries((await checks()).map((c) => [c.target, c]));
      expect(byTarget[ids.broken]).toMatchObject({ status: 'critical', message: expect.stringMatching(/^last fired .*; last run .* FAILED: .*"no_such_table" does not exist/) });
      expect(byTarget[ids.fine]).toMatchObject({ status: 'ok', message: expect.stringMatching(/^last fired .*; last run .* completed$/) });
    } finally {
      for (const id of Object.values(ids)) await env.temporal.client.schedule.getHandle(id).delete();
    }
  });
});
