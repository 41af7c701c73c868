import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import type { BatchCheckpoint } from '../core/contract';
import { countsText } from './run-report';
import { APPROVAL_MEMO, type ApprovalMemo } from '../core/approval';
import { approvalLine } from './commands/approval';

/** A pending activity's last checkpoint, with how old it is. */
export interface ActivityProgress {
  activity?: string;
  attempt?: number;
  checkpoint?: BatchCheckpoint;
  /** Seconds since the checkpoint was taken. */
  checkpointAgeSeconds?: number;
  /** Why the previous attempt failed, while it is being retried. */
  lastFailure?: string;
}

/** The checkpoints of a run's pending activities (what `caretaker status` and `run --wait` show). */
export function activityProgress(desc: WorkflowExecutionDescription, now = Date.now()): ActivityProgress[] {
  return (desc.raw.pendingActivities ?? []).map((a) => {
    const payload = a.heartbeatDetails?.payloads?.[0];
    const checkpoint = payload ? defaultPayloadConverter.fromPayload<BatchCheckpoint>(payload) : undefined;
    const age = checkpoint ? Math.max(0, Math.round((now - Date.parse(checkpoint.at)) / 1000)) : undefined;
    return {
      activity: a.activityType?.name ?? undefined,
      attempt: a.attempt ?? undefined,
      ...(checkpoint ? { checkpoint, checkpointAgeSeconds: age } : {}),
      ...(a.lastFailure?.message ? { lastFailure: a.lastFailure.message } : {}),
    };
  });
}

function rowsOf(checkpoint: BatchCheckpoint): number {
  return Object.values(checkpoint.counts).reduce((n, v) => n + (typeof v === 'number' ? v : 0), 0);
}

/** "12 batch(es), stale=24 requeued=0, 40 rows/s, 3s ago; elapsed 1m05s" */
export function progressLine(desc: WorkflowExecutionDescription, now = Date.now()): string {
  const elapsed = Math.round((now - desc.startTime.getTime()) / 1000);
  const elapsedText = `elapsed ${Math.floor(elapsed / 60)}m${String(elapsed % 60).padStart(2, '0')}s`;
  const approval = desc.memo?.[APPROVAL_MEMO] as ApprovalMemo | undefined;
  if (approval?.state === 'awaiting') return `awaiting approval: ${approvalLine(desc.workflowId, approval)}; ${elapsedText}`;
  const [a] = activityProgress(desc, now);
  if (!a) return `waiting for a worker or finishing; ${elapsedText}`;
  const retry = a.attempt && a.attempt > 1 ? `attempt ${a.attempt}${a.lastFailure ? ` after: ${a.lastFailure}` : ''}; ` : '';
  if (!a.checkpoint) return `${retry}${a.activity} started, no batch committed yet; ${elapsedText}`;
  const rate = elapsed > 0 ? Math.round(rowsOf(a.checkpoint) / elapsed) : 0;
  const waiting = a.checkpoint.pace?.waiting;
  const paused = waiting ? `; paused: ${THROTTLE_REASONS[waiting] ?? waiting}` : '';
  return `${retry}${a.checkpoint.batches} batch(es), ${countsText(a.checkpoint.counts)}, ${rate} rows/s, last checkpoint ${a.checkpointAgeSeconds}s ago${paused}; ${elapsedText}`;
}

/** Why the throttle holds a run (activities/engine/throttle.ts), in the words of its config. */
const THROTTLE_REASONS: Record<string, string> = {
  active_connections: 'active_connections (more sessions busy than throttle.max_active_connections)',
  lock_waits: 'lock_waits (more sessions waiting for locks than throttle.max_lock_waits)',
  replication_lag: 'replication_lag (a standby lags more than throttle.max_replication_lag)',
  max_rows_per_second: 'max_rows_per_second (throttle.max_rows_per_second)',
  pause_between_batches: 'pause_between_batches (throttle.pause_between_batches)',
  nice_ratio: 'nice_ratio (throttle.nice_ratio)',
};
