import type { ActivityDeps } from './engine/deps';
import { createRunsActivities } from './runs';
import { createRetentionActivities } from './retention';
import { createStatusActivities } from './status';
import { createCountsActivities } from './counts';
import { createDatabaseActivities } from './database';
import { createHealthActivities } from './health';
import { createDispatchActivities } from './dispatch';
import { createFilesActivities } from './files';
import { createOrphansActivities } from './orphans';
import { createRulesActivities } from './rules';
import { createLedgerActivities } from './ledger';
import { createAlertActivities } from './alerts';
import { createApprovalActivities } from './approval';

export type { ActivityDeps, DatabasePools } from './engine/deps';

/** Every activity, built from its dependencies (samples-typescript `activities-dependency-injection`). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createRunsActivities(deps),
    ...createRetentionActivities(deps),
    ...createStatusActivities(deps),
    ...createCountsActivities(deps),
    ...createDatabaseActivities(deps),
    ...createHealthActivities(deps),
    ...createDispatchActivities(deps),
    ...createFilesActivities(deps),
    ...createOrphansActivities(deps),
    ...createRulesActivities(deps),
    ...createLedgerActivities(deps),
    ...createAlertActivities(deps),
    ...createApprovalActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
