import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { catalogWithPlugins, loadPlugins } from '../config/plugins';
import type { Catalog } from '../tasks';
import { buildWorkflowBundle } from '../worker/bundle';
import { createCaretakerWorker } from '../worker/create-worker';
import { PoolRegistry } from '../worker/databases';
import { caretaker } from './cli';
import { createTestDatabase, startTestWorker, type TestTemporal } from './support';
import { parseTask, runTaskWorkflow, snapshot } from './fixtures';

const PLUGIN = join(__dirname, '..', 'examples', 'custom-task', 'index.ts');

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let temporal: TestTemporal;
let stopPluginWorker: () => Promise<void>;
let catalog: Catalog;

beforeAll(async () => {
  db = await createTestDatabase('plugin');
  // The shared test worker has no plugin; this file runs its own on another queue.
  temporal = await startTestWorker({ default: db.url });
  await temporal.stop();
  const plugins = await loadPlugins(PLUGIN);
  catalog = catalogWithPlugins(plugins);
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const pools = new PoolRegistry(new Map([['default', db.url]]));
  const worker = await createCaretakerWorker({
    connection,
    namespace: 'default',
    taskQueue: temporal.taskQueue,
    databases: pools,
    workflowBundle: await buildWorkflowBundle(plugins),
    plugins,
  });
  const running = worker.run();
  const { Client, Connection } = await import('@temporalio/client');
  const clientConnection = await Connection.connect({ address: inject('temporalAddress') });
  temporal = { ...temporal, client: new Client({ connection: clientConnection }) };
  stopPluginWorker = async () => {
    worker.shutdown();
    await running;
    await Promise.all([connection.close(), clientConnection.close(), pools.close()]);
  };
});
afterAll(async () => {
  await stopPluginWorker?.();
  await db?.drop();
});

describe('examples/custom-task (a plugin task type)', () => {
  it('is known to the CLI once CARETAKER_PLUGINS names it', async () => {
    process.env.CARETAKER_PLUGINS = PLUGIN;
    const tasks = JSON.parse((await caretaker('tasks', '--json')).out) as { type: string; fields: { field: string }[] }[];
    expect(tasks.find((t) => t.type === 'queue.release_leases')?.fields.map((f) => f.field)).toContain('lease');
  });

  it('runs through a worker that loaded it, with dry run and untouched rows', async () => {
    await db.pool.query(`
      create table jobs (id int primary key, locked_by text, locked_at timestamptz);
      insert into jobs values (1, 'worker-a', now() - interval '5 hours'), (2, 'worker-b', now() - interval '10 minutes'),
        (3, null, null), (4, 'worker-c', now() - interval '1 day'), (5, 'worker-d', now());`);
    const task = parseTask({ id: 'leases', type: 'queue.release_leases', config: { table: 'jobs', lease: '4h' } }, 'caretaker', catalog);
    const before = await snapshot(db.pool, 'jobs', 'id');
    const preview = await runTaskWorkflow(temporal, task, { dryRun: true });
    expect(await snapshot(db.pool, 'jobs', 'id')).toEqual(before);
    const real = await runTaskWorkflow(temporal, task);
    expect(real.counts).toEqual({ matched: 2, released: 2 });
    expect(real.details).toEqual(preview.details);
    const after = await snapshot(db.pool, 'jobs', 'id');
    expect(after.filter((r) => [1, 4].includes(r.id as number))).toEqual([
      { id: 1, locked_by: null, locked_at: null },
      { id: 4, locked_by: null, locked_at: null },
    ]);
    expect(after.filter((r) => ![1, 4].includes(r.id as number))).toEqual(before.filter((r) => ![1, 4].includes(r.id as number)));
  });
});
