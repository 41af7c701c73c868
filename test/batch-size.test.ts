import { describe, expect, it } from 'vitest';
import { BatchSizer } from '../activities/engine/batch-size';
import { busyReason, rateDelay, type ThrottleConfig } from '../activities/engine/throttle';
import { parseTask } from './fixtures';

const adaptive = { min: 10, max: 50_000, target: 250 };

describe('adaptive batch size (pure logic)', () => {
  it('keeps a fixed batch_size whatever the timing', () => {
    const sizer = new BatchSizer(500, 1000);
    expect(sizer.observe(500, 5_000)).toBe(500);
    expect(sizer.observe(500, 1)).toBe(500);
    expect(sizer.summary()).toMatchObject({ first: 500, last: 500, adaptive: false });
  });

  it('moves towards the size that takes the target time, at most doubling per batch', () => {
    const sizer = new BatchSizer(adaptive, 1000);
    // 1000 rows in 50 ms: 5000 would take 250 ms, but one step at most doubles.
    expect(sizer.observe(1000, 50)).toBe(2000);
    expect(sizer.observe(2000, 100)).toBe(4000);
    expect(sizer.observe(4000, 200)).toBe(5000);
    // Converged: 5000 rows take the target time.
    expect(sizer.observe(5000, 250)).toBe(5000);
  });

  it('shrinks when a batch runs long, at most to a quarter per batch', () => {
    const sizer = new BatchSizer(adaptive, 1000);
    expect(sizer.observe(1000, 500)).toBe(500);
    expect(sizer.observe(500, 100_000)).toBe(125);
  });

  it('aims under the target at the slowest rate of the last five batches: one slow batch holds the size down', () => {
    const sizer = new BatchSizer(adaptive, 5000);
    expect(sizer.observe(5000, 250)).toBe(5000);
    // Twice as slow once: half the size, and no more than that while the slow batch is recent.
    expect(sizer.observe(5000, 500)).toBe(2500);
    for (let i = 0; i < 4; i++) expect(sizer.observe(2500, 125)).toBe(2500);
    // Five fast batches later the slow one is forgotten; having reached the target once, it grows by a quarter at most.
    expect(sizer.observe(2500, 125)).toBe(3125);
    expect(sizer.observe(3125, 156.25)).toBe(3906);
  });

  it("aims the items' work at the target less the fixed part of a batch", () => {
    const sizer = new BatchSizer(adaptive, 5000);
    // 5000 rows: 240 ms of work, 20 ms of BEGIN, fence, counters, ledger and COMMIT around it.
    // At 0.048 ms a row, 230 ms of work is 4792 rows, where the whole batch's rate would give 4808.
    expect(sizer.observe(5000, 260, 240)).toBe(4792);
  });

  it('keeps half the target for work when the fixed part takes all of it, instead of shrinking to min', () => {
    // target 10 ms, 12 ms fixed per batch, 0.01 ms of work a row: no size meets the target.
    const sizer = new BatchSizer({ min: 10, max: 50_000, target: 10 }, 1000);
    let size = sizer.current;
    for (let i = 0; i < 20; i++) size = sizer.observe(size, 12 + size * 0.01, size * 0.01);
    // 5 ms of work per batch: 500 rows, whatever the start.
    expect(size).toBe(500);
    expect(sizer.summary().smallest).toBe(500);
  });

  it('stays within min and max', () => {
    const low = new BatchSizer({ ...adaptive, min: 400 }, 1000);
    expect(low.observe(1000, 10_000)).toBe(400);
    const high = new BatchSizer({ ...adaptive, max: 1500 }, 1000);
    expect(high.observe(1000, 10)).toBe(1500);
    expect(new BatchSizer({ ...adaptive, max: 300 }, 1000).current).toBe(300);
  });

  it('ignores a short batch (the end of a unit) and grows on batches too fast to time', () => {
    const sizer = new BatchSizer(adaptive, 1000);
    expect(sizer.observe(20, 10_000)).toBe(1000);
    expect(sizer.observe(1000, 0.5)).toBe(2000);
    expect(sizer.summary()).toMatchObject({ first: 1000, last: 2000, smallest: 1000, largest: 2000, adaptive: true, slowestBatchMs: 10_000 });
  });

  it('is the default, starting at the task type’s usual size; a number is fixed', () => {
    expect(parseTask({ type: 'runs.cleanup_expired', config: { table: 'runs' } }).config.batch_size).toEqual({
      min: 10,
      max: 50_000,
      target: 250,
      start: 1000,
    });
    expect(parseTask({ type: 'runs.cleanup_expired', config: { table: 'runs', batch_size: 7 } }).config.batch_size).toBe(7);
    expect(parseTask({ type: 'runs.cleanup_expired', config: { table: 'runs', batch_size: { max: 2000, target: '1s' } } }).config.batch_size).toEqual({
      min: 10,
      max: 2000,
      target: 1000,
      start: 1000,
    });
    expect(() => parseTask({ type: 'runs.cleanup_expired', config: { table: 'runs', batch_size: { min: 900, max: 100 } } })).toThrow('expected min <= max');
  });
});

describe('throttle (pure logic)', () => {
  const cfg: ThrottleConfig = {
    max_rows_per_second: null,
    pause_between_batches: 0,
    nice_ratio: 0,
    max_active_connections: 4,
    max_lock_waits: 0,
    max_replication_lag: 10_000,
    check_interval: 100,
    max_check_interval: 5_000,
  };

  it('names the first limit the database is over, or null when it is calm', () => {
    expect(busyReason({ active: 4, lockWaits: 0, lagMs: 10_000 }, cfg)).toBeNull();
    expect(busyReason({ active: 5, lockWaits: 0, lagMs: 0 }, cfg)).toBe('active_connections');
    expect(busyReason({ active: 0, lockWaits: 1, lagMs: 0 }, cfg)).toBe('lock_waits');
    expect(busyReason({ active: 0, lockWaits: 0, lagMs: 10_001 }, cfg)).toBe('replication_lag');
    expect(
      busyReason({ active: 99, lockWaits: 99, lagMs: 1e9 }, { ...cfg, max_active_connections: null, max_lock_waits: null, max_replication_lag: null }),
    ).toBeNull();
  });

  it('delays just enough to keep the average rate under max_rows_per_second', () => {
    expect(rateDelay(1000, 500, 1000)).toBe(500);
    expect(rateDelay(1000, 1500, 1000)).toBe(0);
    expect(rateDelay(1000, 0, null)).toBe(0);
  });

  it('parses durations and defaults in config', () => {
    const task = parseTask({ type: 'runs.cleanup_expired', config: { table: 'runs', throttle: { max_active_connections: 3, pause_between_batches: '20ms' } } });
    expect(task.config.throttle).toEqual({ ...cfg, max_active_connections: 3, max_lock_waits: null, max_replication_lag: null, pause_between_batches: 20 });
    expect(() => parseTask({ type: 'runs.cleanup_expired', config: { table: 'runs', throttle: { max_lag: '1s' } } })).toThrow(/max_lag/);
  });
});
