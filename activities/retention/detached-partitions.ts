import type { PoolClient } from 'pg';
import { tableExists } from '../engine/ledger';
import { quoteIdent } from '../sql/identifiers';

/**
 * Intents to finish a detached partition, in `<ledger schema>.detached_partitions` (created with
 * the ledger, engine/ledger.ts). A partition is detached in one transaction (two with
 * CONCURRENTLY) and dropped or moved in another; if that second step fails, the partition is a
 * standalone table that no plan over the parent's partitions would find again. The intent is
 * committed before the DETACH and deleted in the DROP's (or SET SCHEMA's) transaction, so while it
 * exists the table is either still attached or waiting to be finished by the next attempt or run.
 */
export interface DetachIntent {
  oid: number;
  /** `schema.name` when it was detached; a table renamed since is not the one that was meant. */
  name: string;
  sql: string;
  relname: string;
  upper: string;
}

const table = (ledgerSchema: string) => `${quoteIdent(ledgerSchema)}.detached_partitions`;

/** The intent's table still exists under the name it was detached with, attached to no parent. */
const STANDALONE = `
  exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where c.oid = d.partition_oid and n.nspname || '.' || c.relname = d.partition_name and not c.relispartition)`;

/**
 * The partitions of `parentOid` that were detached and not yet finished, in no order. A real run
 * first discards intents whose table is gone, renamed or attached again (a partition still
 * attached is planned as one, and its intent recorded again before its DETACH).
 */
export async function pendingDetached(client: PoolClient, ledgerSchema: string, parentOid: number, apply: boolean): Promise<DetachIntent[]> {
  if (!(await tableExists(client, table(ledgerSchema)))) return [];
  const s = table(ledgerSchema);
  if (apply) await client.query(`delete from ${s} d where d.parent_oid = $1 and not ${STANDALONE}`, [parentOid]);
  const { rows } = await client.query<DetachIntent>(
    `select d.partition_oid::int as oid, d.partition_name as name, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as sql,
            c.relname::text as relname, d.upper_bound as upper
     from ${s} d join pg_class c on c.oid = d.partition_oid join pg_namespace n on n.oid = c.relnamespace
     where d.parent_oid = $1 and ${STANDALONE}`,
    [parentOid],
  );
  return rows;
}

/** Who detached it and why, for whoever looks at a leftover; it is finished by the policy in force then. */
export interface IntentOrigin {
  parentOid: number;
  action: 'drop' | 'archive';
  archiveSchema: string | undefined;
  taskId: string;
}

/** Committed on its own (the unit works outside a transaction), before the DETACH. */
export async function recordIntent(client: PoolClient, ledgerSchema: string, p: DetachIntent, origin: IntentOrigin): Promise<void> {
  await client.query(
    `insert into ${table(ledgerSchema)} (partition_oid, partition_name, parent_oid, upper_bound, action, archive_schema, task_id)
     values ($1, $2, $3, $4, $5, $6, $7)
     on conflict (partition_oid) do update set partition_name = excluded.partition_name, parent_oid = excluded.parent_oid, upper_bound = excluded.upper_bound,
       action = excluded.action, archive_schema = excluded.archive_schema, task_id = excluded.task_id, recorded_at = now()`,
    [p.oid, p.name, origin.parentOid, p.upper, origin.action, origin.archiveSchema ?? null, origin.taskId],
  );
}

/** In the DROP's (or SET SCHEMA's) transaction: the intent goes exactly when the table does. */
export async function clearIntent(tx: PoolClient, ledgerSchema: string, partitionOid: number): Promise<void> {
  await tx.query(`delete from ${table(ledgerSchema)} where partition_oid = $1`, [partitionOid]);
}
