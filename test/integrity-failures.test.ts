import { beforeEach, describe, expect, it } from 'vitest';
import { parseTask, runTaskWorkflow, snapshot, taskFailure } from './fixtures';
import { useTaskEnvironment } from './support';

const env = useTaskEnvironment('integrity');

/** Application data that must never reach Temporal's history. */
const SECRET = 'sk_live_CARETAKER_9f3c1d';

beforeEach(async () => {
  await env.db.pool.query(`
    drop schema if exists app cascade;
    create schema app;
    create table app.jobs (
      id         bigint primary key,
      state      text not null constraint jobs_state_allowed check (state in ('queued', 'running', 'failed')),
      attempts   integer not null default 0,
      payload    text not null,
      updated_at timestamptz not null);
    insert into app.jobs select g, case when g <= 3 then 'running' else 'queued' end, 0, '${SECRET}-' || g, now() - interval '3 hours'
      from generate_series(1, 10) g;`);
});

/** Every string of a workflow's history, byte payloads decoded, as one text. */
async function historyText(workflowIdPrefix: string): Promise<{ text: string; attempts: number }> {
  for await (const wf of env.temporal.client.workflow.list({ query: `WorkflowId STARTS_WITH "${workflowIdPrefix}"` })) {
    const history = await env.temporal.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    const text = JSON.stringify(history, (_key, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value));
    const attempts = Math.max(...(history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0));
    return { text, attempts };
  }
  throw new Error(`no workflow ${workflowIdPrefix}`);
}

describe('a constraint violation', () => {
  it('fails the run after one attempt, naming the constraint, table and first key, without the row', async () => {
    const before = await snapshot(env.db.pool, 'app.jobs', 'id');
    // The re-queue status "pending" is one the table's CHECK refuses.
    const task = parseTask({
      id: 'check-refuses',
      type: 'runs.cleanup_stale',
      config: {
        table: 'app.jobs',
        columns: { status: 'state', timestamp: 'updated_at', retry_count: 'attempts' },
        thresholds: { running: '1h' },
        final_status: { running: 'failed' },
        max_retries: 3,
        max_fraction: 1,
      },
      retry: { maximum_attempts: 5, initial_interval: '100ms' },
    });
    const failure = await taskFailure(runTaskWorkflow(env.temporal, task));
    expect(failure.type).toBe('IntegrityViolation');
    expect(failure.message).toContain('violates check constraint "jobs_state_allowed"');
    expect(failure.message).toContain('SQLSTATE 23514; constraint jobs_state_allowed; table app.jobs');
    expect(failure.message).toContain('from key "1"');
    expect(failure.message).not.toContain('Failing row');
    const { text, attempts } = await historyText('check-refuses');
    expect(attempts).toBe(1);
    expect(text).toContain('jobs_state_allowed');
    expect(text).not.toContain(SECRET);
    expect(await snapshot(env.db.pool, 'app.jobs', 'id')).toEqual(before);
  });
});
