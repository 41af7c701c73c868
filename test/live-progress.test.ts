import type { Context } from '@temporalio/activity';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { liveProgress } from '../activities/engine/live-progress';
import type { BatchCheckpoint } from '../workflows/types';

/** Pure logic: which checkpoints become signals. A stand-in context records them. */
function fakeContext(sent: unknown[]): Context {
  const handle = { signal: (_name: string, checkpoint: unknown) => (sent.push(checkpoint), Promise.resolve()) };
  return { info: { workflowExecution: { workflowId: 'w', runId: 'r' } }, client: { workflow: { getHandle: () => handle } } } as unknown as Context;
}
const checkpoint = (batches: number): BatchCheckpoint => ({ unit: 0, batches, counts: { deleted: batches }, at: '' });

afterEach(() => vi.useRealTimers());

describe('live progress signals', () => {
  it('sends the first checkpoint at once, then at most one per interval, and never more than the cap', () => {
    vi.useFakeTimers();
    const sent: unknown[] = [];
    const signal = liveProgress(fakeContext(sent), { everyMs: 1_000, maxPerRun: 3 });
    signal(checkpoint(1));
    signal(checkpoint(2)); // too soon
    vi.advanceTimersByTime(1_000);
    signal(checkpoint(3));
    vi.advanceTimersByTime(999);
    signal(checkpoint(4)); // too soon
    for (let i = 5; i < 50; i++) {
      vi.advanceTimersByTime(1_000);
      signal(checkpoint(i));
    }
    expect(sent.map((c) => (c as BatchCheckpoint).batches)).toEqual([1, 3, 5]);
  });
});
