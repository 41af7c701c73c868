import type { PoolClient } from 'pg';
import type { Counts } from '../../workflows/types';

/**
 * Rows inserted, updated and deleted so far in the open transaction, per table (partitions
 * under their root), as PostgreSQL's own statistics count them: cascaded deletes and rows that
 * triggers write included. The ledger's schema is left out.
 */
const TABLE_CHANGES = `
  select n.nspname || '.' || c.relname as name,
         sum(s.n_tup_ins)::bigint as inserted, sum(s.n_tup_upd)::bigint as updated, sum(s.n_tup_del)::bigint as deleted
  from pg_stat_xact_user_tables s
  join pg_class c on c.oid = coalesce(pg_partition_root(s.relid), s.relid)
  join pg_namespace n on n.oid = c.relnamespace
  where s.n_tup_ins + s.n_tup_upd + s.n_tup_del > 0 and n.nspname <> $1
  group by 1 order by 1`;

export type TableReading = Map<string, Counts>;

export async function readTableChanges(tx: PoolClient, ledgerSchema: string): Promise<TableReading> {
  const { rows } = await tx.query<{ name: string; inserted: string; updated: string; deleted: string }>(TABLE_CHANGES, [ledgerSchema]);
  return new Map(rows.map((r) => [r.name, { inserted: Number(r.inserted), updated: Number(r.updated), deleted: Number(r.deleted) }]));
}

/** What changed between two readings, leaving out zeros. */
export function changesBetween(before: TableReading, after: TableReading): Record<string, Counts> {
  const out: Record<string, Counts> = {};
  for (const [name, now] of after) {
    const counts: Counts = {};
    for (const [k, v] of Object.entries(now)) {
      const delta = v - (before.get(name)?.[k] ?? 0);
      if (delta > 0) counts[k] = delta;
    }
    if (Object.keys(counts).length > 0) out[name] = counts;
  }
  return out;
}
