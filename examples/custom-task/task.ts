import { z } from 'zod';
import { duration } from '../../tasks/duration';
import { column, safetyFields, sqlTaskFields, table } from '../../tasks/fields';
import { defineTask } from '../../tasks/types';

/** 1. The catalog entry: the config schema with its defaults, the type name, the workflow name. */
export const queueReleaseLeasesConfig = z
  .object({
    table: table(),
    columns: z
      .object({ id: column().default('id'), locked_by: column().default('locked_by'), locked_at: column().default('locked_at') })
      .strict()
      .prefault({}),
    /** A lease older than this belongs to a worker that died. */
    lease: duration({ min: 1_000 }).prefault('4h'),
    ...sqlTaskFields(500),
    max_rows_per_run: safetyFields.max_rows_per_run,
    max_fraction: safetyFields.max_fraction,
  })
  .strict();

export type QueueReleaseLeasesConfig = z.output<typeof queueReleaseLeasesConfig>;

export const queueReleaseLeases = defineTask({
  type: 'queue.release_leases',
  aliases: [],
  description: 'Clears the lock of queue rows whose worker lease expired, so another worker can take them.',
  workflow: 'queueReleaseLeasesWorkflow',
  destructive: true,
  configSchema: queueReleaseLeasesConfig,
});
