import { Connection } from '@temporalio/client';
import type { TemporalServerBinaries } from '../temporal-server';
import { ensureNamespace, ensureSearchAttributes } from './namespace';
import { ensureClusterSchemas } from './schema';
import { TemporalServerProcess } from './server';
import type { ClusterSettings } from './settings';

export interface StartedCluster {
  server: TemporalServerProcess;
  /** Databases created by this start (empty when a previous start made them). */
  createdDatabases: string[];
  namespaceCreated: boolean;
  searchAttributesAdded: string[];
}

/**
 * Everything between "PostgreSQL is up" and "workers may connect": the schemas, the server, the
 * namespace and Caretaker's search attributes. Each step is idempotent, so a second start reuses
 * the databases and registers nothing twice.
 */
export async function startCluster(binaries: TemporalServerBinaries, settings: ClusterSettings): Promise<StartedCluster> {
  const createdDatabases = await ensureClusterSchemas(binaries.sqlTool, settings);
  const server = new TemporalServerProcess(binaries.server, settings);
  await server.start();
  try {
    const connection = await Connection.connect({ address: server.address });
    try {
      const namespaceCreated = await ensureNamespace(connection, settings.namespace);
      const searchAttributesAdded = await ensureSearchAttributes(connection, settings.namespace);
      return { server, createdDatabases, namespaceCreated, searchAttributesAdded };
    } finally {
      await connection.close();
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
}
