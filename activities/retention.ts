import type { PoolClient } from 'pg';
import type { KeyColumn } from '../tasks/fields';
import type { RetentionEnforceConfig, RetentionPolicy } from '../tasks/retention-enforce';
import type { TaskInput, TaskResult } from '../workflows/types';
import type { ActivityDeps } from './deps';
import { configError } from './errors';
import { filterConditions, rowSetCounters, rowSetUnit, type ChildTable, type RowAction, type RowSet } from './row-sets';
import { runUnits } from './engine/engine';
import type { WorkUnit } from './engine/work-unit';
import { retentionPartitions } from './partitions';
import { col, colType, resolveTable } from './sql/identifiers';
import { keyColumns, resolveKeyed, type RowKey } from './sql/keys';
import type { SqlParams } from './sql/params';
import { exclusive } from './task-lock';

const FOREIGN_KEYS = `
  select array(select a.attname::text from unnest(c.conkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i) as columns,
         array(select a.attname::text from unnest(c.confkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i) as refs
  from pg_constraint c where c.contype = 'f' and c.conrelid = $1 and c.confrelid = $2`;

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Resolves the child tables a delete reaches, each checked to reference the parent's key through
 * a foreign key (the same columns, in key order), unless the config says `no_foreign_key: true`.
 */
export async function resolveChildren(
  client: PoolClient,
  parent: RowKey,
  children: readonly { table: string; column: KeyColumn; no_foreign_key: boolean }[],
  where: string,
): Promise<ChildTable[]> {
  const resolved: ChildTable[] = [];
  for (const [i, c] of children.entries()) {
    const at = `${where}: children[${i}]`;
    const columns = keyColumns(c.column);
    const table = await resolveTable(client, c.table, columns, at);
    if (columns.length !== parent.columns.length) {
      throw configError(`${at}: expected ${parent.columns.length} column(s) referencing ${parent.table.name} (${parent.columns.join(', ')}), got ${columns.join(', ')}`);
    }
    if (!c.no_foreign_key) {
      const fks = (await client.query<{ columns: string[]; refs: string[] }>(FOREIGN_KEYS, [table.oid, parent.table.oid])).rows;
      if (!fks.some((fk) => same(fk.columns, columns) && same(fk.refs, parent.columns))) {
        throw configError(
          `${at}: ${table.name} (${columns.join(', ')}) has no foreign key referencing ${parent.table.name} (${parent.columns.join(', ')}); ` +
            'child rows are deleted by a column that references the parent: declare the foreign key, or set no_foreign_key: true if the reference is not declared',
        );
      }
    }
    resolved.push({ table, columns });
  }
  return resolved;
}

/** One retention policy as a row set, every name checked against the catalog first. */
async function policyRowSet(client: PoolClient, policy: RetentionPolicy, index: number, taskId: string): Promise<RowSet> {
  const where = `task ${taskId}: config.policies[${index}]`;
  const key = await resolveKeyed(client, policy.table, policy.id_column, [policy.timestamp_column, policy.expires_column, policy.mark?.column, ...Object.keys(policy.where)], where);
  const table = key.table;
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
    action = { kind: 'delete', children: await resolveChildren(client, key, policy.children, where) };
  }
  return {
    label: policy.name ?? policy.table,
    key,
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
      return exclusive(databases, input, async (session) => {
        const sets: RowSet[] = [];
        // Partitions wholly past retention go first, whole (activities/partitions.ts); the rest row by row.
        const units: WorkUnit[] = [];
        const counters: string[] = [];
        for (const [i, policy] of input.config.policies.entries()) {
          let set = await policyRowSet(session.client, policy, i, input.taskId);
          const partitions = await retentionPartitions(session.client, policy, set.key.table, input.config, set.label, `task ${input.taskId}: config.policies[${i}]`);
          if (partitions) {
            units.push(partitions.unit);
            counters.push(partitions.counter);
            const { where } = set;
            set = { ...set, where: (p) => [...where(p), partitions.outside(p)] };
          }
          units.push(rowSetUnit(set));
          sets.push(set);
        }
        return runUnits(session, units, { counters: [...rowSetCounters(sets), ...new Set(counters)] });
      });
    },
  };
}
