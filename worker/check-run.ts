import type { PoolClient } from 'pg';
import type { CaretakerConfig, TaskConfig } from '../config/schema';
import { createActivities, type Activities } from '../activities';
import { withPlanInspector } from '../activities/engine/plan-capture';
import { inspectUnits, messageOf } from '../activities/check/inspect-units';
import { error, type Finding } from '../activities/check/findings';
import { ledgerAccess } from '../activities/check/ledger-access';
import { ruleExpressionFindings, type RuleWithTexts } from '../activities/check/rule-expressions';
import { childUpdateFindings, type RuleWithChildUpdates } from '../activities/check/child-updates';
import { ruleUpdateFindings, type RuleWithUpdates } from '../activities/check/rule-updates';
import { archiveValueFindings, type RuleWithArchiveValues } from '../activities/check/archive-values';
import { foreignKeyDependencies, refusingDependencies, type RuleTables } from '../activities/check/rule-dependencies';
import { unknownZones } from '../activities/check/zones';
import type { Catalog } from '../tasks';
import type { TimestampSettings } from '../tasks/fields';
import type { TaskInput } from '../core/contract';
import { PoolRegistry } from './databases';
import { buildTaskInput } from '../config/task-input';

/** What check found, for the report (client/check-report.ts) to print. */
export type { Finding };

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

/**
 * The activity a task's workflow runs, when its work goes through the batch engine (the catalog's
 * `engineActivity`) and it is one of Caretaker's own (a plugin's activities are not loaded here).
 */
function engineActivity(catalog: Catalog, activities: Activities, task: TaskConfig): keyof Activities | undefined {
  const name = catalog.find(task.type)?.engineActivity;
  return name !== undefined && Object.hasOwn(activities, name) ? (name as keyof Activities) : undefined;
}

const rulesOf = (task: TaskConfig) =>
  (task.config as { rules?: (RuleWithTexts & RuleTables & RuleWithChildUpdates & RuleWithUpdates & RuleWithArchiveValues)[] }).rules ?? [];

async function withClient<T>(pools: PoolRegistry, database: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pools.get(database).connect();
  try {
    return await work(client);
  } finally {
    client.release();
  }
}

/** One task: its activity run under the plan inspector, so nothing changes and every name is resolved as a run resolves it. */
async function checkTask(pools: PoolRegistry, activities: Activities, catalog: Catalog, task: TaskConfig): Promise<TaskCheck> {
  const type = task.type;
  const activity = engineActivity(catalog, activities, task);
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
  if (type === 'rows.rules') {
    // Every unknown column and volatile function in the rules' SQL text at once (a run stops at the first).
    findings.push(...(await withClient(pools, task.database, (client) => ruleExpressionFindings(client, rulesOf(task), `task ${task.id}`))));
    // ... and in the child tables a delete updates: unknown columns, values their types cannot take.
    findings.push(...(await withClient(pools, task.database, (client) => childUpdateFindings(client, rulesOf(task), `task ${task.id}`))));
    // Values the rule's own update (and each case's) writes that the column's type cannot take: every run would fail on them.
    findings.push(...(await withClient(pools, task.database, (client) => ruleUpdateFindings(client, rulesOf(task), `task ${task.id}`))));
    // ... and the values an archive writes that the archive table's columns cannot take.
    findings.push(...(await withClient(pools, task.database, (client) => archiveValueFindings(client, rulesOf(task), `task ${task.id}`))));
    if (findings.length > 0) return { task: task.id, type, checked: true, findings };
    // Later rules that read what an earlier rule's deletes change through a foreign key's ON DELETE action.
    findings.push(...(await withClient(pools, task.database, (client) => foreignKeyDependencies(client, rulesOf(task), `task ${task.id}`))));
    // ... and later rules whose deletes a foreign key refuses (NO ACTION, RESTRICT) until an earlier rule cleared the references.
    findings.push(...(await withClient(pools, task.database, (client) => refusingDependencies(client, rulesOf(task), `task ${task.id}`))));
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
export async function checkDatabases(cfg: CaretakerConfig, pools: PoolRegistry, catalog: Catalog, only?: string): Promise<DatabaseCheck[]> {
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
        const realRuns = tasks.some((t) => engineActivity(catalog, activities, t) && !(t.config as { dry_run?: boolean }).dry_run);
        if (realRuns) check.findings.push(...(await ledgerAccess(client, pools.ledgerSchema(database), database)));
      } finally {
        client.release();
      }
    } catch (err) {
      check.findings.push(error(`database "${database}": ${messageOf(err)}`));
      continue;
    }
    for (const task of tasks) check.tasks.push(await checkTask(pools, activities, catalog, task));
  }
  return results;
}
