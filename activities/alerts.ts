import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import type { AlertRequest, AlertRun } from '../core/alerts';
import { METRICS } from '../core/metric-names';
import { alertCauses, alertPayload, countsForZeroRows, DEFAULT_UI_URL, runLink, type AlertCause } from './alerts/alert-rules';
import type { ActivityDeps } from './engine/deps';
import { DEFAULT_LEDGER_SCHEMA } from './engine/ledger';
import { ensureLedger } from './engine/ledger-schema';
import { WorkerSecrets } from './engine/secrets';
import { quoteIdent } from './sql/identifiers';

/**
 * `zero_rows_runs` needs the runs before this one: each completed real run of a task with that rule
 * leaves one row in `<ledger schema>.run_outcomes` of the task's database (keyed by run, so a retry
 * records nothing twice; rows older than 90 days are pruned). Returns the trailing streak of runs
 * that changed no rows, this one included.
 */
async function zeroRowStreak(pool: Pool, schema: string, run: AlertRun, window: number): Promise<number> {
  const s = quoteIdent(schema);
  const client = await pool.connect();
  try {
    await ensureLedger(client, schema, run.database);
    await client.query(`insert into ${s}.run_outcomes (run_key, task_id, rows_changed) values ($1, $2, $3) on conflict (run_key) do nothing`, [
      `${run.workflowId}/${run.runId}`,
      run.taskId,
      run.rowsChanged,
    ]);
    await client.query(`delete from ${s}.run_outcomes where task_id = $1 and finished_at < now() - interval '90 days'`, [run.taskId]);
    const { rows } = await client.query<{ rows_changed: string }>(
      `select rows_changed from ${s}.run_outcomes where task_id = $1 order by finished_at desc, run_key desc limit $2`,
      [run.taskId, window + 1],
    );
    const firstNonZero = rows.findIndex((r) => Number(r.rows_changed) !== 0);
    return firstNonZero === -1 ? rows.length : firstNonZero;
  } finally {
    client.release();
  }
}

export function createAlertActivities({ databases }: ActivityDeps) {
  return {
    /**
     * Runs once at the end of every run of a task with alert webhooks: decides which rules fire,
     * and POSTs one JSON alert to each webhook (URL from the worker's environment, `url_env`). A
     * webhook that fails or answers non-2xx fails the attempt, and Temporal retries it; webhooks
     * that already took the alert are remembered in the heartbeat and not sent again.
     */
    async deliverRunAlerts({ spec, run }: AlertRequest): Promise<{ causes: AlertCause[]; delivered: string[] }> {
      const ctx = Context.current();
      let streak: number | undefined;
      if (spec.zero_rows_runs !== undefined && countsForZeroRows(run)) {
        streak = await zeroRowStreak(databases.get(run.database), databases.ledgerSchema?.(run.database) ?? DEFAULT_LEDGER_SCHEMA, run, spec.zero_rows_runs);
      }
      const causes = alertCauses(spec, run, streak);
      if (causes.length === 0) return { causes, delivered: [] };
      const link = runLink(spec.ui_url ?? process.env.CARETAKER_UI_URL ?? DEFAULT_UI_URL, run);
      const delivered = new Set<string>((ctx.info.heartbeatDetails as string[] | undefined) ?? []);
      const secrets = new WorkerSecrets();
      const problems: string[] = [];
      for (const [i, hook] of spec.webhooks.entries()) {
        if (delivered.has(hook.name)) continue;
        const url = secrets.url(hook.url_env, `alerts.webhooks[${i}] (${hook.name}).url_env`, ['https:', 'http:']);
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(alertPayload(hook.format, run, causes, link)),
            signal: AbortSignal.timeout(10_000),
          });
          if (!res.ok) throw new Error(`answered ${res.status} ${res.statusText}`);
          delivered.add(hook.name);
          ctx.heartbeat([...delivered]);
          ctx.metricMeter.createCounter(METRICS.alertsSent, 'alerts', 'Alerts a webhook accepted').withTags({ task_id: run.taskId, webhook: hook.name }).add(1);
        } catch (err) {
          problems.push(secrets.scrub(`webhook ${hook.name}: ${(err as Error).message}`));
        }
      }
      if (problems.length > 0) throw ApplicationFailure.retryable(`alert not delivered: ${problems.join('; ')}`, 'AlertNotDelivered');
      return { causes, delivered: [...delivered] };
    },
  };
}
