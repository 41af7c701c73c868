import { Catalog } from './catalog';
import type { TaskType } from './types';
import { runsCleanupStale } from './runs-cleanup-stale';
import { runsCleanupExpired } from './runs-cleanup-expired';
import { retentionEnforce } from './retention-enforce';
import { statusReset } from './status-reset';
import { countsRebuild } from './counts-rebuild';
import { dbVacuum } from './db-vacuum';
import { procedureExecute } from './procedure-execute';
import { healthReport } from './health-report';
import { syncTrigger } from './sync-trigger';
import { extractionQueueOrphans } from './extraction-queue-orphans';
import { filesCleanup } from './files-cleanup';
import { assetsDetectOrphans } from './assets-detect-orphans';
import { rowsRules } from './rows-rules';

export { defineTask, type TaskType } from './types';
export { Catalog } from './catalog';

/** Every built-in task type. Add a new one here, one line (see ARCHITECTURE.md, "Adding a task type"). */
export const builtinTaskTypes: readonly TaskType[] = [
  runsCleanupStale,
  runsCleanupExpired,
  retentionEnforce,
  statusReset,
  countsRebuild,
  dbVacuum,
  procedureExecute,
  healthReport,
  syncTrigger,
  extractionQueueOrphans,
  filesCleanup,
  assetsDetectOrphans,
  rowsRules,
];

/** The built-in catalog; entry points add their plugins' types with `catalogWithPlugins` (config/plugins.ts). */
export const builtinCatalog = new Catalog(builtinTaskTypes);
