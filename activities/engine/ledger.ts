import type { PoolClient } from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { quoteIdent } from '../sql/identifiers';
import { ensureLedger } from './ledger-schema';
import type { RecordedEffect } from './tally';

/**
 * The run ledger: a small table Caretaker owns in each target database (schema `caretaker` unless
 * the worker names another). Each batch's effect is inserted in the same transaction as the
 * batch, so after a crash, a terminated connection or a zombie attempt the committed batches and
 * the ledger agree to the row, and a retry resumes from the ledger, not from a heartbeat that may
 * be behind. `attempts` fences attempts of one run: each batch's ledger entry, its last statement
 * before COMMIT, holds (`for share`) the claim of its attempt, so the batch of an older attempt that
 * wakes after a newer one claimed the run (or after the run's counts were reported: `closeRuns`)
 * rolls back instead of committing. Rows older than LEDGER_RETENTION are pruned when a run opens its ledger.
 * `detached_partitions` holds the partitions detached but not yet dropped or moved
 * (activities/retention/detached-partitions.ts); it is never pruned by age.
 * Dropping the schema loses the resume points of runs in progress, and leaves any partition
 * detached but not yet dropped as a table of its own that no run will find.
 */
export const DEFAULT_LEDGER_SCHEMA = 'caretaker';
const LEDGER_RETENTION = '30 days';

/** Where the next batch starts: a unit (policy, rule, counter, directory) and the cursor within it. */
export interface Position {
  unit: number;
  cursor: unknown;
  /**
   * Only in the ledger entry of the first batch of a unit that acts only on what matched when it
   * started (read-ahead.ts `onlyAtStart`), when the unit goes on: every cursor it read then, so that a
   * retry takes the rest of them rather than what matches when it resumes.
   */
  readAtStart?: unknown[];
}

export interface LedgerEntry {
  seq: number;
  next: Position;
  effect: RecordedEffect;
}

/** The claim of a run whose counts were reported (`closeRuns`): no attempt holds it any more. */
const CLOSED = 2147483647;
/** How long closing waits for a batch that holds its claim; less than readRunLedger's start-to-close timeout. */
const CLOSE_WAIT = '10s';

/** A newer attempt of the same run holds the ledger, or the run was closed: this one must stop without writing. */
function superseded(attempt: number, current: number): ApplicationFailure {
  const by = current === CLOSED ? 'the run having ended (its counts were reported)' : `attempt ${current} of the same run`;
  return ApplicationFailure.retryable(`attempt ${attempt} was superseded by ${by}; stopping without changing anything`, 'SupersededAttempt');
}

export class RunLedger {
  private readonly sql: string;

  private constructor(
    schema: string,
    readonly runKey: string,
    readonly attempt: number,
  ) {
    this.sql = quoteIdent(schema);
  }

  /**
   * Creates the ledger if it is missing (ledger-schema.ts), claims it for this attempt (fencing out
   * older ones) and returns what earlier attempts of this run recorded, in order. `database` is the
   * database's name in the worker's environment, for the error when the ledger cannot be created.
   */
  static async open(
    client: PoolClient,
    schema: string,
    database: string,
    runKey: string,
    taskId: string,
    attempt: number,
  ): Promise<{ ledger: RunLedger; entries: LedgerEntry[] }> {
    const ledger = new RunLedger(schema, runKey, attempt);
    const s = ledger.sql;
    await ensureLedger(client, schema, database);
    await client.query(`delete from ${s}.ledger where recorded_at < now() - interval '${LEDGER_RETENTION}'`);
    await client.query(`delete from ${s}.attempts where claimed_at < now() - interval '${LEDGER_RETENTION}'`);
    const claimed = await client.query<{ attempt: number }>(
      `insert into ${s}.attempts (run_key, task_id, attempt) values ($1, $2, $3)
       on conflict (run_key) do update set attempt = greatest(${s}.attempts.attempt, excluded.attempt), claimed_at = now()
       returning attempt`,
      [runKey, taskId, attempt],
    );
    const current = claimed.rows[0]!.attempt;
    if (current !== attempt) throw superseded(attempt, current);
    const { rows } = await client.query<LedgerEntry>(`select seq, next, effect from ${s}.ledger where run_key = $1 order by seq`, [runKey]);
    return { ledger, entries: rows };
  }

  /**
   * Records a batch (in its transaction, as its last statement before COMMIT) or a non-transactional
   * item (on its own). The entry is the fence: it is written only while this attempt holds the claim,
   * and it holds the claim (`for share`) until COMMIT, so a newer claim or `closeRuns` waits for it;
   * otherwise nothing is written and the batch rolls back.
   */
  async record(client: PoolClient, seq: number, next: Position, effect: RecordedEffect): Promise<void> {
    const s = this.sql;
    const res = await client.query<{ current: number | null }>(
      `with claim as (select attempt from ${s}.attempts where run_key = $1 for share),
       entry as (insert into ${s}.ledger (run_key, seq, attempt, next, effect)
                 select $1, $2, $3, $4, $5 from claim where claim.attempt = $3 returning 1)
       select (select attempt from claim) as current, (select count(*) from entry) as written`,
      [this.runKey, seq, this.attempt, JSON.stringify(next), JSON.stringify(effect)],
    );
    if (res.rows[0]!.current !== this.attempt) throw superseded(this.attempt, res.rows[0]!.current ?? -1);
  }
}

/**
 * Closes the claims of every activity of a workflow run whose keys start with `prefix`, once the run
 * ended: an attempt still running (a zombie: a frozen worker, a lost connection the server has not
 * dropped yet) can commit no batch after this, so the counts read next stay the rows changed. It
 * waits for a batch that holds its claim to commit.
 */
export async function closeRuns(client: PoolClient, schema: string, prefix: string): Promise<void> {
  const s = quoteIdent(schema);
  if (!(await tableExists(client, `${s}.attempts`))) return;
  // Bounded, so that a batch frozen right before its COMMIT fails this try (the workflow retries it) instead of hanging it.
  await client.query(`begin; set local lock_timeout = '${CLOSE_WAIT}'`);
  try {
    await client.query(`update ${s}.attempts set attempt = ${CLOSED} where starts_with(run_key, $1) and attempt <> ${CLOSED}`, [prefix]);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/**
 * What a failed or cancelled real run recorded, for its workflow to report (no attempt is
 * claimed): every activity of the workflow run whose key starts with `prefix`.
 */
export async function readLedger(client: PoolClient, schema: string, prefix: string): Promise<LedgerEntry[]> {
  const s = quoteIdent(schema);
  if (!(await tableExists(client, `${s}.ledger`))) return [];
  return (await client.query<LedgerEntry>(`select seq, next, effect from ${s}.ledger where starts_with(run_key, $1) order by run_key, seq`, [prefix])).rows;
}

/** Whether a table of the ledger's schema (`"schema".name`) exists: a dry run before any real run creates none. */
export async function tableExists(client: PoolClient, qualified: string): Promise<boolean> {
  return (await client.query<{ ok: boolean }>(`select to_regclass($1) is not null as ok`, [qualified])).rows[0]!.ok;
}
