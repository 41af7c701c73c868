import { isDeepStrictEqual } from 'node:util';
import type { Pool } from 'pg';
import { quoteIdent } from '../../activities/sql/identifiers';

type Row = Record<string, unknown>;

/** Every row of every user table, by `schema.table` and then by primary key (`a|b` for a composite key). */
export interface Snapshot {
  tables: Record<string, Record<string, Row>>;
  /** `localtimestamp` when taken, parsed like the naive timestamp columns are. */
  now: Date;
}

/**
 * Tables and their primary keys, partitions under their root. Caretaker's own schema (the run
 * ledger, written by every real run) is left out; a table without a primary key is keyed by its
 * whole row.
 */
const TABLES = `
  select n.nspname || '.' || c.relname as name, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as sql,
         array(select a.attname::text from pg_index i, unnest(i.indkey) with ordinality k(attnum, pos)
               join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
               where i.indrelid = c.oid and i.indisprimary order by k.pos) as pk
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p') and not c.relispartition
    and n.nspname not in ('pg_catalog', 'information_schema', 'caretaker') and n.nspname not like 'pg_toast%'
  order by 1`;

export async function snapshotAll(pool: Pool): Promise<Snapshot> {
  const tables: Snapshot['tables'] = {};
  for (const t of (await pool.query<{ name: string; sql: string; pk: string[] }>(TABLES)).rows) {
    const key = t.pk.length > 0 ? `concat_ws('|', ${t.pk.map((c) => `t.${quoteIdent(c)}::text`).join(', ')})` : 't::text';
    const { rows } = await pool.query<Row & { __key: string }>(`select ${key} as __key, t.* from ${t.sql} t`);
    tables[t.name] = Object.fromEntries(rows.map(({ __key, ...row }) => [__key, row]));
  }
  const now = (await pool.query<{ now: Date }>('select localtimestamp as now')).rows[0]!.now;
  return { tables, now };
}

/** What changed in one table: keys deleted, rows inserted, and per updated key the new values of the columns that changed. */
export interface TableChanges {
  deleted?: string[];
  inserted?: Row[];
  updated?: Record<string, Row>;
}
export type Changes = Record<string, TableChanges>;

/** A new value that must be a timestamp within a few minutes of the database clock (a column set to now()). */
export const RECENT = Symbol('recent timestamp');
const RECENT_MS = 5 * 60_000;

/** Every table's changes between two snapshots; tables without changes are left out. */
export function diff(before: Snapshot, after: Snapshot): Changes {
  const out: Changes = {};
  for (const name of new Set([...Object.keys(before.tables), ...Object.keys(after.tables)])) {
    const b = before.tables[name] ?? {};
    const a = after.tables[name] ?? {};
    const changes: TableChanges = {};
    const deleted = Object.keys(b)
      .filter((k) => !(k in a))
      .sort();
    const inserted = Object.keys(a)
      .filter((k) => !(k in b))
      .sort()
      .map((k) => a[k]!);
    const updated: Record<string, Row> = {};
    for (const k of Object.keys(b).filter((k) => k in a)) {
      const cols = Object.keys(a[k]!).filter((c) => !isDeepStrictEqual(a[k]![c], b[k]![c]));
      if (cols.length > 0) updated[k] = Object.fromEntries(cols.map((c) => [c, a[k]![c]]));
    }
    if (deleted.length) changes.deleted = deleted;
    if (inserted.length) changes.inserted = inserted;
    if (Object.keys(updated).length) changes.updated = updated;
    if (Object.keys(changes).length) out[name] = changes;
  }
  return out;
}

/**
 * The actual changes in the shape of the expected ones, so one `toEqual` compares them: inserted
 * rows reduced to the columns the expectation names (generated ids and defaults are not known in
 * advance) and both sides sorted; values expected to be RECENT checked against the clock.
 */
export function comparable(actual: Changes, expected: Changes, now: Date): { actual: Changes; expected: Changes } {
  const sortRows = (rows: Row[]) => [...rows].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
  const a: Changes = {};
  const e: Changes = {};
  for (const name of new Set([...Object.keys(actual), ...Object.keys(expected)])) {
    const act = { ...actual[name] };
    if (act.updated) act.updated = Object.fromEntries(Object.entries(act.updated).map(([k, v]) => [k, { ...v }]));
    const exp = { ...expected[name] };
    const columns = exp.inserted?.[0] ? Object.keys(exp.inserted[0]) : undefined;
    if (act.inserted && columns) act.inserted = sortRows(act.inserted.map((r) => Object.fromEntries(columns.map((c) => [c, r[c]]))));
    if (exp.inserted) exp.inserted = sortRows(exp.inserted);
    if (exp.deleted) exp.deleted = [...exp.deleted].sort();
    for (const [key, cols] of Object.entries(exp.updated ?? {})) {
      for (const [c, v] of Object.entries(cols)) {
        const got = act.updated?.[key]?.[c];
        if (v === RECENT && got instanceof Date && Math.abs(got.getTime() - now.getTime()) < RECENT_MS) act.updated![key]![c] = RECENT;
      }
    }
    a[name] = act;
    e[name] = exp;
  }
  return { actual: a, expected: e };
}

/** Per table, how many rows were inserted, updated and deleted: the shape of a result's `tables`. */
export function rowCounts(changes: Changes): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [name, c] of Object.entries(changes)) {
    const counts: Record<string, number> = {};
    if (c.inserted?.length) counts.inserted = c.inserted.length;
    if (c.updated && Object.keys(c.updated).length) counts.updated = Object.keys(c.updated).length;
    if (c.deleted?.length) counts.deleted = c.deleted.length;
    out[name] = counts;
  }
  return out;
}
