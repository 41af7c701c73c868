import type { NativeConnection, TelemetryOptions, Worker } from '@temporalio/worker';
import type { DatabasePools } from '../activities/engine/deps';
import { formatDuration, parseDuration } from '../core/duration';
import { startWorkerHttp } from './http';
import { freeLoopbackPort, metricsPortFromEnv, prometheusTelemetry } from './metrics';
import { readiness } from './readiness';

/**
 * The standalone worker's metrics and health wiring, in two steps because the Runtime (and so the
 * SDK's exporter) must be installed before any connection: `plan()` before Runtime.install,
 * `serve()` once the worker exists. Without CARETAKER_METRICS_PORT both do nothing.
 */
export interface Observability {
  /** For Runtime.install; undefined without a metrics port. */
  telemetryOptions?: TelemetryOptions;
  /** Starts the HTTP server; `describe` is for the worker's start-up line. */
  serve: (s: { worker: Worker; connection: NativeConnection; databases: DatabasePools }) => Promise<{ describe: string; close: () => Promise<void> }>;
}

export async function planObservability(env: NodeJS.ProcessEnv = process.env): Promise<Observability> {
  const port = metricsPortFromEnv(env);
  if (port === undefined) return { serve: async () => ({ describe: 'no metrics port (CARETAKER_METRICS_PORT unset)', close: async () => undefined }) };
  const sdkAddress = `127.0.0.1:${await freeLoopbackPort()}`;
  return {
    telemetryOptions: prometheusTelemetry(sdkAddress),
    serve: async ({ worker, connection, databases }) => {
      const http = await startWorkerHttp({
        port,
        sdkMetricsUrl: `http://${sdkAddress}/metrics`,
        readiness: () => readiness({ worker, connection, databases }),
      });
      return {
        describe: `/metrics, /healthz, /readyz on port ${http.port}`,
        close: async () => {
          http.server.closeAllConnections();
          await http.close();
        },
      };
    },
  };
}

export const DEFAULT_SHUTDOWN_GRACE = 30_000;

/** CARETAKER_SHUTDOWN_GRACE: how long running activities may finish after SIGTERM (default 30s). */
export function shutdownGraceFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const text = env.CARETAKER_SHUTDOWN_GRACE;
  if (!text) return formatDuration(DEFAULT_SHUTDOWN_GRACE);
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`CARETAKER_SHUTDOWN_GRACE: expected a duration like "30s" or "2m", got ${JSON.stringify(text)}`);
  return `${ms}ms`;
}
