import type { CaretakerConfig, TaskConfig } from '../config/schema';
import { createActivities, type Activities } from '../activities';
import { withPlanInspector } from '../activities/engine/plan-capture';
import { inspectUnits, messageOf } from '../activities/check/inspect-units';
import { error, type Finding } from '../activities/check/findings';
import { ledgerAccess } from '../activities/check/ledger-access';
import { unknownZones } from '../activities/check/zones';
import { findTaskType } from '../tasks';
import type { TimestampSettings } from '../tasks/fields';
import type { TaskInput } from '../workflows/types';
import { PoolRegistry } from '../worker/databases';
import { buildTaskInput } from './task-input';

/**
 * The activity each task type's workflow calls, for the types whose work goes through the batch
 * engine: `check` calls it with a plan inspector, so it resolves exactly what a run resolves.
 * health.report (read-only probes, no engine) and plugin types are not checked against the database.
 */
const ENGINE_ACTIVITY: Record<string, keyof Activities> = {
  'runs.cleanup_stale': 'cleanupStaleRuns',
  'runs.cleanup_expired': 'cleanupExpiredRuns',
  'retention.enforce': 'enforceRetention',
  'status.reset': 'resetStuckStatus',
  'counts.rebuild': 'rebuildCounts',
  'db.vacuum': 'vacuumDatabase',
  'procedure.execute': 'executeProcedures',
  'sync.trigger': 'triggerSyncs',
  'extraction.queue_orphans': 'queueOrphans',
  'files.cleanup': 'cleanupFiles',
  'assets.detect_orphans': 'detectOrphans',
  'rows.rules': 'applyRowRules',
};

export interface TaskCheck {
  task: string;
  type: string;
  /** false: the type is not checked against the database (only validated). */
  checked: boolean;
  findings: Finding[];
}

export interface DatabaseCheck {
  database: string;
  /** About the database as a whole: the connection, the ledger schema. */
  findings: Finding[];
  tasks: TaskCheck[];
}

/** The zones a task's config names (`timestamps.zone`, `timestamps.columns`). */
function zonesOf(task: TaskConfig): string[] {
  const ts = (task.config as { timestamps?: TimestampSettings }).timestamps;
  return ts ? [...(ts.zone ? [ts.zone] : []), ...Object.values(ts.columns)] : [];
}

/** One task: its activity run under the plan inspector, so nothing changes and every name is resolved as a run resolves it. */
async function checkTask(pools: PoolRegistry, activities: Activities, task: TaskConfig): Promise<TaskCheck> {
  const type = findTaskType(task.type)?.type ?? task.type;
  const activity = ENGINE_ACTIVITY[type];
  if (!activity) return { task: task.id, type, checked: false, findings: [] };
  const findings: Finding[] = [];
  const zones = zonesOf(task);
  if (zones.length > 0) {
    const client = await pools.get(task.database).connect();
    try {
      const unknown = await unknownZones(client, zones);
      findings.push(...unknown.map((z) => error(`task ${task.id}: config.timestamps: time zone "${z}" is unknown to this PostgreSQL (see pg_timezone_names)`)));
    } finally {
      client.release();
    }
    // Every statement reading a naive column in that zone fails the same way: one error says it.
    if (findings.length > 0) return { task: task.id, type, checked: true, findings };
  }
  const run = activities[activity] as (input: TaskInput) => Promise<unknown>;
  try {
    await withPlanInspector(
      async (session, units, opts) => void findings.push(...(await inspectUnits(session, units, opts))),
      () => run(buildTaskInput(task)),
    );
  } catch (err) {
    findings.push(error(messageOf(err)));
  }
  return { task: task.id, type, checked: true, findings };
}

/**
 * Checks the config's tasks against each live database they use (or only `only`), connecting with
 * the worker's own URLs and ledger schemas (worker/databases.ts).
 */
export async function checkDatabases(cfg: CaretakerConfig, pools: PoolRegistry, only?: string): Promise<DatabaseCheck[]> {
  const activities = createActivities({ databases: pools });
  const names = [...new Set(cfg.tasks.map((t) => t.database))].filter((n) => only === undefined || n === only);
  const results: DatabaseCheck[] = [];
  for (const database of names) {
    const tasks = cfg.tasks.filter((t) => t.database === database);
    const check: DatabaseCheck = { database, findings: [], tasks: [] };
    results.push(check);
    try {
      const client = await pools.get(database).connect();
      try {
        const realRuns = tasks.some((t) => ENGINE_ACTIVITY[findTaskType(t.type)?.type ?? ''] && !(t.config as { dry_run?: boolean }).dry_run);
        if (realRuns) check.findings.push(...(await ledgerAccess(client, pools.ledgerSchema(database), database)));
      } finally {
        client.release();
      }
    } catch (err) {
      check.findings.push(error(`database "${database}": ${messageOf(err)}`));
      continue;
    }
    for (const task of tasks) check.tasks.push(await checkTask(pools, activities, task));
  }
  return results;
}
