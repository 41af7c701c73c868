import { randomBytes } from 'node:crypto';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { Client as PgClient, Pool } from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { createCaretakerWorker } from '../worker/create-worker';
import { PoolRegistry, type PoolSettings } from '../worker/databases';
import { quoteIdent } from '../activities/sql/identifiers';

Runtime.install({ logger: new DefaultLogger('WARN') });

export const ADMIN_URL = process.env.CARETAKER_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(fn: (client: PgClient) => Promise<T>): Promise<T> {
  const client = new PgClient({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database for one test file; `drop()` removes it. */
export async function createTestDatabase(label: string): Promise<{ name: string; url: string; pool: Pool; drop: () => Promise<void> }> {
  const name = `caretaker_test_${label}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`create database ${quoteIdent(name)}`));
  const url = databaseUrl(name);
  const pool = new Pool({ connectionString: url, max: 4 });
  // Idle connections die when the database is dropped (`with (force)`) or a test terminates backends;
  // an 'error' on an idle pooled client is expected then, and must not become an uncaught exception.
  pool.on('error', () => undefined);
  return {
    name,
    url,
    pool,
    drop: async () => {
      await pool.end();
      await admin((c) => c.query(`drop database if exists ${quoteIdent(name)} with (force)`));
    },
  };
}

export interface TestTemporal {
  client: TemporalClient;
  taskQueue: string;
  address: string;
  worker: Worker;
  stop: () => Promise<void>;
}

/** A Caretaker worker on its own task queue against the shared dev server, running until `stop()`. */
export async function startTestWorker(databases: Record<string, string>, opts: { taskQueue?: string; settings?: PoolSettings } = {}): Promise<TestTemporal> {
  const address = inject('temporalAddress');
  const taskQueue = opts.taskQueue ?? `test-${randomBytes(6).toString('hex')}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const pools = new PoolRegistry(new Map(Object.entries(databases)), opts.settings);
  const worker = await createCaretakerWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    databases: pools,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    shutdownGraceTime: '5s',
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  return {
    client: new TemporalClient({ connection, namespace: 'default' }),
    taskQueue,
    address,
    worker,
    stop: async () => {
      worker.shutdown();
      await running;
      await Promise.all([connection.close(), nativeConnection.close(), pools.close()]);
    },
  };
}

export type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

/** This test file's own database and a worker using it, set up before its tests and removed after. */
export function useTaskEnvironment(label: string): { readonly db: TestDatabase; readonly temporal: TestTemporal } {
  const env = {} as { db: TestDatabase; temporal: TestTemporal };
  beforeAll(async () => {
    env.db = await createTestDatabase(label);
    env.temporal = await startTestWorker({ default: env.db.url });
  });
  afterAll(async () => {
    await env.temporal?.stop();
    await env.db?.drop();
  });
  return env;
}
