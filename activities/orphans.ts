import { access, readdir, unlink } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';
import type { PoolClient } from 'pg';
import { Context } from '@temporalio/activity';
import type { AssetsDetectOrphansConfig, OrphanRule } from '../tasks/assets-detect-orphans';
import type { TaskInput, TaskResult } from '../workflows/types';
import { runBatches } from './batch-loop';
import type { ActivityDeps } from './deps';
import { overFraction, safetyLimitError } from './errors';
import { listFiles } from './files';
import type { FileEntry } from './file-plan';
import { resolveChildren } from './retention';
import { actOn, batchRoom, checkFractions, filterConditions, rowSetBatch, rowSetCounters, type RowAction, type RowSet } from './row-sets';
import { SqlParams } from './sql/params';
import { col, colType, resolveTable, type ResolvedTable } from './sql/identifiers';
import { exclusive } from './task-lock';

type Rule<K extends OrphanRule['kind']> = Extract<OrphanRule, { kind: K }>;

/** One piece of work with its own batching: plain row sets, rows checked against files, files checked against rows. */
type Unit =
  | { kind: 'rows'; set: RowSet }
  | { kind: 'missing_file'; set: RowSet; pathColumn: string; baseDir: string }
  | { kind: 'orphan_file'; rule: Rule<'orphan_file'>; table: ResolvedTable; baseDir: string; label: string };

/** The file a stored path names, or null when it would lie outside base_dir. */
export function fileInside(baseDir: string, stored: string): string | null {
  const full = isAbsolute(stored) ? resolve(stored) : resolve(baseDir, stored);
  return full.startsWith(baseDir + sep) ? full : null;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return false;
      throw err;
    },
  );
}

function rowAction(rule: Rule<'missing_file'> | Rule<'missing_parent'>, children: RowAction & { kind: 'delete' }): RowAction {
  if (rule.action === 'delete') return children;
  if (rule.action === 'update') return { kind: 'update', sets: Object.entries(rule.set).map(([column, value]) => ({ column, value: { value } })) };
  return { kind: 'report' };
}

async function buildUnits(client: PoolClient, cfg: AssetsDetectOrphansConfig, taskId: string): Promise<Unit[]> {
  const units: Unit[] = [];
  for (const [i, rule] of cfg.rules.entries()) {
    const where = `task ${taskId}: config.rules[${i}]`;
    const label = rule.name ?? `${rule.kind} ${rule.table}`;
    if (rule.kind === 'missing_parent' || rule.kind === 'missing_file') {
      const ref = rule.kind === 'missing_parent' ? rule.reference_column : rule.path_column;
      const table = await resolveTable(client, rule.table, [rule.id_column, ref, ...Object.keys(rule.where), ...Object.keys(rule.set)], where);
      const action = rowAction(rule, { kind: 'delete', children: await resolveChildren(client, rule.children, where) });
      if (rule.kind === 'missing_file') {
        const set: RowSet = { label, table, idColumn: rule.id_column, action, where: (p) => [...filterConditions(table, rule.where, p), `t.${col(table, ref)} is not null`] };
        units.push({ kind: 'missing_file', set, pathColumn: ref, baseDir: resolve(rule.base_dir) });
        continue;
      }
      const parent = await resolveTable(client, rule.parent_table, [rule.parent_id_column], `${where}: parent_table`);
      units.push({
        kind: 'rows',
        set: {
          label,
          table,
          idColumn: rule.id_column,
          action,
          where: (p) => [
            ...filterConditions(table, rule.where, p),
            `t.${col(table, ref)} is not null`,
            `not exists (select 1 from ${parent.sql} p where p.${col(parent, rule.parent_id_column)} = t.${col(table, ref)})`,
          ],
        },
      });
    } else if (rule.kind === 'stuck_pending') {
      const table = await resolveTable(client, rule.table, [rule.id_column, rule.status_column, rule.timestamp_column, rule.retry_column, rule.error_column], where);
      const stuck = (p: SqlParams, retriesLeft: boolean) => [
        `t.${col(table, rule.status_column)} = ${p.add(rule.pending_status, colType(table, rule.status_column))}`,
        `t.${col(table, rule.timestamp_column)} < now() - ${p.add(rule.older_than, 'float8')} * interval '1 millisecond'`,
        `coalesce(t.${col(table, rule.retry_column)}, 0) ${retriesLeft ? '<' : '>='} ${p.add(rule.max_retries, 'int')}`,
      ];
      const failSets = [{ column: rule.status_column, value: { value: rule.failed_status } }];
      if (rule.error_column) failSets.push({ column: rule.error_column, value: { value: `Stuck in ${rule.pending_status} after ${rule.max_retries} re-queues; marked ${rule.failed_status} by Caretaker task ${taskId}` } });
      const requeue = [
        { column: rule.retry_column, value: { increment: true as const } },
        { column: rule.timestamp_column, value: { now: true as const } },
      ];
      units.push({ kind: 'rows', set: { label, table, idColumn: rule.id_column, counter: 'requeued', action: { kind: 'update', sets: requeue }, where: (p) => stuck(p, true) } });
      units.push({ kind: 'rows', set: { label, table, idColumn: rule.id_column, counter: 'failed', action: { kind: 'update', sets: failSets }, where: (p) => stuck(p, false) } });
    } else {
      const table = await resolveTable(client, rule.table, [rule.path_column], where);
      units.push({ kind: 'orphan_file', rule, table, baseDir: resolve(rule.base_dir), label });
    }
  }
  return units;
}

/** Of these stored paths, the ids whose file is missing. */
async function missingOf(rows: { id: string; path: string }[], baseDir: string): Promise<string[]> {
  const missing: string[] = [];
  for (const r of rows) {
    const file = fileInside(baseDir, r.path);
    if (file === null || !(await exists(file))) missing.push(r.id);
  }
  return missing;
}

function selectPaths(u: Extract<Unit, { kind: 'missing_file' }>, cursor: string | null, limit: number | null, lock: boolean) {
  const p = new SqlParams();
  const { table, idColumn } = u.set;
  const conds = u.set.where(p);
  if (cursor !== null) conds.push(`t.${col(table, idColumn)} > ${p.add(cursor, colType(table, idColumn))}`);
  const text = `select t.${col(table, idColumn)}::text as id, t.${col(table, u.pathColumn)}::text as path from ${table.sql} t
    where ${conds.join(' and ')} order by t.${col(table, idColumn)} ${limit === null ? '' : `limit ${p.add(limit, 'int')}`} ${lock ? 'for update of t skip locked' : ''}`;
  return { text, values: p.values };
}

/** Unreferenced files old enough to touch, from one slice of the listing. */
async function unreferenced(tx: PoolClient, u: Extract<Unit, { kind: 'orphan_file' }>, files: FileEntry[]): Promise<FileEntry[]> {
  const rel = files.map((f) => f.path);
  const abs = rel.map((r) => join(u.baseDir, r));
  const c = col(u.table, u.rule.path_column);
  const { rows } = await tx.query<{ path: string }>(`select ${c}::text as path from ${u.table.sql} where ${c}::text = any($1::text[]) or ${c}::text = any($2::text[])`, [rel, abs]);
  const known = new Set(rows.map((r) => r.path));
  const cutoff = Date.now() - u.rule.min_age;
  return files.filter((f, i) => !known.has(rel[i]!) && !known.has(abs[i]!) && f.mtimeMs < cutoff);
}

/**
 * Before anything changes: a base_dir that is missing or empty (an unmounted volume makes every
 * file look missing) and rule results above max_fraction stop a real run; a dry run reports them.
 */
async function preflight(client: PoolClient, units: Unit[], cfg: AssetsDetectOrphansConfig, listings: Map<Unit, FileEntry[]>): Promise<string[]> {
  const problems = await checkFractions(client, units.flatMap((u) => (u.kind === 'rows' ? [u.set] : [])), { ...cfg, dry_run: true });
  for (const u of units) {
    if (u.kind === 'missing_file' && u.set.action.kind !== 'report') {
      const entries = await readdir(u.baseDir).catch(() => []);
      if (entries.length === 0) {
        problems.push(`${u.set.label}: base_dir ${u.baseDir} is missing or empty; refusing to treat every file as missing (is the volume mounted?)`);
        continue;
      }
      const all = selectPaths(u, null, null, false);
      const rows = (await client.query<{ id: string; path: string }>(all.text, all.values)).rows;
      const missing = (await missingOf(rows, u.baseDir)).length;
      const problem = overFraction(`${u.set.label}:`, missing, rows.length, 'rows point at missing files', cfg.max_fraction);
      if (problem) problems.push(problem);
    }
    if (u.kind === 'orphan_file' && u.rule.action === 'delete') {
      const files = listings.get(u)!;
      const orphans = (await unreferenced(client, u, files)).length;
      const problem = overFraction(`${u.label}: would delete`, orphans, files.length, `files under ${u.baseDir}`, cfg.max_fraction);
      if (problem) problems.push(problem);
    }
  }
  if (problems.length > 0 && !cfg.dry_run) throw safetyLimitError(problems.join('\n'));
  return problems;
}

export function createOrphansActivities({ databases }: ActivityDeps) {
  return {
    /** `assets.detect_orphans`: every rule in order, in batches, with one cursor. */
    async detectOrphans(input: TaskInput<AssetsDetectOrphansConfig>): Promise<TaskResult> {
      const cfg = input.config;
      return exclusive(databases, input, async (client) => {
        const units = await buildUnits(client, cfg, input.taskId);
        const listings = new Map<Unit, FileEntry[]>();
        for (const u of units) {
          if (u.kind === 'orphan_file') listings.set(u, (await listFiles(u.baseDir, u.rule.pattern).catch(() => [])).sort((a, b) => a.path.localeCompare(b.path)));
        }
        const warnings = Context.current().info.heartbeatDetails === undefined ? await preflight(client, units, cfg, listings) : [];
        const counters = rowSetCounters(units.flatMap((u) => (u.kind === 'orphan_file' ? [] : [u.set])));
        if (units.some((u) => u.kind === 'orphan_file')) counters.push('orphan_files', 'files_deleted');
        return runBatches<{ unit: number; pos: string | null }>({
          client,
          input,
          initialCursor: { unit: 0, pos: null },
          counters,
          step: async (tx, cursor, summary) => {
            if (cursor.unit === 0 && cursor.pos === null) warnings.forEach((w) => summary.error(w));
            const u = units[cursor.unit];
            if (!u) return { cursor, done: true };
            const room = batchRoom(cfg, summary);
            if (room <= 0) {
              summary.count('stopped_at_max_rows_per_run');
              return { cursor, done: true };
            }
            let last: string | null;
            let exhausted: boolean;
            if (u.kind === 'rows') {
              ({ last, exhausted } = await rowSetBatch(tx, u.set, cursor.pos, room, cfg.dry_run, summary));
            } else if (u.kind === 'missing_file') {
              const q = selectPaths(u, cursor.pos, room, !cfg.dry_run);
              const rows = (await tx.query<{ id: string; path: string }>(q.text, q.values)).rows;
              await actOn(tx, u.set, await missingOf(rows, u.baseDir), cfg.dry_run, summary);
              last = rows.at(-1)?.id ?? cursor.pos;
              exhausted = rows.length < room;
            } else {
              const files = listings.get(u)!;
              const start = cursor.pos === null ? 0 : files.findIndex((f) => f.path > cursor.pos!);
              const slice = start < 0 ? [] : files.slice(start, start + cfg.batch_size);
              for (const f of await unreferenced(tx, u, slice)) {
                summary.count('orphan_files');
                if (u.rule.action === 'delete' && !cfg.dry_run) {
                  await unlink(join(u.baseDir, f.path)).then(
                    () => summary.count('files_deleted'),
                    (err: NodeJS.ErrnoException) => summary.error(`${join(u.baseDir, f.path)}: ${err.code ?? err.message}`),
                  );
                } else if (u.rule.action === 'delete') {
                  summary.count('files_deleted');
                }
                summary.detail({ set: u.label, file: join(u.baseDir, f.path), action: u.rule.action, size: f.size });
              }
              last = slice.at(-1)?.path ?? cursor.pos;
              exhausted = slice.length < cfg.batch_size;
            }
            if (exhausted) {
              const next = cursor.unit + 1;
              return { cursor: { unit: next, pos: null }, done: next >= units.length };
            }
            return { cursor: { unit: cursor.unit, pos: last }, done: false };
          },
        });
      });
    },
  };
}
