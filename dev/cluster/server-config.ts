import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterPorts, type ClusterSettings } from './settings';

/** The server reads `<dir>/config/<ENVIRONMENT>.yaml` (`--env cluster`). */
export const ENVIRONMENT = 'cluster';

/** Fixed for the life of a cluster's databases; docker-compose.yml sets the same. */
export const NUM_HISTORY_SHARDS = 4;

/** The dynamic config docker-compose.yml mounts too: one file, so both run with the same settings. */
export const DYNAMIC_CONFIG = join(__dirname, '..', '..', 'deploy', 'dynamicconfig', 'development-sql.yaml');

/**
 * Writes the server's static config (after Temporal's config/development-postgres12.yaml: the
 * postgres12 plugin for persistence and SQL visibility) and its dynamic config. Returns the
 * config directory. The dynamic config is the repository's `deploy/dynamicconfig/development-sql.yaml`.
 */
export function writeServerConfig(settings: ClusterSettings): string {
  const configDir = join(settings.dir, 'config');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, `${ENVIRONMENT}.yaml`), renderServerConfig(settings, DYNAMIC_CONFIG));
  return configDir;
}

function datastore(settings: ClusterSettings, database: string, maxConns: number): string {
  const url = new URL(settings.postgresUrl);
  return [
    '      sql:',
    '        pluginName: "postgres12"',
    `        databaseName: ${JSON.stringify(database)}`,
    `        connectAddr: ${JSON.stringify(`${url.hostname}:${url.port || '5432'}`)}`,
    '        connectProtocol: "tcp"',
    `        user: ${JSON.stringify(decodeURIComponent(url.username) || 'postgres')}`,
    `        password: ${JSON.stringify(decodeURIComponent(url.password))}`,
    `        maxConns: ${maxConns}`,
    `        maxIdleConns: ${maxConns}`,
    '        maxConnLifetime: "1h"',
  ].join('\n');
}

function service(grpcPort: number, membershipPort: number, httpPort?: number): string {
  return [
    '    rpc:',
    `      grpcPort: ${grpcPort}`,
    `      membershipPort: ${membershipPort}`,
    '      bindOnLocalHost: true',
    ...(httpPort ? [`      httpPort: ${httpPort}`] : []),
  ].join('\n');
}

export function renderServerConfig(settings: ClusterSettings, dynamicConfigPath: string): string {
  const p = clusterPorts(settings.port);
  return `# Written by Caretaker (dev/cluster/server-config.ts) on every start; edits are overwritten.
log:
  stdout: false
  level: warn
  outputFile: ${JSON.stringify(join(settings.dir, 'server.log'))}

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${NUM_HISTORY_SHARDS}
  datastores:
    postgres-default:
${datastore(settings, settings.databases.persistence, 20)}
    postgres-visibility:
${datastore(settings, settings.databases.visibility, 4)}

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"

services:
  frontend:
${service(p.frontend, p.membership.frontend, p.http)}
  history:
${service(p.history, p.membership.history)}
  matching:
${service(p.matching, p.membership.matching)}
  worker:
${service(p.worker, p.membership.worker)}

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:${p.frontend}"

dcRedirectionPolicy:
  policy: "noop"

dynamicConfigClient:
  filepath: ${JSON.stringify(dynamicConfigPath)}
  pollInterval: "10s"
`;
}
