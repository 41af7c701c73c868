import { randomBytes, randomInt } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { dropClusterDatabases, MAX_CLUSTER_PORT, portsInUse, startCluster, type ClusterSettings } from '../../dev/cluster/index';
import { resolveTemporalServer } from '../../dev/temporal-server';
import type { TemporalServerProcess } from '../../dev/cluster/server';
import { buildWorkflowBundle } from '../../worker/bundle';

declare module 'vitest' {
  export interface ProvidedContext {
    clusterAddress: string;
    clusterNamespace: string;
    /** POST /stop, /start, /restart: the test files' handle on the server this setup owns. */
    clusterControlUrl: string;
    workflowBundlePath: string;
    /** The server's persistence database (the codec test reads it). */
    clusterPersistenceUrl: string;
  }
}

/** A base port whose whole block (dev/cluster/settings.ts `allPorts`) is free. */
async function freeBasePort(): Promise<number> {
  for (;;) {
    const port = randomInt(20_000, MAX_CLUSTER_PORT);
    if ((await portsInUse(port)).length === 0) return port;
  }
}

/**
 * One Temporal cluster for the cluster project: the server built or found as `npm run cluster`
 * finds it, its own persistence and visibility databases, its own ports, the namespace and search
 * attributes. Test files stop and start the server through a small HTTP endpoint, since this
 * process owns it; the project runs its files one at a time.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const binaries = await resolveTemporalServer();
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-cluster-'));
  const suffix = randomBytes(4).toString('hex');
  const settings: ClusterSettings = {
    dir,
    port: await freeBasePort(),
    postgresUrl: process.env.CARETAKER_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres', // as test/support.ts
    databases: { persistence: `caretaker_test_cluster_${suffix}`, visibility: `caretaker_test_cluster_${suffix}_visibility` },
    namespace: 'default',
  };
  // Whatever this setup made is removed if a later step fails: no server or databases left behind.
  let server: TemporalServerProcess | undefined;
  let control: Server | undefined;
  const teardown = async () => {
    if (control) await new Promise((resolve) => control!.close(resolve));
    await server?.stop();
    await dropClusterDatabases(settings);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    server = (await startCluster(binaries, settings)).server;
    const started = server;
    const bundlePath = join(dir, 'workflow-bundle.js');
    writeFileSync(bundlePath, (await buildWorkflowBundle()).code);

    const actions: Record<string, () => Promise<void>> = {
      '/stop': () => started.stop(),
      '/start': () => started.start(),
      '/restart': async () => {
        await started.stop();
        await started.start();
      },
    };
    control = createServer((req, res) => {
      const action = req.method === 'POST' ? actions[req.url ?? ''] : undefined;
      if (!action) return void res.writeHead(404).end(`expected POST ${Object.keys(actions).join(' | ')}, got ${req.method} ${req.url}`);
      action().then(
        () => res.writeHead(200).end('ok'),
        (err: Error) => res.writeHead(500).end(err.stack ?? err.message),
      );
    });
    await new Promise<void>((resolve) => control!.listen(0, '127.0.0.1', resolve));
    const { port } = control.address() as { port: number };

    project.provide('clusterAddress', server.address);
    project.provide('clusterNamespace', settings.namespace);
    project.provide('clusterControlUrl', `http://127.0.0.1:${port}`);
    project.provide('workflowBundlePath', bundlePath);
    const persistence = new URL(settings.postgresUrl);
    persistence.pathname = `/${settings.databases.persistence}`;
    project.provide('clusterPersistenceUrl', persistence.toString());
  } catch (err) {
    await teardown().catch((cleanup: unknown) => console.error('cluster setup: cleaning up after a failed start also failed:', cleanup));
    throw err;
  }
  return teardown;
}
