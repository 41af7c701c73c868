/**
 * Prepares any Temporal server for Caretaker: registers the namespace (unless it exists) and
 * Caretaker's search attributes with their types (the missing ones). The same code
 * `npm run cluster` and the cluster tests run; docker-compose.yml runs it once before the workers.
 *
 *   TEMPORAL_ADDRESS=temporal:7233 node --import tsx deploy/setup-temporal.ts
 *
 * Connection settings as for the worker (TEMPORAL_*; see config/temporal-env.ts). On Temporal
 * Cloud, namespaces and search attributes are managed in the Cloud UI or `tcld`, not here.
 */
import { Connection } from '@temporalio/client';
import { temporalEnv } from '../config/temporal-env';
import { ensureNamespace, ensureSearchAttributes } from '../dev/cluster/namespace';

async function main(): Promise<void> {
  const env = temporalEnv();
  const connection = await Connection.connect({ address: env.address, tls: env.tls, apiKey: env.apiKey });
  try {
    const created = await ensureNamespace(connection, env.namespace);
    const added = await ensureSearchAttributes(connection, env.namespace);
    console.log(
      `temporal ${env.address}: namespace ${env.namespace} ${created ? 'created' : 'exists'}; search attributes ${added.length ? `registered: ${added.join(', ')}` : 'in place'}`,
    );
  } finally {
    await connection.close();
  }
}

main().catch((err) => {
  console.error(`setup-temporal: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
