import { describe, expect, it } from 'vitest';
import { scheduleLiveness } from '../activities/health/checks';
import { buildTaskInput, workflowTypeFor } from '../config/task-input';
import { parseTask } from './fixtures';
import { useTaskEnvironment } from './support';

const env = useTaskEnvironment('schedule_outcome');

describe("health.report's schedule liveness", () => {
  it("includes each schedule's last outcome: critical when its last run failed, warn when a safety limit refused it, ok when it completed", async () => {
    await env.db.pool.query('create table sessions (id bigserial primary key, seen_at timestamptz not null)');
    await env.db.pool.query(
      "create table old_sessions (id bigserial primary key, seen_at timestamptz not null); insert into old_sessions (seen_at) values (now() - interval '30 days'), (now() - interval '40 days')",
    );
    const policies = (table: string) => [{ table, timestamp_column: 'seen_at', older_than: '7d' }];
    const failing = parseTask({ id: 'broken', type: 'retention.enforce', config: { policies: policies('no_such_table') }, retry: { maximum_attempts: 1 } });
    const working = parseTask({ id: 'fine', type: 'retention.enforce', config: { policies: policies('sessions') } });
    // Every row of old_sessions is past 7 days: over max_fraction 0.5, so the real run is refused.
    const limited = parseTask({ id: 'limited', type: 'retention.enforce', config: { policies: policies('old_sessions'), max_fraction: 0.5 } });
    const ids = { broken: `${env.temporal.taskQueue}-broken`, fine: `${env.temporal.taskQueue}-fine`, limited: `${env.temporal.taskQueue}-limited` };
    for (const [task, scheduleId] of [
      [failing, ids.broken],
      [working, ids.fine],
      [limited, ids.limited],
    ] as const) {
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
      await expect.poll(lastOutcomes, { timeout: 50_000 }).toEqual({ [ids.broken]: 'FAILED', [ids.fine]: 'completed', [ids.limited]: 'refused' });
      const byTarget = Object.fromEntries((await checks()).map((c) => [c.target, c]));
      expect(byTarget[ids.broken]).toMatchObject({
        status: 'critical',
        message: expect.stringMatching(/^last fired .*; last run .* FAILED: .*"no_such_table" does not exist/),
      });
      expect(byTarget[ids.limited]).toMatchObject({
        status: 'warn',
        message: expect.stringMatching(/^last fired .*; last run .* refused: .*more than max_fraction 0\.5/),
      });
      expect(await env.db.pool.query('select count(*)::int as n from old_sessions').then((r) => r.rows[0].n)).toBe(2);
      expect(byTarget[ids.fine]).toMatchObject({ status: 'ok', message: expect.stringMatching(/^last fired .*; last run .* completed$/) });
    } finally {
      for (const id of Object.values(ids)) await env.temporal.client.schedule.getHandle(id).delete();
    }
  });
});
