import { z } from 'zod';
import { duration } from './duration';
import { formatDuration } from '../core/duration';
import { size } from './size';
import { defineTask } from './types';
import { ONE_DAY_MS, detailsLimit, dryRun, safetyFields } from './fields';

const directory = z
  .object({
    /** The directory (absolute, or relative to the worker's working directory). */
    path: z.string().min(1),
    /** Which files count, relative to `path` (picomatch glob), e.g. "*.log" or "**\/*.png". Name it: `validate` warns when it is left out. */
    pattern: z.string().min(1).default('**/*'),
    /** Dotfiles (`.gitkeep`, `.env`) match only when this is true. */
    include_dotfiles: z.boolean().default(false),
    /** Delete files older than this (by modification time). */
    max_age: duration({ min: 1_000 }).optional(),
    /** Keep only the newest N files (log retention). */
    keep_newest: z.number().int().min(0).optional(),
    /** Delete oldest first until the matching files total at most this (cache cap). */
    max_total_size: size().optional(),
    /** Rename kept files larger than this to `<name><archive_suffix>`. */
    archive_larger_than: size().optional(),
    archive_suffix: z.string().min(1).default('.old'),
  })
  .strict()
  .refine((d) => d.max_age !== undefined || d.keep_newest !== undefined || d.max_total_size !== undefined || d.archive_larger_than !== undefined, {
    message: 'expected at least one of max_age, keep_newest, max_total_size or archive_larger_than',
  });

export const filesCleanupConfig = z
  .object({
    directories: z.array(directory).min(1),
    details_limit: detailsLimit(),
    dry_run: dryRun(),
    max_fraction: safetyFields.max_fraction,
    allow_short_retention: safetyFields.allow_short_retention,
  })
  .strict()
  .superRefine((cfg, ctx) => {
    cfg.directories.forEach((d, i) => {
      if (d.max_age !== undefined && d.max_age < ONE_DAY_MS && !cfg.allow_short_retention) {
        ctx.addIssue({
          code: 'custom',
          path: ['directories', i, 'max_age'],
          message: `expected at least 1d (retention below one day needs allow_short_retention: true), got ${formatDuration(d.max_age)}`,
        });
      }
    });
  });

export type FilesCleanupConfig = z.output<typeof filesCleanupConfig>;
export type DirectoryRule = FilesCleanupConfig['directories'][number];

export const filesCleanup = defineTask({
  type: 'files.cleanup',
  aliases: [],
  description: 'Cache and log directories: delete by age, keep the newest N, cap total size (oldest first), archive oversized files.',
  workflow: 'filesCleanupWorkflow',
  engineActivity: 'cleanupFiles',
  destructive: true,
  unplannable: () => ({ work: 'files' }),
  configSchema: filesCleanupConfig,
});
