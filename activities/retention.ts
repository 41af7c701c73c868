import type { PoolClient } from 'pg';
import type { RetentionEnforceConfig, RetentionPolicy } from '../tasks/retention-enforce';
import type { TaskInput, TaskResult } from '../core/contract';
import type { ActivityDeps } from './engine/deps';
import { filterColumns, filterConditions, rowSetCounters, rowSetUnit, type RowAction, type RowSet } from './rows/row-sets';
import { resolveChildren } from './rows/children';
import { runUnits } from './engine/engine';
import type { WorkUnit } from './engine/work-unit';
import { retentionPartitions } from './retention/partitions';
import { col, resolveTable, type ResolvedTable } from './sql/identifiers';
import { keyOrder, resolveKeyed, type RowKey } from './sql/keys';
import { sizeCapCondition } from './retention/size-cap';
import type { SqlParams } from './sql/params';
import { millis, TimestampZones } from './sql/time';
import { exclusive } from './engine/task-lock';

/**
 * The policy's rows as seen from alias `s` (inside a cap's scan): its filter, without the rows an
 * earlier policy of the task takes (a real run has removed them by the time this policy starts).
 */
function capScope(key: RowKey, policy: RetentionPolicy, before: readonly Earlier[]): (p: SqlParams) => string[] {
  const t = key.table;
  const same = `(${keyOrder(key)}) = (${keyOrder(key, 's')})`;
  return (p) => [...filterConditions(t, policy.where, p, 's'), ...before.map((e) => `not exists (select 1 from ${t.sql} t where ${same} and ${e.where(p)})`)];
}

/**
 * `keep_newest` as a condition: rows at or before (in timestamp, key order) the row at offset N of
 * the newest first; rows without a timestamp never count and are never picked. Evaluated by each
 * statement: deleting rows at or before the boundary leaves it where it is.
 */
function keepNewestCondition(key: RowKey, policy: RetentionPolicy, scope: (p: SqlParams) => string[], p: SqlParams): string {
  const t = key.table;
  const order = (alias: string) => [`${alias}.${col(t, policy.timestamp_column!)}`, ...key.columns.map((k) => `${alias}.${col(t, k)}`)];
  const where = [`${order('s')[0]} is not null`, ...scope(p)].join(' and ');
  const desc = order('s')
    .map((c) => `${c} desc`)
    .join(', ');
  const boundary = `select ${order('s').join(', ')} from ${t.sql} s where ${where} order by ${desc} offset ${p.add(policy.keep_newest!, 'bigint')} limit 1`;
  return `(${order('t').join(', ')}) <= (${boundary})`;
}

/** The condition that makes a row due: past its age, its expiry, or beyond a cap (`sizeCap`: max_total_size, size-cap.ts). */
function dueCondition(
  key: RowKey,
  policy: RetentionPolicy,
  zones: TimestampZones,
  p: SqlParams,
  before: readonly Earlier[],
  sizeCap?: (p: SqlParams) => string,
): string {
  const t: ResolvedTable = key.table;
  if (policy.expires_column) return zones.passed(t, policy.expires_column, p);
  if (policy.older_than !== undefined) return zones.olderThan(t, policy.timestamp_column!, millis(p, policy.older_than), p);
  return sizeCap ? sizeCap(p) : keepNewestCondition(key, policy, capScope(key, policy, before), p);
}

/** An earlier policy of the task: its table, its rows (a condition on alias `t`), and what it does to them. */
interface Earlier {
  oid: number;
  where: (p: SqlParams) => string;
  policy: RetentionPolicy;
}

/**
 * Whether the rows `earlier` takes are out of `policy`'s reach in a real run once `earlier` is done:
 * deleted or archived rows are gone; rows marked are left alone by a mark of the same column and
 * value. Those rows count for the earlier policy only, in a real run and in a dry run alike (whose
 * batches are rolled back, so the rows are still there for the later policy to count again).
 */
function takes(earlier: RetentionPolicy, policy: RetentionPolicy): boolean {
  if (earlier.action !== 'mark') return true;
  return policy.action === 'mark' && earlier.mark!.column === policy.mark!.column && earlier.mark!.value === policy.mark!.value;
}

/**
 * One retention policy as a row set, every name checked against the catalog first; its rows leave out
 * those an earlier policy takes (`takes`). Also the policy as an earlier one for the policies after it:
 * its own rows, before partitions split them (whole partitions dropped are its rows too).
 */
async function policyRowSet(
  client: PoolClient,
  policy: RetentionPolicy,
  index: number,
  taskId: string,
  zones: TimestampZones,
  earlier: readonly Earlier[],
): Promise<{ set: RowSet; earlier: Earlier }> {
  const where = `task ${taskId}: config.policies[${index}]`;
  const key = await resolveKeyed(
    client,
    policy.table,
    policy.id_column,
    [policy.timestamp_column, policy.expires_column, policy.size_column, policy.mark?.column, ...filterColumns(policy.where)],
    where,
  );
  const table = key.table;
  const before = earlier.filter((e) => e.oid === table.oid && takes(e.policy, policy));
  let action: RowAction;
  let guard: ((params: SqlParams) => string) | undefined;
  if (policy.action === 'mark') {
    // Soft delete: set the column to now() (or the value), and never re-mark a marked row (a row
    // already holding the value is left out by every update: row-sets.ts).
    const { column, value } = policy.mark!;
    action = { kind: 'update', assign: [[{ column, path: [] }, value === undefined ? { now: true } : value]], zones };
    if (value === undefined) guard = () => `t.${col(table, column)} is null`;
  } else if (policy.action === 'archive') {
    const archive = await resolveTable(client, policy.archive_table!, table.allColumns, `${where}: archive_table`);
    action = { kind: 'archive', archive, columns: table.allColumns };
  } else {
    action = { kind: 'delete', children: await resolveChildren(client, key, policy.children, where) };
  }
  const sizeCap = policy.max_total_size !== undefined ? await sizeCapCondition(client, key, policy, capScope(key, policy, before)) : undefined;
  const own = (params: SqlParams) => {
    const conds = filterConditions(table, policy.where, params);
    if (guard) conds.push(guard(params));
    conds.push(dueCondition(key, policy, zones, params, before, sizeCap));
    return conds;
  };
  const set: RowSet = {
    label: policy.name ?? policy.table,
    key,
    action,
    counter: policy.action === 'mark' ? 'marked' : undefined,
    where: (params) => [...own(params), ...before.map((e) => `(${e.where(params)}) is not true`)],
    ...(policy.timestamp_column !== undefined && { age: { column: policy.timestamp_column, zones } }),
  };
  return { set, earlier: { oid: table.oid, where: (params) => own(params).join(' and '), policy } };
}

export function createRetentionActivities({ databases }: ActivityDeps) {
  return {
    /** `retention.enforce`: delete, mark or archive rows past their retention, policy by policy. */
    async enforceRetention(input: TaskInput<RetentionEnforceConfig>): Promise<TaskResult> {
      return exclusive(databases, input, async (session) => {
        const sets: RowSet[] = [];
        // Partitions wholly past retention go first, whole (activities/retention/partitions.ts); the rest row by row.
        const units: WorkUnit[] = [];
        const counters: string[] = [];
        const zones = new TimestampZones(input.config.timestamps);
        const earlier: Earlier[] = [];
        for (const [i, policy] of input.config.policies.entries()) {
          const built = await policyRowSet(session.client, policy, i, input.taskId, zones, earlier);
          let { set } = built;
          earlier.push(built.earlier);
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
