import type { Client, ScheduleDescription } from '@temporalio/client';
import { lastScheduledRun } from '../../core/outcome';

/** The last run a schedule started, as health.report shows it (a HealthStatus of health-checks.ts). */
export interface LastRunOutcome {
  status: 'ok' | 'warn' | 'critical';
  /** e.g. "last run purge-2026-01-01T00:00:00Z FAILED: ..." */
  message: string;
}

/**
 * How a schedule's last started run ended (core/outcome.ts's lastScheduledRun: the run's status and
 * the outcome runTask wrote into its memo). Failed, timed out or terminated runs are critical;
 * cancelled runs, refusals and runs completed with errors are warnings.
 */
export async function lastRunOutcome(client: Client, schedule: ScheduleDescription): Promise<LastRunOutcome | undefined> {
  let last;
  try {
    last = await lastScheduledRun(schedule.info.recentActions, (workflowId) => client.workflow.getHandle(workflowId).describe());
  } catch (err) {
    const workflowId = schedule.info.recentActions.at(-1)?.action.workflow.workflowId;
    return { status: 'warn', message: `last run ${workflowId}: cannot describe it (${(err as Error).message})` };
  }
  if (!last) return undefined;
  const run = `last run ${last.workflowId}`;
  const failure = last.memo?.failure;
  // A safety limit's refusal ends the run as Failed in Temporal, but it is the limit doing its job.
  if (last.outcome === 'refused') return { status: 'warn', message: `${run} refused${failure ? `: ${failure}` : ''}` };
  switch (last.status) {
    case 'RUNNING':
      return { status: 'ok', message: `${run} is running` };
    case 'COMPLETED':
      return { status: last.outcome === 'completed_with_errors' ? 'warn' : 'ok', message: `${run} ${last.outcome}` };
    case 'CANCELLED':
      return { status: 'warn', message: `${run} was cancelled` };
    default:
      return { status: 'critical', message: `${run} ${last.status}${failure ? `: ${failure}` : ''}` };
  }
}
