import type { PoolClient } from 'pg';
import { retentionEnforceRules, type RetentionEnforceConfig, type RetentionPolicy } from '../tasks/retention-enforce';
import type { TaskInput, TaskResult } from '../core/contract';
import type { ActivityDeps } from './engine/deps';
import { filterColumns, rowSetCounters, rowSetUnit, type RowSet } from './rows/row-sets';
import { resolveChildren } from './rows/children';
import { inZone, ruleCompiler } from './rows/rules';
import { runUnits } from './engine/engine';
import type { WorkUnit } from './engine/work-unit';
import { retentionPartitions } from './retention/partitions';
import { colType, resolveTable } from './sql/identifiers';
import { resolveKeyed } from './sql/keys';
import { isNaiveTimestamp, TimestampZones } from './sql/time';
import { configError } from '../core/errors';
import type { TimestampSettings } from '../tasks/fields';
import { exclusive } from './engine/task-lock';

/**
 * A policy's names checked in its own words first (`config.policies[i]: archive_table: ...`), as
 * retention always has: its table, key and columns, an archive table that holds every column of
 * the table (a rule's archive copies only the columns both have), its child tables.
 */
async function checkPolicy(client: PoolClient, policy: RetentionPolicy, timestamps: TimestampSettings, where: string): Promise<number> {
  const key = await resolveKeyed(
    client,
    policy.table,
    policy.id_column,
    [policy.timestamp_column, policy.expires_column, policy.size_column, policy.mark?.column, ...filterColumns(policy.where)],
    where,
  );
  const marked = policy.mark?.value === undefined ? policy.mark?.column : undefined;
  const zone = marked === undefined ? undefined : timestamps.columns[marked];
  if (marked !== undefined && zone !== undefined && zone !== timestamps.zone && !isNaiveTimestamp(colType(key.table, marked))) {
    // The preset writes now() AT TIME ZONE for such a column (tasks/retention-enforce.ts): right for a naive column only.
    throw configError(
      `${where}: timestamps.columns gives ${marked} the zone ${zone}, but ${key.table.name}.${marked} is ${colType(key.table, marked)}, which holds instants, not wall times: remove it from timestamps.columns`,
    );
  }
  if (policy.action === 'archive') await resolveTable(client, policy.archive_table!, key.table.allColumns, `${where}: archive_table`);
  if (policy.action === 'delete') await resolveChildren(client, key, policy.children, where);
  return key.table.oid;
}

export function createRetentionActivities({ databases }: ActivityDeps) {
  return {
    /**
     * `retention.enforce`: a preset of rows.rules (tasks/retention-enforce.ts), one rule per policy,
     * compiled as rows.rules compiles them; ahead of a policy's rules, the partitions of its table
     * wholly past retention (activities/retention/partitions.ts), which no rule says.
     */
    async enforceRetention(input: TaskInput<RetentionEnforceConfig>): Promise<TaskResult> {
      const { timestamps, policies } = input.config;
      const where = (i: number) => `task ${input.taskId}: config.policies[${i}]`;
      return exclusive(databases, input, (session) =>
        inZone(session.client, timestamps.zone, async () => {
          // Every policy's names first; its table as the catalog resolves it says which earlier policies share it.
          const tables: number[] = [];
          for (const [i, policy] of policies.entries()) tables.push(await checkPolicy(session.client, policy, timestamps, where(i)));
          const { rules, texts } = retentionEnforceRules(input.config, (i, j) => tables[i] === tables[j]);
          const compiler = await ruleCompiler(rules, timestamps, texts);
          const sets: RowSet[] = [];
          const units: WorkUnit[] = [];
          const counters: string[] = [];
          const zones = new TimestampZones(timestamps);
          for (const [i, policy] of policies.entries()) {
            let set = await compiler.compile(session.client, rules[i]!, where(i), 'id_column');
            // Partitions wholly past retention go first, whole; the policy's rule leaves their rows out.
            const partitions = await retentionPartitions(session, policy, set.key.table, zones, set.label, where(i));
            if (partitions) {
              units.push(partitions.unit);
              counters.push(partitions.counter);
              const own = set.where;
              set = { ...set, where: (p) => [...own(p), partitions.outside(p)] };
            }
            units.push(rowSetUnit(set));
            sets.push(set);
          }
          return runUnits(session, units, { counters: [...rowSetCounters(sets), ...new Set(counters)] });
        }),
      );
    },
  };
}
