import type { Client } from '@temporalio/client';
import type { HealthStatus } from './health-checks';
import { readOutcomeMemo, runOutcomeOf } from '../core/outcome';

/** The last run a schedule started, as health.report shows it. */
export interface LastRunOutcome {
  status: HealthStatus;
  /** e.g. "last run purge-2026-01-01T00:00:00Z FAILED: ..." */
  message: string;
}

/**
 * How a schedule's last started run ended: from the run's status, and for a completed run the
 * outcome runTask wrote into its memo (`caretakerOutcome`). Failed, timed out or terminated runs
 * are critical; cancelled runs, refusals and runs completed with errors are warnings.
 */
export async function lastRunOutcome(client: Client, action: { workflowId: string } | undefined): Promise<LastRunOutcome | undefined> {
  if (!action) return undefined;
  let d;
  try {
    d = await client.workflow.getHandle(action.workflowId).describe(); // the latest run of its chain
  } catch (err) {
    return { status: 'warn', message: `last run ${action.workflowId}: cannot describe it (${(err as Error).message})` };
  }
  const memo = readOutcomeMemo(d.memo);
  const run = `last run ${action.workflowId}`;
  // A safety limit's refusal ends the run as Failed in Temporal, but it is the limit doing its job.
  if (memo?.outcome === 'refused') return { status: 'warn', message: `${run} refused${memo.failure ? `: ${memo.failure}` : ''}` };
  switch (d.status.name) {
    case 'RUNNING':
      return { status: 'ok', message: `${run} is running` };
    case 'COMPLETED': {
      const outcome = runOutcomeOf(d.status.name, memo?.outcome);
      return { status: outcome === 'completed_with_errors' ? 'warn' : 'ok', message: `${run} ${outcome}` };
    }
    case 'CANCELLED':
      return { status: 'warn', message: `${run} was cancelled` };
    default:
      return { status: 'critical', message: `${run} ${d.status.name}${memo?.failure ? `: ${memo.failure}` : ''}` };
  }
}
