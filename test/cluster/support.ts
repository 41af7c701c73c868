import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { expect, inject } from 'vitest';
import { spawnWorker, stopWorker } from '../../dev/cluster/index';

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
  for (const w of workers) await expect.poll(w.output, { timeout: 120_000 }).toContain(`polling task queue "${taskQueue}"`);
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
