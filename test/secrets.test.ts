import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTaskInput, workflowTypeFor } from '../config/task-input';
import type { TaskResult } from '../workflows/types';
import { caretaker } from './cli';
import { parseTask, runTaskWorkflow, taskFailure } from './fixtures';
import { useTaskEnvironment } from './support';

const env = useTaskEnvironment('secrets');
/** Part of each secret's value; it must never reach Temporal. */
const CANARY = `canary-${randomBytes(8).toString('hex')}`;
const requests: { url?: string; body: string }[] = [];
let server: Server;
let dir: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => (requests.push({ url: req.url, body }), res.writeHead(200).end('ok')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // The test worker runs in this process, so this is the worker's environment. Redis here has no
  // password, and its default user (nopass) accepts AUTH with any password.
  process.env.TEST_REDIS_URL = `redis://default:${CANARY}@127.0.0.1:6379`;
  process.env.TEST_ALERT_WEBHOOK_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/${CANARY}`;
  process.env.TEST_NOT_A_URL = `hooks.example.invalid/${CANARY}`;
  process.env.TEST_HOOK_WITH_CREDENTIALS = `http://alerts:${CANARY}@127.0.0.1:1/hook`;
  process.env.TEMPORAL_ADDRESS = env.temporal.address;
  dir = mkdtempSync(join(tmpdir(), 'caretaker-secrets-'));
});
afterAll(() => {
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Critical (a missing disk path), so the webhook fires; no database checks beyond latency. */
const healthConfig = (extra: Record<string, unknown> = {}) => ({
  redis: { url_env: 'TEST_REDIS_URL' },
  webhook: { url_env: 'TEST_ALERT_WEBHOOK_URL', notify_on: 'warn' },
  disk: [{ path: '/no/such/dir' }],
  schedule_liveness: false,
  ...extra,
});

/** Any value as JSON with every byte array (payloads) decoded as text, so a secret in a payload shows. */
function readable(value: unknown): string {
  const plain = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    if (v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
    return v;
  };
  return JSON.stringify(plain(value));
}

const configError = (config: Record<string, unknown>): string => {
  try {
    parseTask({ id: 'health', type: 'health.report', config });
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a config error');
};

describe('secrets named in config', () => {
  it('reach the checks from the worker environment, and never the run history or the schedule', async () => {
    const task = parseTask({ id: 'health', type: 'health.report', config: healthConfig() });
    const handle = await env.temporal.client.workflow.start(workflowTypeFor(task), {
      taskQueue: env.temporal.taskQueue,
      workflowId: `secrets-${env.temporal.taskQueue}`,
      args: [buildTaskInput(task)],
    });
    const result = (await handle.result()) as TaskResult;
    expect(result.details.find((d) => d.check === 'redis')).toMatchObject({ status: 'ok', target: '127.0.0.1:6379', message: 'PING -> PONG' });
    expect(requests).toEqual([{ url: `/hooks/${CANARY}`, body: expect.stringContaining('CRITICAL disk /no/such/dir') }]);

    const history = readable(await handle.fetchHistory());
    expect(history).toContain('TEST_ALERT_WEBHOOK_URL'); // payloads are decoded: the input is readable
    expect(history).toContain('PING -> PONG'); // and so is the result
    expect(history).not.toContain(CANARY);

    const scheduleId = `${env.temporal.taskQueue}-health`;
    const file = join(dir, 'maintenance.yaml');
    const tasks = [{ id: scheduleId, type: 'health.report', schedule: { every: '1h' }, paused: true, config: healthConfig() }];
    writeFileSync(file, JSON.stringify({ task_queue: env.temporal.taskQueue, tasks }));
    expect(await caretaker('schedules', 'sync', '-f', file)).toMatchObject({ code: 0 });
    try {
      const schedule = readable(await env.temporal.client.schedule.getHandle(scheduleId).describe());
      expect(schedule).toContain('TEST_REDIS_URL');
      expect(schedule).not.toContain(CANARY);
    } finally {
      await env.temporal.client.schedule.getHandle(scheduleId).delete();
    }
  });

  it('fail without retrying when the worker lacks the variable or it holds no URL, naming it and not its value', async () => {
    const unset = await taskFailure(
      runTaskWorkflow(env.temporal, parseTask({ id: 'health', type: 'health.report', config: healthConfig({ redis: { url_env: 'TEST_UNSET_REDIS_URL' } }) })),
    );
    expect(unset).toMatchObject({
      type: 'ConfigError',
      nonRetryable: true,
      message: "task health: config.redis.url_env: expected the worker's environment to set TEST_UNSET_REDIS_URL, got nothing; set it where the worker runs",
    });
    const notUrl = await taskFailure(
      runTaskWorkflow(env.temporal, parseTask({ id: 'health', type: 'health.report', config: healthConfig({ webhook: { url_env: 'TEST_NOT_A_URL' } }) })),
    );
    expect(notUrl).toMatchObject({
      type: 'ConfigError',
      nonRetryable: true,
      message: expect.stringContaining('expected TEST_NOT_A_URL on the worker to hold a https:// or http:// URL'),
    });
    expect(notUrl.message).not.toContain(CANARY);
  });

  it('scrub a secret that an error message repeats before it reaches the result', async () => {
    const task = parseTask({
      id: 'health',
      type: 'health.report',
      config: healthConfig({ redis: undefined, webhook: { url_env: 'TEST_HOOK_WITH_CREDENTIALS' } }),
    });
    const result = await runTaskWorkflow(env.temporal, task);
    // fetch refuses a URL with credentials, and its message quotes the URL.
    expect(result.errors).toEqual(['webhook failed: Request cannot be constructed from a URL that includes credentials: $TEST_HOOK_WITH_CREDENTIALS']);
    expect(JSON.stringify(result)).not.toContain(CANARY);
  });

  it('refuses a password or a webhook URL written into config, pointing at url_env and not repeating it', () => {
    const password = configError({ redis: { url: `redis://default:${CANARY}@cache.internal:6379` } });
    expect(password).toContain('tasks[0].config.redis.url: expected a URL without a password, got one with a password');
    expect(password).toContain('redis: { url_env: REDIS_URL }');
    expect(configError({ redis: { url: `redis://cache.internal:6379?password=${CANARY}` } })).toContain('expected a URL without a password');

    const hook = configError({ webhook: { url: `https://hooks.slack.invalid/services/${CANARY}` } });
    expect(hook).toContain('tasks[0].config.webhook.url: expected webhook: { url_env: ALERT_WEBHOOK_URL }');
    expect(configError({ redis_url: `redis://:${CANARY}@cache:6379` })).toContain('tasks[0].config.redis_url: expected redis: { url_env: REDIS_URL }');
    // A ${VAR} interpolated into url_env by mistake: the message does not show the value.
    const interpolated = configError({ redis: { url_env: `redis://:${CANARY}@cache:6379` } });
    expect(interpolated).toContain('config.redis.url_env: expected the name of an environment variable on the worker');
    for (const message of [password, hook, interpolated]) expect(message).not.toContain(CANARY);

    const literal = parseTask({ id: 'health', type: 'health.report', config: { redis: { url: 'redis://127.0.0.1:6379' } } });
    expect(literal.config.redis).toEqual({ url: 'redis://127.0.0.1:6379' });
  });
});
