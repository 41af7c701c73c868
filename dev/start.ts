import { join } from 'node:path';
import { Runtime, type WorkflowBundleOption } from '@temporalio/worker';
import { loadConfigFile } from '../config/load';
import { applySync, planSync } from '../client/sync';
import { table } from '../client/context';
import { buildWorkflowBundle } from '../worker/bundle';
import { createCaretakerWorker } from '../worker/create-worker';
import { poolSettingsFromEnv, PoolRegistry } from '../worker/databases';
import { shutdownGraceFromEnv } from '../worker/observability';
import { ensureDemoDatabase } from './demo-db';
import { DemoRefusal, describeDatabase } from './demo-marker';
import { startDatabases } from './demo-target';
import { catalogWithPlugins, loadPlugins } from '../config/plugins';
import { runStartupTasks } from './startup-tasks';
import { quietWorkerLogger } from './worker-log';
import { Interrupted, Interrupts } from './interrupts';
import { startSettingsFromEnv } from './start-settings';
import { startTemporal, stopOwnServer } from './start-temporal';

/** Secrets maintenance.yaml names (`url_env`), defaulted for the local demo; the worker reads them from this process. */
const DEMO_SECRETS = { REDIS_URL: 'redis://127.0.0.1:6379' };

async function main(): Promise<void> {
  const settings = startSettingsFromEnv();
  const shutdownGraceTime = shutdownGraceFromEnv();
  // Our own signal handling, not the SDK's: its handler goes after the first signal, and a second
  // Ctrl-C then ended the process before the dev server was stopped.
  const interrupts = new Interrupts({
    stopping: () =>
      `stopping: running tasks stop after the batch in flight (waiting up to ${shutdownGraceTime}) and resume from their ledger at the next start, then the dev server stops; Ctrl-C again stops the dev server now`,
    hurrying: 'stopping the dev server now',
  });
  interrupts.onHurry(() => void stopOwnServer(settings).finally(() => process.exit(130)));
  Runtime.install({ shutdownSignals: [], logger: quietWorkerLogger() });
  process.env.CARETAKER_UI_URL ||= `http://localhost:${settings.uiPort}`;
  const plugins = await loadPlugins();
  const configFile = process.env.CARETAKER_CONFIG || 'maintenance.yaml';
  const config = await loadConfigFile(configFile, process.env, catalogWithPlugins(plugins));
  for (const [name, value] of Object.entries(DEMO_SECRETS)) process.env[name] ||= value;
  const reseed = process.argv.includes('--reseed');
  const { urls, demoUrl } = startDatabases(process.env, { ownConfig: Boolean(process.env.CARETAKER_CONFIG), reseed });
  if (demoUrl) {
    const demo = await ensureDemoDatabase(demoUrl, { reseed, filesDir: join(settings.stateDir, 'demo-files') });
    console.log(
      `database: demo ${describeDatabase(demoUrl)} ${demo.created ? 'created' : 'exists'}` +
        `${demo.migrations.length ? `, migrated (${demo.migrations.join(', ')})` : ''}${demo.seeded ? ', seeded with demo data' : ''}`,
    );
  } else {
    console.log(
      `database: default is DATABASE_URL (${describeDatabase(urls.get('default')!)}), used as it is: npm start creates, migrates and seeds only its demo database`,
    );
  }
  interrupts.throwIfRequested();

  const temporal = await startTemporal(settings);
  const databases = new PoolRegistry(urls, poolSettingsFromEnv());
  try {
    interrupts.throwIfRequested();
    const plan = await planSync(temporal.client, config, { prune: false });
    await applySync(temporal.client, config, plan);
    console.log(`schedules (${configFile}):\n${table(plan.map((p) => [`  ${p.action}`, p.id, p.detail]))}`);

    const bundlePath = process.env.CARETAKER_WORKFLOW_BUNDLE;
    const workflowBundle: WorkflowBundleOption = bundlePath ? { codePath: bundlePath } : await buildWorkflowBundle(plugins);
    interrupts.throwIfRequested();
    const worker = await createCaretakerWorker({
      connection: temporal.connection,
      namespace: temporal.namespace,
      taskQueue: config.task_queue,
      databases,
      workflowBundle,
      plugins,
      shutdownGraceTime,
    });
    const running = worker.run();
    interrupts.onStop(() => worker.getState() === 'RUNNING' && worker.shutdown());
    console.log(`worker: polling task queue "${config.task_queue}"`);

    await Promise.race([runStartupTasks(temporal.client, config), interrupts.stopped]);
    if (!interrupts.requested) {
      // The commands to try name a task of the config that runs (the demo's, or yours).
      const example = config.tasks[0]?.id ?? '<task>';
      console.log(
        [
          '',
          `Caretaker is running. Web UI: ${process.env.CARETAKER_UI_URL}/namespaces/${temporal.namespace}/schedules`,
          `  npx caretaker schedules list           every schedule and its next run`,
          `  npx caretaker describe ${example.padEnd(18)} recent runs and their results`,
          `  npx caretaker run ${example} --dry-run --wait`,
          `  npm run temporal -- schedule list      the same, from the Temporal CLI`,
          temporal.ownServer
            ? `Ctrl-C stops the worker (running batches finish) and the dev server; state is kept in ${settings.stateDir}.`
            : `Ctrl-C stops the worker (running batches finish); the Temporal server at TEMPORAL_ADDRESS keeps running.`,
        ].join('\n'),
      );
    }
    await running;
    console.log(`worker: stopped (running batches finished)${temporal.ownServer ? '; stopping the dev server' : ''}`);
  } finally {
    await databases.close();
    await temporal.stop();
    console.log(temporal.ownServer ? 'temporal: stopped' : 'temporal: disconnected');
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    if (err instanceof Interrupted) process.exit(0);
    console.error(err instanceof Error ? err.message : err);
    process.exit(err instanceof DemoRefusal ? err.exitCode : 1);
  },
);
