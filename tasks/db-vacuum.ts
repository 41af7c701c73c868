import { z } from 'zod';
import { duration } from './duration';
import { defineTask } from './types';
import { detailsLimit, dryRun, table } from './fields';

export const dbVacuumConfig = z
  .object({
    /** Tables to vacuum; empty means every table outside the system schemas. */
    tables: z.array(table()).default([]),
    analyze: z.boolean().default(true),
    /** Only tables whose dead tuples are at least this share of all tuples (0: every listed table). */
    min_dead_ratio: z.number().min(0).max(1).default(0),
    reindex: z
      .object({
        enabled: z.boolean().default(false),
        /** REINDEX INDEX CONCURRENTLY a b-tree whose estimated bloat (1 - leaf density / 90%) is above this. Needs pgstattuple. */
        bloat_threshold: z.number().gt(0).lt(1).default(0.3),
        /** Skip tiny indexes: bloat estimates there are noise. */
        min_size_bytes: z.number().int().min(0).default(1_048_576),
      })
      .strict()
      .prefault({}),
    /** statement_timeout for each VACUUM / REINDEX. */
    statement_timeout: duration({ min: 1_000 }).prefault('30m'),
    details_limit: detailsLimit(),
    dry_run: dryRun(),
  })
  .strict();

export type DbVacuumConfig = z.output<typeof dbVacuumConfig>;

export const dbVacuum = defineTask({
  type: 'db.vacuum',
  aliases: [],
  description: 'VACUUM (ANALYZE) of the listed tables or all; optionally REINDEX CONCURRENTLY of b-tree indexes above a bloat threshold.',
  workflow: 'dbVacuumWorkflow',
  engineActivity: 'vacuumDatabase',
  destructive: false,
  unplannable: () => ({ work: 'vacuum' }),
  configSchema: dbVacuumConfig,
});
