import { describe, expect, it } from 'vitest';
import { useExample } from './harness';

/** Every task of examples/cleanup-job.yaml, dry-run against test/examples/cleanup-job.sql. */
export function cleanupJobDryRuns(): void {
  describe('examples/cleanup-job.yaml', () => {
    const ex = useExample('cleanup-job');

    it('stale-jobs: per-type limits find SYNC at 45 min, ANALYSIS at 90 min, CLEANUP at 10 min, and SYNC pending since 2 h', async () => {
      const r = await ex.dryRun('stale-jobs');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ stale: 4, would_requeue: 0, would_finalize: 4 });
      expect(r.details.map((d) => d.id).sort()).toEqual(['j01', 'j02', 'j03', 'j06']);
    });

    it('history: jobs finished 30+ days ago, downloads 14+ days old; the FK sets an old plan free', async () => {
      const r = await ex.dryRun('history');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ matched: 4, would_delete: 4 });
      expect(r.sets).toEqual({ 'old job history': { matched: 2, would_delete: 2 }, 'download history': { matched: 2, would_delete: 2 } });
      expect(r.tables).toEqual({
        'public.jobs': { would_delete: 2 },
        'public.handled_downloads': { would_delete: 2 },
        'public.analysis_plans': { would_update: 1 },
      });
    });

    it('stuck-plans: PENDING plans whose job is finished or missing go back to DRAFT', async () => {
      const r = await ex.dryRun('stuck-plans');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ matched: 2, would_reset: 2 });
    });
  });
}
