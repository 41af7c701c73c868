import type { Pool, PoolClient } from 'pg';
import { Context } from '@temporalio/activity';
import type { TaskInput, TaskResult } from '../workflows/types';
import { skippedResult } from './batch-loop';
import type { DatabasePools } from './deps';

const TRY_LOCK = `select pg_try_advisory_lock(hashtextextended($1::text, 0)) as locked`;
const WAIT_LOCK = `select pg_advisory_lock(hashtextextended($1::text, 0))`;
const UNLOCK = `select pg_advisory_unlock(hashtextextended($1::text, 0))`;

/** How long a retried attempt waits for the lock its own lost previous attempt may still hold. */
const RETRY_LOCK_WAIT = '30s';

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
  try {
    if (Context.current().info.attempt > 1) {
      await client.query(`set lock_timeout = '${RETRY_LOCK_WAIT}'`);
      await client.query(WAIT_LOCK, [key]);
      await client.query('reset lock_timeout');
    } else {
      const { rows } = await client.query<{ locked: boolean }>(TRY_LOCK, [key]);
      if (!rows[0]?.locked) return { locked: false };
    }
    try {
      return { locked: true, value: await work(client) };
    } finally {
      await client.query(UNLOCK, [key]).catch((err: Error) => {
        broken = err;
      });
    }
  } catch (err) {
    broken ??= err as Error;
    throw err;
  } finally {
    // A connection in an unknown state is destroyed, which also drops any lock it held.
    client.release(broken);
  }
}

/**
 * Runs a task's work on its target database under the task lock, or returns the
 * `skipped: already running` result when another run holds it.
 */
export async function exclusive(
  databases: DatabasePools,
  input: TaskInput<{ dry_run: boolean }>,
  work: (client: PoolClient) => Promise<TaskResult>,
): Promise<TaskResult> {
  const outcome = await withTaskLock(databases.get(input.database), taskLockKey(input.database, input.taskId), work);
  return outcome.locked ? outcome.value : skippedResult(input, 'already running');
}
