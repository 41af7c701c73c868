import { readFileSync } from 'node:fs';

/** How to reach Temporal, from the environment; the same for the worker and the CLI. */
export interface TemporalEnv {
  address: string;
  namespace: string;
  tls?: { clientCertPair?: { crt: Buffer; key: Buffer }; serverNameOverride?: string } | true;
  apiKey?: string;
}

/**
 * TEMPORAL_ADDRESS (default localhost:7233), TEMPORAL_NAMESPACE (default "default"),
 * TEMPORAL_TLS_CERT + TEMPORAL_TLS_KEY (mTLS, file paths), TEMPORAL_TLS=true (server TLS only),
 * TEMPORAL_TLS_SERVER_NAME, TEMPORAL_API_KEY (Temporal Cloud API key; implies TLS).
 */
export function temporalEnv(env: NodeJS.ProcessEnv = process.env): TemporalEnv {
  const out: TemporalEnv = {
    address: env.TEMPORAL_ADDRESS || 'localhost:7233',
    namespace: env.TEMPORAL_NAMESPACE || 'default',
  };
  const cert = env.TEMPORAL_TLS_CERT;
  const key = env.TEMPORAL_TLS_KEY;
  if (Boolean(cert) !== Boolean(key)) {
    throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together (paths to the client certificate and its key)');
  }
  if (cert && key) {
    out.tls = {
      clientCertPair: { crt: readFileSync(cert), key: readFileSync(key) },
      ...(env.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME } : {}),
    };
  } else if (env.TEMPORAL_TLS === 'true' || env.TEMPORAL_API_KEY) {
    out.tls = env.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME } : true;
  }
  if (env.TEMPORAL_API_KEY) out.apiKey = env.TEMPORAL_API_KEY;
  return out;
}
