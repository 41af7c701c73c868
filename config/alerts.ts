import { z } from 'zod';
import type { AlertSpec } from '../core/alerts';
import { duration } from '../tasks/duration';

const STORED = "config values are stored in plain text in Temporal's schedules and run history";

const webhookSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'expected a webhook name of lower-case letters, digits, "-" and "_"'),
    format: z.enum(['slack', 'json']).default('json'),
    url_env: z
      .string()
      .refine((name) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name), {
        message:
          'expected the name of an environment variable on the worker, such as SLACK_WEBHOOK_URL, got text that is not a name (write the name itself, not ${...})',
      })
      .optional(),
    url: z.unknown().optional(),
  })
  .strict()
  .superRefine((hook, ctx) => {
    if (hook.url !== undefined) {
      const message = `expected url_env naming the environment variable on the worker that holds the webhook URL, got url; a webhook URL is a credential (${STORED})`;
      ctx.addIssue({ code: 'custom', path: ['url'], message });
    } else if (hook.url_env === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['url_env'],
        message: 'required: expected the name of the environment variable on the worker that holds the webhook URL, such as SLACK_WEBHOOK_URL',
      });
    }
  })
  .transform(({ name, format, url_env }) => ({ name, format, url_env: url_env! }));

/** The `alerts:` block, at the top of the file and in a task; every key is optional here. */
export const alertsBlockSchema = z
  .object({
    webhooks: z.array(webhookSchema).optional(),
    on: z.array(z.enum(['failure', 'refusal', 'cancellation'])).optional(),
    ui_url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL of Temporal Web' }).optional(),
    rows_changed_above: z.number().int().min(0).optional(),
    zero_rows_runs: z.number().int().min(1).optional(),
    duration_above: duration({ min: 1_000 }).optional(),
    backlog_above: z.number().int().min(0).optional(),
  })
  .strict()
  .superRefine((block, ctx) => {
    const names = new Map<string, number>();
    block.webhooks?.forEach((hook, i) => {
      const first = names.get(hook.name);
      const message = `expected a unique webhook name; "${hook.name}" is also webhooks[${first}].name`;
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['webhooks', i, 'name'], message });
      names.set(hook.name, i);
    });
  });

export type AlertsBlock = z.output<typeof alertsBlockSchema>;

/**
 * A task's alert rules: its own keys replace the global ones key by key (`webhooks` as a whole);
 * `alerts: false` on a task mutes it. Undefined when there is nowhere to send an alert.
 */
export function effectiveAlerts(global: AlertsBlock | undefined, task: AlertsBlock | false | undefined): AlertSpec | undefined {
  if (task === false) return undefined;
  const merged = { ...global, ...task };
  if (!merged.webhooks || merged.webhooks.length === 0) return undefined;
  return {
    webhooks: merged.webhooks,
    on: merged.on ?? ['failure', 'refusal', 'cancellation'],
    ...(merged.ui_url !== undefined && { ui_url: merged.ui_url }),
    ...(merged.rows_changed_above !== undefined && { rows_changed_above: merged.rows_changed_above }),
    ...(merged.zero_rows_runs !== undefined && { zero_rows_runs: merged.zero_rows_runs }),
    ...(merged.duration_above !== undefined && { duration_above: merged.duration_above }),
    ...(merged.backlog_above !== undefined && { backlog_above: merged.backlog_above }),
  };
}
