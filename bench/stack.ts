import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { Client as PgClient, Pool } from 'pg';
import { quoteIdent } from '../activities/sql/identifiers';
import { buildTaskInput, workflowTypeFor } from '../config/task-input';
import { parseConfigText } from '../config/load';
import type { TaskConfig } from '../config/schema';
import { resolveTemporalCli } from '../dev/temporal-cli';
import { createCaretakerWorker } from '../worker/create-worker';
import type { DatabasePools } from '../activities/engine/deps';
import type { TaskResult } from '../core/contract';
import { startDevServer } from '../dev/dev-server';

/** The real stack for the benchmarks: one dev server, one worker in this process, PostgreSQL databases made on demand. */
export const ADMIN_URL = process.env.CARETAKER_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const PREFIX = `caretaker_bench_${process.pid}`;

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function admin<T>(fn: (client: PgClient) => Promise<T>): Promise<T> {
  const client = new PgClient({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/** Named pools the benchmark adds and removes as it makes and drops databases. */
class BenchPools implements DatabasePools {
  private readonly pools = new Map<string, Pool>();
  get(name: string): Pool {
    const pool = this.pools.get(name);
    if (!pool) throw new Error(`bench: no database "${name}"`);
    return pool;
  }
  names(): string[] {
    return [...this.pools.keys()];
  }
  add(name: string, url: string): void {
    const pool = new Pool({ connectionString: url, max: 10 });
    pool.on('error', () => undefined);
    this.pools.set(name, pool);
  }
  async remove(name: string): Promise<void> {
    await this.pools.get(name)?.end();
    this.pools.delete(name);
  }
  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end()));
    this.pools.clear();
  }
}

export class Stack {
  readonly databases = new Map<string, string>();
  private readonly created: string[] = [];
  private constructor(
    readonly env: TestWorkflowEnvironment,
    readonly client: TemporalClient,
    readonly pools: BenchPools,
    readonly taskQueue: string,
    readonly bundlePath: string,
    readonly cliPath: string,
    private readonly worker: Worker,
    private readonly running: Promise<void>,
    private readonly connections: { native: NativeConnection; client: Connection },
  ) {}

  static async start(bundlePath: string): Promise<Stack> {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    const cli = await resolveTemporalCli({ allowDownload: false });
    if (cli.source === 'sdk-download') throw new Error('unreachable: allowDownload is false');
    const env = await startDevServer({ executable: { type: 'existing-path', path: cli.path }, log: { format: 'pretty', level: 'error' } });
    const native = await NativeConnection.connect({ address: env.address });
    const pools = new BenchPools();
    const taskQueue = `bench-${randomBytes(4).toString('hex')}`;
    const worker = await createCaretakerWorker({
      connection: native,
      namespace: 'default',
      taskQueue,
      databases: pools,
      workflowBundle: { codePath: bundlePath },
    });
    const running = worker.run();
    const connection = await Connection.connect({ address: env.address });
    const client = new TemporalClient({ connection, namespace: 'default' });
    return new Stack(env, client, pools, taskQueue, bundlePath, cli.path, worker, running, { native, client: connection });
  }

  /** A fresh database (a copy of `template` when given), registered with the worker under `name`. */
  async database(name: string, template?: string): Promise<{ url: string; pool: Pool; dbName: string }> {
    const dbName = `${PREFIX}_${name}`;
    await admin(async (c) => {
      await c.query(`drop database if exists ${quoteIdent(dbName)} with (force)`);
      await c.query(`create database ${quoteIdent(dbName)}${template ? ` template ${quoteIdent(`${PREFIX}_${template}`)} strategy file_copy` : ''}`);
    });
    this.created.push(dbName);
    const url = databaseUrl(dbName);
    await this.pools.remove(name);
    this.pools.add(name, url);
    return { url, pool: this.pools.get(name), dbName };
  }

  /** Closes the worker's pool for `name` (a template database must have no connections). */
  async dropPool(name: string): Promise<void> {
    await this.pools.remove(name);
  }

  async dropDatabase(name: string): Promise<void> {
    await this.pools.remove(name);
    await admin((c) => c.query(`drop database if exists ${quoteIdent(`${PREFIX}_${name}`)} with (force)`));
  }

  /** Runs one task (config as in maintenance.yaml) through a workflow on the worker; its result and workflow id. */
  async run(database: string, task: Record<string, unknown>): Promise<{ result: TaskResult; workflowId: string; ms: number; activityMs: number }> {
    const parsed: TaskConfig = parseConfigText(JSON.stringify({ tasks: [{ id: 'bench', database, ...task }] }), 'bench.yaml', {}).tasks[0]!;
    const workflowId = `bench-${randomBytes(6).toString('hex')}`;
    const { ms, value } = await timed(() =>
      this.client.workflow.execute<(i: unknown) => Promise<TaskResult>>(workflowTypeFor(parsed), {
        taskQueue: this.taskQueue,
        workflowId,
        args: [buildTaskInput(parsed)],
      }),
    );
    // The engine's part of the activity (runUnits: the guard, the batches), from its own clock: not
    // Temporal's dispatch, nor the task lock, pool checkout and catalog checks before it.
    const activityMs = Date.parse(value.finishedAt) - Date.parse(value.startedAt);
    return { result: value, workflowId, ms, activityMs };
  }

  async stop(): Promise<void> {
    this.worker.shutdown();
    await this.running;
    await this.connections.client.close();
    await this.connections.native.close();
    await this.pools.close();
    for (const db of this.created) await admin((c) => c.query(`drop database if exists ${quoteIdent(db)} with (force)`)).catch(() => undefined);
    await this.env.teardown();
  }
}
