import { createServer } from 'node:net';
import type { TelemetryOptions } from '@temporalio/worker';
import { METRICS } from '../core/metric-names';

/** Maintenance runs take minutes, not milliseconds: buckets for that (seconds). */
const BUCKETS: Record<string, number[]> = {
  [METRICS.runDuration]: [0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200],
  [METRICS.batchDuration]: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
};

/**
 * The SDK's Prometheus exporter on a loopback address only; `worker/http.ts` serves its output on
 * CARETAKER_METRICS_PORT together with /healthz and /readyz (the SDK's exporter serves nothing else).
 * Counters end in `_total` and durations are in seconds, as Prometheus expects.
 */
export function prometheusTelemetry(bindAddress: string): TelemetryOptions {
  return {
    metrics: {
      prometheus: { bindAddress, countersTotalSuffix: true, useSecondsForDurations: true, histogramBucketOverrides: BUCKETS },
    },
  };
}

/** A free TCP port on 127.0.0.1 for the SDK's internal exporter. */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** CARETAKER_METRICS_PORT: a TCP port, or undefined when unset (no HTTP server). */
export function metricsPortFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.CARETAKER_METRICS_PORT;
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`CARETAKER_METRICS_PORT: expected a TCP port (1-65535), got ${JSON.stringify(raw)}`);
  return port;
}
