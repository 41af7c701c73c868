import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTree, useExample } from './harness';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** The byte count of a sample file written without a size. */
const SMALL = 'sample\n'.length;

/** Every task of examples/ucore.yaml, dry-run against test/examples/ucore.sql. */
export function ucoreDryRuns(): void {
  describe('examples/ucore.yaml', () => {
    const ex = useExample('ucore', {
      env: (tmp) => ({ UCORE_LIBRARY_ROOT: join(tmp, 'library'), THUMBNAIL_DIR: join(tmp, 'thumbnails'), LOG_DIR: join(tmp, 'logs') }),
      prepare: async (tmp) => {
        await makeTree(join(tmp, 'library'), { 'photos/a.jpg': {}, 'photos/b.jpg': {}, 'photos/c.png': {}, 'docs/report.pdf': {}, '.gitkeep': {} });
        await makeTree(join(tmp, 'thumbnails'), {
          '.gitkeep': { ageDays: 90 },
          'old.jpg': { size: 1000, ageDays: 40 },
          'a.png': { size: 6 * GiB, ageDays: 2 },
          'b.webp': { size: 6 * GiB, ageDays: 1 },
          'c.jpeg': { size: 500 },
          'sub/d.jpg': { size: 300, ageDays: 10 },
          'notes.txt': { ageDays: 60 },
        });
        const logs = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`app-${String(i + 1).padStart(2, '0')}.log`, { ageDays: i + 1 }]));
        await makeTree(join(tmp, 'logs'), {
          ...logs,
          'app-01.log': { size: 101 * MiB, ageDays: 1 },
          'app.log.old': {},
          'nested/deep.log': { ageDays: 30 },
          '.gitkeep': {},
          '.hidden.log': { ageDays: 20 },
        });
      },
    });
    it('count-verification: three drifted counters among eight', async () => {
      const r = await ex.dryRun('count-verification');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ checked: 8, drifted: 3, would_fix: 3 });
    });

    it('database-optimisation: four tables; no index is big enough to reindex', async () => {
      const r = await ex.dryRun('database-optimisation');
      expect(r.status).toBe('completed');
      expect(r.errors).toEqual([]);
      expect(r.counts).toEqual({ would_vacuum: 4, would_reindex: 0, skipped: 0 });
    });

    it('cache-cleanup: past 30 days, then the least recent until under 10 GiB', async () => {
      const r = await ex.dryRun('cache-cleanup');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ files: 5, would_delete: 3, would_archive: 0, would_free_bytes: 1000 + 300 + 6 * GiB });
      expect(r.details.map((d) => d.path).sort()).toEqual(['a.png', 'old.jpg', 'sub/d.jpg']);
    });

    it('log-rotation: keep the newest 10 top-level logs, archive the one over 100 MiB', async () => {
      const r = await ex.dryRun('log-rotation');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ files: 12, would_delete: 2, would_archive: 1, would_free_bytes: 2 * SMALL });
      expect(r.details.map((d) => `${d.action} ${d.path}`).sort()).toEqual(['archive app-01.log', 'delete app-11.log', 'delete app-12.log']);
    });

    it('orphaned-file-records: the record whose file is gone, with its tag and album links', async () => {
      const r = await ex.dryRun('orphaned-file-records');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ matched: 1, would_delete: 1, would_delete_children: 2 });
      expect(r.tables).toEqual({ 'public.files': { would_delete: 1 }, 'public.file_tags': { would_delete: 1 }, 'public.album_files': { would_delete: 1 } });
    });
  });
}
