import type { PoolClient } from 'pg';
import type { Backlog, TaskInput } from '../../core/contract';
import type { FractionTarget } from './fraction-targets';
import type { ResolvedTable } from '../sql/identifiers';
import type { BatchEffect } from './tally';
import type { BatchSizeSetting } from './batch-size';
import type { ThrottleConfig } from './throttle';

import type { Unplannable } from '../../tasks/plannable';
/**
 * How a batch treats the data:
 * - `apply`: a real run; the batch commits.
 * - `rehearse`: a dry run that executes the real statements and rolls the batch back, so
 *   cascades, triggers, constraint and type errors show up exactly as in a real run.
 * - `predict`: a read-only dry run (`dry_run_mode: read_only`, e.g. on a replica): nothing is
 *   executed, counts are predicted by queries. Non-transactional units are always predicted in a dry run.
 */
export type ActMode = 'apply' | 'rehearse' | 'predict';

export type { FractionTarget } from './fraction-targets';

/**
 * One piece of a task's work that picks items in batches and acts on them: a retention policy, an
 * orphan rule, a counter, a directory, a list of tables to vacuum. The engine owns the loop, the
 * cursor, the guards, the ledger, heartbeats and cancellation; a unit only says how to fetch the
 * next batch after a cursor and what to do with it.
 */
export interface WorkUnit<Item = unknown, Cursor = unknown> {
  /** Name in the result's `sets` and in messages. */
  label: string;
  /**
   * true: `nextBatch` and `act` share one transaction, recorded in the ledger within it.
   * false: items are acted on one at a time outside a transaction (files, VACUUM, procedures,
   * starting workflows) and each is recorded as it is done.
   */
  transactional: boolean;
  /** Up to `limit` items after `cursor` (null: from the start), in cursor order. */
  nextBatch(tx: PoolClient, cursor: Cursor | null, limit: number, mode: ActMode): Promise<Item[]>;
  /** The cursor an item leaves behind. */
  cursorOf(item: Item): Cursor;
  /** Orders cursors as `nextBatch` does; the engine refuses a batch whose cursors do not strictly advance. */
  compare?(a: Cursor, b: Cursor): number;
  /**
   * A non-transactional unit that finishes an item in a transaction of its own (a partition's DROP)
   * passes that item's effect to `record` inside it, before COMMIT: the ledger entry then commits
   * with the change, and a crash between the two cannot lose the item's counts. Otherwise the
   * engine records the item when `act` returns.
   */
  act(tx: PoolClient, items: Item[], mode: ActMode, record?: RecordInTransaction): Promise<BatchEffect>;
  /**
   * For a transactional unit of rows picked by conditions: how to read the cursors of all its items
   * in one pass, and how a batch takes the items among some of them (read-ahead.ts).
   */
  readAhead?: {
    /**
     * The cursors of all items after `after`, in cursor order, when there are at most `limit`; null when there are more.
     * `first`: the first `limit` of them in cursor order, never null.
     */
    cursors(client: PoolClient, after: Cursor | null, limit: number, first?: boolean): Promise<Cursor[] | null>;
    /**
     * Why the unit may act only on the items that matched when it started (a rule's `first_per`: acting on
     * a group's first row makes the next row first): its pass always runs and takes at most the first
     * `read_ahead` cursors, the rest waiting for the next run; the unit is never walked (read-ahead.ts).
     */
    onlyAtStart?: string;
    /** The items among `cursors` that still qualify, in cursor order, locked (skip locked) unless predicting. */
    among(tx: PoolClient, cursors: Cursor[], mode: ActMode): Promise<Item[]>;
  };
  /**
   * Items that are table rows picked by key can be planned (plan → approve → apply, plan.ts): the
   * rows of these cursors, every column, masked and cut for a reviewer (plan-sample.ts). A plan
   * applies through `readAhead.among`, which re-checks the conditions and locks the rows.
   */
  sample?(client: PoolClient, cursors: Cursor[]): Promise<Record<string, unknown>[]>;
  /**
   * The work this unit does that cannot be planned (tasks/plannable.ts: files, workflow starts,
   * VACUUM, ...): the engine refuses a plan with the declaration's words, the words `caretaker
   * validate` says for the task type's own declaration of the same work.
   */
  unplannable?: Unplannable;
  /** What max_fraction checks for this unit: the rows of each table it changes, the files of a directory (fraction-targets.ts). */
  fraction?: FractionTarget[];
  /** The table whose rows it picks, when it picks rows (`caretaker check` looks at its columns, e.g. naive timestamps, even when the unit changes none: a report). */
  picks?: ResolvedTable;
  /**
   * The unit's eligible rows after `after` (null: all of them), and the age of the oldest where the
   * rows have a timestamp: one query, asked only of a unit the run stopped before finishing (backlog.ts).
   */
  rowsLeft?(client: PoolClient, after: Cursor | null): Promise<Backlog>;
  /** Other checks before anything changes (e.g. a base_dir that is missing); each problem refuses a real run. */
  preflight?(client: PoolClient): Promise<string[]>;
}

/** Records an item's effect in the ledger within the caller's open transaction on `tx`. */
export type RecordInTransaction = (tx: PoolClient, effect: BatchEffect) => Promise<void>;

/** The config fields the engine reads; tasks without a field get the engine's default. */
export interface EngineConfig {
  dry_run: boolean;
  dry_run_mode?: 'execute' | 'read_only';
  details_limit: number;
  details_max_bytes?: number;
  /** A fixed size, or adaptive within min..max towards a target transaction time (batch-size.ts). */
  batch_size?: BatchSizeSetting;
  /** Keys of sparse units read ahead before the first batch, at most (read-ahead.ts); 0: none. */
  read_ahead?: number;
  /** Pauses while the database is busy (throttle.ts). */
  throttle?: ThrottleConfig;
  max_rows_per_run?: number | null;
  max_fraction?: number;
  sql?: { lock_timeout: number; statement_timeout: number };
}

/** A task's run on its target database: the connection holding the task lock, and where its ledger lives. */
export interface TaskSession<C extends EngineConfig = EngineConfig> {
  client: PoolClient;
  input: TaskInput<C>;
  ledgerSchema: string;
}
