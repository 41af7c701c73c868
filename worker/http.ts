import { createServer, type Server } from 'node:http';
import type { ReadinessCheck } from './readiness';

export interface WorkerHttpOptions {
  port: number;
  host?: string;
  /** The SDK's own Prometheus exporter (loopback), whose text /metrics passes on. */
  sdkMetricsUrl: string;
  /** The checks /readyz runs on each request. */
  readiness: () => Promise<ReadinessCheck[]>;
}

/**
 * The worker's HTTP endpoint for Prometheus and orchestrators, on CARETAKER_METRICS_PORT:
 * `/metrics` (the SDK's exporter output: Temporal's runtime metrics and Caretaker's), `/healthz`
 * (the process is alive: always 200) and `/readyz` (200 when every readiness check passes, else
 * 503; JSON listing the checks either way).
 */
export async function startWorkerHttp(opts: WorkerHttpOptions): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string) => res.writeHead(status, { 'content-type': type }).end(body);
    const json = (status: number, body: unknown) => reply(status, 'application/json', `${JSON.stringify(body)}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: `expected GET, got ${req.method}` });
    if (path === '/healthz') return json(200, { status: 'alive' });
    if (path === '/readyz') {
      opts.readiness().then(
        (checks) => json(checks.every((c) => c.ok) ? 200 : 503, { ready: checks.every((c) => c.ok), checks }),
        (err: Error) => json(503, { ready: false, error: err.message }),
      );
      return;
    }
    if (path === '/metrics') {
      fetch(opts.sdkMetricsUrl, { signal: AbortSignal.timeout(5_000) })
        .then(async (upstream) => reply(upstream.status, upstream.headers.get('content-type') ?? 'text/plain; version=0.0.4', await upstream.text()))
        .catch((err: Error) => reply(502, 'text/plain', `metrics exporter unreachable: ${err.message}\n`));
      return;
    }
    return json(404, { error: `expected /metrics, /healthz or /readyz, got ${path}` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return { server, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
