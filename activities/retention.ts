import type { PoolClient } from 'pg';
import type { RetentionEnforceConfig, RetentionPolicy } from '../tasks/retention-enforce';
import type { TaskInput, TaskResult } from '../workflows/types';
import type { ActivityDeps } from './deps';
import { filterConditions, processRowSets, type RowAction, type RowSet } from './row-sets';
import { col, colType, resolveTable } from './sql/identifiers';
import type { SqlParams } from './sql/params';
import { exclusive } from './task-lock';

/** Resolves every table and column a child-table list names. */
export async function resolveChildren(client: PoolClient, children: readonly { table: string; column: string }[], where: string) {
  return Promise.all(children.map(async (c) => ({ table: await resolveTable(client, c.table, [c.column], `${where}: children`), column: c.column })));
}

/** One retention policy as a row set, every name checked against the catalog first. */
async function policyRowSet(client: PoolClient, policy: RetentionPolicy, index: number, taskId: string): Promise<RowSet> {
  const where = `task ${taskId}: config.policies[${index}]`;
  const table = await resolveTable(
    client,
    policy.table,
    [policy.id_column, policy.timestamp_column, policy.expires_column, policy.mark?.column, ...Object.keys(policy.where)],
    where,
  );
  let action: RowAction;
  let guard: ((params: SqlParams) => string) | undefined;
  if (policy.action === 'mark') {
    // Soft delete: set the column to now() (or the value), and never re-mark a marked row.
    const { column, value } = policy.mark!;
    const c = `t.${col(table, column)}`;
    action = { kind: 'update', sets: [{ column, value: value === undefined ? { now: true } : { value } }] };
    guard = (params) => (value === undefined ? `${c} is null` : `${c} is distinct from ${params.add(String(value), colType(table, column))}`);
  } else if (policy.action === 'archive') {
    const archive = await resolveTable(client, policy.archive_table!, table.allColumns, `${where}: archive_table`);
    action = { kind: 'archive', archive, columns: table.allColumns };
  } else {
    action = { kind: 'delete', children: await resolveChildren(client, policy.children, where) };
  }
  return {
    label: policy.name ?? policy.table,
    table,
    idColumn: policy.id_column,
    action,
    counter: policy.action === 'mark' ? 'marked' : undefined,
    where: (params) => {
      const conds = filterConditions(table, policy.where, params);
      if (guard) conds.push(guard(params));
      if (policy.expires_column) conds.push(`t.${col(table, policy.expires_column)} < now()`);
      else conds.push(`t.${col(table, policy.timestamp_column!)} < now() - ${params.add(policy.older_than, 'float8')} * interval '1 millisecond'`);
      return conds;
    },
  };
}

export function createRetentionActivities({ databases }: ActivityDeps) {
  return {
    /** `retention.enforce`: delete, mark or archive rows past their retention, policy by policy. */
    async enforceRetention(input: TaskInput<RetentionEnforceConfig>): Promise<TaskResult> {
      return exclusive(databases, input, async (client) => {
        const sets: RowSet[] = [];
        for (const [i, policy] of input.config.policies.entries()) sets.push(await policyRowSet(client, policy, i, input.taskId));
        return processRowSets(client, input, sets);
      });
    },
  };
}
