import type { PoolClient } from 'pg';
import { Context } from '@temporalio/activity';
import type { RowFilter } from '../tasks/fields';
import type { TaskInput, TaskResult } from '../workflows/types';
import type { SqlLimits } from '../tasks/fields';
import { runBatches } from './batch-loop';
import { safetyLimitError } from './errors';
import { SqlParams } from './sql/params';
import { col, colType, type ResolvedTable } from './sql/identifiers';

/** What happens to the rows of a set. */
export type RowAction =
  | { kind: 'delete'; children: { table: ResolvedTable; column: string }[] }
  | { kind: 'mark'; column: string; value: string | number | boolean | null }
  | { kind: 'archive'; archive: ResolvedTable; columns: string[] };

/** Rows of one table picked by conditions, and the action to take on them. */
export interface RowSet {
  label: string;
  table: ResolvedTable;
  idColumn: string;
  /** SQL conditions on alias `t`, with their values added to `params`. */
  where: (params: SqlParams) => string[];
  action: RowAction;
}

export interface RowSetConfig {
  dry_run: boolean;
  details_limit: number;
  batch_size: number;
  max_rows_per_run: number | null;
  max_fraction: number;
  sql: SqlLimits;
}

const PAST_TENSE = { delete: 'deleted', mark: 'marked', archive: 'archived' } as const;

/** Equality / IN / IS NULL conditions from a config filter, cast to each column's catalog type. */
export function filterConditions(table: ResolvedTable, filter: RowFilter, params: SqlParams): string[] {
  return Object.entries(filter).map(([name, value]) => {
    const c = `t.${col(table, name)}`;
    if (value === null) return `${c} is null`;
    if (Array.isArray(value)) return `${c} = any(${params.add(value.map(String), `${colType(table, name)}[]`)})`;
    return `${c} = ${params.add(String(value), colType(table, name))}`;
  });
}

/** The set's conditions, plus "not marked yet" for a mark action so a run never re-marks a row. */
function conditions(set: RowSet, params: SqlParams): string[] {
  const conds = set.where(params);
  if (set.action.kind === 'mark') {
    const c = `t.${col(set.table, set.action.column)}`;
    conds.push(set.action.value === null ? `${c} is null` : `${c} is distinct from ${params.add(String(set.action.value), colType(set.table, set.action.column))}`);
  }
  return conds;
}

function selectIds(set: RowSet, cursor: string | null, limit: number, lock: boolean): { text: string; values: unknown[] } {
  const p = new SqlParams();
  const conds = conditions(set, p);
  const id = col(set.table, set.idColumn);
  if (cursor !== null) conds.push(`t.${id} > ${p.add(cursor, colType(set.table, set.idColumn))}`);
  const text = `select t.${id}::text as id from ${set.table.sql} t where ${conds.join(' and ') || 'true'}
    order by t.${id} limit ${p.add(limit, 'int')} ${lock ? 'for update of t skip locked' : ''}`;
  return { text, values: p.values };
}

async function countRows(tx: PoolClient, set: RowSet): Promise<{ matching: number; total: number }> {
  const p = new SqlParams();
  const conds = conditions(set, p);
  const { rows } = await tx.query<{ matching: string; total: string }>(
    `select count(*) filter (where ${conds.join(' and ') || 'true'}) as matching, count(*) as total from ${set.table.sql} t`,
    p.values,
  );
  return { matching: Number(rows[0]!.matching), total: Number(rows[0]!.total) };
}

/** Applies the action to `ids` inside the open transaction; returns rows affected and child rows deleted. */
async function apply(tx: PoolClient, set: RowSet, ids: string[]): Promise<{ affected: number; children: number }> {
  const idCol = col(set.table, set.idColumn);
  const idArray = `$1::${colType(set.table, set.idColumn)}[]`;
  const action = set.action;
  if (action.kind === 'delete') {
    let children = 0;
    for (const child of action.children) {
      const res = await tx.query(`delete from ${child.table.sql} where ${col(child.table, child.column)} = any(${idArray})`, [ids]);
      children += res.rowCount ?? 0;
    }
    const res = await tx.query(`delete from ${set.table.sql} where ${idCol} = any(${idArray})`, [ids]);
    return { affected: res.rowCount ?? 0, children };
  }
  if (action.kind === 'mark') {
    const value = action.value === null ? 'now()' : `$2::${colType(set.table, action.column)}`;
    const res = await tx.query(`update ${set.table.sql} set ${col(set.table, action.column)} = ${value} where ${idCol} = any(${idArray})`, action.value === null ? [ids] : [ids, String(action.value)]);
    return { affected: res.rowCount ?? 0, children: 0 };
  }
  const cols = action.columns.map((c) => col(set.table, c)).join(', ');
  const res = await tx.query(
    `with moved as (delete from ${set.table.sql} where ${idCol} = any(${idArray}) returning ${cols})
     insert into ${action.archive.sql} (${cols}) select ${cols} from moved`,
    [ids],
  );
  return { affected: res.rowCount ?? 0, children: 0 };
}

/**
 * Checks `max_fraction` for every set before anything changes. A real run that would exceed it
 * fails without retrying; a dry run reports the same problem in its errors and goes on listing.
 */
async function checkFractions(client: PoolClient, sets: readonly RowSet[], cfg: RowSetConfig): Promise<string[]> {
  const problems: string[] = [];
  for (const set of sets) {
    const { matching, total } = await countRows(client, set);
    if (total > 0 && matching / total > cfg.max_fraction) {
      const pct = Math.round((matching / total) * 100);
      problems.push(
        `${set.label}: would ${set.action.kind} ${matching} of ${total} rows of ${set.table.name} (${pct}%), more than max_fraction ${cfg.max_fraction}; ` +
          `if that is intended, set max_fraction: ${Math.min(1, Math.ceil((matching / total) * 100) / 100)} (or higher) in this task's config`,
      );
    }
  }
  if (problems.length > 0 && !cfg.dry_run) throw safetyLimitError(problems.join('\n'));
  return problems;
}

/** Runs the sets one after another in batches: the engine behind every delete/mark/archive task. */
export async function processRowSets(client: PoolClient, input: TaskInput<RowSetConfig>, sets: readonly RowSet[]): Promise<TaskResult> {
  const cfg = input.config;
  const resuming = Context.current().info.heartbeatDetails !== undefined;
  const warnings = resuming ? [] : await checkFractions(client, sets, cfg);
  const counters = ['matched', ...new Set(sets.map((s) => PAST_TENSE[s.action.kind]))];
  if (sets.some((s) => s.action.kind === 'delete' && s.action.children.length > 0)) counters.push('children_deleted');
  return runBatches<{ set: number; id: string | null }>({
    client,
    input,
    initialCursor: { set: 0, id: null },
    counters,
    step: async (tx, cursor, summary) => {
      if (cursor.set === 0 && cursor.id === null) warnings.forEach((w) => summary.error(w));
      const set = sets[cursor.set];
      if (!set) return { cursor, done: true };
      const room = cfg.max_rows_per_run === null ? cfg.batch_size : Math.min(cfg.batch_size, cfg.max_rows_per_run - summary.get('matched'));
      if (room <= 0) {
        summary.count('stopped_at_max_rows_per_run');
        return { cursor, done: true };
      }
      const q = selectIds(set, cursor.id, room, !cfg.dry_run);
      const ids = (await tx.query<{ id: string }>(q.text, q.values)).rows.map((r) => r.id);
      if (ids.length > 0 && !cfg.dry_run) {
        const done = await apply(tx, set, ids);
        summary.count(PAST_TENSE[set.action.kind], done.affected);
        if (done.children) summary.count('children_deleted', done.children);
      } else if (cfg.dry_run) {
        summary.count(PAST_TENSE[set.action.kind], ids.length);
      }
      summary.count('matched', ids.length);
      for (const id of ids) summary.detail({ set: set.label, table: set.table.name, id, action: set.action.kind });
      if (ids.length < room) {
        const next = cursor.set + 1;
        return { cursor: { set: next, id: null }, done: next >= sets.length };
      }
      return { cursor: { set: cursor.set, id: ids.at(-1)! }, done: false };
    },
  });
}
