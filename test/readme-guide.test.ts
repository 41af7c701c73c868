import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load';

/** The config of README's "Use it on your own database in ten minutes", as a reader copies it. */
function guideConfig(): string {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('   # my-maintenance.yaml');
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('   ```', start);
  return readme
    .slice(start, end)
    .split('\n')
    .map((line) => line.slice(3))
    .join('\n');
}

describe("README's own-database guide", () => {
  it('its config validates as written: a retention task, and a paused stale-jobs task that re-queues to queued', () => {
    const cfg = parseConfigText(guideConfig(), 'my-maintenance.yaml', {});
    expect(cfg.tasks.map((t) => [t.id, t.type, t.paused ?? false])).toEqual([
      ['old-sessions', 'retention.enforce', false],
      ['stuck-jobs', 'runs.cleanup_stale', true],
    ]);
    expect(cfg.tasks[1]!.config).toMatchObject({ table: 'jobs', requeue_status: 'queued', max_retries: 3 });
  });
});
