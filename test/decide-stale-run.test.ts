import { describe, expect, it } from 'vitest';
import { decideStaleRun, type StaleRun } from '../activities/runs';
import { runsCleanupStaleConfig } from '../tasks/runs-cleanup-stale';

const cfg = runsCleanupStaleConfig.parse({ table: 'runs', columns: { retry_count: 'retries' } });
const run = (over: Partial<StaleRun>): StaleRun => ({
  id: '1',
  key: ['1'],
  status: 'running',
  job_type: null,
  retry_count: 0,
  elapsed_ms: 3 * 3_600_000,
  threshold_ms: 2 * 3_600_000,
  ...over,
});

describe('decideStaleRun', () => {
  it('re-queues while retries remain', () => {
    expect(decideStaleRun(run({ retry_count: 2 }), cfg, 't')).toEqual({ id: '1', action: 'requeue', newStatus: 'pending', newRetryCount: 3, message: null });
  });

  it('treats a null retry count as zero', () => {
    expect(decideStaleRun(run({ retry_count: null }), cfg, 't')).toMatchObject({ action: 'requeue', newRetryCount: 1 });
  });

  it('finalizes with the status-specific final status once retries are exhausted', () => {
    expect(decideStaleRun(run({ retry_count: 3 }), cfg, 't')).toMatchObject({ action: 'finalize', newStatus: 'failed', newRetryCount: 3 });
    expect(decideStaleRun(run({ status: 'pending', retry_count: 5, elapsed_ms: 90 * 60_000, threshold_ms: 3_600_000 }), cfg, 'nightly')).toEqual({
      id: '1',
      action: 'finalize',
      newStatus: 'cancelled',
      newRetryCount: 5,
      message: 'Stale: pending for 1h30m (limit 1h); retries exhausted (5/3); marked cancelled by Caretaker task nightly',
    });
  });

  it('reports the retry count requeue_set or final_set writes where it assigns the counter', () => {
    const over = (extra: Record<string, unknown>) => runsCleanupStaleConfig.parse({ table: 'runs', columns: { retry_count: "meta->>'retries'" }, ...extra });
    expect(decideStaleRun(run({ retry_count: 1 }), over({ requeue_set: { "meta->'retries'": 0 } }), 't')).toMatchObject({
      action: 'requeue',
      newRetryCount: 0,
    });
    expect(decideStaleRun(run({ retry_count: 1 }), over({ requeue_set: { "meta->>'retries'": { increment: 5 } } }), 't')).toMatchObject({ newRetryCount: 6 });
    expect(decideStaleRun(run({ retry_count: 1 }), over({ requeue_set: { "meta->>'retries'": null } }), 't')).toMatchObject({ newRetryCount: null });
    expect(decideStaleRun(run({ retry_count: 1 }), over({ requeue_set: { "meta->>'other'": 9 } }), 't')).toMatchObject({ newRetryCount: 2 });
    expect(decideStaleRun(run({ retry_count: 3 }), over({ final_set: { failed: { "meta->>'retries'": '7' } } }), 't')).toMatchObject({
      action: 'finalize',
      newRetryCount: 7,
    });
    expect(decideStaleRun(run({ status: 'pending', retry_count: 3 }), over({ final_set: { failed: { "meta->>'retries'": 7 } } }), 't')).toMatchObject({
      newStatus: 'cancelled',
      newRetryCount: 3,
    });
  });

  it('without a retry column, finalizes at once and says nothing about retries', () => {
    const noRetry = runsCleanupStaleConfig.parse({ table: 'runs', max_retries: 0 });
    expect(decideStaleRun(run({ retry_count: null }), noRetry, 't').message).toBe('Stale: running for 3h (limit 2h); marked failed by Caretaker task t');
  });

  it('requires a final status for every status that has a threshold', () => {
    const parsed = runsCleanupStaleConfig.safeParse({ table: 'runs', max_retries: 0, thresholds: { zombie: '1h' } });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.message).toBe('expected a final status for "zombie" (it has a threshold), got none');
  });
});
