/** A local Temporal cluster on PostgreSQL: `npm run cluster` (dev/cluster.ts) and the cluster tests. */
export { ensureNamespace, ensureSearchAttributes } from './namespace';
export { dropClusterDatabases, ensureClusterSchemas } from './schema';
export { portsInUse, TemporalServerProcess } from './server';
export { writeServerConfig, DYNAMIC_CONFIG, NUM_HISTORY_SHARDS } from './server-config';
export {
  allPorts,
  clusterAddress,
  clusterPorts,
  defaultClusterSettings,
  DEFAULT_CLUSTER_PORT,
  MAX_CLUSTER_PORT,
  parsePort,
  type ClusterSettings,
} from './settings';
export { startCluster, type StartedCluster } from './start-cluster';
export { spawnWorker, stopWorker, type WorkerEnv } from './workers';
