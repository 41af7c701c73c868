/**
 * Caretaker's metric names, in one dependency-free module that workflows (the bundle), activities
 * and the worker all import. They go through the SDK's metric meter (workflow `metricMeter`,
 * activity `Context.current().metricMeter`), so the SDK's one Prometheus exporter carries them next
 * to its own `temporal_*` metrics (counters get `_total` there). README "Metrics" documents each one.
 */
export const METRICS = {
  /** counter {task_id, task_type, outcome, dry_run}: runs that ended, by outcome. */
  runs: 'caretaker_runs',
  /** histogram {task_id, task_type, outcome, dry_run}: run duration in seconds. */
  runDuration: 'caretaker_run_duration_seconds',
  /** counter {task_id, table, action}: rows a real run changed per table, as PostgreSQL counted them. */
  rowsChanged: 'caretaker_rows_changed',
  /** gauge {task_id}: unix time of the last real run that completed. */
  lastSuccess: 'caretaker_last_success_timestamp_seconds',
  /** gauge {task_id}: eligible rows the last completed real run left for the next one. */
  backlogRows: 'caretaker_backlog_rows',
  /** gauge {task_id}: age in seconds of the oldest of them (0 when none are left). */
  backlogOldestAge: 'caretaker_backlog_oldest_age_seconds',
  /** histogram {task_id, dry_run}: one batch (its transaction, or one item outside a transaction), in seconds. */
  batchDuration: 'caretaker_batch_duration_seconds',
  /** counter {task_id, cause}: alerts delivered to every webhook. */
  alertsSent: 'caretaker_alerts_sent',
} as const;
