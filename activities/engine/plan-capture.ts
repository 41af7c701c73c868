import { AsyncLocalStorage } from 'node:async_hooks';
import type { Pool, PoolClient } from 'pg';
import type { RunOptions } from './engine';
import type { TaskSession, WorkUnit } from './work-unit';

/**
 * What a task's activity would run, handed over instead of running it: `caretaker check` calls the
 * task's own activity, so every table, column, key and child it resolves is resolved by the same
 * code as a real run; the engine then gives the units to the inspector and changes nothing.
 */
export type PlanInspector = (session: TaskSession, units: readonly WorkUnit[], opts: RunOptions) => Promise<void>;

const inspecting = new AsyncLocalStorage<PlanInspector>();

/** Runs `fn` (a task's activity) so that its engine call goes to `inspector` instead of running batches. */
export function withPlanInspector<T>(inspector: PlanInspector, fn: () => Promise<T>): Promise<T> {
  return inspecting.run(inspector, fn);
}

/** The inspector of the current call, if a check is inspecting it. */
export function planInspector(): PlanInspector | undefined {
  return inspecting.getStore();
}

/**
 * A connection for an inspected task: no task lock, and read-only for the whole session, so a write
 * anywhere on the task's path (not only in the engine) fails loudly instead of changing anything.
 * The connection is discarded afterwards rather than returned to the pool with that setting.
 */
export async function withInspectedConnection<R>(pool: Pool, work: (client: PoolClient) => Promise<R>): Promise<R> {
  const client = await pool.connect();
  const onError = () => undefined; // the connection is discarded below whatever happened to it
  client.on('error', onError);
  try {
    await client.query('set default_transaction_read_only = on');
    return await work(client);
  } finally {
    client.off('error', onError);
    client.release(true);
  }
}
