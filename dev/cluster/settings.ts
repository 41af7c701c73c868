import { join } from 'node:path';

/**
 * One local Temporal cluster: its state directory, its ports and its two databases on the local
 * PostgreSQL. `npm run cluster` and the cluster tests differ only in these values.
 */
export interface ClusterSettings {
  /** Config, dynamic config and server log live here (`.caretaker/cluster/` for `npm run cluster`). */
  dir: string;
  /** The frontend's gRPC port; the other services use the ports after it (see `clusterPorts`). */
  port: number;
  /** PostgreSQL admin URL: host, port, user and password of the server's connections. */
  postgresUrl: string;
  /** Persistence and visibility database names. */
  databases: { persistence: string; visibility: string };
  namespace: string;
}

export const DEFAULT_CLUSTER_PORT = 7333;
/** Membership ports go into a smallint column (cluster_membership.rpc_port): PORT+20 < 32768. */
export const MAX_CLUSTER_PORT = 32_747;

export function defaultClusterSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ClusterSettings {
  return {
    dir: join(cwd, '.caretaker', 'cluster'),
    port: parsePort(env.CARETAKER_CLUSTER_PORT, 'CARETAKER_CLUSTER_PORT') ?? DEFAULT_CLUSTER_PORT,
    postgresUrl: env.CARETAKER_CLUSTER_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    databases: { persistence: 'caretaker_temporal', visibility: 'caretaker_temporal_visibility' },
    namespace: env.TEMPORAL_NAMESPACE || 'default',
  };
}

export function parsePort(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  // The server stores membership ports in a smallint column: the whole block must stay below 32768.
  if (!Number.isInteger(port) || port < 1024 || port > MAX_CLUSTER_PORT)
    throw new Error(`${name}: expected a port number from 1024 to ${MAX_CLUSTER_PORT}, got "${value}"`);
  return port;
}

/**
 * Every port the server listens on, from the frontend's: four gRPC ports (frontend, history,
 * matching, worker), their four membership ports, and the frontend's HTTP API. The dev server
 * keeps 7233/8233; the default 7333 leaves those free.
 */
export function clusterPorts(port: number) {
  return {
    frontend: port,
    history: port + 1,
    matching: port + 2,
    worker: port + 3,
    membership: { frontend: port + 10, history: port + 11, matching: port + 12, worker: port + 13 },
    http: port + 20,
  };
}

export function allPorts(port: number): number[] {
  const p = clusterPorts(port);
  return [p.frontend, p.history, p.matching, p.worker, ...Object.values(p.membership), p.http];
}

export function clusterAddress(settings: ClusterSettings): string {
  return `127.0.0.1:${settings.port}`;
}
