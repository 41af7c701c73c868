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
import { resolveTable } from './sql/identifiers';
import { resolveKeyed } from './sql/keys';
import { TimestampZones } from './sql/time';
import { exclusive } from './engine/task-lock';

/**
 * A policy's names checked in its own words first (`config.policies[i]: archive_table: ...`), as
 * retention always has: its table, key and columns, an archive table that holds every column of
 * the table (a rule's archive copies only the columns both have), its child tables.
 */
async function checkPolicy(client: PoolClient, policy: RetentionPolicy, where: string): Promise<void> {
  const key = await resolveKeyed(
    client,
    policy.table,
    policy.id_column,
    [policy.timestamp_column, policy.expires_column, policy.size_column, policy.mark?.column, ...filterColumns(policy.where)],
    where,
  );
  if (policy.action === 'archive') await resolveTable(client, policy.archive_table!, key.table.allColumns, `${where}: archive_table`);
  if (policy.action === 'delete') await resolveChildren(client, key, policy.children, where);
}

export function createRetentionActivities({ databases }: ActivityDeps) {
  return {
    /**
     * `retention.enforce`: a preset of rows.rules (tasks/retention-enforce.ts), one rule per policy,
     * compiled as rows.rules compiles them; ahead of a policy's rules, the partitions of its table
     * wholly past retention (activities/retention/partitions.ts), which no rule says.
     */
    async enforceRetention(input: TaskInput<RetentionEnforceConfig>): Promise<TaskResult> {
      const { rules, texts } = retentionEnforceRules(input.config);
      const { timestamps } = input.config;
      const compiler = await ruleCompiler(rules, timestamps, texts);
      return exclusive(databases, input, (session) =>
        inZone(session.client, timestamps.zone, async () => {
          const sets: RowSet[] = [];
          const units: WorkUnit[] = [];
          const counters: string[] = [];
          const zones = new TimestampZones(timestamps);
          for (const [i, policy] of input.config.policies.entries()) {
            const where = `task ${input.taskId}: config.policies[${i}]`;
            await checkPolicy(session.client, policy, where);
            let set = await compiler.compile(session.client, rules[i]!, where, 'id_column');
            // Partitions wholly past retention go first, whole; the policy's rule leaves their rows out.
            const partitions = await retentionPartitions(session, policy, set.key.table, zones, set.label, where);
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
