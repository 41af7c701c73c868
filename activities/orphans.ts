import { access, readdir, unlink } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';
import type { PoolClient } from 'pg';
import type { AssetsDetectOrphansConfig, OrphanRule } from '../tasks/assets-detect-orphans';
import type { TaskInput, TaskResult } from '../core/contract';
import { runUnits } from './engine/engine';
import type { ActMode, FractionTarget, WorkUnit } from './engine/work-unit';
import type { ActivityDeps } from './engine/deps';
import { filesTarget, rowsTarget } from './engine/fraction-targets';
import { listFiles } from './disk/list';
import { comparePaths, type FileEntry } from './disk/file-plan';
import { resolveChildren } from './rows/children';
import {
  actOnKeys,
  childCondition,
  conditions,
  filterColumns,
  filterConditions,
  rowSetCounters,
  rowSetUnit,
  selectRows,
  type RowAction,
  type RowSet,
} from './rows/row-sets';
import { SqlParams } from './sql/params';
import { col, colType, resolveTable, type ResolvedTable } from './sql/identifiers';
import { keyIn, resolveKeyed, type KeyValue } from './sql/keys';
import { templateText } from './sql/expressions';
import { millis, TimestampZones } from './sql/time';
import { type ColumnRef, ref, refColumns, template, type TextTemplate, whole } from '../core/column-refs';
import type { Assigned } from './sql/expressions';
import type { TimestampSettings } from '../core/time-zones';
import { exclusive } from './engine/task-lock';
import { requeueSet } from './rows/requeue';
import { compileRule } from './rows/rules';
import { missingParentRule } from '../tasks/assets-detect-orphans';

type Rule<K extends OrphanRule['kind']> = Extract<OrphanRule, { kind: K }>;

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

function rowAction(rule: Rule<'missing_file'>, children: RowAction & { kind: 'delete' }): RowAction {
  if (rule.action === 'delete') return children;
  if (rule.action === 'update') return { kind: 'update', assign: Object.entries(rule.set).map(([target, value]) => [ref(target), value]) };
  return { kind: 'report' };
}

/** Rows whose stored path names a file that is missing (or lies outside base_dir). */
function missingFileUnit(set: RowSet, stored: TextTemplate, baseDir: string): WorkUnit<{ key: KeyValue; path: string }, KeyValue> {
  const path = (p: SqlParams) => `${templateText(set.key.table, stored, p)} as path`;
  const rowsOf = async (client: PoolClient, cursor: KeyValue | null, limit: number | null, mode: ActMode) =>
    (await selectRows<{ path: string }>(client, set, { after: cursor, limit }, mode, path)).map((r) => ({ key: r.key, path: r.row.path }));
  return {
    label: set.label,
    transactional: true,
    // The rows whose file is missing are known only by looking at the files.
    unplannable: 'files',
    nextBatch: (tx, cursor, limit, mode) => rowsOf(tx, cursor, limit, mode),
    cursorOf: (row) => row.key,
    act: async (tx, rows, mode) => actOnKeys(tx, set, await missingOf(rows, baseDir), mode),
    fraction: missingFileTargets(set, baseDir, (client) => rowsOf(client, null, null, 'predict')),
    // An unmounted volume makes every file look missing: refuse.
    preflight: async () => {
      if (set.action.kind === 'report') return [];
      if ((await readdir(baseDir).catch(() => [])).length === 0) {
        return [`${set.label}: base_dir ${baseDir} is missing or empty; refusing to treat every file as missing (is the volume mounted?)`];
      }
      return [];
    },
  };
}

/**
 * What a `missing_file` rule counts against max_fraction, like any row set: of the rows that name a
 * file, those whose file is missing (an unmounted volume shows as most of them); the rows of its
 * table it would change; and the child rows its deletes clear. The keys whose file is missing are
 * found on disk before each count, as the rule's batches find them.
 */
function missingFileTargets(set: RowSet, baseDir: string, candidates: (client: PoolClient) => Promise<{ key: KeyValue; path: string }[]>): FractionTarget[] {
  const { action } = set;
  if (action.kind !== 'delete' && action.kind !== 'update') return [];
  let missing: KeyValue[] = [];
  const find = async (client: PoolClient) => {
    const rows = await candidates(client);
    missing = await missingOf(rows, baseDir);
    return rows.length;
  };
  const own = (p: SqlParams) => [keyIn(set.key, missing, p), ...conditions(set, p)].join(' and ');
  const table = set.key.table;
  const verb = action.kind;
  const targets: FractionTarget[] = [
    filesTarget(`missing files ${set.label} ${table.sql}`, `rows that name a file under ${baseDir}`, verb, async (client) => {
      const total = await find(client);
      return { matching: missing.length, total };
    }),
    rowsTarget({ table, verb, condition: own, prepare: async (client) => void (await find(client)) }),
  ];
  if (action.kind === 'delete') {
    for (const child of action.children) {
      targets.push(
        rowsTarget({
          table: child.table,
          verb: 'delete',
          condition: (p) => childCondition(set, child, own, p),
          through: { columns: child.columns, parent: set.key, condition: own },
          prepare: async (client) => void (await find(client)),
        }),
      );
    }
  }
  return targets;
}

/** Of these rows, the keys whose file is missing. */
async function missingOf(rows: { key: KeyValue; path: string }[], baseDir: string): Promise<KeyValue[]> {
  const missing: KeyValue[] = [];
  for (const r of rows) {
    const file = fileInside(baseDir, r.path);
    if (file === null || !(await exists(file))) missing.push(r.key);
  }
  return missing;
}

type ListedFile = FileEntry & { orphan: boolean };

/** Which files of a slice no row references (by relative or absolute path) and are old enough to touch. */
async function markOrphans(client: PoolClient, rule: Rule<'orphan_file'>, table: ResolvedTable, baseDir: string, files: FileEntry[]): Promise<ListedFile[]> {
  const rel = files.map((f) => f.path);
  const abs = rel.map((r) => join(baseDir, r));
  const p = new SqlParams();
  const stored = templateText(table, template(rule.path_column), p, table.sql);
  const { rows } = await client.query<{ path: string }>(
    `select ${stored} as path from ${table.sql} where ${stored} = any(${p.add(rel, 'text[]')}) or ${stored} = any(${p.add(abs, 'text[]')})`,
    p.values,
  );
  const known = new Set(rows.map((r) => r.path));
  const cutoff = Date.now() - rule.min_age;
  return files.map((f, i) => ({ ...f, orphan: !known.has(rel[i]!) && !known.has(abs[i]!) && f.mtimeMs < cutoff }));
}

/** Files under base_dir that no row points to, paged by path in code-unit order; each deletion recorded as it is done. */
function orphanFileUnit(rule: Rule<'orphan_file'>, table: ResolvedTable, baseDir: string, label: string, files: FileEntry[]): WorkUnit<ListedFile, string> {
  return {
    label,
    transactional: false,
    unplannable: 'files',
    compare: comparePaths,
    cursorOf: (f) => f.path,
    nextBatch: async (client, cursor, limit) => {
      const start = cursor === null ? 0 : files.findIndex((f) => comparePaths(f.path, cursor as string) > 0);
      return start < 0 ? [] : markOrphans(client, rule, table, baseDir, files.slice(start, start + limit));
    },
    act: async (_client, [f], mode) => {
      const counts: Record<string, number> = { files_checked: 1, orphan_files: f!.orphan ? 1 : 0, files_deleted: 0 };
      if (!f!.orphan) return { counts, details: [] };
      const file = join(baseDir, f!.path);
      const errors: string[] = [];
      if (rule.action === 'delete') {
        if (mode !== 'apply') counts.files_deleted = 1;
        else
          await unlink(file).then(
            () => (counts.files_deleted = 1),
            (err: NodeJS.ErrnoException) => errors.push(`${file}: ${err.code ?? err.message}`),
          );
      }
      return { counts, errors, details: [{ set: label, file, action: rule.action, size: f!.size }] };
    },
    fraction:
      rule.action === 'delete'
        ? [
            filesTarget(`files under ${baseDir}`, `files under ${baseDir}`, 'delete', async (client) => {
              const orphans = (await markOrphans(client, rule, table, baseDir, files)).filter((f) => f.orphan).length;
              return { matching: orphans, total: files.length };
            }),
          ]
        : [],
  };
}

async function buildUnits(client: PoolClient, cfg: AssetsDetectOrphansConfig, taskId: string): Promise<{ units: WorkUnit[]; sets: RowSet[]; files: boolean }> {
  const zones = new TimestampZones(cfg.timestamps as TimestampSettings);
  const units: WorkUnit[] = [];
  const sets: RowSet[] = [];
  let files = false;
  for (const [i, rule] of cfg.rules.entries()) {
    const where = `task ${taskId}: config.rules[${i}]`;
    const label = rule.name ?? `${rule.kind} ${rule.table}`;
    if (rule.kind === 'missing_parent') {
      // A preset kind: the rows.rules rule it is (tasks/assets-detect-orphans.ts), compiled as rows.rules compiles it.
      const set = await compileRule(client, missingParentRule(rule, label), where, cfg.timestamps as TimestampSettings);
      sets.push(set);
      units.push(rowSetUnit(set) as WorkUnit);
    } else if (rule.kind === 'missing_file') {
      const stored = template(rule.path_column);
      const columns = [...refColumns(stored), ...filterColumns(rule.where), ...Object.keys(rule.set).map((s) => ref(s).column)];
      const key = await resolveKeyed(client, rule.table, rule.id_column, columns, where);
      const table = key.table;
      const action = rowAction(rule, { kind: 'delete', children: await resolveChildren(client, key, rule.children, where) });
      const set: RowSet = { label, key, action, where: (p) => [...filterConditions(table, rule.where, p), `${templateText(table, stored, p)} is not null`] };
      sets.push(set);
      units.push(missingFileUnit(set, stored, resolve(rule.base_dir)) as WorkUnit);
    } else if (rule.kind === 'stuck_pending') {
      const retry = ref(rule.retry_column);
      const key = await resolveKeyed(client, rule.table, rule.id_column, [rule.status_column, rule.timestamp_column, retry.column, rule.error_column], where);
      const table = key.table;
      const fail: [ColumnRef, Assigned][] = [[whole(rule.status_column), rule.failed_status]];
      if (rule.error_column)
        fail.push([
          whole(rule.error_column),
          `Stuck in ${rule.pending_status} after ${rule.max_retries} re-queues; marked ${rule.failed_status} by Caretaker task ${taskId}`,
        ]);
      // Re-queued (the counter incremented, its clock restarted) up to max_retries, then failed with the reason.
      const set = requeueSet({
        label,
        key,
        where: (p) => [
          `t.${col(table, rule.status_column)} = ${p.add(rule.pending_status, colType(table, rule.status_column))}`,
          zones.olderThan(table, rule.timestamp_column, millis(p, rule.older_than), p),
        ],
        retries: { counter: retry, limit: rule.max_retries },
        requeue: [[whole(rule.timestamp_column), { now: true }]],
        final: [{ when: null, assign: fail, counter: 'failed' }],
        zones,
      });
      sets.push(set);
      units.push(rowSetUnit(set) as WorkUnit);
    } else {
      const table = await resolveTable(client, rule.table, refColumns(template(rule.path_column)), where);
      const baseDir = resolve(rule.base_dir);
      const listing = (await listFiles(baseDir, rule.pattern, rule.include_dotfiles).catch(() => [])).sort((a, b) => comparePaths(a.path, b.path));
      units.push(orphanFileUnit(rule, table, baseDir, label, listing) as WorkUnit);
      files = true;
    }
  }
  return { units, sets, files };
}

export function createOrphansActivities({ databases }: ActivityDeps) {
  return {
    /** `assets.detect_orphans`: every rule in order, in batches, through the batch engine. */
    async detectOrphans(input: TaskInput<AssetsDetectOrphansConfig>): Promise<TaskResult> {
      return exclusive(databases, input, async (session) => {
        const { units, sets, files } = await buildUnits(session.client, input.config, input.taskId);
        const counters = rowSetCounters(sets);
        if (files) counters.push('orphan_files', 'files_deleted');
        return runUnits(session, units, { counters });
      });
    },
  };
}
