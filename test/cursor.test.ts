import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { advance } from '../activities/engine/engine';
import type { WorkUnit } from '../activities/engine/work-unit';
import { comparePaths } from '../activities/disk/file-plan';
import { parseTask, runTaskWorkflow } from './fixtures';
import { useTaskEnvironment } from './support';

const env = useTaskEnvironment('cursor');
const dir = mkdtempSync(join(tmpdir(), 'caretaker-cursor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Names whose locale order differs from code-unit order: a locale sort with a `>` cursor repeats batches. */
const NAMES = ['a.pdf', 'B.pdf', 'b.pdf', 'C.pdf', 'Ä.pdf', 'ä.pdf', 'é.pdf', 'e.pdf', 'Z.pdf', 'z.pdf', '日本.pdf', '1.pdf'];

const unit = (compare?: (a: number, b: number) => number): WorkUnit<number, number> => ({
  label: 'numbers',
  transactional: false,
  cursorOf: (n) => n,
  compare,
  nextBatch: async () => [],
  act: async () => ({ counts: {}, details: [] }),
});

describe('the batch cursor', () => {
  it('strictly advances, or the engine stops instead of handing out a batch again', () => {
    expect(
      advance(
        unit((a, b) => a - b),
        { unit: 0, cursor: 2 },
        [3, 4],
        2,
      ),
    ).toEqual({ unit: 0, cursor: 4 });
    expect(
      advance(
        unit((a, b) => a - b),
        { unit: 0, cursor: 4 },
        [5],
        2,
      ),
    ).toEqual({ unit: 1, cursor: null });
    expect(() =>
      advance(
        unit((a, b) => a - b),
        { unit: 0, cursor: 4 },
        [3, 4],
        2,
      ),
    ).toThrow('the batch cursor did not advance past 4');
    expect(() =>
      advance(
        unit((a, b) => a - b),
        { unit: 0, cursor: null },
        [1, 3, 2],
        3,
      ),
    ).toThrow('did not advance past 3');
    // Without an order of its own (SQL keysets, ordered by the database), a repeat is still caught.
    expect(() => advance(unit(), { unit: 0, cursor: 7 }, [7], 1)).toThrow('did not advance past 7');
  });

  it('pages files with mixed-case and non-ASCII names in one order: every orphan once, no batch twice', async () => {
    const old = new Date(Date.now() - 3 * 86_400_000);
    for (const name of NAMES) {
      writeFileSync(join(dir, name), name);
      utimesSync(join(dir, name), old, old);
    }
    await env.db.pool.query(`create table docs (id int primary key, path text); insert into docs values (1, 'b.pdf'), (2, 'Ä.pdf')`);
    const task = parseTask({
      id: 'files',
      type: 'assets.detect_orphans',
      config: {
        rules: [{ kind: 'orphan_file', base_dir: dir, pattern: '*.pdf', table: 'docs', path_column: 'path', action: 'delete' }],
        batch_size: 2,
        max_fraction: 1,
        details_limit: 100,
      },
      retry: { maximum_attempts: 1 },
    });
    const preview = await runTaskWorkflow(env.temporal, task, { dryRun: true });
    expect(preview.counts).toMatchObject({ orphan_files: 10, would_delete_files: 10 });
    const listed = preview.details.map((d) => String(d.file).slice(dir.length + 1));
    expect(listed).toEqual(NAMES.filter((n) => n !== 'b.pdf' && n !== 'Ä.pdf').sort(comparePaths));

    const real = await runTaskWorkflow(env.temporal, task);
    expect(real.counts).toMatchObject({ orphan_files: 10, files_deleted: 10, files_checked: 12 });
    expect(readdirSync(dir).sort()).toEqual(['b.pdf', 'Ä.pdf'].sort());
  });
});
