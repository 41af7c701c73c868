import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTree, useExample } from './harness';

/** Every task of examples/housekeeper.yaml, dry-run against test/examples/housekeeper.sql. */
export function housekeeperDryRuns(): void {
  describe('examples/housekeeper.yaml', () => {
    const ex = useExample('housekeeper', {
      env: (tmp) => ({ LOG_DIRECTORY: join(tmp, 'logs') }),
      prepare: (tmp) =>
        makeTree(join(tmp, 'logs'), {
          '.gitkeep': { ageDays: 90 },
          '.rotated.log': { ageDays: 60 },
          'old.log': { size: 100, ageDays: 40 },
          'worker/old.log': { size: 200, ageDays: 45 },
          'recent.log': { ageDays: 1 },
          'worker/recent.log': { ageDays: 2 },
          'today.log': {},
          'notes.txt': { ageDays: 60 },
        }),
    });

    it('cleanup-expired-tokens: expired tokens and abandoned OAuth sessions', async () => {
      const r = await ex.dryRun('cleanup-expired-tokens');
      expect(r.status).toBe('completed');
      expect(r.sets).toEqual({ 'expired access tokens': { matched: 2, would_delete: 2 }, 'abandoned OAuth sessions': { matched: 2, would_delete: 2 } });
    });

    it('cleanup-old-logs: logs older than 30 days, in subdirectories too; dotfiles and other files not counted', async () => {
      const r = await ex.dryRun('cleanup-old-logs');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ files: 5, would_delete: 2, would_archive: 0, would_free_bytes: 300 });
    });

    it('database-vacuum: the two tables it names', async () => {
      const r = await ex.dryRun('database-vacuum');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ would_vacuum: 2, would_reindex: 0, skipped: 0 });
    });
  });
}
