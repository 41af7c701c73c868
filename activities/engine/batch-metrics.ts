import type { MetricMeter } from '@temporalio/common';
import { METRICS } from '../../core/metric-names';

/**
 * `caretaker_batch_duration_seconds` {task_id, dry_run}: one batch of the engine's loop (its
 * transaction, or its items outside one), through the activity's metric meter.
 */
export function batchTimer(meter: MetricMeter, taskId: string, dryRun: boolean): () => () => void {
  const histogram = meter
    .createHistogram(METRICS.batchDuration, 'float', 's', 'One batch of a Caretaker run')
    .withTags({ task_id: taskId, dry_run: String(dryRun) });
  return () => {
    const started = process.hrtime.bigint();
    return () => histogram.record(Number(process.hrtime.bigint() - started) / 1e9);
  };
}
