import type { PoolClient } from 'pg';
import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { RowFilter, SqlLimits } from '../tasks/fields';
import type { TaskInput, TaskResult } from '../workflows/types';
import { runBatches, type RunSummary } from './batch-loop';
import { overFraction, safetyLimitError } from './errors';
import { SqlParams } from './sql/params';
import { col, colType, type ResolvedTable } from './sql/identifiers';

/** The new value of a column in an update: a literal (cast to the column's type), now(), or +1. */
export type SetValue = { now: true } | { increment: true } | { value: string | number | boolean | null };

/** What happens to the rows of a set. */
export type RowAction =
  | { kind: 'delete'; children: { table: ResolvedTable; column: string }[] }
  | { kind: 'update'; sets: { column: string; value: SetValue }[] }
  | { kind: 'archive'; archive: ResolvedTable; columns: string[] }
  /** Starts one workflow per row (id `<idPrefix><row id>`); a row whose workflow is running is skipped. */
  | { kind: 'start_workflow'; workflowType: string; taskQueue: string; idPrefix: string; executionTimeoutMs?: number }
  | { kind: 'report' };

/** Rows of one table picked by conditions, and the action to take on them. */
export interface RowSet {
  label: string;
  table: ResolvedTable;
  idColumn: string;
  /** SQL conditions on alias `t`, with their values added to `params`. */
  where: (params: SqlParams) => string[];
  action: RowAction;
  /** Name of the result counter, e.g. "marked"; defaults to the action's past tense. */
  counter?: string;
}

const counterOf = (set: RowSet) => set.counter ?? PAST_TENSE[set.action.kind];

export interface RowSetConfig {
  dry_run: boolean;
  details_limit: number;
  batch_size: number;
  max_rows_per_run: number | null;
  max_fraction: number;
  sql: SqlLimits;
}

const PAST_TENSE = { delete: 'deleted', update: 'updated', archive: 'archived', start_workflow: 'started', report: 'reported' } as const;

/** Equality / IN / IS NULL conditions from a config filter on `alias`, cast to each column's catalog type. */
export function filterConditions(table: ResolvedTable, filter: RowFilter, params: SqlParams, alias = 't'): string[] {
  return Object.entries(filter).map(([name, value]) => {
    const c = `${alias}.${col(table, name)}`;
    if (value === null) return `${c} is null`;
    if (Array.isArray(value)) return `${c} = any(${params.add(value.map(String), `${colType(table, name)}[]`)})`;
    return `${c} = ${params.add(String(value), colType(table, name))}`;
  });
}

function selectIds(set: RowSet, cursor: string | null, limit: number, lock: boolean): { text: string; values: unknown[] } {
  const p = new SqlParams();
  const conds = set.where(p);
  const id = col(set.table, set.idColumn);
  if (cursor !== null) conds.push(`t.${id} > ${p.add(cursor, colType(set.table, set.idColumn))}`);
  const text = `select t.${id}::text as id from ${set.table.sql} t where ${conds.join(' and ') || 'true'}
    order by t.${id} limit ${p.add(limit, 'int')} ${lock ? 'for update of t skip locked' : ''}`;
  return { text, values: p.values };
}

async function countRows(tx: PoolClient, set: RowSet): Promise<{ matching: number; total: number }> {
  const p = new SqlParams();
  const conds = set.where(p);
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
  if (action.kind === 'update') {
    const values: unknown[] = [ids];
    const assignments = action.sets.map(({ column, value }) => {
      const c = col(set.table, column);
      if ('now' in value) return `${c} = now()`;
      if ('increment' in value) return `${c} = coalesce(${c}, 0) + 1`;
      if (value.value === null) return `${c} = null`;
      values.push(String(value.value));
      return `${c} = $${values.length}::${colType(set.table, column)}`;
    });
    const res = await tx.query(`update ${set.table.sql} set ${assignments.join(', ')} where ${idCol} = any(${idArray})`, values);
    return { affected: res.rowCount ?? 0, children: 0 };
  }
  if (action.kind === 'start_workflow') return { affected: await startWorkflows(action, ids), children: 0 };
  if (action.kind === 'report') return { affected: ids.length, children: 0 };
  const cols = action.columns.map((c) => col(set.table, c)).join(', ');
  const res = await tx.query(
    `with moved as (delete from ${set.table.sql} where ${idCol} = any(${idArray}) returning ${cols})
     insert into ${action.archive.sql} (${cols}) select ${cols} from moved`,
    [ids],
  );
  return { affected: res.rowCount ?? 0, children: 0 };
}

/** Starts a workflow per row through the worker's client; a running one with the same id is left alone. */
async function startWorkflows(action: Extract<RowAction, { kind: 'start_workflow' }>, ids: string[]): Promise<number> {
  const client = Context.current().client;
  let started = 0;
  for (const id of ids) {
    try {
      await client.workflow.start(action.workflowType, {
        workflowId: `${action.idPrefix}${id}`,
        taskQueue: action.taskQueue,
        args: [{ id }],
        workflowExecutionTimeout: action.executionTimeoutMs,
      });
      started += 1;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  return started;
}

/**
 * Checks `max_fraction` for every set before anything changes. A real run that would exceed it
 * fails without retrying; a dry run reports the same problem in its errors and goes on listing.
 */
export async function checkFractions(client: PoolClient, sets: readonly RowSet[], cfg: RowSetConfig): Promise<string[]> {
  const problems: string[] = [];
  for (const set of sets) {
    if (set.action.kind === 'report' || set.action.kind === 'start_workflow') continue; // changes no row
    const { matching, total } = await countRows(client, set);
    const problem = overFraction(`${set.label}: would ${set.action.kind}`, matching, total, `rows of ${set.table.name}`, cfg.max_fraction);
    if (problem) problems.push(problem);
  }
  if (problems.length > 0 && !cfg.dry_run) throw safetyLimitError(problems.join('\n'));
  return problems;
}

/**
 * One batch of one set inside the open transaction: pick up to `room` ids after `cursor`, act on
 * them (unless dry run), count and list them. `exhausted` when the set has no more rows.
 */
export async function rowSetBatch(
  tx: PoolClient,
  set: RowSet,
  cursor: string | null,
  room: number,
  dryRun: boolean,
  summary: RunSummary,
): Promise<{ last: string | null; exhausted: boolean }> {
  const q = selectIds(set, cursor, room, !dryRun);
  const ids = (await tx.query<{ id: string }>(q.text, q.values)).rows.map((r) => r.id);
  await actOn(tx, set, ids, dryRun, summary);
  return { last: ids.at(-1) ?? cursor, exhausted: ids.length < room };
}

/** Applies a set's action to ids it picked (unless dry run) and records counts and details. */
export async function actOn(tx: PoolClient, set: RowSet, ids: string[], dryRun: boolean, summary: RunSummary): Promise<void> {
  if (ids.length > 0 && !dryRun) {
    const done = await apply(tx, set, ids);
    summary.count(counterOf(set), done.affected);
    if (done.children) summary.count('children_deleted', done.children);
    if (set.action.kind === 'start_workflow') summary.count('already_running', ids.length - done.affected);
  } else if (dryRun) {
    summary.count(counterOf(set), ids.length);
  }
  summary.count('matched', ids.length);
  for (const id of ids) summary.detail({ set: set.label, table: set.table.name, id, action: set.action.kind });
}

/** The counters a list of sets reports, so they appear even when zero. */
export function rowSetCounters(sets: readonly RowSet[]): string[] {
  const counters = ['matched', ...new Set(sets.map(counterOf))];
  if (sets.some((s) => s.action.kind === 'start_workflow')) counters.push('already_running');
  if (sets.some((s) => s.action.kind === 'delete' && s.action.children.length > 0)) counters.push('children_deleted');
  return counters;
}

/** How many rows the next batch may take: the batch size, less what max_rows_per_run has left. */
export function batchRoom(cfg: RowSetConfig, summary: RunSummary): number {
  return cfg.max_rows_per_run === null ? cfg.batch_size : Math.min(cfg.batch_size, cfg.max_rows_per_run - summary.get('matched'));
}

/** Runs the sets one after another in batches: the engine behind every task that picks rows and acts on them. */
export async function processRowSets(client: PoolClient, input: TaskInput<RowSetConfig>, sets: readonly RowSet[]): Promise<TaskResult> {
  const cfg = input.config;
  const resuming = Context.current().info.heartbeatDetails !== undefined;
  const warnings = resuming ? [] : await checkFractions(client, sets, cfg);
  return runBatches<{ set: number; id: string | null }>({
    client,
    input,
    initialCursor: { set: 0, id: null },
    counters: rowSetCounters(sets),
    step: async (tx, cursor, summary) => {
      if (cursor.set === 0 && cursor.id === null) warnings.forEach((w) => summary.error(w));
      const set = sets[cursor.set];
      if (!set) return { cursor, done: true };
      const room = batchRoom(cfg, summary);
      if (room <= 0) {
        summary.count('stopped_at_max_rows_per_run');
        return { cursor, done: true };
      }
      const batch = await rowSetBatch(tx, set, cursor.id, room, cfg.dry_run, summary);
      if (batch.exhausted) {
        const next = cursor.set + 1;
        return { cursor: { set: next, id: null }, done: next >= sets.length };
      }
      return { cursor: { set: cursor.set, id: batch.last }, done: false };
    },
  });
}
