/** Every workflow the worker registers. The names must match `workflow` in the task catalog. */
export { runsCleanupStaleWorkflow } from './runs-cleanup-stale';
export { runsCleanupExpiredWorkflow } from './runs-cleanup-expired';
export { retentionEnforceWorkflow } from './retention-enforce';
export { statusResetWorkflow } from './status-reset';
export { countsRebuildWorkflow } from './counts-rebuild';
export { dbVacuumWorkflow } from './db-vacuum';
export { procedureExecuteWorkflow } from './procedure-execute';
export { healthReportWorkflow } from './health-report';
export { syncTriggerWorkflow } from './sync-trigger';
export { extractionQueueOrphansWorkflow } from './extraction-queue-orphans';
export { filesCleanupWorkflow } from './files-cleanup';
export { assetsDetectOrphansWorkflow } from './assets-detect-orphans';
export { rowsRulesWorkflow } from './rows-rules';
export { deliverAlertsWorkflow } from './deliver-alerts';
export { progressQuery } from './run-task';
