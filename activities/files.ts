import { lstat, readdir, rename, unlink } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import picomatch from 'picomatch';
import type { FilesCleanupConfig } from '../tasks/files-cleanup';
import type { TaskInput, TaskResult } from '../workflows/types';
import { runBatches } from './batch-loop';
import type { ActivityDeps } from './deps';
import { configError, overFraction, safetyLimitError } from './errors';
import { planDirectory, type FileEntry } from './file-plan';
import { exclusive } from './task-lock';

/** Regular files under `dir` matching `pattern` (relative paths). Symlinks are never followed. */
export async function listFiles(dir: string, pattern: string): Promise<FileEntry[]> {
  const root = resolve(dir);
  const matches = picomatch(pattern, { dot: true });
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files: FileEntry[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue; // directories, symlinks, sockets
    const full = join(entry.parentPath ?? entry.path, entry.name);
    const path = relative(root, full);
    if (!matches(path)) continue;
    const s = await lstat(full).catch(() => null); // gone since the listing
    if (s?.isFile()) files.push({ path, size: s.size, mtimeMs: s.mtimeMs });
  }
  return files;
}

export function createFilesActivities({ databases }: ActivityDeps) {
  return {
    /** `files.cleanup`: per directory, plan (age, keep newest, size cap, archive), check max_fraction, act. */
    async cleanupFiles(input: TaskInput<FilesCleanupConfig>): Promise<TaskResult> {
      const cfg = input.config;
      return exclusive(databases, input, (client) =>
        runBatches<number>({
          client,
          input,
          transaction: false,
          initialCursor: 0,
          counters: ['files', 'deleted', 'archived', 'bytes_freed'],
          step: async (_conn, index, summary) => {
            const rule = cfg.directories[index];
            if (!rule) return { cursor: index, done: true };
            const root = resolve(rule.path);
            const files = await listFiles(root, rule.pattern).catch((err: NodeJS.ErrnoException) => {
              throw configError(`task ${input.taskId}: config.directories[${index}].path: cannot read ${root} (${err.code ?? err.message})`);
            });
            const plan = planDirectory(files, rule, Date.now());
            const deletions = plan.filter((a) => a.action === 'delete').length;
            summary.count('files', files.length);
            const message = overFraction(`${root}: would delete`, deletions, files.length, 'files', cfg.max_fraction);
            if (message) {
              if (!cfg.dry_run) throw safetyLimitError(message);
              summary.error(message);
            }
            for (const a of plan) {
              const full = join(root, a.path);
              try {
                if (!cfg.dry_run) await (a.action === 'delete' ? unlink(full) : rename(full, `${full}${rule.archive_suffix}`));
                summary.count(a.action === 'delete' ? 'deleted' : 'archived');
                if (a.action === 'delete') summary.count('bytes_freed', a.size);
                summary.detail({ directory: root, ...a });
              } catch (err) {
                summary.error(`${full}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
              }
            }
            return { cursor: index + 1, done: index + 1 >= cfg.directories.length };
          },
        }),
      );
    },
  };
}
