import { type ActivityOptions, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { AlertRequest } from './alert-types';
import { FailureType } from '../core/failures';

/**
 * Delivery is retried with backoff for about ten minutes (a receiver that answers 5xx or times
 * out); a webhook that still refuses fails this workflow, never the run it reports on.
 */
export const ALERT_DELIVERY: ActivityOptions = {
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 10, nonRetryableErrorTypes: [FailureType.ConfigError] },
};

const alerts = proxyActivities<Pick<Activities, 'deliverRunAlerts'>>(ALERT_DELIVERY);

/** The id of the workflow that delivers one run's alerts: one per run, beside the run in Temporal Web. */
export function alertWorkflowId(workflowId: string, runId: string): string {
  return `${workflowId}/alerts/${runId}`;
}

/**
 * Delivers one run's alerts, outside the run's own lifetime: the run starts it as an abandoned
 * child and ends at once, so a webhook that keeps failing never holds a run open (and never makes a
 * schedule with `overlap: skip` skip its next fires).
 */
export async function deliverAlertsWorkflow(request: AlertRequest): Promise<Awaited<ReturnType<Activities['deliverRunAlerts']>>> {
  return alerts.deliverRunAlerts(request);
}
