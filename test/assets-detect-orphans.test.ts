import { realNames } from '../activities/engine/counters';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApplicationFailure } from '@temporalio/common';
import type { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileInside } from '../activities/orphans';
import { createTestDatabase, startTestWorker, type TestTemporal } from './support';
import { parseTask, runTaskWorkflow, snapshot, taskFailure } from './fixtures';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let temporal: TestTemporal;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('orphans');
  temporal = await startTestWorker({ default: db.url });
  dir = mkdtempSync(join(tmpdir(), 'caretaker-orphans-'));
  // Seed 001: generated/apps/{model}/app{n}/ directories; app2 and app4 are gone from disk.
  for (const app of ['m1/app1', 'm1/app3', 'm1/app5', 'm1/app6']) mkdirSync(join(dir, 'apps', app), { recursive: true });
  mkdirSync(join(dir, 'uploads'));
  for (const f of ['a.pdf', 'b.pdf', 'stray.pdf', 'fresh.pdf']) writeFileSync(join(dir, 'uploads', f), f);
  const old = new Date(Date.now() - 3 * 86_400_000);
  for (const f of ['a.pdf', 'b.pdf', 'stray.pdf']) utimesSync(join(dir, 'uploads', f), old, old);
  await db.pool.query(`
    create table apps (id int primary key, path text);
    insert into apps values (1, 'm1/app1'), (2, 'm1/app2'), (3, 'm1/app3'), (4, '../../etc/passwd'), (5, 'm1/app5'), (6, 'm1/app6');
    create table tasks (id int primary key, app_id int, status text not null, error text);
    insert into tasks (id, app_id, status) values (10, 1, 'pending'), (11, 99, 'pending'), (12, 98, 'running'), (13, 97, 'completed'),
      (14, 3, 'pending'), (15, 1, 'pending'), (16, 1, 'running'), (17, 5, 'pending'), (18, 6, 'pending');
    create table uploads (id int primary key, file_path text not null);
    insert into uploads values (1, 'a.pdf'), (2, '${join(dir, 'uploads', 'b.pdf')}');
    create table assets (id int primary key, status text not null, updated_at timestamptz not null, retry_count int, error text);
    insert into assets values (1, 'pending', now() - interval '2 hours', 0, null), (2, 'pending', now() - interval '2 hours', 3, null),
      (3, 'pending', now() - interval '10 minutes', 0, null), (4, 'ready', now() - interval '2 hours', null, null);`);
});
afterAll(async () => {
  await temporal?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const rules = () => [
  { kind: 'missing_file', name: 'orphan apps', table: 'apps', path_column: 'path', base_dir: join(dir, 'apps'), action: 'delete' },
  {
    kind: 'missing_parent',
    name: 'orphan tasks',
    table: 'tasks',
    reference_column: 'app_id',
    parent_table: 'apps',
    where: { status: ['pending', 'running'] },
    action: 'update',
    set: { status: 'cancelled', error: 'Target app no longer exists - cancelled by maintenance service' },
  },
  { kind: 'orphan_file', name: 'stray uploads', base_dir: join(dir, 'uploads'), table: 'uploads', path_column: 'file_path', min_age: '1h', action: 'delete' },
  { kind: 'stuck_pending', name: 'stuck assets', table: 'assets', older_than: '1h', error_column: 'error' },
];
const task = (config: Record<string, unknown> = {}) =>
  parseTask({ id: 'orphans', type: 'orphan.detect', config: { rules: rules(), batch_size: 2, ...config }, retry: { maximum_attempts: 1 } });

async function state() {
  return {
    apps: await snapshot(db.pool, 'apps', 'id'),
    tasks: await snapshot(db.pool, 'tasks', 'id'),
    assets: await snapshot(db.pool, 'assets', 'id'),
    uploads: readdirSync(join(dir, 'uploads')).sort(),
  };
}

describe('assets.detect_orphans', () => {
  it('keeps every stored path inside base_dir', () => {
    expect(fileInside('/data/apps', 'm1/app1')).toBe('/data/apps/m1/app1');
    expect(fileInside('/data/apps', '../../etc/passwd')).toBeNull();
    expect(fileInside('/data/apps', '/data/apps-other/x')).toBeNull();
    expect(fileInside('/data/apps', '/data/apps/m1/x')).toBe('/data/apps/m1/x');
  });

  it('dry run reports every rule and changes nothing; the real run changes exactly those rows and files', async () => {
    const before = await state();
    const preview = await runTaskWorkflow(temporal, task(), { dryRun: true });
    expect(await state()).toEqual(before);
    expect(preview.counts).toMatchObject({ would_delete: 2, would_update: 2, orphan_files: 1, would_delete_files: 1, would_requeue: 1, would_fail: 1 });

    const real = await runTaskWorkflow(temporal, task());
    expect(real.details).toEqual(preview.details);
    expect(real.counts).toEqual(realNames(preview.counts));
    const after = await state();

    expect(after.apps.map((a) => a.id)).toEqual([1, 3, 5, 6]);
    const cancelled = after.tasks.filter((t) => t.status === 'cancelled');
    expect(cancelled).toEqual([
      { id: 11, app_id: 99, status: 'cancelled', error: 'Target app no longer exists - cancelled by maintenance service' },
      { id: 12, app_id: 98, status: 'cancelled', error: 'Target app no longer exists - cancelled by maintenance service' },
    ]);
    expect(after.tasks.filter((t) => ![11, 12].includes(t.id as number))).toEqual(before.tasks.filter((t) => ![11, 12].includes(t.id as number)));
    expect(after.uploads).toEqual(['a.pdf', 'b.pdf', 'fresh.pdf']);
    const asset = (id: number) => after.assets.find((a) => a.id === id)!;
    expect(asset(1)).toMatchObject({ status: 'pending', retry_count: 1, error: null });
    expect(asset(2)).toMatchObject({ status: 'failed', retry_count: 3, error: 'Stuck in pending after 3 re-queues; marked failed by Caretaker task orphans' });
    expect(asset(3)).toEqual(before.assets.find((a) => a.id === 3));
    expect(asset(4)).toEqual(before.assets.find((a) => a.id === 4));
  });

  it('refuses to delete rows when base_dir is missing or empty (an unmounted volume)', async () => {
    const before = await snapshot(db.pool, 'apps', 'id');
    const unmounted = [{ kind: 'missing_file', table: 'apps', path_column: 'path', base_dir: join(dir, 'not-mounted'), action: 'delete' }];
    const failure = await taskFailure(
      runTaskWorkflow(temporal, parseTask({ id: 'orphans', type: 'assets.detect_orphans', config: { rules: unmounted }, retry: { maximum_attempts: 1 } })),
    );
    expect(failure).toMatchObject({
      type: 'SafetyLimitExceeded',
      message: expect.stringContaining('is missing or empty; refusing to treat every file as missing (is the volume mounted?)'),
    });
    expect(await snapshot(db.pool, 'apps', 'id')).toEqual(before);
  });

  // Files are checked by the same guard as rows, also when a later rule starts: after rule 1 deletes the
  // rows of two documents (2 of 5 rows, 40%), their files are orphans, 2 of the 4 files (50%).
  it('refuses an orphan_file rule when it starts, over the files an earlier rule of the run orphaned', async () => {
    mkdirSync(join(dir, 'docs'));
    const old = new Date(Date.now() - 3 * 86_400_000);
    for (const f of ['d1', 'd2', 'd3', 'd4']) {
      writeFileSync(join(dir, 'docs', f), f);
      utimesSync(join(dir, 'docs', f), old, old);
    }
    await db.pool.query(`
      create table owners (id int primary key);
      insert into owners values (1), (2);
      create table docs (id int primary key, owner_id int, path text not null);
      insert into docs values (1, 1, 'd1'), (2, 9, 'd2'), (3, 9, 'd3'), (4, 2, 'd4'), (5, 1, 'elsewhere');`);
    const docs = parseTask({
      id: 'docs',
      type: 'assets.detect_orphans',
      config: {
        max_fraction: 0.45,
        rules: [
          { kind: 'missing_parent', name: 'ownerless docs', table: 'docs', reference_column: 'owner_id', parent_table: 'owners', action: 'delete' },
          { kind: 'orphan_file', name: 'loose docs', base_dir: join(dir, 'docs'), table: 'docs', path_column: 'path', min_age: '1h', action: 'delete' },
        ],
      },
      retry: { maximum_attempts: 1 },
    });
    const failure = await taskFailure(runTaskWorkflow(temporal, docs));
    expect(failure).toMatchObject({
      type: 'SafetyLimitExceeded',
      message: expect.stringContaining(
        `loose docs: would delete 2 of 4 files under ${join(dir, 'docs')} as at the run's start (50%), more than max_fraction 0.45`,
      ),
    });
    // Rule 1 committed; rule 2 deleted no file.
    expect((await snapshot(db.pool, 'docs', 'id')).map((d) => d.id)).toEqual([1, 4, 5]);
    expect(readdirSync(join(dir, 'docs')).sort()).toEqual(['d1', 'd2', 'd3', 'd4']);
  });

  // One max_fraction for a missing_file rule's rows and its children, as for every row set: 1 of 4
  // bundles has lost its file (25%), but its 4 parts are 4 of the 5 rows of bundle_parts (80%).
  it('refuses a missing_file rule whose child table would lose more than max_fraction, before deleting anything; the dry run is refused too', async () => {
    mkdirSync(join(dir, 'bundles'));
    for (const f of ['b1', 'b2', 'b3']) writeFileSync(join(dir, 'bundles', f), f);
    await db.pool.query(`
      create table bundles (id int primary key, path text);
      insert into bundles values (1, 'b1'), (2, 'b2'), (3, 'b3'), (4, 'b4');
      create table bundle_parts (id int primary key, bundle_id int not null references bundles (id));
      insert into bundle_parts values (1, 4), (2, 4), (3, 4), (4, 4), (5, 1);`);
    const state = async () => ({ bundles: await snapshot(db.pool, 'bundles', 'id'), parts: await snapshot(db.pool, 'bundle_parts', 'id') });
    const before = await state();
    const rule = {
      kind: 'missing_file',
      name: 'lost bundles',
      table: 'bundles',
      path_column: 'path',
      base_dir: join(dir, 'bundles'),
      action: 'delete',
      children: [{ table: 'bundle_parts', column: 'bundle_id' }],
    };
    const bundles = parseTask({ id: 'bundles', type: 'assets.detect_orphans', config: { rules: [rule], max_fraction: 0.5 }, retry: { maximum_attempts: 1 } });
    const refusal = 'lost bundles: would delete 4 of 5 rows of public.bundle_parts (80%), more than max_fraction 0.5';

    // A refused dry run fails as the real run does (Temporal shows both as Failed), and changes nothing either.
    const preview = await runTaskWorkflow(temporal, bundles, { dryRun: true }).then(
      () => expect.fail('expected the dry run to be refused'),
      (e: WorkflowFailedError) => e.cause as ApplicationFailure,
    );
    expect(preview).toMatchObject({ type: 'SafetyLimitExceeded', message: expect.stringContaining(refusal) });
    expect(preview.details?.[0]).toMatchObject({ dryRun: true, tables: { 'public.bundle_parts': { would_delete: 4 } } });
    expect(await state()).toEqual(before);
    const failure = await taskFailure(runTaskWorkflow(temporal, bundles));
    expect(failure).toMatchObject({ type: 'SafetyLimitExceeded', message: expect.stringContaining(refusal) });
    expect(await state()).toEqual(before);
  });
});
