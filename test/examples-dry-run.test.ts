import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTree, useExample } from './examples/harness';

/*
 * Every task of every example in examples/, dry-run through the real loader and worker against a
 * schema built for it (test/examples/<name>.sql): each finds exactly the rows and files its seed
 * marks, and no table row or file changes. Sample directories hold a `.gitkeep` (and logs a
 * dotfile that matches the pattern) that files rules must not count.
 */

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** The byte count of a sample file written without a size. */
const SMALL = 'sample\n'.length;

describe('examples/cleanup-job.yaml', () => {
  const ex = useExample('cleanup-job');

  it('stale-jobs: per-type limits find SYNC at 45 min, ANALYSIS at 90 min, CLEANUP at 10 min', async () => {
    const r = await ex.dryRun('stale-jobs');
    expect(r.status).toBe('completed');
    expect(r.counts).toEqual({ stale: 3, would_requeue: 0, would_finalize: 3 });
    expect(r.details.map((d) => d.id).sort()).toEqual(['j01', 'j02', 'j03']);
  });

  it('history: jobs finished 30+ days ago, downloads 14+ days old; the FK sets an old plan free', async () => {
    const r = await ex.dryRun('history');
    expect(r.status).toBe('completed');
    expect(r.counts).toEqual({ matched: 4, would_delete: 4 });
    expect(r.sets).toEqual({ 'old job history': { matched: 2, would_delete: 2 }, 'download history': { matched: 2, would_delete: 2 } });
    expect(r.tables).toEqual({ 'public.jobs': { would_delete: 2 }, 'public.handled_downloads': { would_delete: 2 }, 'public.analysis_plans': { would_update: 1 } });
  });

  it('stuck-plans: PENDING plans whose job is finished or missing go back to DRAFT', async () => {
    const r = await ex.dryRun('stuck-plans');
    expect(r.status).toBe('completed');
    expect(r.counts).toEqual({ matched: 2, would_reset: 2 });
  });
});

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

  // No `where: { is_active: true }` in the example: the paused daily search and forecast count too.
  it.each(['sam-daily', 'forecast-daily'])('%s: every daily row, paused ones included', async (id) => {
    const r = await ex.dryRun(id);
    expect(r.status).toBe('completed');
    expect(r.counts).toEqual({ matched: 2, would_start: 2, already_running: 0 });
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
    // k05 (RUNNING, app anthropic_claude/2) is not among them: its app row goes in the first rule,
    // which a dry run rolls back, so the real run cancels 3 tasks where the dry run reports 2.
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

describe('examples/ucore.yaml', () => {
  const ex = useExample('ucore', {
    env: (tmp) => ({ UCORE_LIBRARY_ROOT: join(tmp, 'library') }),
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
      await makeTree(join(tmp, 'logs'), { ...logs, 'app-01.log': { size: 101 * MiB, ageDays: 1 }, 'app.log.old': {}, 'nested/deep.log': { ageDays: 30 }, '.gitkeep': {}, '.hidden.log': { ageDays: 20 } });
    },
  });
  /** The example's ./thumbnails and ./logs are relative to the worker's working directory: the temp dir here. */
  const inTmp = async <T>(work: () => Promise<T>): Promise<T> => {
    const cwd = process.cwd();
    process.chdir(ex.tmp);
    try {
      return await work();
    } finally {
      process.chdir(cwd);
    }
  };

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
    const r = await inTmp(() => ex.dryRun('cache-cleanup'));
    expect(r.status).toBe('completed');
    expect(r.counts).toEqual({ files: 5, would_delete: 3, would_archive: 0, would_free_bytes: 1000 + 300 + 6 * GiB });
    expect(r.details.map((d) => d.path).sort()).toEqual(['a.png', 'old.jpg', 'sub/d.jpg']);
  });

  it('log-rotation: keep the newest 10 top-level logs, archive the one over 100 MiB', async () => {
    const r = await inTmp(() => ex.dryRun('log-rotation'));
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
