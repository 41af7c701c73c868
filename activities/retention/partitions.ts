import type { PoolClient } from 'pg';
import type { BatchEffect } from '../engine/tally';
import type { ActMode, TaskSession, WorkUnit } from '../engine/work-unit';
import type { RetentionEnforceConfig, RetentionPolicy } from '../../tasks/retention-enforce';
import { clearIntent, pendingDetached, recordIntent, type DetachIntent } from './detached-partitions';
import { planInspector } from '../engine/plan-capture';
import { rowsTarget } from '../engine/fraction-targets';
import { configError } from '../../core/errors';
import { colType, quoteIdent, type ResolvedTable } from '../sql/identifiers';
import { SqlParams } from '../sql/params';
import { millis, type TimestampZones } from '../sql/time';

/**
 * Partition-aware retention: for a table partitioned by RANGE on its retention column alone
 * (native partitioning, as pg_partman lays it out too), partitions whose upper bound is at or
 * before the cutoff hold only expired rows. They are detached (CONCURRENTLY when the server
 * supports it and there is no default partition; CONCURRENTLY cannot run in a transaction block,
 * so this unit works outside one) and dropped, or moved to an archive schema. Rows in the
 * boundary partition (and the default partition) are left to the row-by-row unit that follows.
 * An intent recorded before each DETACH (detached-partitions.ts) brings a partition whose drop
 * failed after its DETACH back into the next attempt's (or run's) plan.
 */
export interface PartitionPlan {
  parent: ResolvedTable;
  /** The column's catalog type, for casting bound literals. */
  columnType: string;
  /** SQL for the cutoff (a partition qualifies when its upper bound <= cutoff). */
  cutoff: (p: SqlParams) => string;
  action: 'drop' | 'archive';
  archiveSchema?: string;
  label: string;
  lockTimeoutMs: number;
  ledgerSchema: string;
  taskId: string;
}

/** `name` (`schema.name`) is also the cursor: partitions are taken in name order. */
interface Partition extends DetachIntent {
  detachPending: boolean;
  /** Detached by an earlier attempt or run that did not drop (or move) it: only that is left. */
  detached: boolean;
}

const STRATEGY = `
  select p.partstrat as strategy, p.partnatts as columns, a.attname::text as column,
    exists (select 1 from pg_constraint f where f.contype = 'f' and f.confrelid = p.partrelid) as referenced,
    exists (select 1 from pg_trigger t where not t.tgisinternal and t.tgtype & 8 <> 0
            and t.tgrelid in (select p.partrelid union all select relid from pg_partition_tree(p.partrelid))) as delete_triggers,
    current_setting('server_version_num')::int as version,
    exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
            where i.inhparent = p.partrelid and pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT') as has_default
  from pg_partitioned_table p left join pg_attribute a on a.attrelid = p.partrelid and a.attnum = p.partattrs[0]
  where p.partrelid = $1`;

const PARTITIONS = `
  select c.oid::int as oid, n.nspname || '.' || c.relname as name, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as sql, c.relname::text as relname,
         pg_get_expr(c.relpartbound, c.oid) as bound, i.inhdetachpending as "detachPending"
  from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_namespace n on n.oid = c.relnamespace
  where i.inhparent = $1 order by 1`;

/** Whether `parent` is range-partitioned on `column` alone, and how it may be detached; null when rows must go one by one. */
async function partitionStrategy(client: PoolClient, parent: ResolvedTable, column: string): Promise<{ concurrently: boolean } | null> {
  const row = (
    await client.query<{
      strategy: string;
      columns: number;
      column: string | null;
      referenced: boolean;
      delete_triggers: boolean;
      version: number;
      has_default: boolean;
    }>(STRATEGY, [parent.oid])
  ).rows[0];
  // List and hash partitions, multi-column keys and expression keys are handled row by row; so is a
  // table that other tables reference (DETACH would fail on their foreign keys) and one with
  // delete triggers (an audit trigger must see every row; DROP fires none).
  if (!row || row.strategy !== 'r' || row.columns !== 1 || row.column !== column || row.referenced || row.delete_triggers) return null;
  return { concurrently: row.version >= 140000 && !row.has_default };
}

/** The exclusive upper bound of a range partition (`FOR VALUES FROM (..) TO ('x')`) as text, or null (DEFAULT, MAXVALUE). */
function upperBound(bound: string): string | null {
  const m = /\bTO \('((?:[^']|'')*)'\)$/.exec(bound);
  return m ? m[1]!.replace(/''/g, "'") : null;
}

async function rowsIn(client: PoolClient, partition: Partition): Promise<number> {
  return Number((await client.query<{ n: string }>(`select count(*) as n from ${partition.sql}`)).rows[0]!.n);
}

/** The partitions of `plan.parent` wholly past retention now, in name order. */
async function partitionsPast(client: PoolClient, plan: PartitionPlan): Promise<Partition[]> {
  const out: Partition[] = [];
  for (const row of (await client.query<Partition & { bound: string }>(PARTITIONS, [plan.parent.oid])).rows) {
    const upper = upperBound(row.bound);
    if (upper === null) continue;
    const p = new SqlParams();
    const sql = `select ${p.add(upper, plan.columnType)} <= ${plan.cutoff(p)} as past`;
    if ((await client.query<{ past: boolean }>(sql, p.values)).rows[0]!.past) {
      out.push({ oid: row.oid, name: row.name, sql: row.sql, relname: row.relname, upper, detachPending: row.detachPending, detached: false });
    }
  }
  return out;
}

/**
 * The partitions planned when the run started, as a unit the engine works through outside a
 * transaction, one at a time. The plan is fixed so that the row-by-row unit can leave exactly
 * these partitions to it (a dry run drops nothing, so their rows would otherwise count twice).
 * It includes partitions left detached by an earlier attempt or run: their rows are gone from the
 * parent, so they count in this run's result but not in its max_fraction check.
 */
function partitionUnit(plan: PartitionPlan, planned: readonly Partition[], how: { concurrently: boolean }): WorkUnit<Partition, string> {
  const counter = plan.action === 'drop' ? 'partitions_dropped' : 'partitions_archived';
  const inPlan = (p: SqlParams) =>
    `t.tableoid = any(${p.add(
      planned.map((x) => String(x.oid)),
      'oid[]',
    )})`;
  return {
    label: plan.label,
    transactional: false,
    unplannable: 'partitions',
    compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
    cursorOf: (p) => p.name,
    // Their rows count against max_fraction with the row-by-row unit's.
    fraction: [rowsTarget({ table: plan.parent, verb: 'delete', condition: inPlan })],
    async nextBatch(client, cursor, limit) {
      const attached = new Set((await client.query<{ oid: number }>(PARTITIONS, [plan.parent.oid])).rows.map((r) => r.oid));
      const leftover = planned.some((p) => p.detached) ? await pendingDetached(client, plan.ledgerSchema, plan.parent.oid, false) : [];
      const detached = new Set(leftover.map((p) => p.oid));
      return planned.filter((p) => (p.detached ? detached : attached).has(p.oid) && (cursor === null || p.name > cursor)).slice(0, limit);
    },
    async act(client, [partition], mode: ActMode, record): Promise<BatchEffect> {
      const detail = { set: plan.label, table: plan.parent.name, partition: partition!.name, upper_bound: partition!.upper, action: plan.action };
      if (mode !== 'apply') {
        const rows = await rowsIn(client, partition!);
        return effect(plan, counter, rows, detail);
      }
      await client.query(`set lock_timeout = ${Math.ceil(plan.lockTimeoutMs)}`);
      try {
        if (!partition!.detached) {
          const { action, archiveSchema, taskId } = plan;
          await recordIntent(client, plan.ledgerSchema, partition!, { parentOid: plan.parent.oid, action, archiveSchema, taskId });
          const detachMode = partition!.detachPending ? 'finalize' : how.concurrently ? 'concurrently' : '';
          await client.query(`alter table ${plan.parent.sql} detach partition ${partition!.sql} ${detachMode}`);
        }
        // Detached: nothing reaches it through the parent. Count and drop (or move) it in one transaction.
        await client.query('begin');
        try {
          await client.query(`lock table ${partition!.sql} in access exclusive mode`);
          const rows = await rowsIn(client, partition!);
          if (plan.action === 'drop') await client.query(`drop table ${partition!.sql}`);
          else await client.query(`alter table ${partition!.sql} set schema ${quoteIdent(plan.archiveSchema!)}`);
          await clearIntent(client, plan.ledgerSchema, partition!.oid);
          // The ledger entry commits with the DROP: a retry neither drops it again nor loses its rows.
          const done = effect(plan, counter, rows, detail);
          await record?.(client, done);
          await client.query('commit');
          return done;
        } catch (err) {
          await client.query('rollback').catch(() => undefined);
          throw err;
        }
      } finally {
        await client.query('reset lock_timeout');
      }
    },
  };
}

function effect(plan: PartitionPlan, counter: string, rows: number, detail: Record<string, unknown>): BatchEffect {
  return {
    counts: { matched: rows, deleted: rows, [counter]: 1 },
    tables: { [plan.parent.name]: { deleted: rows } },
    details: [{ ...detail, rows }],
    capped: rows,
  };
}

/**
 * The partition unit for a retention policy, or null when its rows go one by one: other actions
 * than delete, filters (`where`) or children (a partition may hold rows they keep),
 * max_rows_per_run (a partition goes whole), `partitions: { action: rows }`, or a table not
 * range-partitioned on the retention column alone.
 */
export async function retentionPartitions(
  session: TaskSession<RetentionEnforceConfig>,
  policy: RetentionPolicy,
  parent: ResolvedTable,
  zones: TimestampZones,
  label: string,
  where: string,
): Promise<{ unit: WorkUnit; counter: string; outside: (p: SqlParams) => string } | null> {
  const { client, input, ledgerSchema } = session;
  const cfg = input.config;
  const { action, archive_schema } = policy.partitions;
  // A count or size cap is not an age: no partition is wholly past it.
  if (policy.keep_newest !== undefined || policy.max_total_size !== undefined) return null;
  if (policy.action !== 'delete' || action === 'rows' || Object.keys(policy.where).length > 0 || policy.children.length > 0 || cfg.max_rows_per_run !== null)
    return null;
  const column = policy.expires_column ?? policy.timestamp_column!;
  const how = await partitionStrategy(client, parent, column);
  if (!how) return null;
  if (action === 'archive' && (await client.query('select 1 from pg_namespace where nspname = $1', [archive_schema])).rowCount === 0) {
    throw configError(`${where}: partitions.archive_schema: expected an existing schema, got "${archive_schema}" (create it first)`);
  }
  const plan: PartitionPlan = {
    parent,
    columnType: colType(parent, column),
    // In the column's terms: a naive column's bounds are wall times of its configured zone.
    cutoff: (p) => zones.at(parent, column, policy.expires_column ? 'now()' : `now() - ${millis(p, policy.older_than!)}`, p),
    action,
    archiveSchema: archive_schema,
    label,
    lockTimeoutMs: cfg.sql.lock_timeout,
    ledgerSchema,
    taskId: input.taskId,
  };
  // Name order, the unit's cursor order (OIDs follow creation, not ranges). The unit exists even
  // when nothing is past retention, so every attempt of a run has the same units: the ledger's
  // position (unit index, cursor) must mean the same thing on a retry after partitions were dropped.
  // A partition left detached sorts with the others: a retry's cursor has not passed it, since its
  // entry is recorded only after its drop, which also clears the intent.
  // `caretaker check` inspects the plan: it discards no stale intent (nothing may change).
  const leftover = (await pendingDetached(client, ledgerSchema, parent.oid, !cfg.dry_run && !planInspector())).map((p) => ({
    ...p,
    detachPending: false,
    detached: true,
  }));
  const planned = [...(await partitionsPast(client, plan)), ...leftover].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    unit: partitionUnit(plan, planned, how) as WorkUnit,
    counter: action === 'drop' ? 'partitions_dropped' : 'partitions_archived',
    outside: (p) =>
      `t.tableoid <> all(${p.add(
        planned.map((x) => String(x.oid)),
        'oid[]',
      )})`,
  };
}
