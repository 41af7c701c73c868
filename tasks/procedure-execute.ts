import { z } from 'zod';
import { duration } from './duration';
import { defineTask } from './types';
import { detailsLimit, dryRun } from './fields';
import { QUALIFIED_NAME } from '../core/identifiers';

const routineName = z.string().regex(QUALIFIED_NAME, 'expected a function or procedure name like "purge_sessions" or "app.purge_sessions"');

export const procedureExecuteConfig = z
  .object({
    /** The only routines this task may call. */
    allowlist: z.array(routineName).min(1),
    /** What to call, in order; arguments are sent as parameters. */
    calls: z.array(z.object({ name: routineName, args: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).default([]) }).strict()).min(1),
    /** statement_timeout for each call. */
    timeout: duration({ min: 1_000 }).prefault('5m'),
    details_limit: detailsLimit(),
    dry_run: dryRun(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    cfg.calls.forEach((call, i) => {
      if (!cfg.allowlist.includes(call.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['calls', i, 'name'],
          message: `expected one of the allowlist (${cfg.allowlist.join(', ')}), got "${call.name}"`,
        });
      }
    });
  });

export type ProcedureExecuteConfig = z.output<typeof procedureExecuteConfig>;

export const procedureExecute = defineTask({
  type: 'procedure.execute',
  aliases: [],
  description: 'Calls SQL functions or procedures named in an allowlist, with a timeout; a dry run only checks that they exist.',
  workflow: 'procedureExecuteWorkflow',
  engineActivity: 'executeProcedures',
  destructive: true,
  unplannable: () => ({ work: 'procedure' }),
  configSchema: procedureExecuteConfig,
});
