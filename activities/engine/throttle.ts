import type { PoolClient } from 'pg';
import { Context } from '@temporalio/activity';
import { workerStopping } from './worker-stopping';
import type { ThrottleReport } from '../../core/contract';

/**
 * `throttle:` in a task's config (tasks/fields.ts); durations in milliseconds. Every limit is off
 * when null. Checked before each batch: while the database is busy the run waits (heartbeating,
 * so a cancel still arrives), backing off from `check_interval` up to `max_check_interval`, and
 * resumes when it calms.
 */
export interface ThrottleConfig {
  /** Average rows (items) per second over the run. */
  max_rows_per_second: number | null;
  /** A fixed pause after every batch. */
  pause_between_batches: number;
  /**
   * A pause after every batch in proportion to how long it took (gh-ost's `--nice-ratio`,
   * pt-archiver's `--sleep-coef`): 4 means 4 ms asleep for every 1 ms in a batch, so the run holds
   * the database at most a fifth of the time whatever the batch size.
   */
  nice_ratio: number;
  /** Other sessions of this database running a statement (pg_stat_activity, state active). */
  max_active_connections: number | null;
  /** Sessions of this database waiting for a lock. */
  max_lock_waits: number | null;
  /** The largest write/flush/replay lag of any standby (pg_stat_replication). */
  max_replication_lag: number | null;
  check_interval: number;
  max_check_interval: number;
}

/** What the database looks like right now, read in one round trip. */
export interface Load {
  active: number;
  lockWaits: number;
  lagMs: number;
}

const LOAD = `
  select
    (select count(*) from pg_stat_activity
      where datname = current_database() and state = 'active' and backend_type = 'client backend' and pid <> pg_backend_pid())::int as active,
    (select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock')::int as lock_waits,
    (select coalesce(extract(epoch from max(greatest(write_lag, flush_lag, replay_lag))) * 1000, 0) from pg_stat_replication)::float8 as lag_ms`;

async function readLoad(client: PoolClient): Promise<Load> {
  const row = (await client.query<{ active: number; lock_waits: number; lag_ms: number }>(LOAD)).rows[0]!;
  return { active: row.active, lockWaits: row.lock_waits, lagMs: row.lag_ms };
}

/** Why the database counts as busy under `cfg`, or null when it does not. Pure. */
export function busyReason(load: Load, cfg: ThrottleConfig): string | null {
  if (cfg.max_active_connections !== null && load.active > cfg.max_active_connections) return 'active_connections';
  if (cfg.max_lock_waits !== null && load.lockWaits > cfg.max_lock_waits) return 'lock_waits';
  if (cfg.max_replication_lag !== null && load.lagMs > cfg.max_replication_lag) return 'replication_lag';
  return null;
}

/** How long to wait so that `rows` done since `startedAt` stay within `maxPerSecond`. Pure. */
export function rateDelay(rows: number, elapsedMs: number, maxPerSecond: number | null): number {
  if (maxPerSecond === null || rows <= 0) return 0;
  return Math.max(0, (rows / maxPerSecond) * 1000 - elapsedMs);
}

/**
 * Sleeps `ms`, heartbeating at least every few seconds (and at once), so a pause longer than the
 * task's heartbeat timeout does not time the attempt out; a cancel still arrives with a heartbeat.
 * Ends early (within a slice) when the worker shuts down.
 */
async function sleepBeating(ms: number, beat: () => void): Promise<void> {
  const slice = Math.max(1_000, Math.min(5_000, (Context.current().info.heartbeatTimeoutMs ?? 15_000) / 3));
  for (let left = ms; left > 0; left -= slice) {
    // A worker shutting down stops the run at this boundary (engine.ts), not after the pause.
    if (workerStopping()) return;
    beat();
    await Context.current().sleep(Math.min(slice, left));
  }
}

/** Paces one attempt of a run and keeps count of every pause, by reason, for the result. */
export class Throttle {
  readonly report: ThrottleReport = { pauses: 0, waitedMs: 0, reasons: {} };
  /** The reason the run is waiting right now, for the heartbeat. */
  waiting: string | undefined;
  private readonly startedAt = Date.now();

  constructor(private readonly cfg: ThrottleConfig | undefined) {}

  /**
   * Waits as the config asks before the next batch; `rows` is how many items this attempt has
   * handled so far, `lastBatchMs` how long the previous batch's transaction took (0: none yet).
   */
  async beforeBatch(client: PoolClient, rows: number, batchesDone: number, lastBatchMs: number, beat: () => void): Promise<void> {
    const cfg = this.cfg;
    if (!cfg) return;
    if (batchesDone > 0 && cfg.pause_between_batches > 0) await this.pause('pause_between_batches', cfg.pause_between_batches, beat);
    if (lastBatchMs > 0 && cfg.nice_ratio > 0) await this.pause('nice_ratio', lastBatchMs * cfg.nice_ratio, beat);
    const rate = rateDelay(rows, Date.now() - this.startedAt, cfg.max_rows_per_second);
    if (rate > 0) await this.pause('max_rows_per_second', rate, beat);
    if (cfg.max_active_connections === null && cfg.max_lock_waits === null && cfg.max_replication_lag === null) return;
    let interval = cfg.check_interval;
    let reason = busyReason(await readLoad(client), cfg);
    if (reason === null) return;
    this.count(reason);
    const started = Date.now();
    try {
      // A worker shutting down ends the wait (sleepBeating returns at once): the engine stops the run next.
      while (reason !== null && !workerStopping()) {
        this.waiting = reason;
        await sleepBeating(interval, beat);
        interval = Math.min(interval * 2, cfg.max_check_interval);
        reason = busyReason(await readLoad(client), cfg);
      }
    } finally {
      this.waiting = undefined;
      this.report.waitedMs += Date.now() - started;
    }
  }

  private async pause(reason: string, ms: number, beat: () => void): Promise<void> {
    this.count(reason);
    this.waiting = reason;
    try {
      await sleepBeating(ms, beat);
    } finally {
      this.waiting = undefined;
      this.report.waitedMs += ms;
    }
  }

  private count(reason: string): void {
    this.report.pauses += 1;
    this.report.reasons[reason] = (this.report.reasons[reason] ?? 0) + 1;
  }
}
