import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTree, useExample } from './harness';

/** Every task of examples/curatore.yaml, dry-run against test/examples/curatore.sql. */
export function curatoreDryRuns(): void {
  describe('examples/curatore.yaml', () => {
    const ex = useExample('curatore', {
      env: (tmp) => ({ OBJECT_STORE_MOUNT: join(tmp, 'objects') }),
      prepare: (tmp) =>
        makeTree(join(tmp, 'objects'), Object.fromEntries(['.gitkeep', ...[1, 2, 3, 4, 6, 7, 8].map((n) => `raw/s${n}.pdf`)].map((p) => [p, {}]))),
    });
    let webhook: Server;
    let webhookCalls = 0;
    beforeAll(async () => {
      webhook = createServer((req, res) => {
        webhookCalls += 1;
        res.end('ok');
      });
      await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
      // health.report reads its secrets from the worker's environment (this process).
      process.env.REDIS_URL = 'redis://127.0.0.1:6379';
      process.env.ALERT_WEBHOOK_URL = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;
    });
    afterAll(async () => {
      delete process.env.REDIS_URL;
      delete process.env.ALERT_WEBHOOK_URL;
      await new Promise((resolve) => webhook?.close(resolve));
    });

    it('stale-runs: two re-queued, one out of retries failed', async () => {
      const r = await ex.dryRun('stale-runs');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ stale: 3, would_requeue: 2, would_finalize: 1 });
    });

    it('expired-runs: terminal runs older than 30 days, with their log events', async () => {
      const r = await ex.dryRun('expired-runs');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ matched: 2, would_delete: 2, would_delete_children: 3 });
      expect(r.tables).toEqual({ 'public.runs': { would_delete: 2 }, 'public.run_log_events': { would_delete: 3 } });
    });

    it('temp-artifacts: one old temp artifact marked; one already marked stays as it is', async () => {
      const r = await ex.dryRun('temp-artifacts');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ matched: 1, would_mark: 1 });
    });

    it('orphans: stuck pending (re-queue, fail), a missing raw file, an orphaned SharePoint asset', async () => {
      const r = await ex.dryRun('orphans');
      expect(r.status).toBe('completed');
      expect(r.sets).toEqual({
        'stuck pending assets': { matched: 2, would_requeue: 1, would_fail: 1 },
        'missing raw files': { matched: 1, would_update: 1 },
        'orphaned SharePoint assets': { matched: 1, would_update: 1 },
      });
    });

    it('extraction-safety-net: assets pending over 30 min would get an extraction each', async () => {
      const r = await ex.dryRun('extraction-safety-net');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ matched: 3, would_start: 3, already_running: 0 });
    });

    it('sharepoint-hourly: active hourly configs only', async () => {
      const r = await ex.dryRun('sharepoint-hourly');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ matched: 2, would_start: 2, already_running: 0 });
    });

    it.each(['sam-daily', 'forecast-daily'])('%s: every active daily row; the paused one is left alone', async (id) => {
      const r = await ex.dryRun(id);
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ matched: 1, would_start: 1, already_running: 0 });
    });

    it('search-reindex: the procedure exists; it is not called', async () => {
      const r = await ex.dryRun('search-reindex');
      expect(r.status).toBe('completed');
      expect(r.counts).toEqual({ would_call: 1 });
      expect(r.details).toMatchObject([{ routine: 'search.rebuild_index', kind: 'procedure', args: [100], result: null }]);
    });

    it('health: queue depth and recent errors read from runs, Redis answers, no webhook is sent', async () => {
      const r = await ex.dryRun('health');
      expect(r.status).toBe('completed');
      const check = (name: string) => r.details.find((d) => d.check === name);
      expect(check('queue_depth')).toMatchObject({ target: 'public.runs', status: 'ok', value: 5 });
      expect(check('recent_errors')).toMatchObject({ target: 'public.runs', status: 'ok', value: 1 });
      expect(check('redis')).toMatchObject({ status: 'ok' });
      expect(webhookCalls).toBe(0);
    });
  });
}
