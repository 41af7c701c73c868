import { describe, expect, it } from 'vitest';
import { makeTree, useExample } from './harness';

/** Every task of examples/thesisapp.yaml, dry-run against test/examples/thesisapp.sql. */
export function thesisappDryRuns(): void {
  describe('examples/thesisapp.yaml', () => {
    const ex = useExample('thesisapp', {
      env: (tmp) => ({ APP_ROOT: tmp }),
      prepare: (tmp) =>
        makeTree(tmp, {
          'generated/apps/.gitkeep': {},
          'generated/apps/openai_gpt-4/app1/': {},
          'generated/apps/openai_gpt-4/app2/': {},
          'generated/apps/anthropic_claude/app1/': {},
        }),
    });

    it('orphan-apps-and-tasks: the app whose directory is gone; active tasks of apps without a row', async () => {
      const r = await ex.dryRun('orphan-apps-and-tasks');
      expect(r.status).toBe('completed');
      // k05 (RUNNING, app anthropic_claude/2) is not among them: its app row goes in the second rule,
      // so the real run cancels it on the following run, as the dry run says.
      expect(r.sets).toEqual({ 'orphan apps': { matched: 1, would_delete: 1 }, 'orphan tasks': { matched: 2, would_update: 2 } });
    });

    it('stuck-tasks: RUNNING and PENDING over 60 minutes', async () => {
      const r = await ex.dryRun('stuck-tasks');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ stale: 2, would_requeue: 0, would_finalize: 2 });
      expect(r.details.map((d) => [d.status, d.new_status]).sort()).toEqual([
        ['PENDING', 'CANCELLED'],
        ['RUNNING', 'FAILED'],
      ]);
    });

    it('old-tasks: terminal tasks completed more than 30 days ago', async () => {
      const r = await ex.dryRun('old-tasks');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ matched: 2, would_delete: 2 });
    });
  });
}
