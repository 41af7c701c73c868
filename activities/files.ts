import { rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DirectoryRule, FilesCleanupConfig } from '../tasks/files-cleanup';
import type { TaskInput, TaskResult } from '../core/contract';
import { runUnits } from './engine/engine';
import type { WorkUnit } from './engine/work-unit';
import type { ActivityDeps } from './engine/deps';
import { configError } from '../core/errors';
import { filesTarget } from './engine/fraction-targets';
import { comparePaths, planDirectory, type FileAction } from './disk/file-plan';
import { listFiles } from './disk/list';
import { exclusive } from './engine/task-lock';

/** The directory's listing (cursor "") and then each planned action, in path order. */
type DirectoryItem = { kind: 'listing'; files: number } | ({ kind: 'action' } & FileAction);

/** One directory: its plan is made once per attempt, then each action is taken and recorded as it is done. */
function directoryUnit(rule: DirectoryRule, index: number, taskId: string): WorkUnit<DirectoryItem, string> {
  const root = resolve(rule.path);
  let planned: Promise<{ files: number; actions: FileAction[] }> | undefined;
  const plan = () =>
    (planned ??= listFiles(root, rule.pattern, rule.include_dotfiles).then(
      (files) => ({ files: files.length, actions: planDirectory(files, rule, Date.now()).sort((a, b) => comparePaths(a.path, b.path)) }),
      (err: NodeJS.ErrnoException) => {
        throw configError(`task ${taskId}: config.directories[${index}].path: cannot read ${root} (${err.code ?? err.message})`);
      },
    ));
  return {
    label: root,
    transactional: false,
    unplannable: 'files',
    compare: comparePaths,
    cursorOf: (item) => (item.kind === 'listing' ? '' : item.path),
    nextBatch: async (_client, cursor, limit) => {
      const { files, actions } = await plan();
      const items: DirectoryItem[] = [
        ...(cursor === null ? [{ kind: 'listing' as const, files }] : []),
        ...actions.filter((a) => cursor === null || comparePaths(a.path, cursor) > 0).map((a) => ({ kind: 'action' as const, ...a })),
      ];
      return items.slice(0, limit);
    },
    act: async (_client, [item], mode) => {
      if (item!.kind === 'listing') return { counts: { files: item!.files } as Record<string, number>, details: [] };
      const a = item as FileAction;
      const full = join(root, a.path);
      try {
        if (mode === 'apply') await (a.action === 'delete' ? unlink(full) : rename(full, `${full}${rule.archive_suffix}`));
      } catch (err) {
        return { counts: {} as Record<string, number>, details: [], errors: [`${full}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`] };
      }
      const counts: Record<string, number> = a.action === 'delete' ? { deleted: 1, bytes_freed: a.size } : { archived: 1 };
      return { counts, details: [{ directory: root, path: a.path, action: a.action, reason: a.reason, size: a.size }] };
    },
    // max_fraction over the directory's files (the engine's check: fraction.ts).
    fraction: [
      filesTarget(`directory ${root}`, 'files', 'delete', async () => {
        const { files, actions } = await plan();
        return { matching: actions.filter((a) => a.action === 'delete').length, total: files };
      }),
    ],
  };
}

export function createFilesActivities({ databases }: ActivityDeps) {
  return {
    /** `files.cleanup`: per directory, plan (age, keep newest, size cap, archive), check max_fraction, act file by file. */
    async cleanupFiles(input: TaskInput<FilesCleanupConfig>): Promise<TaskResult> {
      const cfg = input.config;
      return exclusive(databases, input, (session) =>
        runUnits(
          session,
          cfg.directories.map((rule, i) => directoryUnit(rule, i, input.taskId) as WorkUnit),
          { counters: ['files', 'deleted', 'archived', 'bytes_freed'], batchSize: 500 },
        ),
      );
    },
  };
}
