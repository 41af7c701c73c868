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
 * be behind. `attempts` fences attempts of one run: an older attempt that is still running stops
 * at its next batch. Rows older than LEDGER_RETENTION are pruned when a run opens its ledger.
 * `detached_partitions` holds the partitions detached but not yet dropped or moved
 * (activities/detached-partitions.ts); it is never pruned by age.
 * Dropping the schema loses the resume points of runs in progress, and leaves any partition
 * detached but not yet dropped as a table of its own that no run will find.
 */
export const DEFAULT_LEDGER_SCHEMA = 'caretaker';
const LEDGER_RETENTION = '30 days';

/** Where the next batch starts: a unit (policy, rule, counter, directory) and the cursor within it. */
export interface Position {
  unit: number;
  cursor: unknown;
}

export interface LedgerEntry {
  seq: number;
  next: Position;
  effect: RecordedEffect;
}

/** A newer attempt of the same run holds the ledger: this one must stop without writing. */
function superseded(attempt: number, current: number): ApplicationFailure {
  return ApplicationFailure.retryable(`attempt ${attempt} was superseded by attempt ${current} of the same run; stopping without changing anything`, 'SupersededAttempt');
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
  static async open(client: PoolClient, schema: string, database: string, runKey: string, taskId: string, attempt: number): Promise<{ ledger: RunLedger; entries: LedgerEntry[] }> {
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

  /** Inside a batch transaction, before any change: a newer attempt means this one is a zombie. */
  async fence(tx: PoolClient): Promise<void> {
    const { rows } = await tx.query<{ attempt: number }>(`select attempt from ${this.sql}.attempts where run_key = $1 for share`, [this.runKey]);
    const current = rows[0]?.attempt ?? -1;
    if (current !== this.attempt) throw superseded(this.attempt, current);
  }

  /** Records a batch (in its transaction) or a non-transactional item (on its own, fenced in the statement). */
  async record(client: PoolClient, seq: number, next: Position, effect: RecordedEffect): Promise<void> {
    const s = this.sql;
    const res = await client.query(
      `insert into ${s}.ledger (run_key, seq, attempt, next, effect)
       select $1, $2, $3, $4, $5 where exists (select 1 from ${s}.attempts where run_key = $1 and attempt = $3)`,
      [this.runKey, seq, this.attempt, JSON.stringify(next), JSON.stringify(effect)],
    );
    if (res.rowCount !== 1) throw superseded(this.attempt, -1);
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
