import type { RunPace } from '../../core/contract';

/**
 * How many items the next batch takes. A fixed `batch_size: 500` never changes; an adaptive one
 * (`batch_size: { min, max, target }`, the default) keeps each batch's transaction under
 * `target` (250 ms by default): short transactions keep row locks and WAL bursts small, and
 * large enough ones amortise the per-batch cost (fence, ledger entry, commit, heartbeat).
 *
 * The target is a ceiling, not an average: the same number of rows can take twice as long from
 * one batch to the next (other sessions, checkpoints, a busy CPU), so the size follows the slowest
 * time per item of the last few batches, and one slow batch holds the size down for a while.
 *
 * A batch's time is a fixed part (BEGIN, the attempt fence, the counter readings, the ledger row,
 * COMMIT: ~a few ms, more under load) plus the work on its items. The size aims the work at what the
 * fixed part leaves of the target, and at no less than half the target: a target at or below the
 * fixed part would otherwise shrink every batch to `min` (each step measures a higher time per item
 * than the last) and a run would crawl at a few hundred rows a second.
 *
 * Pure logic: the engine feeds it each batch's item count and transaction time.
 */
export interface AdaptiveBatchSetting {
  min: number;
  max: number;
  /** Target transaction time of one batch, in milliseconds. */
  target: number;
  /** The first batch's size; defaults to the task's usual batch size, within min..max. */
  start?: number;
}

export type BatchSizeSetting = number | AdaptiveBatchSetting;

/**
 * Largest step up or down between two batches: one odd batch (a cold cache, a checkpoint) cannot
 * swing it far. Growth doubles until the size first reaches the target, then creeps: time per row
 * is not constant in the size, and a doubled batch is where a run overshoots its target.
 */
const MAX_GROWTH = 2;
const SETTLED_GROWTH = 1.25;
const MAX_SHRINK = 0.25;
/** Batches faster than this are too short to time reliably; they only grow the size. */
const MIN_MEASURABLE_MS = 2;
/** How many recent batches the slowest time per item is taken over. */
const WINDOW = 5;
/** The least share of the target a batch's work aims at, however large the fixed part. */
const MIN_WORK_SHARE = 0.5;

export class BatchSizer {
  private size: number;
  readonly adaptive: boolean;
  private readonly first: number;
  private smallest: number;
  private largest: number;
  private slowestMs = 0;
  /** Milliseconds per item of the last WINDOW full batches' work. */
  private readonly recent: number[] = [];
  /** Milliseconds of the last WINDOW full batches that were not their items' work. */
  private readonly overheads: number[] = [];
  private settled = false;

  constructor(
    private readonly setting: BatchSizeSetting,
    fallbackStart: number,
  ) {
    if (typeof setting === 'number') {
      this.adaptive = false;
      this.size = setting;
    } else {
      this.adaptive = true;
      this.size = clamp(Math.round(setting.start ?? fallbackStart), setting.min, setting.max);
    }
    this.first = this.smallest = this.largest = this.size;
  }

  /** The sizes used and the slowest batch, for the result's `pace`. */
  summary(): RunPace['batchSize'] & { slowestBatchMs: number } {
    return {
      first: this.first,
      last: this.size,
      smallest: this.smallest,
      largest: this.largest,
      adaptive: this.adaptive,
      slowestBatchMs: Math.round(this.slowestMs),
    };
  }

  /** The size of the next batch. */
  get current(): number {
    return this.size;
  }

  /**
   * Learns from a finished batch: `items` it asked for were handled in a transaction of `elapsedMs`,
   * of which `workMs` went to fetching and acting on them (all of it when not given). A batch that
   * came back short (the end of a unit) says nothing about the rate and is ignored.
   */
  observe(items: number, elapsedMs: number, workMs = elapsedMs): number {
    this.slowestMs = Math.max(this.slowestMs, elapsedMs);
    if (typeof this.setting === 'number' || items < this.size || items <= 0) return this.size;
    const { min, max, target } = this.setting;
    const measured = workMs >= MIN_MEASURABLE_MS;
    if (measured) {
      remember(this.recent, workMs / items);
      remember(this.overheads, Math.max(0, elapsedMs - workMs));
    }
    const budget = Math.max(target - Math.max(0, ...this.overheads), target * MIN_WORK_SHARE);
    const ideal = measured ? budget / Math.max(...this.recent) : this.size * MAX_GROWTH;
    const stepped = clamp(ideal, this.size * MAX_SHRINK, this.size * (this.settled ? SETTLED_GROWTH : MAX_GROWTH));
    // Reached the target size (the step did not cap it): from now on it creeps.
    this.settled ||= measured && stepped >= ideal;
    this.size = clamp(Math.round(stepped), min, max);
    this.smallest = Math.min(this.smallest, this.size);
    this.largest = Math.max(this.largest, this.size);
    return this.size;
  }
}

/** Keeps the last WINDOW values. */
function remember(window: number[], value: number): void {
  window.push(value);
  if (window.length > WINDOW) window.shift();
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/** A task's sizer: its `batch_size`, else the task type's usual size (one at a time when it has none), adaptive from 1000. */
export function taskBatchSizer(cfg: { batch_size?: BatchSizeSetting }, usual: number | undefined): BatchSizer {
  return new BatchSizer(cfg.batch_size ?? usual ?? 1, usual ?? 1000);
}
