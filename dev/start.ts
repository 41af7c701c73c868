import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfigFile } from '../config/load';
import { temporalEnv } from '../config/temporal-env';
import { applySync, planSync } from '../client/sync';
import { table } from '../client/context';
import { buildWorkflowBundle } from '../worker/bundle';
import { createCaretakerWorker } from '../worker/create-worker';
import { databaseUrlsFromEnv, poolSettingsFromEnv, PoolRegistry } from '../worker/databases';
import { ensureDemoDatabase } from './demo-db';
import { loadPlugins } from '../config/plugins';
import { noCliMessage, resolveTemporalCli } from './temporal-cli';
import { runStartupTasks } from './startup-tasks';
import { quietWorkerLogger } from './worker-log';
import { startDevServer } from './dev-server';
import { cloudHint, registerSearchAttributes } from '../client/register-search-attributes';

const STATE_DIR = join(process.cwd(), '.caretaker');
/** Secrets maintenance.yaml names (`url_env`), defaulted for the local demo; the worker reads them from this process. */
const DEMO_SECRETS = { REDIS_URL: 'redis://127.0.0.1:6379' };
const PORT = 7233;
const UI_PORT = 8233;

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/**
 * The dev server in a session of its own (`setsid`), so Ctrl-C in the terminal reaches only this
 * process: the worker drains first, then `teardown()` stops the server.
 */
function ownSession(cliPath: string): string {
  const wrapper = join(STATE_DIR, 'temporal-own-session.sh');
  // setsid is util-linux; where it is missing (macOS) the server stays in our session and Ctrl-C
  // reaches both at once, as before.
  writeFileSync(wrapper, `#!/bin/sh\nif command -v setsid >/dev/null 2>&1; then exec setsid ${JSON.stringify(cliPath)} "$@"; fi\nexec ${JSON.stringify(cliPath)} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}

/** The dev server with SQLite under .caretaker/ and the Web UI on 8233; or TEMPORAL_ADDRESS when set. */
async function startTemporal(): Promise<{ connection: NativeConnection; client: Client; namespace: string; stop: () => Promise<void> }> {
  if (process.env.TEMPORAL_ADDRESS) {
    const env = temporalEnv();
    console.log(`temporal: using ${env.address} (TEMPORAL_ADDRESS)`);
    const connection = await NativeConnection.connect({ address: env.address, tls: env.tls, apiKey: env.apiKey });
    await registerSearchAttributes(connection, env.namespace).then(
      (r) => r.added.length && console.log(`temporal: registered search attributes ${r.added.join(', ')}`),
      (err: Error) => console.log(`temporal: could not register Caretaker's search attributes (${err.message}); runs fail to record their outcome until they are. ${cloudHint(env.namespace)}`),
    );
    return { connection, client: new Client({ connection, namespace: env.namespace }), namespace: env.namespace, stop: () => connection.close() };
  }
  if (await portInUse(PORT)) {
    throw new Error(`port ${PORT} is taken: is another Caretaker or Temporal running? To use it, run with TEMPORAL_ADDRESS=localhost:${PORT}`);
  }
  const cli = await resolveTemporalCli({ log: (l) => console.log(l) });
  mkdirSync(STATE_DIR, { recursive: true });
  const executable = cli.source === 'sdk-download' ? ({ type: 'cached-download' } as const) : ({ type: 'existing-path', path: ownSession(cli.path) } as const);
  const env = await startDevServer({
    executable,
    dbFilename: join(STATE_DIR, 'temporal.db'),
    port: PORT,
    ui: true,
    uiPort: UI_PORT,
    log: { format: 'pretty', level: 'error' },
  }).catch((err: Error) => {
    throw new Error(`could not start the Temporal dev server: ${err.message}\n${cli.source === 'sdk-download' ? noCliMessage() : ''}`);
  });
  console.log(`temporal: dev server on localhost:${PORT} (state in .caretaker/temporal.db, CLI from ${cli.source})`);
  return { connection: env.nativeConnection, client: env.client, namespace: env.namespace ?? 'default', stop: () => env.teardown() };
}

async function main(): Promise<void> {
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM'], logger: quietWorkerLogger() });
  const plugins = await loadPlugins();
  const configFile = process.env.CARETAKER_CONFIG || 'maintenance.yaml';
  const config = await loadConfigFile(configFile);
  for (const [name, value] of Object.entries(DEMO_SECRETS)) process.env[name] ||= value;
  const urls = databaseUrlsFromEnv();
  const demo = await ensureDemoDatabase(urls.get('default')!, { reseed: process.argv.includes('--reseed'), filesDir: join(STATE_DIR, 'demo-files') });
  console.log(
    `database: ${new URL(urls.get('default')!).pathname.slice(1)} ${demo.created ? 'created' : 'exists'}` +
      `${demo.migrations.length ? `, migrated (${demo.migrations.join(', ')})` : ''}${demo.seeded ? ', seeded with demo data' : ''}`,
  );

  const temporal = await startTemporal();
  const databases = new PoolRegistry(urls, poolSettingsFromEnv());
  try {
    const plan = await planSync(temporal.client, config, { prune: false });
    await applySync(temporal.client, config, plan);
    console.log(`schedules (${configFile}):\n${table(plan.map((p) => [`  ${p.action}`, p.id, p.detail]))}`);

    const worker = await createCaretakerWorker({
      connection: temporal.connection,
      namespace: temporal.namespace,
      taskQueue: config.task_queue,
      databases,
      workflowBundle: await buildWorkflowBundle(plugins),
      plugins,
    });
    const running = worker.run();
    console.log(`worker: polling task queue "${config.task_queue}"`);

    await runStartupTasks(temporal.client, config);

    console.log(
      [
        '',
        `Caretaker is running. Web UI: http://localhost:${UI_PORT}/namespaces/${temporal.namespace}/schedules`,
        `  npx caretaker schedules list           every schedule and its next run`,
        `  npx caretaker describe stale-runs      recent runs and their results`,
        `  npx caretaker run stale-runs --dry-run --wait`,
        `  npm run temporal -- schedule list      the same, from the Temporal CLI`,
        `Ctrl-C stops the worker (running batches finish) and the dev server; state is kept in .caretaker/.`,
      ].join('\n'),
    );
    await running;
    console.log('worker: stopped (running batches finished); stopping the dev server');
  } finally {
    await databases.close();
    await temporal.stop();
    console.log('temporal: stopped');
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
