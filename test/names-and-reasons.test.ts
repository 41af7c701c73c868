import { Client } from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTaskInput, workflowTypeFor } from '../config/task-input';
import { caretaker } from './cli';
import { useTaskEnvironment } from './support';
import { parseTask, runTaskWorkflow, snapshot, taskFailure } from './fixtures';

const env = useTaskEnvironment('names');

beforeAll(async () => {
  process.env.TEMPORAL_ADDRESS = env.temporal.address;
  await env.db.pool.query(`
    create table "jöbs_日本" (id bigint primary key, "créé_le" timestamptz not null, état text);
    insert into "jöbs_日本" select g, now() - case when g <= 3 then interval '40 days' else interval '1 day' end, 'fini' from generate_series(1, 5) g;
    create table legacy (id bigint not null, created_at timestamptz not null, deleted_at timestamptz);
    create unique index legacy_id_live on legacy (id) where deleted_at is null;
    insert into legacy select g, now() - interval '40 days', null from generate_series(1, 4) g;`);
});

const retention = (policy: Record<string, unknown>) =>
  parseTask(
    { id: 'names', type: 'retention.enforce', config: { policies: [{ older_than: '30d', ...policy }], max_fraction: 1 }, retry: { maximum_attempts: 1 } },
    env.temporal.taskQueue,
  );

describe('names PostgreSQL accepts unquoted', () => {
  it('a table and columns named with non-ASCII letters are accepted, and exactly the old rows go, as the dry run said', async () => {
    const task = retention({ table: 'jöbs_日本', timestamp_column: 'créé_le' });
    const before = await snapshot(env.db.pool, '"jöbs_日本"', 'id');
    const dry = await runTaskWorkflow(env.temporal, task, { dryRun: true });
    expect(dry.counts).toMatchObject({ matched: 3, would_delete: 3 });
    expect(await snapshot(env.db.pool, '"jöbs_日本"', 'id')).toEqual(before);
    const real = await runTaskWorkflow(env.temporal, task);
    expect(real.counts).toMatchObject({ matched: 3, deleted: 3 });
    expect(await snapshot(env.db.pool, '"jöbs_日本"', 'id')).toEqual(before.filter((row) => Number(row.id) > 3));
  });
});

describe('a table whose only unique index is partial', () => {
  it('is refused, naming the partial index and why it cannot be a key; nothing changes', async () => {
    const before = await snapshot(env.db.pool, 'legacy', 'id');
    const failure = await taskFailure(runTaskWorkflow(env.temporal, retention({ table: 'legacy', id_column: 'id', timestamp_column: 'created_at' })));
    expect(failure.type).toBe('ConfigError');
    expect(failure.message).toContain(
      'it has no primary key, only a partial unique index (legacy_id_live: (id) WHERE (deleted_at IS NULL)), which cannot serve as a key',
    );
    expect(failure.message).not.toContain('no primary key or unique index');
    expect(await snapshot(env.db.pool, 'legacy', 'id')).toEqual(before);
  });
});

describe('caretaker status', () => {
  it('says in its text why a run is paused', async () => {
    // Three other sessions busy in this database: over max_active_connections 2.
    const busy = await Promise.all(
      [1, 2, 3].map(async () => {
        const c = new Client({ connectionString: env.db.url });
        await c.connect();
        const pid = (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
        return { c, pid, running: c.query('select pg_sleep(600)').catch(() => undefined) };
      }),
    );
    const task = parseTask({
      id: 'names',
      type: 'retention.enforce',
      config: {
        policies: [{ table: 'jöbs_日本', timestamp_column: 'créé_le', older_than: '30d' }],
        throttle: { max_active_connections: 2, check_interval: '50ms', max_check_interval: '200ms' },
      },
      timeouts: { heartbeat: '2s' },
    });
    const workflowId = `names-paused-${Date.now()}`;
    const handle = await env.temporal.client.workflow.start(workflowTypeFor(task), {
      taskQueue: env.temporal.taskQueue,
      workflowId,
      args: [buildTaskInput(task, { dryRun: true })],
    });
    try {
      await expect
        .poll(async () => (await caretaker('status', workflowId)).out, { timeout: 30_000 })
        .toContain('paused: active_connections (more sessions busy than throttle.max_active_connections)');
    } finally {
      await env.db.pool.query('select pg_cancel_backend(pid) from unnest($1::int[]) pid', [busy.map((b) => b.pid)]);
      await Promise.all(busy.map(async (b) => (await b.running, await b.c.end())));
    }
    await handle.result();
  });
});
