import { z } from 'zod';
import { defineTask } from './types';
import { keyColumn, rowFilter, sqlTaskFields, table } from './fields';
import { columnRef } from './column-refs';

const counter = z
  .object({
    name: z.string().min(1).optional(),
    /** The parent table holding the denormalised counter, e.g. `albums`. */
    table: table(),
    id_column: keyColumn().default('id'),
    /** The counter: a column, or a JSON path (`stats->>'file_count'`). */
    count_column: columnRef(),
    /** Only parents matching these equality filters are checked (e.g. `{ kind: manual }`: a smart collection counts differently). */
    where: rowFilter(),
    /** The rows being counted, e.g. `album_files`, and their reference to the parent. */
    child_table: table(),
    child_column: keyColumn(),
    /** Only child rows matching these equality filters count (e.g. `{ deleted: false }`). */
    child_where: rowFilter(),
  })
  .strict();

export const countsRebuildConfig = z
  .object({
    counters: z.array(counter).min(1),
    ...sqlTaskFields(500),
  })
  .strict();

export type CountsRebuildConfig = z.output<typeof countsRebuildConfig>;

export const countsRebuild = defineTask({
  type: 'counts.rebuild',
  aliases: [],
  description: 'Verifies denormalised counters (parent.count_column = number of child rows), reports the drift and fixes it unless dry run.',
  workflow: 'countsRebuildWorkflow',
  engineActivity: 'rebuildCounts',
  destructive: true,
  unplannable: () => ({ work: 'counters' }),
  configSchema: countsRebuildConfig,
});
