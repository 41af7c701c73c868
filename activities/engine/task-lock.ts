import type { Pool, PoolClient } from 'pg';
import { Context } from '@temporalio/activity';
import type { TaskInput, TaskResult } from '../../core/contract';
import { skippedResult } from './results';
import type { DatabasePools } from './deps';
import { DEFAULT_LEDGER_SCHEMA } from './ledger';
import type { EngineConfig, TaskSession } from './work-unit';
import { planInspector, withInspectedConnection } from './plan-capture';

const TRY_LOCK = `select pg_try_advisory_lock(hashtextextended($1::text, 0)) as locked`;
const WAIT_LOCK = `select pg_advisory_lock(hashtextextended($1::text, 0))`;
const UNLOCK = `select pg_advisory_unlock(hashtextextended($1::text, 0))`;

/** How long a retried attempt waits for the lock its own lost previous attempt may still hold. */
const RETRY_LOCK_WAIT = '30s';
/** How often a retry waiting for that lock heartbeats (the SDK throttles what reaches the server). */
const HEARTBEAT_WHILE_WAITING_MS = 1000;

export function taskLockKey(database: string, taskId: string): string {
  return `caretaker:${database}:${taskId}`;
}

/**
 * Runs `work` holding a session-level PostgreSQL advisory lock keyed by task id, on a connection
 * of its own that `work` also uses. Two runs of one task, however started (schedule, trigger, ad
 * hoc, or a second worker), therefore never mutate at once: the second gets `{ locked: false }`.
 *
 * A retried attempt (attempt > 1) waits up to 30s instead of giving up, because the holder may be
 * this run's own previous attempt whose connection the server has not dropped yet.
 */
export async function withTaskLock<R>(
  pool: Pool,
  key: string,
  work: (client: PoolClient) => Promise<R>,
): Promise<{ locked: true; value: R } | { locked: false }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A terminated backend (pg_terminate_backend, a failover) emits 'error' on the checked-out
  // client; unhandled, that would end the worker process. The query in flight fails with the
  // same error, so the attempt fails (retryably) and the connection is destroyed below.
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  try {
    await client.query(`set application_name = ${quoteLiteral(key.slice(0, 63))}`);
    if (Context.current().info.attempt > 1) {
      await client.query(`set lock_timeout = '${RETRY_LOCK_WAIT}'`);
      await heartbeatWhile(client.query(WAIT_LOCK, [key]));
      await client.query('reset lock_timeout');
    } else {
      const { rows } = await client.query<{ locked: boolean }>(TRY_LOCK, [key]);
      if (!rows[0]?.locked) return { locked: false };
    }
    try {
      return { locked: true, value: await work(client) };
    } finally {
      if (!broken) {
        await client.query(UNLOCK, [key]).catch((err: Error) => {
          broken = err;
        });
      }
    }
  } catch (err) {
    broken ??= err as Error;
    throw err;
  } finally {
    if (!broken) await client.query('reset application_name').catch((err: Error) => (broken = err));
    client.off('error', onError);
    // A connection in an unknown state is destroyed, which also drops any lock it held.
    client.release(broken);
  }
}

/**
 * Heartbeats (with the previous attempt's checkpoint, which `caretaker status` shows) until `waiting`
 * settles: a wait longer than the heartbeat timeout would otherwise fail the attempt that waits.
 */
async function heartbeatWhile<T>(waiting: Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(ctx.info.heartbeatDetails), HEARTBEAT_WHILE_WAITING_MS);
  try {
    return await waiting;
  } finally {
    clearInterval(timer);
  }
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * Runs a task's work on its target database under the task lock, or returns the
 * `skipped: already running` result when another run holds it.
 */
export async function exclusive<C extends EngineConfig>(
  databases: DatabasePools,
  input: TaskInput<C>,
  work: (session: TaskSession<C>) => Promise<TaskResult>,
): Promise<TaskResult> {
  const ledgerSchema = databases.ledgerSchema?.(input.database) ?? DEFAULT_LEDGER_SCHEMA;
  if (planInspector()) return withInspectedConnection(databases.get(input.database), (client) => work({ client, input, ledgerSchema }));
  const outcome = await withTaskLock(databases.get(input.database), taskLockKey(input.database, input.taskId), (client) =>
    work({ client, input, ledgerSchema }),
  );
  return outcome.locked ? outcome.value : skippedResult(input, 'already running');
}
