import type { RunPace } from '../../workflows/types';

/**
 * How many items the next batch takes. A fixed `batch_size: 500` never changes; an adaptive one
 * (`batch_size: { min, max, target }`, the default) steers each batch's transaction time towards
 * `target` (250 ms by default): short transactions keep row locks and WAL bursts small, and
 * large enough ones amortise the per-batch cost (fence, ledger entry, commit, heartbeat).
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

/** Largest step up or down between two batches: one odd batch (a cold cache, a checkpoint) cannot swing it far. */
const MAX_GROWTH = 2;
const MAX_SHRINK = 0.25;
/** Batches faster than this are too short to time reliably; they only grow the size. */
const MIN_MEASURABLE_MS = 2;

export class BatchSizer {
  private size: number;
  readonly adaptive: boolean;
  private readonly first: number;
  private smallest: number;
  private largest: number;
  private slowestMs = 0;

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
    return { first: this.first, last: this.size, smallest: this.smallest, largest: this.largest, adaptive: this.adaptive, slowestBatchMs: Math.round(this.slowestMs) };
  }

  /** The size of the next batch. */
  get current(): number {
    return this.size;
  }

  /**
   * Learns from a finished batch: `items` it asked for were handled in `elapsedMs`. A batch that
   * came back short (the end of a unit) says nothing about the rate and is ignored.
   */
  observe(items: number, elapsedMs: number): number {
    this.slowestMs = Math.max(this.slowestMs, elapsedMs);
    if (typeof this.setting === 'number' || items < this.size || items <= 0) return this.size;
    const { min, max, target } = this.setting;
    const ideal = elapsedMs < MIN_MEASURABLE_MS ? this.size * MAX_GROWTH : (items * target) / elapsedMs;
    const stepped = clamp(ideal, this.size * MAX_SHRINK, this.size * MAX_GROWTH);
    this.size = clamp(Math.round(stepped), min, max);
    this.smallest = Math.min(this.smallest, this.size);
    this.largest = Math.max(this.largest, this.size);
    return this.size;
  }
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
