import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { caretaker } from './cli';
import { PIPELINE_TASK_CONFIG } from './fixtures';

/** A Temporal dev server of its own, on free ports, started without Caretaker's search attributes. */
let server: TestWorkflowEnvironment;
let dir: string;
let file: string;

beforeAll(async () => {
  server = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: inject('temporalCli') }, log: { format: 'pretty', level: 'error' } },
  });
  process.env.TEMPORAL_ADDRESS = server.address;
  dir = mkdtempSync(join(tmpdir(), 'caretaker-no-attrs-'));
  file = join(dir, 'maintenance.yaml');
  const tasks = [{ id: 'stale-runs', type: 'runs.cleanup_stale', schedule: { every: '1h' }, paused: true, config: PIPELINE_TASK_CONFIG }];
  writeFileSync(file, JSON.stringify({ task_queue: 'no-attrs', tasks }));
});
afterAll(async () => {
  await server?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a Temporal namespace without Caretaker's search attributes", () => {
  it('`run` and `schedules sync` name the missing attribute and `caretaker setup`, and exit 1; after setup they work', async () => {
    const run = await caretaker('run', 'stale-runs', '-f', file);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/caretaker run: Temporal namespace "default" has no search attribute Caretaker\w+/);
    expect(run.err).toContain('Run `caretaker setup` once for this namespace');
    expect(run.out).not.toContain('started');

    const sync = await caretaker('schedules', 'sync', '-f', file);
    expect(sync.code).toBe(1);
    expect(sync.out).toMatch(/create\s+stale-runs\s+Temporal namespace "default" has no search attribute Caretaker\w+/);
    expect(sync.out).toContain('Run `caretaker setup` once for this namespace');
    expect(
      await server.client.schedule
        .getHandle('stale-runs')
        .describe()
        .then(
          () => 'exists',
          () => 'none',
        ),
    ).toBe('none');

    expect((await caretaker('setup')).code).toBe(0);
    // The server serves newly registered attributes after a moment.
    await expect.poll(async () => (await caretaker('schedules', 'sync', '-f', file)).code, { timeout: 30_000 }).toBe(0);
    await expect.poll(async () => (await caretaker('run', 'stale-runs', '-f', file)).code, { timeout: 30_000 }).toBe(0);
  });
});
