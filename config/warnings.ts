import type { CaretakerConfig, TaskConfig } from './schema';

/**
 * Config that is valid but likely not what was meant: `caretaker validate` prints these. Each says
 * where, what Caretaker will do, and what to write instead.
 */
export function configWarnings(cfg: CaretakerConfig): string[] {
  return cfg.tasks.flatMap((task, i) => {
    const at = `tasks[${i}] (${task.id})`;
    const raw = (task.rawConfig ?? {}) as Record<string, unknown>;
    return [...unitWarnings(raw, `${at}.config`), ...typeWarnings(task.type, raw, at), ...approvalSkipped(cfg, task, at)];
  });
}

/** A global `approval:` that a task cannot take (config/schema.ts leaves it off): the task runs without waiting for anyone. */
function approvalSkipped(cfg: CaretakerConfig, task: TaskConfig, at: string): string[] {
  if (cfg.approval === undefined || task.ownApproval !== undefined || task.approval !== undefined) return [];
  return [
    `${at}: the global approval: does not apply to it (a ${task.type} task's work cannot be planned as table rows), so its runs do not wait for approval`,
  ];
}

const list = (value: unknown): Record<string, unknown>[] => (Array.isArray(value) ? (value as Record<string, unknown>[]) : []);

function typeWarnings(type: string, raw: Record<string, unknown>, at: string): string[] {
  const warnings: string[] = [];
  const noPattern = (path: string, dir: unknown) =>
    `${path}: no pattern, so every file under ${String(dir)} counts (dotfiles excepted); name the files it may touch, e.g. pattern: "**/*.log"`;
  if (type === 'files.cleanup') {
    list(raw.directories).forEach((d, j) => d.pattern === undefined && warnings.push(noPattern(`${at}.config.directories[${j}]`, d.path)));
  }
  if (type === 'assets.detect_orphans') {
    list(raw.rules).forEach((r, j) => r.kind === 'orphan_file' && r.pattern === undefined && warnings.push(noPattern(`${at}.config.rules[${j}]`, r.base_dir)));
  }
  if (type === 'rows.rules') warnings.push(...ruleDependencies(list(raw.rules), at));
  if (type === 'db.vacuum' && list(raw.tables).length === 0) {
    warnings.push(`${at}.config: no tables, so it vacuums every table in every schema; list the tables it should look after (tables: [runs, events])`);
  }
  return warnings;
}

/** What a dry run of this task cannot show (said when one starts: `caretaker run --dry-run`). */
export function dryRunCaveats(task: TaskConfig): string[] {
  if (task.type !== 'rows.rules') return [];
  return ruleDependencies(list(((task.rawConfig ?? task.config) as Record<string, unknown>).rules), `task ${task.id}`);
}

const tableName = (t: unknown) => String(t).replace(/^public\./, '');

/**
 * `rows.rules`: a later rule that reads a table (its own, `missing_parent`'s, `unreferenced_by`'s, `referenced_by`'s, `parent`'s,
 * `acquire`'s) an earlier rule changes (its own table; the child tables its deletes clear; the archive table it
 * fills; the slots it acquires) sees those changes in a real run; a dry run rolls each rule back, so it cannot show them.
 */
function ruleDependencies(rules: Record<string, unknown>[], at: string): string[] {
  const obj = (v: unknown) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {});
  const children = (action: unknown) => list(obj(action).children).map((c) => c.table);
  const changed = (r: Record<string, unknown>): string[] => {
    const branches = list(r.cases);
    const own = r.update !== undefined || r.delete !== undefined || r.archive !== undefined || branches.some((b) => b.report === undefined);
    return [
      ...(own ? [r.table] : []),
      ...children(r.delete),
      ...branches.flatMap((b) => children(b.delete)),
      ...(r.archive ? [obj(r.archive).table] : []),
      ...(r.acquire ? [obj(r.acquire).table] : []),
    ]
      .filter((t) => t !== undefined)
      .map(tableName);
  };
  const reads = (r: Record<string, unknown>) =>
    [
      r.table,
      obj(r.missing_parent).table,
      obj(r.parent).table,
      ...list(r.unreferenced_by).map((u) => u.table),
      ...list(r.referenced_by).map((u) => u.table),
      obj(r.acquire).table,
    ]
      .filter((t) => t !== undefined)
      .map(tableName);
  const warnings: string[] = [];
  rules.forEach((later, j) => {
    rules.slice(0, j).forEach((earlier, i) => {
      const tables = new Set(changed(earlier));
      for (const table of new Set(reads(later))) {
        if (!tables.has(table)) continue;
        warnings.push(
          `${at}.config.rules[${j}] (${String(later.name)}) reads ${table}, which rules[${i}] (${String(earlier.name)}) changes first: ` +
            'the real run sees those changes, a dry run (each rule rolled back) cannot show them',
        );
      }
    });
  });
  return warnings;
}

const DECIMAL = /^(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB)$/i;

/** "100MB" is 10^8 bytes; most systems that say MB count in 1024s. */
function unitWarnings(value: unknown, path: string): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => unitWarnings(v, `${path}[${i}]`));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => unitWarnings(v, `${path}.${k}`));
  const m = typeof value === 'string' ? DECIMAL.exec(value.trim()) : null;
  if (!m) return [];
  const binary = `${m[1]}${m[2]!.slice(0, 1).toUpperCase()}iB`;
  return [
    `${path}: "${value as string}" is decimal (${m[2]!.toUpperCase()} = 1000^n bytes); if the system counts in 1024s, as du, ls -h and most code do, write "${binary}"`,
  ];
}
