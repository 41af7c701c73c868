import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planDirectory } from '../activities/disk/file-plan';
import { filesCleanupConfig } from '../tasks/files-cleanup';
import { createTestDatabase, startTestWorker, type TestTemporal } from './support';
import { parseTask, runTaskWorkflow, taskFailure } from './fixtures';

const DAY = 86_400_000;
const rule = (r: Record<string, unknown>) => filesCleanupConfig.parse({ directories: [{ path: '/x', ...r }] }).directories[0]!;
const now = Date.UTC(2026, 0, 31);
const file = (path: string, ageDays: number, size = 100) => ({ path, size, mtimeMs: now - ageDays * DAY });

describe('planDirectory', () => {
  it('deletes by age and beyond keep_newest, newest first', () => {
    const files = [file('a.log', 40), file('b.log', 1), file('c.log', 2), file('d.log', 3)];
    expect(planDirectory(files, rule({ max_age: '30d', keep_newest: 2 }), now)).toEqual([
      { path: 'd.log', action: 'delete', reason: 'beyond the newest 2', size: 100 },
      { path: 'a.log', action: 'delete', reason: 'older than max_age', size: 100 },
    ]);
  });

  it('caps the total size, oldest first, then archives oversized survivors', () => {
    const files = [file('new', 1, 600), file('mid', 2, 300), file('old', 3, 300), file('big.log', 0, 5000), file('big.log.old', 5, 10)];
    expect(planDirectory(files, rule({ max_total_size: 6000, archive_larger_than: '1KB' }), now)).toEqual([
      { path: 'big.log.old', action: 'delete', reason: 'over max_total_size, oldest first', size: 10 },
      { path: 'old', action: 'delete', reason: 'over max_total_size, oldest first', size: 300 },
      { path: 'big.log', action: 'archive', reason: 'larger than archive_larger_than', size: 5000 },
    ]);
  });

  it('rejects a directory rule that would do nothing, and bad sizes', () => {
    expect(() => rule({})).toThrow('expected at least one of max_age, keep_newest, max_total_size or archive_larger_than');
    const short = filesCleanupConfig.safeParse({ directories: [{ path: '/x', max_age: '6h' }] });
    expect(short.error?.issues[0]).toMatchObject({
      path: ['directories', 0, 'max_age'],
      message: 'expected at least 1d (retention below one day needs allow_short_retention: true), got 6h',
    });
    expect(filesCleanupConfig.safeParse({ directories: [{ path: '/x', max_age: '6h' }], allow_short_retention: true }).success).toBe(true);
    const bad = filesCleanupConfig.safeParse({ directories: [{ path: '/x', max_total_size: '10 parsecs' }] });
    expect(bad.error?.issues[0]?.message).toBe('expected a size like "500MB", "10GiB" or a number of bytes, got "10 parsecs"');
  });
});

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let temporal: TestTemporal;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('files');
  temporal = await startTestWorker({ default: db.url });
  dir = mkdtempSync(join(tmpdir(), 'caretaker-files-'));
});
afterAll(async () => {
  await temporal?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

function put(rel: string, ageDays: number, bytes = 10): void {
  const full = join(dir, rel);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, 'x'.repeat(bytes));
  const t = new Date(Date.now() - ageDays * DAY);
  utimesSync(full, t, t);
}

/** Every file with size and mtime: what must stay identical when nothing is to change. */
function listing(): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const rel of readdirSync(dir, { recursive: true }) as string[]) {
    const s = statSync(join(dir, rel));
    if (s.isFile()) out[rel] = [s.size, s.mtimeMs];
  }
  return out;
}

describe('files.cleanup', () => {
  it('dry run changes no file; the real run deletes and archives exactly what the dry run listed', async () => {
    for (let i = 1; i <= 6; i++) put(`logs/app-${i}.log`, i, i === 1 ? 3000 : 10);
    put('logs/notes.txt', 90);
    put('cache/a/thumb-old.png', 45);
    put('cache/b/thumb-new.png', 1);
    put('cache/thumb-mid.png', 10);
    const task = parseTask({
      id: 'files',
      type: 'files.cleanup',
      config: {
        max_fraction: 0.8,
        directories: [
          { path: join(dir, 'logs'), pattern: '*.log', keep_newest: 3, archive_larger_than: '1KB' },
          { path: join(dir, 'cache'), pattern: '**/*.png', max_age: '30d' },
        ],
      },
    });
    const before = listing();
    const preview = await runTaskWorkflow(temporal, task, { dryRun: true });
    expect(listing()).toEqual(before);
    const real = await runTaskWorkflow(temporal, task);
    expect(real.details).toEqual(preview.details);
    expect(real.counts).toEqual({ files: 9, deleted: 4, archived: 1, bytes_freed: 40 });

    const after = listing();
    expect(Object.keys(after).sort()).toEqual(
      ['cache/b/thumb-new.png', 'cache/thumb-mid.png', 'logs/app-1.log.old', 'logs/app-2.log', 'logs/app-3.log', 'logs/notes.txt'].sort(),
    );
    for (const untouched of ['cache/b/thumb-new.png', 'cache/thumb-mid.png', 'logs/app-2.log', 'logs/app-3.log', 'logs/notes.txt'])
      expect(after[untouched]).toEqual(before[untouched]);
  });

  it('refuses to delete more than max_fraction of a directory', async () => {
    put('tmp/1', 40);
    put('tmp/2', 40);
    put('tmp/3', 1);
    const failure = await taskFailure(
      runTaskWorkflow(
        temporal,
        parseTask({
          id: 'files',
          type: 'files.cleanup',
          config: { directories: [{ path: join(dir, 'tmp'), max_age: '30d' }] },
          retry: { maximum_attempts: 1 },
        }),
      ),
    );
    expect(failure.type).toBe('SafetyLimitExceeded');
    expect(failure.message).toContain('would delete 2 of 3 files (67%), more than max_fraction 0.5');
    expect(readdirSync(join(dir, 'tmp')).sort()).toEqual(['1', '2', '3']);
  });
});
