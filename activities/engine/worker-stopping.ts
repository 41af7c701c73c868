import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Whether the worker running the current activity is shutting down (Ctrl-C on `npm start`, SIGTERM
 * to `npm run worker`). The SDK tells an activity only when the shutdown grace has run out, and
 * until then a running task would go on batch after batch; the engine asks this at every batch
 * boundary instead and stops there (engine.ts), so "running batches finish" means the batch in
 * flight, not the whole run. Per worker, not per process: each worker's activities carry its own
 * question (`askingWorker`), read through AsyncLocalStorage as Temporal's own activity Context is.
 */
const stopping = new AsyncLocalStorage<() => boolean>();

/** The activities with `isStopping` as the answer to `workerStopping()` while each runs. */
export function askingWorker<A extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: A, isStopping: () => boolean): A {
  return Object.fromEntries(Object.entries(activities).map(([name, fn]) => [name, (...args: never[]) => stopping.run(isStopping, () => fn(...args))])) as A;
}

/** Is the worker running this activity shutting down? False outside a worker's activity. */
export function workerStopping(): boolean {
  return stopping.getStore()?.() ?? false;
}
