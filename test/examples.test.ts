import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../config/load';

const dir = join(__dirname, '..', 'examples');
const load = (name: string) => loadConfigFile(join(dir, name), {});

describe('examples/', () => {
  it('has one config per seed system, and every one validates', async () => {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    expect(files).toEqual(['cleanup-job.yaml', 'curatore.yaml', 'housekeeper.yaml', 'thesisapp.yaml', 'ucore.yaml']);
    for (const f of files) await expect(load(f)).resolves.toMatchObject({ version: 1 });
  });

  it('Curatore: legacy names resolve to canonical types', async () => {
    const cfg = await load('curatore.yaml');
    expect(Object.fromEntries(cfg.tasks.map((t) => [t.id, t.type]))).toMatchObject({
      'stale-runs': 'runs.cleanup_stale',
      'expired-runs': 'runs.cleanup_expired',
      orphans: 'assets.detect_orphans',
      'extraction-safety-net': 'extraction.queue_orphans',
      'sharepoint-hourly': 'sync.trigger',
      'sam-daily': 'sync.trigger',
    });
  });

  it('ThesisApp: runs at startup, env defaults apply', async () => {
    const cfg = await load('thesisapp.yaml');
    expect(cfg.tasks.every((t) => t.run_on_startup)).toBe(true);
    expect(cfg.tasks.find((t) => t.id === 'old-tasks')!.config.retention_days).toBe(30);
    expect(cfg.tasks.find((t) => t.id === 'stuck-tasks')!.config.thresholds).toEqual({ RUNNING: 3_600_000, PENDING: 3_600_000 });
  });

  it("cleanup job: seed 002's per-type timeouts", async () => {
    const cfg = await load('cleanup-job.yaml');
    expect(cfg.tasks.find((t) => t.id === 'stale-jobs')!.config.job_type_thresholds).toMatchObject({ ANALYSIS: 3_600_000, CLEANUP: 300_000 });
  });

  it('UCore and Housekeeper: calendars, time zones, sizes', async () => {
    const ucore = await load('ucore.yaml');
    expect((ucore.tasks.find((t) => t.id === 'cache-cleanup')!.config.directories as { max_total_size: number }[])[0]!.max_total_size).toBe(10 * 2 ** 30);
    const hk = await load('housekeeper.yaml');
    expect(hk.tasks[0]!.schedule).toMatchObject({ timezone: 'America/New_York', jitter: 59 * 60_000 });
  });
});
