import type { NativeConnection, Worker } from '@temporalio/worker';
import type { DatabasePools } from '../activities/engine/deps';

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** What /readyz looks at; each check is bounded by `timeoutMs`. */
export interface ReadinessSources {
  worker: Pick<Worker, 'getState'>;
  connection: NativeConnection;
  databases: DatabasePools;
  timeoutMs?: number;
}

async function within<T>(ms: number, what: string, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function check(name: string, work: () => Promise<string>): Promise<ReadinessCheck> {
  try {
    return { name, ok: true, detail: await work() };
  } catch (err) {
    return { name, ok: false, detail: (err as Error).message };
  }
}

/**
 * Ready means: the worker is RUNNING (polling; not draining after SIGTERM), the Temporal frontend
 * answers GetSystemInfo, and every configured database answers `select 1`.
 */
export async function readiness(s: ReadinessSources): Promise<ReadinessCheck[]> {
  const ms = s.timeoutMs ?? 3_000;
  return Promise.all([
    check('worker', async () => {
      const state = s.worker.getState();
      if (state !== 'RUNNING') throw new Error(`worker state ${state}, expected RUNNING`);
      return state;
    }),
    check('temporal', async () => {
      const info = await s.connection.withDeadline(Date.now() + ms, () => s.connection.workflowService.getSystemInfo({}));
      return `server ${info.serverVersion || 'reachable'}`;
    }),
    ...s.databases.names().map((name) =>
      check(`database:${name}`, async () => {
        await within(ms, `database "${name}"`, () => s.databases.get(name).query('select 1'));
        return 'select 1 ok';
      }),
    ),
  ]);
}
