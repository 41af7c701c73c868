import { Runtime, type WorkflowBundleOption } from '@temporalio/worker';
import { temporalEnv } from '../config/temporal-env';
import { buildWorkflowBundle } from './bundle';
import { loadPlugins } from '../config/plugins';
import { connectWorker, createCaretakerWorker } from './create-worker';
import { databaseUrlsFromEnv, poolSettingsFromEnv, PoolRegistry } from './databases';
import { planObservability, shutdownGraceFromEnv } from './observability';

/**
 * The standalone worker (production and docker-compose). Environment: TEMPORAL_* (see
 * config/temporal-env.ts), CARETAKER_TASK_QUEUE (default "caretaker"), DATABASE_URL and
 * CARETAKER_DB_<NAME>, CARETAKER_IDLE_IN_TRANSACTION_TIMEOUT (worker/databases.ts),
 * CARETAKER_WORKFLOW_BUNDLE (path to a bundle from `npm run build:bundle`), and the variables that
 * tasks name for their secrets (e.g. REDIS_URL for health.report's `redis: { url_env: REDIS_URL }`),
 * CARETAKER_METRICS_PORT (/metrics, /healthz, /readyz; worker/observability.ts) and
 * CARETAKER_SHUTDOWN_GRACE (default 30s).
 *
 * SIGINT/SIGTERM drain: running activities get the grace time, then the process exits. The signal
 * must reach this process: run it as `node … --import tsx worker/main.ts` (worker/command.ts; what `npm run worker`
 * execs), not under a wrapper that does not forward signals (`tsx` behind `sh -c`, `npx`).
 */
async function main(): Promise<void> {
  const env = temporalEnv();
  const observability = await planObservability();
  const shutdownGraceTime = shutdownGraceFromEnv();
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM'], telemetryOptions: observability.telemetryOptions });
  const plugins = await loadPlugins();
  const bundlePath = process.env.CARETAKER_WORKFLOW_BUNDLE;
  const workflowBundle: WorkflowBundleOption = bundlePath ? { codePath: bundlePath } : await buildWorkflowBundle(plugins);
  const databases = new PoolRegistry(databaseUrlsFromEnv(), poolSettingsFromEnv());
  const connection = await connectWorker(env);
  const taskQueue = process.env.CARETAKER_TASK_QUEUE || 'caretaker';
  const worker = await createCaretakerWorker({ connection, namespace: env.namespace, taskQueue, databases, workflowBundle, plugins, shutdownGraceTime });
  const http = await observability.serve({ worker, connection, databases });
  console.log(
    `caretaker worker: polling task queue "${taskQueue}" on ${env.address} (namespace ${env.namespace}); ` +
      `databases: ${databases.names().join(', ')} (${databases.describeSettings()}); ${http.describe}; shutdown grace ${shutdownGraceTime}`,
  );
  try {
    await worker.run();
  } finally {
    await http.close();
    await connection.close();
    await databases.close();
  }
  console.log('caretaker worker: stopped');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
