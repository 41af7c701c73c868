import type { DirectoryRule } from '../../tasks/files-cleanup';

/** Code-unit order: the one order file listings are sorted and paged in (never locale order). */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface FileEntry {
  /** Relative to the directory. */
  path: string;
  size: number;
  mtimeMs: number;
}

export interface FileAction {
  path: string;
  action: 'delete' | 'archive';
  reason: string;
  size: number;
}

/**
 * What files.cleanup does to one directory, decided without touching it: newest first, files past
 * max_age or beyond keep_newest go, then the oldest go until the total fits max_total_size, then
 * survivors larger than archive_larger_than are archived.
 */
export function planDirectory(files: readonly FileEntry[], rule: DirectoryRule, now: number): FileAction[] {
  const newestFirst = [...files].sort((a, b) => b.mtimeMs - a.mtimeMs || a.path.localeCompare(b.path));
  const actions: FileAction[] = [];
  const kept: FileEntry[] = [];
  newestFirst.forEach((f, index) => {
    if (rule.max_age !== undefined && now - f.mtimeMs > rule.max_age)
      actions.push({ path: f.path, action: 'delete', reason: 'older than max_age', size: f.size });
    else if (rule.keep_newest !== undefined && index >= rule.keep_newest)
      actions.push({ path: f.path, action: 'delete', reason: `beyond the newest ${rule.keep_newest}`, size: f.size });
    else kept.push(f);
  });
  if (rule.max_total_size !== undefined) {
    let total = kept.reduce((sum, f) => sum + f.size, 0);
    while (total > rule.max_total_size && kept.length > 0) {
      const oldest = kept.pop()!;
      total -= oldest.size;
      actions.push({ path: oldest.path, action: 'delete', reason: 'over max_total_size, oldest first', size: oldest.size });
    }
  }
  if (rule.archive_larger_than !== undefined) {
    for (const f of kept) {
      if (f.size > rule.archive_larger_than && !f.path.endsWith(rule.archive_suffix))
        actions.push({ path: f.path, action: 'archive', reason: 'larger than archive_larger_than', size: f.size });
    }
  }
  return actions;
}
