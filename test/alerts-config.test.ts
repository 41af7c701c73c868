import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../config/load';
import { alertCauses, alertPayload, runLink } from '../activities/alerts/alert-rules';
import type { AlertRun, AlertSpec } from '../core/alerts';

const file = (alerts: string, taskAlerts = '') => `
alerts:
${alerts}
tasks:
  - id: purge
    type: retention.enforce
    config:
      policies: [{ table: sessions, timestamp_column: seen_at, older_than: 7d }]
${taskAlerts}`;

function problems(text: string): string[] {
  try {
    parseConfigText(text, 'maintenance.yaml', {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('the alerts: block', () => {
  it('merges the global block with the task own keys, with defaults, into the run input', () => {
    const cfg = parseConfigText(
      file(
        '  webhooks: [{ name: ops, format: slack, url_env: SLACK_WEBHOOK_URL }]\n  zero_rows_runs: 3\n  duration_above: 30m',
        '    alerts: { on: [failure], rows_changed_above: 1000 }',
      ),
      'maintenance.yaml',
      {},
    );
    expect(cfg.tasks[0]!.alerts).toEqual({
      webhooks: [{ name: 'ops', format: 'slack', url_env: 'SLACK_WEBHOOK_URL' }],
      on: ['failure'],
      zero_rows_runs: 3,
      duration_above: 1_800_000,
      rows_changed_above: 1000,
    });
    const muted = parseConfigText(file('  webhooks: [{ name: ops, url_env: HOOK }]', '    alerts: false'), 'maintenance.yaml', {});
    expect(muted.tasks[0]!.alerts).toBeUndefined();
    const defaults = parseConfigText(file('  webhooks: [{ name: ops, url_env: HOOK }]'), 'maintenance.yaml', {});
    expect(defaults.tasks[0]!.alerts).toEqual({ webhooks: [{ name: 'ops', format: 'json', url_env: 'HOOK' }], on: ['failure', 'refusal', 'cancellation'] });
  });

  it('refuses bad alert config with file:line, path, what was expected and what it got', () => {
    expect(problems(file('  webhooks: [{ name: ops, url: "https://hooks.slack.com/services/T/B/secret" }]'))).toEqual([
      `maintenance.yaml:3: alerts.webhooks[0].url: expected url_env naming the environment variable on the worker that holds the webhook URL, got url; a webhook URL is a credential (config values are stored in plain text in Temporal's schedules and run history)`,
    ]);
    expect(
      problems(
        file(`  webhooks:
    - { name: ops, format: teams, url_env: "hooks/slack" }
    - { name: pager, url_env: HOOK }
  on: [failure, timeout]
  zero_rows_runs: 0
  duration_above: soon
  ui_url: ftp://temporal`),
      ),
    ).toEqual([
      'maintenance.yaml:4: alerts.webhooks[0].format: expected one of "slack", "json", got "teams"',
      'maintenance.yaml:4: alerts.webhooks[0].url_env: expected the name of an environment variable on the worker, such as SLACK_WEBHOOK_URL, got text that is not a name (write the name itself, not ${...})',
      'maintenance.yaml:6: alerts.on[1]: expected one of "failure", "refusal", "cancellation", got "timeout"',
      'maintenance.yaml:7: alerts.zero_rows_runs: expected a number >= 1, got 0',
      'maintenance.yaml:8: alerts.duration_above: expected a duration like "30s", "15m", "2h" or "7d", got "soon"',
      'maintenance.yaml:9: alerts.ui_url: expected an http:// or https:// URL of Temporal Web, got "ftp://temporal"',
    ]);
    expect(problems(file('  webhooks: [{ name: ops, url_env: A }, { name: ops, url_env: B }]'))).toEqual([
      'maintenance.yaml:3: alerts.webhooks[1].name: expected a unique webhook name; "ops" is also webhooks[0].name',
    ]);
    expect(problems(file('  webhooks: [{ name: ops }]'))).toEqual([
      'maintenance.yaml:3: alerts.webhooks[0].url_env: required: expected the name of the environment variable on the worker that holds the webhook URL, such as SLACK_WEBHOOK_URL',
    ]);
    expect(problems(file('  webhooks: []', '    alerts: { rows_changed_abov: 5 }'))).toEqual([
      'maintenance.yaml:9: tasks[0].alerts: unexpected key rows_changed_abov',
    ]);
    expect(problems(file('  webhooks: [{ name: ops, url_env: A }]\n  backlog_above: -1'))).toEqual([
      'maintenance.yaml:4: alerts.backlog_above: expected a number >= 0, got -1',
    ]);
    expect(problems(file('  webhooks: [{ name: ops, url_env: A }]\n  backlog_above: lots'))).toEqual([
      'maintenance.yaml:4: alerts.backlog_above: expected number, got "lots"',
    ]);
  });
});

describe('alert rules', () => {
  const spec: AlertSpec = { webhooks: [], on: ['failure', 'refusal', 'cancellation'], rows_changed_above: 100, zero_rows_runs: 3, duration_above: 60_000 };
  const run: AlertRun = {
    taskId: 'purge',
    type: 'retention.enforce',
    database: 'default',
    dryRun: false,
    outcome: 'completed',
    tables: {},
    rowsChanged: 0,
    durationMs: 1_000,
    namespace: 'default',
    workflowId: 'purge-1',
    runId: 'r1',
  };

  it('fire on their thresholds only', () => {
    expect(alertCauses(spec, run, 2)).toEqual([]);
    expect(alertCauses(spec, run, 3).map((c) => c.rule)).toEqual(['zero_rows_runs']);
    expect(alertCauses(spec, run, 4)).toEqual([]);
    expect(alertCauses(spec, { ...run, durationMs: 60_001 })).toEqual([{ rule: 'duration_above', message: 'took 60s, longer than duration_above 60s' }]);
    expect(alertCauses(spec, { ...run, rowsChanged: 100 })).toEqual([]);
    expect(alertCauses(spec, { ...run, rowsChanged: 101, dryRun: true })).toEqual([]);
    expect(alertCauses({ ...spec, on: ['refusal'] }, { ...run, outcome: 'failed', cause: 'boom' })).toEqual([]);
    expect(alertCauses(spec, { ...run, outcome: 'cancelled' })).toEqual([{ rule: 'cancellation', message: 'run was cancelled' }]);
    const backlog = { ...spec, backlog_above: 10 };
    expect(alertCauses(backlog, { ...run, backlog: { rows: 10, oldest_age_seconds: 7_260 } })).toEqual([]);
    expect(alertCauses(backlog, { ...run, backlog: { rows: 11, oldest_age_seconds: 7_260 } })).toEqual([
      { rule: 'backlog_above', message: 'left 11 eligible rows for the next run (oldest 2h1m), more than backlog_above 10' },
    ]);
    expect(alertCauses(backlog, { ...run, backlog: { rows: 11 } }).map((c) => c.message)).toEqual([
      'left 11 eligible rows for the next run, more than backlog_above 10',
    ]);
    expect(alertCauses(backlog, { ...run, dryRun: true, backlog: { rows: 11 } })).toEqual([]);
  });

  it('link to the run in Temporal Web, and Slack gets text', () => {
    expect(runLink('https://ui.example.com/', { namespace: 'prod ns', workflowId: 'purge/1', runId: 'r1' })).toBe(
      'https://ui.example.com/namespaces/prod%20ns/workflows/purge%2F1/r1',
    );
    const causes = [{ rule: 'failure', message: 'run failed: boom' }];
    expect(alertPayload('json', run, causes, 'L')).not.toHaveProperty('text');
    expect(alertPayload('slack', run, causes, 'L')).toMatchObject({
      text: 'Caretaker: task purge COMPLETED: run failed: boom\n<L|purge-1>',
      link: 'L',
      task: 'purge',
    });
  });
});
