import { z } from 'zod';
import { duration } from '../tasks/duration';

/** `max_drift: 1%`, `0.5%` or a fraction `0.01`; stored as a fraction in [0, 1]. */
const drift = z.union([z.number(), z.string()]).transform((given, ctx) => {
  const text = typeof given === 'number' ? undefined : given.trim();
  const value = text === undefined ? (given as number) : /^\d+(\.\d+)?%$/.test(text) ? Number(text.slice(0, -1)) / 100 : NaN;
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    ctx.addIssue({ code: 'custom', message: `expected a share of the plan like "1%" or 0.01 (0 to 100%), got ${JSON.stringify(given)}` });
    return z.NEVER;
  }
  return value;
});

const whenSchema = z
  .object({
    rows_above: z.number().int().min(0).optional(),
    fraction_above: z.number().min(0).max(1).optional(),
    first_run: z.boolean().optional(),
    config_changed: z.boolean().optional(),
  })
  .strict();

/**
 * The `approval:` block, at the top of the file and in a task (the task's replaces the global one;
 * `approval: false` on a task turns a global one off). `{ required: true }` or `{ when: {...} }`,
 * with `timeout` (default 24h) and `max_drift` (default 1%).
 */
export const approvalBlockSchema = z
  .object({
    required: z.boolean().optional(),
    when: whenSchema.optional(),
    timeout: duration({ min: 1_000 }).prefault('24h'),
    max_drift: drift.prefault('1%'),
  })
  .strict()
  .superRefine((block, ctx) => {
    const conditions = block.when ? Object.values(block.when).filter((v) => v !== undefined && v !== false).length : 0;
    if (block.required === true && block.when !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['when'], message: 'expected either required: true (every run) or when: {...} (some runs), got both' });
    } else if (block.required !== true && block.when === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message:
          'expected required: true or when: { rows_above, fraction_above, first_run, config_changed }; to turn approval off for a task write approval: false',
      });
    } else if (block.when !== undefined && conditions === 0) {
      ctx.addIssue({ code: 'custom', path: ['when'], message: 'expected at least one of rows_above, fraction_above, first_run: true, config_changed: true' });
    }
  });

export type ApprovalBlock = z.output<typeof approvalBlockSchema>;

/** The task's approval rule: its own block replaces the global one; `false` turns it off. */
export function effectiveApproval(global: ApprovalBlock | undefined, task: ApprovalBlock | false | undefined): ApprovalBlock | undefined {
  if (task === false) return undefined;
  return task ?? global;
}
