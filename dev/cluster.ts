import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { loadPlugins } from '../config/plugins';
import { buildWorkflowBundle } from '../worker/bundle';
import { clusterPorts, defaultClusterSettings, parsePort, spawnWorker, startCluster, stopWorker } from './cluster/index';
import { resolveTemporalServer } from './temporal-server';

const USAGE = `npm run cluster -- [--workers N] [--port PORT]

A Temporal server (all services in one process) persisted in the local PostgreSQL, and N Caretaker
workers. State: databases caretaker_temporal and caretaker_temporal_visibility; config and server
log in .caretaker/cluster/. Ctrl-C stops the workers (running batches finish), then the server.

  --workers N    worker processes (default 2)
  --port PORT    the frontend's gRPC port (default $CARETAKER_CLUSTER_PORT or 7333, at most 32747); the
                 server also uses PORT+1..3, PORT+10..13 and PORT+20 (HTTP API)
The workers get this environment plus TEMPORAL_ADDRESS; DATABASE_URL etc. as for \`npm run worker\`.`;

function parseWorkers(value: string | undefined): number {
  if (value === undefined) return 2;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 32) throw new Error(`--workers: expected a number of workers from 0 to 32, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { workers: { type: 'string' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return console.log(USAGE);
  const workers = parseWorkers(values.workers);
  const settings = defaultClusterSettings();
  settings.port = parsePort(values.port, '--port') ?? settings.port;

  const binaries = await resolveTemporalServer((l) => console.log(l));
  console.log(`temporal: ${binaries.sources}`);
  const cluster = await startCluster(binaries, settings);
  const address = cluster.server.address;
  console.log(
    `temporal: server on ${address} (HTTP API :${clusterPorts(settings.port).http}); databases ${Object.values(settings.databases).join(', ')}` +
      `${cluster.createdDatabases.length ? ' created' : ' reused'}; namespace ${settings.namespace}${cluster.namespaceCreated ? ' created' : ''}; ` +
      `search attributes ${cluster.searchAttributesAdded.length ? `registered: ${cluster.searchAttributesAdded.join(', ')}` : 'in place'}; log ${join(settings.dir, 'server.log')}`,
  );

  const children: ChildProcess[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      console.log('cluster: stopping workers, then the server...');
      await Promise.all(children.map((c) => stopWorker(c)));
      await cluster.server.stop();
      console.log('cluster: stopped');
    })());
  const stopped = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop().then(resolve));
  });

  if (workers > 0) {
    mkdirSync(settings.dir, { recursive: true });
    const bundlePath = join(settings.dir, 'workflow-bundle.js');
    writeFileSync(bundlePath, (await buildWorkflowBundle(await loadPlugins())).code);
    const taskQueue = process.env.CARETAKER_TASK_QUEUE || 'caretaker';
    for (let i = 1; i <= workers; i++) {
      const child = spawnWorker(
        { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: settings.namespace, CARETAKER_TASK_QUEUE: taskQueue, CARETAKER_WORKFLOW_BUNDLE: bundlePath },
        { name: `worker ${i}`, output: (line) => console.log(line) },
      );
      child.once('exit', (code, signal) => {
        if (!stopping) console.error(`worker ${i}: exited (${signal ?? code}); the other workers go on`);
      });
      children.push(child);
    }
  }
  console.log(
    [
      '',
      `Cluster running. Point the CLI at it: TEMPORAL_ADDRESS=${address} npx caretaker schedules sync`,
      `  Web UI: the dev server's UI cannot attach to this server; run temporalio/ui (docker-compose.yml) with TEMPORAL_ADDRESS=${address}`,
      `Ctrl-C stops it; the next start reuses the databases.`,
    ].join('\n'),
  );
  await stopped;
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
