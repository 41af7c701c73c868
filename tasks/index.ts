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
export { runsCleanupStale, type RunsCleanupStaleConfig } from './runs-cleanup-stale';
export { runsCleanupExpired, type RunsCleanupExpiredConfig } from './runs-cleanup-expired';
export { retentionEnforce, type RetentionEnforceConfig } from './retention-enforce';
export { statusReset, type StatusResetConfig } from './status-reset';
export { countsRebuild, type CountsRebuildConfig } from './counts-rebuild';
export { dbVacuum, type DbVacuumConfig } from './db-vacuum';
export { procedureExecute, type ProcedureExecuteConfig } from './procedure-execute';
export { healthReport, type HealthReportConfig } from './health-report';
export { syncTrigger, type SyncTriggerConfig } from './sync-trigger';
export { extractionQueueOrphans, type ExtractionQueueOrphansConfig } from './extraction-queue-orphans';
export { filesCleanup, type FilesCleanupConfig } from './files-cleanup';
export { assetsDetectOrphans, type AssetsDetectOrphansConfig } from './assets-detect-orphans';
export { rowsRules, type RowsRulesConfig } from './rows-rules';

/** Every built-in task type. Add a new one here (see ARCHITECTURE.md, "Adding a task type"). */
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

const registered: TaskType[] = [];
const byName = new Map<string, TaskType>();

/** Adds a task type (built-in, or from a plugin) under its canonical name and aliases. */
export function registerTaskType(task: TaskType): void {
  if (registered.includes(task)) return;
  for (const name of [task.type, ...task.aliases]) {
    if (byName.has(name)) throw new Error(`task type name "${name}" is already registered (by ${byName.get(name)!.type})`);
  }
  for (const name of [task.type, ...task.aliases]) byName.set(name, task);
  registered.push(task);
}

builtinTaskTypes.forEach(registerTaskType);

/** The catalog: built-in task types and those plugins registered. */
export function catalog(): readonly TaskType[] {
  return registered;
}

/** Resolves a canonical type or a legacy alias; undefined when unknown. */
export function findTaskType(name: string): TaskType | undefined {
  return byName.get(name);
}

export function knownTaskTypeNames(): string[] {
  return [...byName.keys()].sort();
}
