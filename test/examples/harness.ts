import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { loadConfigFile } from '../../config/load';
import type { CaretakerConfig } from '../../config/schema';
import type { TaskResult } from '../../workflows/types';
import { runTaskWorkflow } from '../fixtures';
import { createTestDatabase, startTestWorker, type TestDatabase, type TestTemporal } from '../support';
import { snapshotAll } from '../zoo/snapshot';

const ROOT = join(__dirname, '..', '..');
const DAY = 86_400_000;

/** A file to create: its size (sparse beyond the first bytes, so GiB cost nothing) and age in days. */
export interface SampleFile {
  size?: number;
  ageDays?: number;
}

/** Creates `files` (relative path -> sample) under `dir`, directories as needed; a path ending in `/` is a directory. */
export async function makeTree(dir: string, files: Record<string, SampleFile>): Promise<void> {
  for (const [path, f] of Object.entries(files)) {
    const full = join(dir, path);
    if (path.endsWith('/')) {
      await mkdir(full, { recursive: true });
      continue;
    }
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, 'sample\n');
    if (f.size !== undefined) await truncate(full, f.size);
    const when = new Date(Date.now() - (f.ageDays ?? 0) * DAY);
    await utimes(full, when, when);
  }
}

/** Every entry under `dir` (files and directories, dotfiles too) with size and mtime, to see that nothing moved. */
export async function listing(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    const full = join(e.parentPath, e.name);
    const s = await stat(full);
    out.push(`${full.slice(dir.length)} ${e.isDirectory() ? 'dir' : `${s.size} ${s.mtimeMs}`}`);
  }
  return out.sort();
}

export interface ExampleEnv {
  readonly db: TestDatabase;
  readonly temporal: TestTemporal;
  readonly tmp: string;
  readonly config: CaretakerConfig;
  /** Dry-runs one task of the example through the real worker and checks that no table and no listed directory changed. */
  dryRun(taskId: string, dirs?: string[]): Promise<TaskResult>;
}

/**
 * One example: its own database with `test/examples/<name>.sql` loaded (`:root` replaced by the
 * temp dir), a worker on it, and the example loaded by the real loader with `env(tmp)`.
 * `prepare(tmp)` creates sample files before the schema is loaded.
 */
export function useExample(name: string, opts: { env?: (tmp: string) => Record<string, string>; prepare?: (tmp: string) => Promise<void> } = {}): ExampleEnv {
  const state = {} as { db: TestDatabase; temporal: TestTemporal; tmp: string; config: CaretakerConfig };
  beforeAll(async () => {
    state.tmp = await mkdtemp(join(tmpdir(), `caretaker-example-${name}-`));
    await opts.prepare?.(state.tmp);
    state.db = await createTestDatabase(`example_${name.replace(/-/g, '_')}`);
    const sql = (await readFile(join(__dirname, `${name}.sql`), 'utf8')).replaceAll(':root', state.tmp);
    await state.db.pool.query(sql);
    state.config = await loadConfigFile(join(ROOT, 'examples', `${name}.yaml`), opts.env?.(state.tmp) ?? {});
    state.temporal = await startTestWorker({ default: state.db.url });
  });
  afterAll(async () => {
    await state.temporal?.stop();
    await state.db?.drop();
    if (state.tmp) await rm(state.tmp, { recursive: true, force: true });
  });
  return {
    get db() {
      return state.db;
    },
    get temporal() {
      return state.temporal;
    },
    get tmp() {
      return state.tmp;
    },
    get config() {
      return state.config;
    },
    async dryRun(taskId, dirs = [state.tmp]) {
      const task = state.config.tasks.find((t) => t.id === taskId);
      if (!task) throw new Error(`examples/${name}.yaml has no task ${taskId}`);
      const tablesBefore = await snapshotAll(state.db.pool);
      const filesBefore = await Promise.all(dirs.map(listing));
      const result = await runTaskWorkflow(state.temporal, task, { dryRun: true });
      expect(result.dryRun).toBe(true);
      expect((await snapshotAll(state.db.pool)).tables).toEqual(tablesBefore.tables);
      expect(await Promise.all(dirs.map(listing))).toEqual(filesBefore);
      return result;
    },
  };
}
