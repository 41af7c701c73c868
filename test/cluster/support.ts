import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient, Pool } from 'pg';
import { inject } from 'vitest';
import { quoteIdent } from '../../activities/sql/identifiers';
import { spawnWorker, stopWorker } from '../../dev/cluster/index';

// The cluster project runs its files in one process (singleFork), so nothing here may install
// the Temporal Runtime (test/support.ts does, once per process): clients only, workers are processes.

const ADMIN_URL = process.env.CARETAKER_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin(sql: string): Promise<void> {
  const client = new PgClient({ connectionString: ADMIN_URL });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

export interface ClusterTestDatabase {
  url: string;
  pool: Pool;
  drop: () => Promise<void>;
}

/** A fresh database for one test file, as test/support.ts makes them. */
export async function createTestDatabase(label: string): Promise<ClusterTestDatabase> {
  const name = `caretaker_test_${label}_${randomBytes(4).toString('hex')}`;
  await admin(`create database ${quoteIdent(name)}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const pool = new Pool({ connectionString: url.toString(), max: 4 });
  // Idle connections die when the database is dropped (`with (force)`) or a test terminates backends;
  // an 'error' on an idle pooled client is expected then, and must not become an uncaught exception.
  pool.on('error', () => undefined);
  return {
    url: url.toString(),
    pool,
    drop: async () => {
      await pool.end();
      await admin(`drop database if exists ${quoteIdent(name)} with (force)`);
    },
  };
}

/** Stops, starts or restarts the cluster's Temporal server (owned by test/cluster/global-setup.ts). */
export async function controlServer(action: 'stop' | 'start' | 'restart'): Promise<void> {
  const res = await fetch(`${inject('clusterControlUrl')}/${action}`, { method: 'POST' });
  if (!res.ok) throw new Error(`cluster ${action}: ${res.status} ${await res.text()}`);
}

/** A client of the cluster; the CLI in this process reaches it through TEMPORAL_ADDRESS. */
export async function clusterClient(): Promise<Client> {
  process.env.TEMPORAL_ADDRESS = inject('clusterAddress');
  process.env.TEMPORAL_NAMESPACE = inject('clusterNamespace');
  return new Client({ connection: await Connection.connect({ address: inject('clusterAddress') }), namespace: inject('clusterNamespace') });
}

export interface ClusterWorker {
  child: ChildProcess;
  /** Everything it printed. */
  output: () => string;
}

/**
 * Standalone worker processes (`node --import tsx worker/main.ts`, as production and
 * `npm run cluster` run them) against the cluster, on one task queue; resolves once all poll.
 */
export async function startWorkers(count: number, taskQueue: string, env: Record<string, string>): Promise<ClusterWorker[]> {
  const workers = Array.from({ length: count }, () => {
    let output = '';
    const child = spawnWorker(
      {
        TEMPORAL_ADDRESS: inject('clusterAddress'),
        TEMPORAL_NAMESPACE: inject('clusterNamespace'),
        CARETAKER_TASK_QUEUE: taskQueue,
        CARETAKER_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
        ...env,
      },
      { output: (line) => (output += `${line}\n`) },
    );
    return { child, output: () => output };
  });
  // Polling for their line, not a timer: hooks cannot use expect.poll.
  for (const w of workers) {
    while (!w.output().includes(`polling task queue "${taskQueue}"`)) {
      if (w.child.exitCode !== null) throw new Error(`worker exited with ${w.child.exitCode} before polling:\n${w.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return workers;
}

export async function stopWorkers(workers: readonly ClusterWorker[]): Promise<void> {
  await Promise.all(workers.map((w) => stopWorker(w.child, 10_000)));
}

export function uniqueTaskQueue(label: string): string {
  return `cluster-${label}-${randomBytes(4).toString('hex')}`;
}

/** The worker process behind a worker identity (`<pid>@<host>`, the SDK's default). */
export function workerByIdentity(workers: readonly ClusterWorker[], identity: string | null | undefined): ClusterWorker | undefined {
  const pid = Number(identity?.split('@')[0]);
  return workers.find((w) => w.child.pid === pid);
}
