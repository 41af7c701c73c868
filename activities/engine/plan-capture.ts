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

/** A connection for an inspected task: no task lock (nothing changes), released when `work` is done. */
export async function withInspectedConnection<R>(pool: Pool, work: (client: PoolClient) => Promise<R>): Promise<R> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => void (broken ??= err);
  client.on('error', onError);
  try {
    return await work(client);
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
