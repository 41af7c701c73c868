import type { PoolClient } from 'pg';
import type { KeyColumn } from '../tasks/fields';
import type { RetentionEnforceConfig, RetentionPolicy } from '../tasks/retention-enforce';
import type { TaskInput, TaskResult } from '../workflows/types';
import type { ActivityDeps } from './deps';
import { configError } from './errors';
import { filterColumns, filterConditions, rowSetCounters, rowSetUnit, type ChildTable, type RowAction, type RowSet } from './row-sets';
import { runUnits } from './engine/engine';
import type { WorkUnit } from './engine/work-unit';
import { retentionPartitions } from './partitions';
import { col, colType, resolveTable, type ResolvedTable } from './sql/identifiers';
import { keyColumns, resolveKeyed, type RowKey } from './sql/keys';
import type { SqlParams } from './sql/params';
import { millis, TimestampZones } from './sql/time';
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

/**
 * A cap as a condition: rows at or before (in timestamp, key order) the newest row that no longer
 * fits. `keep_newest`: the row at offset N of the newest first. `max_total_size`: the newest row
 * whose running total of sizes, newest first, exceeds the cap. Rows without a timestamp never
 * count and are never picked. Evaluated by each statement, so every batch sees the current table.
 */
function capCondition(key: RowKey, policy: RetentionPolicy, p: SqlParams): string {
  const t = key.table;
  const ts = col(t, policy.timestamp_column!);
  const order = (alias: string) => [`${alias}.${ts}`, ...key.columns.map((k) => `${alias}.${col(t, k)}`)];
  const desc = (columns: string[]) => columns.map((c) => `${c} desc`).join(', ');
  const scope = [`s.${ts} is not null`, ...filterConditions(t, policy.where, p, 's')].join(' and ');
  let boundary: string;
  if (policy.keep_newest !== undefined) {
    boundary = `select ${order('s').join(', ')} from ${t.sql} s where ${scope} order by ${desc(order('s'))} offset ${p.add(policy.keep_newest, 'bigint')} limit 1`;
  } else {
    const size = policy.size_column ? `s.${col(t, policy.size_column)}` : 'pg_column_size(s.*)';
    const named = order('s').map((_, i) => `x.c${i}`);
    const running = `select ${order('s').map((c, i) => `${c} as c${i}`).join(', ')}, sum(${size}) over (order by ${desc(order('s'))}) as running from ${t.sql} s where ${scope}`;
    boundary = `select ${named.join(', ')} from (${running}) x where x.running > ${p.add(policy.max_total_size, 'numeric')} order by ${desc(named)} limit 1`;
  }
  return `(${order('t').join(', ')}) <= (${boundary})`;
}

/** The condition that makes a row due: past its age, its expiry, or beyond a cap. */
function dueCondition(key: RowKey, policy: RetentionPolicy, zones: TimestampZones, p: SqlParams): string {
  const t: ResolvedTable = key.table;
  if (policy.expires_column) return zones.passed(t, policy.expires_column, p);
  if (policy.older_than !== undefined) return zones.olderThan(t, policy.timestamp_column!, millis(p, policy.older_than), p);
  return capCondition(key, policy, p);
}

/** One retention policy as a row set, every name checked against the catalog first. */
async function policyRowSet(client: PoolClient, policy: RetentionPolicy, index: number, taskId: string, zones: TimestampZones): Promise<RowSet> {
  const where = `task ${taskId}: config.policies[${index}]`;
  const key = await resolveKeyed(client, policy.table, policy.id_column, [policy.timestamp_column, policy.expires_column, policy.size_column, policy.mark?.column, ...filterColumns(policy.where)], where);
  const table = key.table;
  let action: RowAction;
  let guard: ((params: SqlParams) => string) | undefined;
  if (policy.action === 'mark') {
    // Soft delete: set the column to now() (or the value), and never re-mark a marked row.
    const { column, value } = policy.mark!;
    const c = `t.${col(table, column)}`;
    action = { kind: 'update', assign: [[{ column, path: [] }, value === undefined ? { now: true } : value]], zones };
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
      conds.push(dueCondition(key, policy, zones, params));
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
        const zones = new TimestampZones(input.config.timestamps);
        for (const [i, policy] of input.config.policies.entries()) {
          let set = await policyRowSet(session.client, policy, i, input.taskId, zones);
          const partitions = await retentionPartitions(session, policy, set.key.table, zones, set.label, `task ${input.taskId}: config.policies[${i}]`);
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
